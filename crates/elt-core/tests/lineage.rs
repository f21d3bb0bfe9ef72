//! Column lineage of tricky queries, as snapshots: one line per output column,
//! `name: kind <- sources` (or the reason when unknown).

use std::collections::HashMap;

use elt_core::adapter::Dialect;
use elt_core::sql::lineage::{Relations, Upstream, column_lineage};

/// A small project: `orders`, `customers`, `items` with known columns; `events` built but not
/// in the catalog (columns unknown).
struct Project(HashMap<&'static str, (&'static str, Option<Vec<&'static str>>)>);

impl Project {
    fn new() -> Self {
        Project(HashMap::from([
            (
                "orders",
                (
                    "model.shop.orders",
                    Some(vec!["order_id", "customer_id", "ordered_at", "status"]),
                ),
            ),
            (
                "customers",
                (
                    "model.shop.customers",
                    Some(vec!["customer_id", "name", "country"]),
                ),
            ),
            (
                "items",
                (
                    "model.shop.items",
                    Some(vec!["order_id", "product_id", "quantity", "price"]),
                ),
            ),
            ("events", ("model.shop.events", None)),
            (
                "__dbt__cte__recent",
                ("model.shop.recent", Some(vec!["order_id"])),
            ),
        ]))
    }
}

impl Relations for Project {
    fn resolve(&self, parts: &[String]) -> Option<Upstream> {
        let (node, columns) = self.0.get(parts.last()?.to_lowercase().as_str())?;
        Some(Upstream {
            node: node.to_string(),
            columns: columns
                .as_ref()
                .map(|c| c.iter().map(|s| s.to_string()).collect()),
        })
    }
}

fn lineage(sql: &str) -> String {
    let columns = column_lineage(Dialect::DuckDb, sql, &Project::new()).expect("parses");
    columns
        .iter()
        .map(|c| {
            let sources: Vec<String> = c
                .sources
                .iter()
                .map(|s| format!("{}.{}", s.node.trim_start_matches("model.shop."), s.column))
                .collect();
            let kind = serde_json::to_value(c.kind).unwrap();
            let mut line = format!(
                "{}: {} <- {}",
                c.name,
                kind.as_str().unwrap(),
                sources.join(", ")
            );
            if let Some(reason) = &c.reason {
                line.push_str(&format!(" ({reason})"));
            }
            line
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn renames_and_expressions() {
    insta::assert_snapshot!(lineage(
        r#"select orders.order_id as id, "main"."orders".status, upper(status) as status_upper,
                  1 as one, ordered_at::date as order_date, count(*) over () as n
           from "main"."orders""#
    ));
}

#[test]
fn nested_ctes_and_joins_with_aliases() {
    insta::assert_snapshot!(lineage(
        "with base as (select * from orders where status <> 'x'),
              enriched as (
                  with inner_cte as (select b.order_id, c.name as customer_name, c.country
                                     from base b left join customers c on b.customer_id = c.customer_id)
                  select * from inner_cte
              ),
              totals as (select order_id, sum(quantity * price) as amount from items group by 1)
         select e.order_id, e.customer_name, t.amount, coalesce(t.amount, 0) > 100 as is_big
         from enriched e join totals t using (order_id)"
    ));
}

#[test]
fn window_functions_and_qualify() {
    insta::assert_snapshot!(lineage(
        "select customer_id, order_id,
                row_number() over (partition by customer_id order by ordered_at) as order_number,
                lag(ordered_at) over (partition by customer_id order by ordered_at) as previous_at
         from orders
         qualify order_number > 0"
    ));
}

#[test]
fn unions_take_the_left_names_and_merge_sources() {
    insta::assert_snapshot!(lineage(
        "select order_id, status as label from orders
         union all
         select order_id, cast(product_id as varchar) from items
         union all
         select customer_id, name from customers"
    ));
}

#[test]
fn star_expansion_exclude_replace_and_using() {
    insta::assert_snapshot!(lineage(
        "select * exclude (status) replace (upper(country) as country)
         from orders join customers using (customer_id)"
    ));
}

#[test]
fn unknown_columns_are_said_not_guessed() {
    insta::assert_snapshot!(lineage(
        "select e.event_id, order_id, x.* , u.value
         from events e join orders o on o.order_id = e.order_id, events x, unnest([1, 2]) as u(value)"
    ));
    // A named column of a node with unknown columns still resolves to it.
    insta::assert_snapshot!(lineage("select event_id, upper(kind) as kind from events"));
    insta::assert_snapshot!(lineage("select * from events"));
}

#[test]
fn subqueries_derived_tables_and_lateral_aliases() {
    insta::assert_snapshot!(lineage(
        "select d.customer_id, d.orders,
                (select max(i.price) from items i where i.order_id = d.last_order) as top_price,
                d.orders * 2 as doubled, doubled + 1 as doubled_plus
         from (select customer_id, count(*) as orders, max(order_id) as last_order
               from orders group by customer_id) as d"
    ));
}

#[test]
fn unaliased_expressions_are_marked_unnamed() {
    let columns = column_lineage(
        Dialect::Postgres,
        "select count(*), order_id from orders group by order_id",
        &Project::new(),
    )
    .unwrap();
    assert_eq!(
        columns.iter().map(|c| c.named).collect::<Vec<_>>(),
        [false, true]
    );
}

#[test]
fn parse_errors_are_returned() {
    let error = column_lineage(Dialect::DuckDb, "select from where", &Project::new()).unwrap_err();
    assert!(error.contains("Expected"), "{error}");
}

#[test]
fn table_functions_derive_from_their_arguments() {
    insta::assert_snapshot!(lineage(
        "select o.order_id, t.tag, r.range as n, x.y
         from orders o, unnest(string_split(o.status, ',')) as t(tag), range(10) as r, elsewhere.things x"
    ));
}

#[test]
fn ephemeral_models_inlined_as_ctes_are_sources() {
    insta::assert_snapshot!(lineage(
        "with __dbt__cte__recent as (select order_id from orders where ordered_at > now())
         select order_id from __dbt__cte__recent"
    ), @"order_id: direct <- recent.order_id");
}
