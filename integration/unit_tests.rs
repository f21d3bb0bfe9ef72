//! Unit tests (`unit_tests:` in properties YAML, dbt 1.8) on DuckDB, PostgreSQL and ClickHouse:
//! given rows in every format, overrides, the diff of a failing test, and `build` running a
//! model's unit tests first (a failing one skips the model).

mod support;

use support::{Wh, elt, ok, statuses, stderr, stdout};

on_every_warehouse!(
    unit_tests_pass_fail_and_gate_their_model,
    incremental_models_are_tested_with_this_given,
);

const CUSTOMERS: &str =
    "select 1 as id, 'ann' as name, 'a@x.com' as email\nunion all select 2, 'bob', 'bob-at-x'";
const ORDERS: &str = "select 10 as id, 1 as customer_id, 5.5 as amount";
/// Orders of customers with a valid email, at least `min_amount` each, and a region from the
/// environment.
const TOTALS: &str = "{{ config(materialized='incremental', unique_key='id') }}
select c.id, c.name, coalesce(sum(o.amount), 0) as total, count(o.id) as orders,
  '{{ env_var(\"SHOP_REGION\", \"eu\") }}' as region
from {{ ref('customers') }} c
left join {{ ref('orders') }} o on o.customer_id = c.id
where c.email like '%@%' and coalesce(o.amount, 0) >= {{ var('min_amount') }}
{% if is_incremental() %} and c.id > (select max(id) from {{ this }}) {% endif %}
group by c.id, c.name";

/// Passes: dict rows, CSV rows, missing columns given as NULL, numbers compared by value.
const ADDS_UP: &str = "
  - name: totals_add_up
    model: customer_totals
    given:
      - input: ref('customers')
        rows:
          - {id: 1, name: ann, email: a@x.com}
          - {id: 2, name: bob, email: bad}
          - {id: 3, name: cy, email: c@x.com}
      - input: ref('orders')
        format: csv
        rows: |
          id,customer_id,amount
          10,1,5.5
          11,1,4.5
          12,3,1
    expect:
      rows:
        - {id: 1, name: ann, total: 10, orders: 2}
        - {id: 3, name: cy, total: 1, orders: 1}";

/// Fails on purpose: SQL rows, a fixture file, vars and env vars overridden.
const WRONG: &str = "
  - name: wrong_on_purpose
    model: customer_totals
    overrides:
      vars: {min_amount: 5}
      env_vars: {SHOP_REGION: us}
    given:
      - input: ref('customers')
        format: sql
        rows: select 1 as id, 'ann' as name, 'a@x.com' as email
      - input: ref('orders')
        format: csv
        fixture: some_orders
    expect:
      rows:
        - {id: 1, total: 99, region: us}";

fn shop(wh: Wh, unit_tests: &str) -> support::WhProject {
    wh.project(&[
        (
            "elt_project.yml",
            "name: shop\nprofile: shop\nvars:\n  min_amount: 0\n",
        ),
        ("models/customers.sql", CUSTOMERS),
        ("models/orders.sql", ORDERS),
        ("models/customer_totals.sql", TOTALS),
        (
            "tests/fixtures/some_orders.csv",
            "id,customer_id,amount\n10,1,5.5\n11,1,4.5\n",
        ),
        (
            "models/unit.yml",
            &format!("version: 2\nunit_tests:{unit_tests}\n"),
        ),
    ])
}

fn status<'a>(results: &'a [(String, String)], id: &str) -> &'a str {
    results
        .iter()
        .find(|(unique_id, _)| unique_id == id)
        .map(|(_, s)| s.as_str())
        .unwrap_or_else(|| panic!("no result for {id}: {results:?}"))
}

fn unit_tests_pass_fail_and_gate_their_model(wh: Wh) {
    let dir = shop(wh, &format!("{ADDS_UP}{WRONG}"));
    let output = elt(dir.path(), &["build"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let results = statuses(dir.path());
    assert_eq!(
        status(&results, "unit_test.shop.customer_totals.totals_add_up"),
        "pass"
    );
    assert_eq!(
        status(&results, "unit_test.shop.customer_totals.wrong_on_purpose"),
        "fail"
    );
    assert_eq!(
        status(&results, "model.shop.customer_totals"),
        "skipped",
        "a failing unit test skips its model"
    );
    let printed = stdout(&output);
    assert!(
        printed.contains("FAIL 2 customer_totals::wrong_on_purpose"),
        "{printed}"
    );
    assert!(
        printed.contains("PASS customer_totals::totals_add_up"),
        "{printed}"
    );
    let errors = stderr(&output);
    assert!(
        errors
            .contains("error: unit test 'wrong_on_purpose' failed: actual differs from expected:"),
        "{errors}"
    );
    let diff: Vec<String> = errors
        .lines()
        .filter(|l| l.starts_with("- |") || l.starts_with("+ |"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        diff,
        ["- | 1 | 99 | us", "+ | 1 | 5.5 | us"],
        "vars and env vars are overridden, the fixture file read: {errors}"
    );
    assert!(errors.contains("--> models/unit.yml:"), "{errors}");

    // Only the passing test: the model is built after it, from the real inputs.
    let output = ok(dir.path(), &["build", "--exclude", "wrong_on_purpose"]);
    assert!(output.contains("PASS=4"), "{output}");
    assert_eq!(
        dir.query(&format!(
            "select id, name, orders from {} order by id",
            dir.rel("customer_totals")
        )),
        [["1", "ann", "1"]]
    );
    let only_unit = elt(dir.path(), &["test", "--select", "test_type:unit"]);
    assert_eq!(only_unit.status.code(), Some(1));
    assert!(
        stdout(&only_unit).contains("PASS=1 WARN=0 ERROR=1 SKIP=0 TOTAL=2"),
        "{}",
        stdout(&only_unit)
    );
}

fn incremental_models_are_tested_with_this_given(wh: Wh) {
    let incremental = "
  - name: only_new_customers
    model: customer_totals
    overrides:
      macros: {is_incremental: true}
    given:
      - input: ref('customers')
        rows: [{id: 1, email: a@x}, {id: 5, name: eve, email: e@x}]
      - input: ref('orders')
        rows: []
      - input: this
        rows: [{id: 4}]
    expect:
      rows: [{id: 5, name: eve, total: 0, orders: 0}]";
    let dir = shop(wh, incremental);
    // `this` is typed from the model's table, so the model is built first.
    let output = elt(dir.path(), &["test"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("is not in the warehouse"),
        "{}",
        stderr(&output)
    );
    ok(dir.path(), &["run"]);
    let output = ok(dir.path(), &["test"]);
    assert!(output.contains("PASS=1 WARN=0 ERROR=0"), "{output}");
}
