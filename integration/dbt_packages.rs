//! Packages whose models, seeds and tests build with the project's, and public dbt packages,
//! read from `../shared/dbt-packages/` (never copied into the repository): `elt deps` installs
//! them, a project that uses their macros and generic tests
//! builds on every warehouse, and the packages' own integration-test projects (copied into a
//! temporary folder for each run) build with the same nodes passing as under dbt-core 1.11.

mod support;

use std::path::{Path, PathBuf};

use support::{Wh, WhProject, ok};

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

/// A package with a seed, a model, a test, vars and a hook of its own, installed by `elt deps`
/// from a folder beside the project, and the project's model on top of it.
fn package_models_and_seeds_build(wh: Wh) {
    let project = wh.project(&[
        ("packages.yml", "packages:\n  - local: vendor/tools\n"),
        (
            "vendor/tools/dbt_project.yml",
            "name: tools\nversion: '1.0'\nvars:\n  factor: 10\nmodels:\n  tools:\n    +materialized: table\non-run-end:\n  - create or replace view {{ target.schema }}.tools_hook as select {{ var('factor') }} as f\n",
        ),
        ("vendor/tools/seeds/tools_numbers.csv", "n\n1\n2\n3\n"),
        (
            "vendor/tools/models/tools_scaled.sql",
            "select n, n * {{ var('factor') }} as scaled from {{ ref('tools_numbers') }}",
        ),
        (
            "vendor/tools/models/schema.yml",
            "version: 2\nmodels:\n  - name: tools_scaled\n    columns:\n      - name: scaled\n        data_tests: [not_null, unique]\n",
        ),
        (
            "models/report.sql",
            "select sum(scaled) as total from {{ ref('tools', 'tools_scaled') }}",
        ),
    ]);
    ok(project.path(), &["deps"]);
    let listed = ok(project.path(), &["ls", "--select", "package:tools"]);
    let mut listed: Vec<&str> = listed.lines().collect();
    listed.sort();
    assert_eq!(
        listed,
        [
            "tools.not_null_tools_scaled_scaled",
            "tools.tools_numbers",
            "tools.tools_scaled",
            "tools.unique_tools_scaled_scaled",
        ]
    );
    let build = ok(project.path(), &["build"]);
    assert!(
        totals(&build).contains("PASS=5 WARN=0 ERROR=0 SKIP=0 TOTAL=5"),
        "{build}"
    );
    let total = project.query(&format!("select total from {}", project.rel("report")));
    assert_eq!(total, [["60"]]);
    // The package's own on-run-end hook ran, with its vars.
    let hook = project.query(&format!("select f from {}", project.rel("tools_hook")));
    assert_eq!(hook, [["10"]]);
}

/// A package's `integration_tests/` project, copied into a temporary folder with a profile
/// `integration_tests` for `wh`; `installed` are (name, folder in the shared packages) placed
/// in `dbt_packages/` as links, as dbt's offline install of a hub package is (its release
/// tree), and its own `packages.yml` and lock are removed.
fn package_suite(wh: Wh, shared: &Path, package: &str, installed: &[(&str, &str)]) -> WhProject {
    let dir = tempfile::tempdir().expect("temp dir");
    support::copy_dir(&shared.join(package).join("integration_tests"), dir.path());
    for file in ["packages.yml", "package-lock.yml", "profiles.yml"] {
        let _ = std::fs::remove_file(dir.path().join(file));
    }
    let packages = dir.path().join("dbt_packages");
    std::fs::create_dir_all(&packages).expect("dbt_packages");
    for (name, folder) in installed {
        std::os::unix::fs::symlink(shared.join(folder), packages.join(name)).expect("link");
    }
    wh.profiled(dir, "integration_tests")
}

/// The `PASS=... TOTAL=...` line of a build.
fn totals(output: &str) -> &str {
    output
        .lines()
        .rfind(|l| l.starts_with("Done. PASS="))
        .unwrap_or_else(|| panic!("no totals in:\n{output}"))
}

