//! Public dbt packages, read from `../shared/dbt-packages/` (never copied into the
//! repository): `elt deps` installs them and a project that uses their macros and generic
//! tests builds on every warehouse.

mod support;

use std::path::PathBuf;

use support::{Wh, ok};

/// `../shared/dbt-packages/` beside the checkout (or `ELT_DBT_PACKAGES`). Missing, the
/// tests fail under CI and are skipped elsewhere.
fn shared_packages() -> Option<PathBuf> {
    let dir = std::env::var_os("ELT_DBT_PACKAGES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/dbt-packages")
        });
    if dir.join("dbt-utils/dbt_project.yml").is_file() {
        return Some(dir);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "the public dbt packages are not at {} under CI",
            dir.display()
        );
    }
    eprintln!(
        "skipped: no dbt packages at {} (set ELT_DBT_PACKAGES)",
        dir.display()
    );
    None
}

const ORDERS_SEED: &str = "id,customer,amount,discount\n1,ann,10,1\n2,bob,20,\n3,ann,5,0\n";

const ORDER_KEYS: &str = "\
{% set key_columns = [] %}
{% for c in ['id', 'customer'] %}{% do key_columns.append(c) %}{% endfor %}
select
    {{ dbt_utils.generate_surrogate_key(key_columns) }} as order_key,
    {{ dbt_utils.safe_add(['amount', 'discount']) }} as gross,
    id,
    customer
from {{ ref('orders') }}
";

const PROPERTIES: &str = "\
version: 2
models:
  - name: order_keys
    data_tests:
      - dbt_utils.unique_combination_of_columns:
          combination_of_columns: [id, customer]
      - dbt_utils.expression_is_true:
          expression: \"gross >= 0\"
      - dbt_utils.equal_rowcount:
          compare_model: ref('orders')
    columns:
      - name: order_key
        data_tests: [unique, not_null, dbt_utils.not_constant]
      - name: gross
        data_tests:
          - dbt_utils.accepted_range:
              min_value: 5
              max_value: 20
          - dbt_utils.at_least_one
      - name: customer
        data_tests:
          - dbt_utils.not_accepted_values:
              values: ['carl']
          - dbt_utils.cardinality_equality:
              field: customer
              to: ref('orders')
";

fn dbt_utils_macros_and_tests_build(wh: Wh) {
    let Some(shared) = shared_packages() else {
        return;
    };
    let packages = format!(
        "packages:\n  - local: {}\n",
        shared.join("dbt-utils").display()
    );
    let project = wh.project(&[
        ("packages.yml", &packages),
        ("seeds/orders.csv", ORDERS_SEED),
        ("models/order_keys.sql", ORDER_KEYS),
        ("models/schema.yml", PROPERTIES),
    ]);
    let deps = ok(project.path(), &["deps"]);
    assert!(deps.contains("Installed dbt_utils"), "{deps}");
    let build = ok(project.path(), &["build"]);
    assert!(
        build.contains("PASS=12 WARN=0 ERROR=0 SKIP=0 TOTAL=12"),
        "{build}"
    );
    let rows = project.query(&format!(
        "select id, gross, length(order_key) from {} order by id",
        project.rel("order_keys")
    ));
    assert_eq!(
        rows,
        [["1", "11", "32"], ["2", "20", "32"], ["3", "5", "32"]]
    );
}

/// dbt_utils macros that query the warehouse while compiling: `star` (the columns of its
/// upstream, built just before), `get_column_values` + `pivot` (`statement`/`load_result`),
/// `date_spine` (a query for the number of intervals), `union_relations`, and the `equality`
/// test (the columns of both relations).
fn dbt_utils_macros_that_query_the_warehouse_build(wh: Wh) {
    let Some(shared) = shared_packages() else {
        return;
    };
    let packages = format!(
        "packages:\n  - local: {}\n",
        shared.join("dbt-utils").display()
    );
    let project = wh.project(&[
        ("packages.yml", &packages),
        ("seeds/orders.csv", ORDERS_SEED),
        (
            "models/orders_star.sql",
            "select {{ dbt_utils.star(from=ref('orders'), except=['discount']) }} from {{ ref('orders') }}",
        ),
        (
            "models/amount_by_customer.sql",
            "select id,\n{{ dbt_utils.pivot('customer', dbt_utils.get_column_values(ref('orders'), 'customer')) }}\nfrom {{ ref('orders') }}\ngroup by id",
        ),
        (
            "models/days.sql",
            "{{ config(materialized='table') }}\n{{ dbt_utils.date_spine(datepart='day', start_date=\"cast('2024-01-01' as date)\", end_date=\"cast('2024-01-08' as date)\") }}",
        ),
        (
            "models/both.sql",
            "{{ dbt_utils.union_relations(relations=[ref('orders'), ref('orders_star')]) }}",
        ),
        (
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: orders_star\n    data_tests:\n      - dbt_utils.equality:\n          compare_model: ref('orders')\n          compare_columns: [id, customer, amount]\n",
        ),
    ]);
    ok(project.path(), &["deps"]);
    let build = ok(project.path(), &["build"]);
    assert!(
        build.contains("PASS=6 WARN=0 ERROR=0 SKIP=0 TOTAL=6"),
        "{build}"
    );
    let columns = project.query(&format!(
        "select * from {} order by id",
        project.rel("orders_star")
    ));
    assert_eq!(columns[0].len(), 3, "discount is left out: {columns:?}");
    let pivot = project.query(&format!(
        "select id, ann, bob from {} order by id",
        project.rel("amount_by_customer")
    ));
    assert_eq!(pivot, [["1", "1", "0"], ["2", "0", "1"], ["3", "1", "0"]]);
    let days = project.query(&format!("select count(*) from {}", project.rel("days")));
    assert_eq!(days, [["7"]]);
    let both = project.query(&format!("select count(*) from {}", project.rel("both")));
    assert_eq!(both, [["6"]]);
}

on_every_warehouse!(
    dbt_utils_macros_and_tests_build,
    dbt_utils_macros_that_query_the_warehouse_build
);
