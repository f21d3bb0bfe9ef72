//! dbt compatibility: the jaffle_shop project, in dbt's own format and unmodified, compiles to
//! the SQL dbt-duckdb produces for it. The expected texts below follow from Jinja2's whitespace
//! rules and dbt's built-in test macros; they were derived by hand, not copied from elt.

mod support;

use std::collections::BTreeSet;

use support::{compile_dir, fixtures, sql};

const STG_CUSTOMERS: &str = r#"with source as (
    select * from "jaffle_shop"."main"."raw_customers"

),

renamed as (

    select
        id as customer_id,
        first_name,
        last_name

    from source

)

select * from renamed"#;

const ORDERS: &str = r#"

with orders as (

    select * from "jaffle_shop"."main"."stg_orders"

),

payments as (

    select * from "jaffle_shop"."main"."stg_payments"

),

order_payments as (

    select
        order_id,

        sum(case when payment_method = 'credit_card' then amount else 0 end) as credit_card_amount,
        sum(case when payment_method = 'coupon' then amount else 0 end) as coupon_amount,
        sum(case when payment_method = 'bank_transfer' then amount else 0 end) as bank_transfer_amount,
        sum(case when payment_method = 'gift_card' then amount else 0 end) as gift_card_amount,
        sum(amount) as total_amount

    from payments

    group by order_id

),

final as (

    select
        orders.order_id,
        orders.customer_id,
        orders.order_date,
        orders.status,

        order_payments.credit_card_amount,

        order_payments.coupon_amount,

        order_payments.bank_transfer_amount,

        order_payments.gift_card_amount,

        order_payments.total_amount as amount

    from orders


    left join order_payments
        on orders.order_id = order_payments.order_id

)

select * from final"#;

const UNIQUE_CUSTOMERS_CUSTOMER_ID: &str = "\n    \n    \n\nselect\n    customer_id as unique_field,\n    count(*) as n_records\n\nfrom \"jaffle_shop\".\"main\".\"customers\"\nwhere customer_id is not null\ngroup by customer_id\nhaving count(*) > 1\n\n\n";

const NOT_NULL_ORDERS_AMOUNT: &str = "\n    \n    \n\n\n\nselect amount\nfrom \"jaffle_shop\".\"main\".\"orders\"\nwhere amount is null\n\n\n";

const ACCEPTED_VALUES_ORDERS_STATUS: &str = "\n    \n    \n\nwith all_values as (\n\n    select\n        status as value_field,\n        count(*) as n_records\n\n    from \"jaffle_shop\".\"main\".\"orders\"\n    group by status\n\n)\n\nselect *\nfrom all_values\nwhere value_field not in (\n    'placed','shipped','completed','return_pending','returned'\n)\n\n\n";

const RELATIONSHIPS: &str = "\n    \n    \n\nwith child as (\n    select customer_id as from_field\n    from \"jaffle_shop\".\"main\".\"orders\"\n    where customer_id is not null\n),\n\nparent as (\n    select customer_id as to_field\n    from \"jaffle_shop\".\"main\".\"customers\"\n)\n\nselect\n    from_field\n\nfrom child\nleft join parent\n    on child.from_field = parent.to_field\n\nwhere parent.to_field is null\n\n\n";

#[test]
fn models_compile_to_dbts_sql() {
    let compiled = compile_dir(&fixtures().join("jaffle_shop"), None);
    assert_eq!(sql(&compiled, "stg_customers"), STG_CUSTOMERS);
    assert_eq!(sql(&compiled, "orders"), ORDERS);
}