/// dbt-utils' suite on PostgreSQL, as its maintainers run it (`dbt build --full-refresh`):
/// dbt-core 1.11 builds its 237 nodes, all passing.
#[test]
fn dbt_utils_integration_tests_pass_on_postgres() {
    let Some(shared) = shared_packages().filter(|_| Wh::Postgres.available()) else {
        return;
    };
    let project = package_suite(Wh::Postgres, &shared, "dbt-utils", &[]);
    // Its own packages.yml says `local: ../`: elt deps installs the package from the shared
    // folder instead.
    support::write(
        project.path(),
        "packages.yml",
        &format!(
            "packages:\n  - local: {}\n",
            shared.join("dbt-utils").display()
        ),
    );
    ok(project.path(), &["deps"]);
    let build = ok(project.path(), &["build", "--full-refresh"]);
    assert_eq!(
        totals(&build),
        "Done. PASS=237 WARN=0 ERROR=0 SKIP=0 TOTAL=237"
    );
    let pivot = project.query(&format!(
        "select size, red, blue from {} order by size",
        project.rel("test_pivot")
    ));
    assert_eq!(pivot, [["M", "1", "0"], ["S", "1", "1"]]);
    let spine = project.query(&format!(
        "select count(*) from {}",
        project.rel("test_date_spine")
    ));
    assert_eq!(spine, [["9"]]);
}

/// dbt-date's suite on DuckDB (`dbt build`): dbt-core 1.11 builds its 73 nodes, all
/// passing. Its time zones need DuckDB's icu extension, built into elt.
#[test]
fn dbt_date_integration_tests_pass_on_duckdb() {
    let Some(shared) = shared_packages() else {
        return;
    };
    let project = package_suite(Wh::DuckDb, &shared, "dbt-date", &[("dbt_date", "dbt-date")]);
    let build = ok(project.path(), &["build"]);
    assert_eq!(
        totals(&build),
        "Done. PASS=73 WARN=0 ERROR=0 SKIP=0 TOTAL=73"
    );
    let dates = project.query(&format!(
        "select count(*), count(distinct day_name) from {}",
        project.rel("test_dates")
    ));
    assert_eq!(dates, [["2", "2"]]);
}

/// audit-helper's suite on PostgreSQL (`dbt build --exclude tag:skip+ tag:temporary_skip+`),
/// with dbt_utils from the shared folder in place of the 1.1.1 release its lock pins: 91 nodes,
/// 22 of them unit tests, all passing as under dbt-core 1.11.
#[test]
fn audit_helper_integration_tests_pass_on_postgres() {
    let Some(shared) = shared_packages().filter(|_| Wh::Postgres.available()) else {
        return;
    };
    let installed = [
        ("audit_helper", "dbt-audit-helper"),
        ("dbt_utils", "dbt-utils"),
    ];
    let project = package_suite(Wh::Postgres, &shared, "dbt-audit-helper", &installed);
    let build = ok(
        project.path(),
        &["build", "--exclude", "tag:skip+", "tag:temporary_skip+"],
    );
    assert_eq!(
        totals(&build),
        "Done. PASS=91 WARN=0 ERROR=0 SKIP=0 TOTAL=91",
        "{build}"
    );
}

/// dbt-expectations' suite on PostgreSQL (`dbt build`), with dbt-date from the shared folder
/// as its dbt_date 0.x: dbt-core 1.11 builds its 169 nodes, all passing. Its time series draw
/// random values, so that a few of its statistical tests pass or fail by chance (under
/// dbt-core too): the project overrides `dbt_expectations.rand` (by dispatch, as a project
/// may) with a pseudo-random value of the row's number, the same on every run.
#[test]
fn dbt_expectations_integration_tests_pass_on_postgres() {
    let Some(shared) = shared_packages().filter(|_| Wh::Postgres.available()) else {
        return;
    };
    let installed = [
        ("dbt_expectations", "dbt-expectations"),
        ("dbt_date", "dbt-date"),
    ];
    let project = package_suite(Wh::Postgres, &shared, "dbt-expectations", &installed);
    support::write(
        project.path(),
        "macros/deterministic_rand.sql",
        "{% macro postgres__rand() %}(abs(hashtext((row_number() over ())::text)) / 2147483647.0){% endmacro %}",
    );
    let build = ok(project.path(), &["build"]);
    assert_eq!(
        totals(&build),
        "Done. PASS=169 WARN=0 ERROR=0 SKIP=0 TOTAL=169",
        "{build}"
    );
}

on_every_warehouse!(
    package_models_and_seeds_build,
    dbt_utils_macros_and_tests_build,
    dbt_utils_macros_that_query_the_warehouse_build
);
