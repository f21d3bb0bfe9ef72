//! `elt test`, `elt build`, `elt snapshot`, `elt retry` and `elt show`. The tests that take a
//! `Wh` run on DuckDB, PostgreSQL and ClickHouse.

mod support;

use support::{Wh, elt, ok, status_of, statuses, stderr, stdout, write};

on_every_warehouse!(
    generic_custom_and_singular_tests_pass_and_fail,
    test_configs_thresholds_limit_and_stored_failures,
    a_broken_test_errors_alone_among_the_tests_of_its_model,
    build_runs_in_graph_order_and_skips_downstream_of_failures,
    snapshots_record_history_with_both_strategies,
    show_previews_rows,
    jaffle_shop_builds_like_dbt,
);

const CUSTOMERS: &str = "{{ config(materialized='table') }}\nselect 1 as id, 'ann' as name, 'gold' as tier\nunion all select 2, 'bob', 'silver'\nunion all select 3, 'cy', 'gold'";
const ORDERS: &str = "{{ config(materialized='table') }}\nselect 10 as id, 1 as customer_id, 5 as amount\nunion all select 11, 2, 7\nunion all select 12, 9, 0\nunion all select 13, 3, null";

fn tested_project(wh: Wh, properties: &str) -> support::WhProject {
    wh.project(&[
        ("models/customers.sql", CUSTOMERS),
        ("models/orders.sql", ORDERS),
        ("models/schema.yml", properties),
        (
            "macros/is_even.sql",
            "{% test is_even(model, column_name) %}\nselect * from {{ model }} where {{ column_name }} % 2 = 1\n{% endtest %}",
        ),
        (
            "tests/no_big_orders.sql",
            "select * from {{ ref('orders') }} where amount > 100",
        ),
    ])
}