#[test]
fn generic_tests_compile_to_dbts_sql_and_names() {
    let compiled = compile_dir(&fixtures().join("jaffle_shop"), None);
    assert_eq!(
        sql(&compiled, "unique_customers_customer_id"),
        UNIQUE_CUSTOMERS_CUSTOMER_ID
    );
    assert_eq!(
        sql(&compiled, "not_null_orders_amount"),
        NOT_NULL_ORDERS_AMOUNT
    );
    assert_eq!(
        sql(
            &compiled,
            "relationships_orders_customer_id__customer_id__ref_customers_"
        ),
        RELATIONSHIPS
    );
    let accepted = compiled
        .manifest
        .nodes
        .values()
        .find(|n| n.name == "accepted_values_orders_status__placed__shipped__completed__return_pending__returned")
        .expect("dbt's full test name");
    assert_eq!(
        accepted.compiled_code.as_deref(),
        Some(ACCEPTED_VALUES_ORDERS_STATUS)
    );
    // dbt shortens names of 64+ characters for the file name: a prefix plus an MD5.
    assert_eq!(
        accepted.path.to_str(),
        Some("accepted_values_orders_1ce6ab157c285f7cd2ac656013faf758.sql")
    );
}

#[test]
fn manifest_has_dbts_nodes_and_edges() {
    let compiled = compile_dir(&fixtures().join("jaffle_shop"), None);
    let manifest = &compiled.manifest;
    let models: BTreeSet<&str> = manifest
        .nodes
        .values()
        .filter(|n| n.resource_type.as_str() == "model")
        .map(|n| n.unique_id.as_str())
        .collect();
    assert_eq!(
        models,
        BTreeSet::from([
            "model.jaffle_shop.customers",
            "model.jaffle_shop.orders",
            "model.jaffle_shop.stg_customers",
            "model.jaffle_shop.stg_orders",
            "model.jaffle_shop.stg_payments",
        ])
    );
    let tests = manifest
        .nodes
        .values()
        .filter(|n| n.resource_type.as_str() == "test")
        .count();
    assert_eq!(
        tests, 20,
        "the 20 generic tests of jaffle_shop's schema files"
    );
    let orders = &manifest.nodes["model.jaffle_shop.orders"];
    assert_eq!(
        orders.depends_on_nodes,
        [
            "model.jaffle_shop.stg_orders",
            "model.jaffle_shop.stg_payments"
        ]
    );
    assert_eq!(orders.materialized(), "table");
    assert_eq!(
        manifest.nodes["model.jaffle_shop.stg_orders"].materialized(),
        "view"
    );
    assert!(
        orders.columns["status"]
            .description
            .starts_with("Orders can be one of the following statuses:")
    );
    assert_eq!(orders.fqn, ["jaffle_shop", "orders"]);
    assert_eq!(
        manifest.nodes["model.jaffle_shop.stg_orders"].fqn,
        ["jaffle_shop", "staging", "stg_orders"]
    );
    let (parents, children) = compiled.dag.maps();
    assert_eq!(
        parents["model.jaffle_shop.stg_orders"],
        ["seed.jaffle_shop.raw_orders"]
    );
    assert_eq!(
        children["model.jaffle_shop.customers"].len(),
        3,
        "unique, not_null and the relationships test"
    );
}

/// dbt-duckdb's `external_location`: on DuckDB a source is read from where it says (a path is
/// quoted; a table function is used as written); on the other warehouses it is a table.
#[test]
fn sources_read_their_external_location_on_duckdb() {
    let dir = support::project(&[
        (
            "models/sources.yml",
            "version: 2\nsources:\n  - name: raw\n    meta:\n      external_location: \"read_csv('files/{name}.csv', header = true)\"\n    tables:\n      - name: orders\n      - name: customers\n        config:\n          external_location: \"files/all customers.parquet\"\n",
        ),
        (
            "models/both.sql",
            "select * from {{ source('raw', 'orders') }} join {{ source('raw', 'customers') }} using (id)",
        ),
    ]);
    let compiled = compile_dir(dir.path(), None);
    assert_eq!(
        sql(&compiled, "both"),
        "select * from read_csv('files/orders.csv', header = true) join 'files/all customers.parquet' using (id)"
    );
    support::write(
        dir.path(),
        "profiles.yml",
        "shop:\n  target: pg\n  outputs:\n    pg:\n      type: postgres\n      user: elt\n      dbname: shop\n",
    );
    let compiled = compile_dir(dir.path(), None);
    assert_eq!(
        sql(&compiled, "both"),
        "select * from \"shop\".\"raw\".\"orders\" join \"shop\".\"raw\".\"customers\" using (id)"
    );
}