fn generic_custom_and_singular_tests_pass_and_fail(wh: Wh) {
    let dir = tested_project(
        wh,
        "version: 2\nmodels:\n  - name: customers\n    columns:\n      - name: id\n        tests: [unique, not_null]\n      - name: tier\n        data_tests:\n          - accepted_values:\n              values: ['gold', 'silver']\n  - name: orders\n    columns:\n      - name: id\n        tests: [unique, is_even]\n      - name: amount\n        tests:\n          - not_null\n          - not_null:\n              name: amount_present_when_customer_known\n              config:\n                where: customer_id < 9\n                severity: warn\n      - name: customer_id\n        tests:\n          - relationships:\n              to: ref('customers')\n              field: id\n",
    );
    ok(dir.path(), &["run"]);
    let output = elt(dir.path(), &["test"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let printed = stdout(&output);
    let status = |name: &str| {
        statuses(dir.path())
            .into_iter()
            .find(|(id, _)| id.starts_with(&format!("test.shop.{name}")))
            .map(|(_, s)| s)
            .unwrap_or_else(|| panic!("no result for {name}: {printed}"))
    };
    assert_eq!(status("unique_customers_id"), "pass");
    assert_eq!(status("not_null_customers_id"), "pass");
    assert_eq!(
        status("accepted_values_customers_tier__gold__silver"),
        "pass"
    );
    assert_eq!(status("unique_orders_id"), "pass");
    assert_eq!(status("is_even_orders_id"), "fail", "11 and 13 are odd");
    assert_eq!(status("not_null_orders_amount"), "fail");
    assert_eq!(status("amount_present_when_customer_known"), "warn");
    assert_eq!(
        status("relationships_orders_customer_id__id__ref_customers_"),
        "fail",
        "customer 9 does not exist"
    );
    assert_eq!(status("no_big_orders"), "pass");
    assert!(printed.contains("FAIL 2 is_even_orders_id"), "{printed}");
    assert!(
        printed.contains("WARN 1 amount_present_when_customer_known"),
        "{printed}"
    );
    assert!(
        printed.contains("PASS=5 WARN=1 ERROR=3 SKIP=0 TOTAL=9"),
        "{printed}"
    );
    let errors = stderr(&output);
    assert!(
        errors.contains("error: test 'is_even_orders_id' failed: Got 2 results, configured to fail if != 0\n --> models/schema.yml:"),
        "{errors}"
    );
    assert!(
        errors.contains("warning: test 'amount_present_when_customer_known' warned: Got 1 result, configured to warn if != 0"),
        "{errors}"
    );
}

fn test_configs_thresholds_limit_and_stored_failures(wh: Wh) {
    let dir = tested_project(
        wh,
        "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n        tests:\n          - is_even:\n              config:\n                warn_if: '>= 1'\n                error_if: '> 5'\n      - name: amount\n        tests:\n          - accepted_values:\n              values: [5, 7]\n              quote: false\n              config:\n                store_failures: true\n                limit: 1\n",
    );
    ok(dir.path(), &["run"]);
    let output = elt(dir.path(), &["test"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let results = statuses(dir.path());
    let status = |prefix: &str| {
        results
            .iter()
            .find(|(id, _)| id.starts_with(prefix))
            .map(|(_, s)| s.as_str())
            .unwrap()
    };
    assert_eq!(
        status("test.shop.is_even_orders_id"),
        "warn",
        "2 failures: warn, not error"
    );
    assert_eq!(status("test.shop.accepted_values_orders_amount"), "fail");
    assert_eq!(
        dir.query(&format!(
            "select value_field, n_records from {}_dbt_test__audit.\"accepted_values_orders_amount__False__5__7\" order by 1",
            dir.schema()
        )),
        [["0", "1"]],
        "failing rows are stored; amount 0 is not accepted (null is skipped by accepted_values)"
    );
    let text = std::fs::read_to_string(dir.path().join("target/run_results.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    let failing = json["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["status"] == "fail")
        .unwrap();
    assert_eq!(
        failing["failures"], 1,
        "limit 1 caps the failing rows counted"
    );
}

/// The tests of one model run as one query; when one of them cannot run, the others still
/// get their own verdicts and only the broken one errors, with its own message.
fn a_broken_test_errors_alone_among_the_tests_of_its_model(wh: Wh) {
    let dir = tested_project(
        wh,
        "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: id\n        tests: [unique, is_even]\n      - name: no_such_column\n        tests: [not_null]\n      - name: amount\n        tests:\n          - not_null:\n              config:\n                severity: warn\n",
    );
    ok(dir.path(), &["run"]);
    let output = elt(dir.path(), &["test"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let results = statuses(dir.path());
    let status = |name: &str| {
        results
            .iter()
            .find(|(id, _)| id.starts_with(&format!("test.shop.{name}.")))
            .map(|(_, s)| s.as_str())
            .unwrap_or_else(|| panic!("no result for {name}"))
    };
    assert_eq!(status("unique_orders_id"), "pass");
    assert_eq!(status("is_even_orders_id"), "fail");
    assert_eq!(status("not_null_orders_amount"), "warn");
    assert_eq!(status("not_null_orders_no_such_column"), "error");
    let printed = stdout(&output);
    assert!(printed.contains("FAIL 2 is_even_orders_id"), "{printed}");
    assert!(
        printed.contains("WARN 1 not_null_orders_amount"),
        "{printed}"
    );
    let errors = stderr(&output);
    assert!(errors.contains("no_such_column"), "{errors}");
    assert!(
        !errors.contains("cross join"),
        "each error is its own test's, not the batched query's: {errors}"
    );
}

fn build_runs_in_graph_order_and_skips_downstream_of_failures(wh: Wh) {
    let dir = wh.project(&[
        ("seeds/tiers.csv", "tier,discount\ngold,0.2\nsilver,0.1\n"),
        ("models/customers.sql", CUSTOMERS),
        (
            "models/discounts.sql",
            "{{ config(materialized='table') }}\nselect c.id, t.discount from {{ ref('customers') }} c join {{ ref('tiers') }} t using (tier)",
        ),
        (
            "models/report.sql",
            "select count(*) as n from {{ ref('discounts') }}",
        ),
        (
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: discounts\n    columns:\n      - name: discount\n        tests:\n          - accepted_values:\n              values: [0.2]\n              quote: false\n",
        ),
    ]);
    let output = elt(dir.path(), &["build"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(status_of(dir.path(), "seed.shop.tiers"), "success");
    assert_eq!(status_of(dir.path(), "model.shop.customers"), "success");
    assert_eq!(status_of(dir.path(), "model.shop.discounts"), "success");
    assert_eq!(
        status_of(dir.path(), "model.shop.report"),
        "skipped",
        "a failing test on discounts skips what is downstream of it"
    );
    let printed = stdout(&output);
    assert!(
        printed.contains(&format!("SKIP sql view model {}", dir.rel("report"))),
        "{printed}"
    );

    // A warning does not skip anything; `elt retry` runs only what failed or was skipped.
    write(
        dir.path(),
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: discounts\n    columns:\n      - name: discount\n        tests:\n          - accepted_values:\n              values: [0.2]\n              quote: false\n              config:\n                severity: warn\n",
    );
    let printed = ok(dir.path(), &["retry"]);
    assert!(
        printed.contains("TOTAL=2"),
        "retry runs the failed test and the skipped model: {printed}"
    );
    assert_eq!(status_of(dir.path(), "model.shop.report"), "success");
    assert_eq!(dir.query("select n from report"), [["3"]]);
    let printed = ok(dir.path(), &["retry"]);
    assert!(printed.contains("Nothing to retry"), "{printed}");
}

fn snapshots_record_history_with_both_strategies(wh: Wh) {
    let snapshots = "{% snapshot customers_ts %}\n{{ config(target_schema=target.schema ~ '_snapshots', unique_key='id', strategy='timestamp', updated_at='updated_at', invalidate_hard_deletes=true) }}\nselect * from {{ ref('customers_now') }}\n{% endsnapshot %}\n\n{% snapshot customers_check %}\n{{ config(target_schema=target.schema ~ '_snapshots', unique_key='id', strategy='check', check_cols=['tier']) }}\nselect id, tier from {{ ref('customers_now') }}\n{% endsnapshot %}\n";
    let dir = wh.project(&[
        (
            "seeds/customers_now.csv",
            "id,tier,updated_at\n1,gold,2024-01-01 00:00:00\n2,silver,2024-01-01 00:00:00\n",
        ),
        ("snapshots/customers.sql", snapshots),
    ]);
    ok(dir.path(), &["seed"]);
    ok(dir.path(), &["snapshot"]);
    let snapshots = format!("{}_snapshots", dir.schema());
    let query = |sql: &str| dir.query(&sql.replace("snapshots.", &format!("{snapshots}.")));
    // Seed timestamps are DateTime64(6) on ClickHouse, which prints microseconds.
    let at = |day: &str| match wh {
        Wh::ClickHouse => format!("{day} 00:00:00.000000"),
        _ => format!("{day} 00:00:00"),
    };
    let (jan, feb) = (at("2024-01-01"), at("2024-02-01"));
    assert_eq!(
        query(
            "select id, tier, cast(dbt_valid_from as varchar), dbt_valid_to from snapshots.customers_ts order by id"
        ),
        [
            ["1", "gold", jan.as_str(), "NULL"],
            ["2", "silver", jan.as_str(), "NULL"]
        ]
    );

    // Customer 1 changes tier, 2 disappears, 3 arrives.
    write(
        dir.path(),
        "seeds/customers_now.csv",
        "id,tier,updated_at\n1,platinum,2024-02-01 00:00:00\n3,silver,2024-02-01 00:00:00\n",
    );
    ok(dir.path(), &["seed"]);
    ok(dir.path(), &["snapshot"]);
    let history = "select id, tier, cast(dbt_valid_from as varchar), coalesce(cast(dbt_valid_to as varchar), 'current') from snapshots.customers_ts where id <> 2 order by id, dbt_valid_from";
    assert_eq!(
        query(history),
        [
            ["1", "gold", jan.as_str(), feb.as_str()],
            ["1", "platinum", feb.as_str(), "current"],
            ["3", "silver", feb.as_str(), "current"]
        ]
    );
    assert_eq!(
        query(
            "select count(*) from snapshots.customers_ts where id = 2 and dbt_valid_to is not null"
        ),
        [["1"]],
        "a hard delete closes the record"
    );
    assert_eq!(
        query(
            "select id, tier, case when dbt_valid_to is null then 'current' else 'closed' end from snapshots.customers_check order by id, dbt_valid_from"
        ),
        [
            ["1", "gold", "closed"],
            ["1", "platinum", "current"],
            ["2", "silver", "current"],
            ["3", "silver", "current"]
        ]
    );
    // Nothing changed: a third run adds no versions.
    ok(dir.path(), &["snapshot"]);
    assert_eq!(
        query("select count(*) from snapshots.customers_ts"),
        [["4"]]
    );
    assert_eq!(
        query("select count(*) from snapshots.customers_check"),
        [["4"]]
    );
}

fn show_previews_rows(wh: Wh) {
    // Ordered: ClickHouse runs the branches of a union all in parallel.
    let customers = format!(
        "select * from ({}) as t order by id",
        CUSTOMERS.split_once('\n').unwrap().1
    );
    let dir = wh.project(&[("models/customers.sql", &customers)]);
    let printed = ok(dir.path(), &["show", "-s", "customers", "--limit", "2"]);
    assert_eq!(
        printed,
        "Previewing node 'customers':\n| id | name | tier   |\n|----|------|--------|\n| 1  | ann  | gold   |\n| 2  | bob  | silver |\n"
    );
    ok(dir.path(), &["run"]);
    let printed = ok(
        dir.path(),
        &[
            "show",
            "--inline",
            "select count(*) as n from {{ ref('customers') }}",
        ],
    );
    assert!(
        printed.contains("| 3 |"),
        "show --inline reads the built table: {printed}"
    );
}

/// dbt's jaffle_shop, unmodified, built with `elt build`. The expected contents come from the
/// seeds by the project's documented rules, computed here independently of the warehouse.
fn jaffle_shop_builds_like_dbt(wh: Wh) {
    let dir = wh.jaffle_shop();
    let printed = ok(dir.path(), &["build"]);
    assert!(printed.contains("ERROR=0"), "{printed}");
    let csv = |name: &str| -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(dir.path().join(format!("seeds/{name}.csv"))).unwrap();
        text.lines()
            .skip(1)
            .filter(|l| !l.is_empty())
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    };
    let customers = csv("raw_customers");
    let orders = csv("raw_orders");
    let payments = csv("raw_payments");
    let mut expected = Vec::new();
    for customer in &customers {
        let id = &customer[0];
        let mine: Vec<&Vec<String>> = orders.iter().filter(|o| &o[1] == id).collect();
        let first = mine.iter().map(|o| o[2].clone()).min();
        let last = mine.iter().map(|o| o[2].clone()).max();
        let cents: i64 = payments
            .iter()
            .filter(|p| mine.iter().any(|o| o[0] == p[1]))
            .map(|p| p[3].parse::<i64>().unwrap())
            .sum();
        let paid = payments.iter().any(|p| mine.iter().any(|o| o[0] == p[1]));
        let value = if paid {
            cents.to_string()
        } else {
            "NULL".to_string()
        };
        expected.push(vec![
            id.clone(),
            customer[1].clone(),
            customer[2].clone(),
            first.unwrap_or_else(|| "NULL".into()),
            last.unwrap_or_else(|| "NULL".into()),
            if mine.is_empty() {
                "NULL".into()
            } else {
                mine.len().to_string()
            },
            value,
        ]);
    }
    expected.sort_by_key(|row| row[0].parse::<i64>().unwrap());
    assert_eq!(
        dir.query("select customer_id, first_name, last_name, coalesce(cast(first_order as varchar), 'NULL'), coalesce(cast(most_recent_order as varchar), 'NULL'), coalesce(cast(number_of_orders as varchar), 'NULL'), coalesce(cast(round(customer_lifetime_value * 100) as bigint)::varchar, 'NULL') from customers order by customer_id"
        ),
        expected
    );
    // orders: one row per order, amount split by payment method.
    for order in &orders {
        let mine: Vec<&Vec<String>> = payments.iter().filter(|p| p[1] == order[0]).collect();
        let paid = |method: &str| -> String {
            let cents: i64 = mine
                .iter()
                .filter(|p| p[2] == method)
                .map(|p| p[3].parse::<i64>().unwrap())
                .sum();
            if mine.is_empty() {
                "NULL".into()
            } else {
                cents.to_string()
            }
        };
        let total: i64 = mine.iter().map(|p| p[3].parse::<i64>().unwrap()).sum();
        let cents = |column: &str| {
            format!("coalesce(cast(round({column} * 100) as bigint)::varchar, 'NULL')")
        };
        assert_eq!(
            dir.query(&format!(
                "select status, {}, {}, {}, {}, {} from orders where order_id = {}",
                cents("credit_card_amount"),
                cents("coupon_amount"),
                cents("bank_transfer_amount"),
                cents("gift_card_amount"),
                cents("amount"),
                order[0]
            )),
            [[
                order[3].clone(),
                paid("credit_card"),
                paid("coupon"),
                paid("bank_transfer"),
                paid("gift_card"),
                if mine.is_empty() {
                    "NULL".into()
                } else {
                    total.to_string()
                }
            ]],
            "order {}",
            order[0]
        );
    }
    assert!(
        statuses(dir.path())
            .iter()
            .all(|(_, status)| status == "success" || status == "pass")
    );
}
