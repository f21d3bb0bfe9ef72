//! The example warehouse at the repository root: `elt generate ecommerce` writes a shop's raw
//! data with its dirt, `elt build` builds and tests every layer, and the marts report exactly
//! the figures the generator computed from its own truth.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value as Json;
use support::{Wh, copy_dir, example_project, ok, query};

/// An `expected.json` section as a map of text values.
fn section(expected: &Json, name: &str) -> BTreeMap<String, String> {
    expected[name]
        .as_object()
        .unwrap_or_else(|| panic!("expected.json has no {name}"))
        .iter()
        .map(|(k, v)| (k.clone(), v.to_string()))
        .collect()
}

on_every_warehouse!(the_marts_report_the_generators_figures);

fn the_marts_report_the_generators_figures(wh: Wh) {
    let p = wh.profiled(example_project(), "ecommerce");
    let generated = ok(
        p.path(),
        &[
            "generate",
            "ecommerce",
            "--scale",
            "0.01",
            "--days",
            "10",
            "--out",
            "data/raw",
        ],
    );
    assert!(generated.contains("expected figures in"), "{generated}");
    let printed = ok(p.path(), &["build", "--load"]);
    assert!(printed.contains(" ERROR=0 "), "{printed}");
    assert!(printed.contains("OK loaded raw.orders into "), "{printed}");
    let expected: Json = serde_json::from_slice(
        &std::fs::read(p.path().join("data/raw/expected.json")).expect("expected.json"),
    )
    .expect("valid JSON");
    let schema = p.schema().to_string();
    let by_key = |sql: &str| -> BTreeMap<String, String> {
        p.query(&sql.replace("main_", &format!("{schema}_")))
            .into_iter()
            .map(|row| (row[0].clone(), row[1].clone()))
            .collect()
    };

    assert_eq!(
        by_key(
            "select cast(order_date as varchar), cast(revenue_usd_micros as varchar) from main_analytics.daily_revenue"
        ),
        section(&expected, "revenue_usd_micros_per_day")
    );
    assert_eq!(
        by_key(
            "select status, cast(count(*) as varchar) from main_core.fct_orders group by status"
        ),
        section(&expected, "orders_per_status")
    );
    assert_eq!(
        by_key("select step, cast(sessions as varchar) from main_analytics.conversion_funnel"),
        section(&expected, "funnel_sessions")
    );
    assert_eq!(
        by_key(
            "select substr(cast(activity_month as varchar), 1, 7), cast(sum(active_customers) as varchar) from main_analytics.cohort_retention group by 1"
        ),
        section(&expected, "active_customers_per_month")
    );
    // Data quality: what was kept out or fixed, per table (tables without any are absent).
    let kpis = |kpi: &str| {
        by_key(&format!(
            "select source_table, cast(value as varchar) from main_analytics.data_quality_kpis where kpi = '{kpi}' and value > 0"
        ))
    };
    let nonzero = |name: &str| -> BTreeMap<String, String> {
        section(&expected, name)
            .into_iter()
            .filter(|(_, v)| v != "0")
            .collect()
    };
    assert_eq!(kpis("malformed_lines"), nonzero("malformed_lines"));
    assert_eq!(kpis("duplicate_lines"), nonzero("duplicate_lines"));
    assert_eq!(
        kpis("mismatched_order_totals").get("orders").cloned(),
        Some(expected["mismatched_order_totals"].to_string())
    );
    // Every event once: duplicates dropped, late ones kept.
    assert_eq!(
        p.query(&format!(
            "select cast(sum(events) as varchar) from {schema}_core.fct_sessions"
        ))[0][0],
        expected["raw_rows"]["events"].to_string()
    );
}

/// Every row of the vault and the marts, sorted, per table.
fn contents(db: &Path) -> BTreeMap<String, Vec<Vec<String>>> {
    let tables = query(
        db,
        "select table_schema || '.' || table_name from information_schema.tables where table_type = 'BASE TABLE' and table_schema in ('main_vault', 'main_core', 'main_analytics') order by 1",
    );
    tables
        .into_iter()
        .map(|row| {
            let table = row[0].clone();
            let rows = query(db, &format!("select * from {table} order by all"));
            (table, rows)
        })
        .collect()
}

#[test]
fn a_second_day_builds_incrementally_like_a_full_refresh() {
    let generate = |dir: &Path, days: &str| {
        ok(
            dir,
            &[
                "generate",
                "ecommerce",
                "--scale",
                "0.01",
                "--days",
                days,
                "--out",
                "data/raw",
            ],
        );
    };
    // Day by day: ten days, then an eleventh on top of the built warehouse.
    let daily = example_project();
    generate(daily.path(), "10");
    ok(daily.path(), &["build", "--load"]);
    generate(daily.path(), "11");
    let printed = ok(daily.path(), &["build", "--load"]);
    // Only the new day's files load.
    assert!(printed.contains("from 1 objects"), "{printed}");
    assert!(!printed.contains("from 2 objects"), "{printed}");
    assert!(printed.contains(" ERROR=0 "), "{printed}");
    assert!(
        printed.contains("OK created sql incremental model main_vault.hub_order"),
        "{printed}"
    );
    // At once: all eleven days in one full build.
    let at_once = example_project();
    generate(at_once.path(), "11");
    ok(at_once.path(), &["build", "--load"]);

    let (daily, at_once) = (
        contents(&daily.path().join("warehouse.duckdb")),
        contents(&at_once.path().join("warehouse.duckdb")),
    );
    assert!(daily.len() >= 15, "{:?}", daily.keys());
    assert_eq!(
        daily.keys().collect::<Vec<_>>(),
        at_once.keys().collect::<Vec<_>>()
    );
    for (table, rows) in &daily {
        assert!(!rows.is_empty(), "{table} is empty");
        assert!(
            rows == &at_once[table],
            "{table} differs after the incremental run"
        );
    }
}

/// `project_template/`, what `elt init` will copy: it builds and tests green at once.
#[test]
fn the_project_template_builds_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("project_template"),
        dir.path(),
    );
    let printed = ok(dir.path(), &["build"]);
    assert!(
        printed.contains("PASS=9 WARN=0 ERROR=0 SKIP=0 TOTAL=9"),
        "{printed}"
    );
    assert_eq!(
        query(
            &dir.path().join("my_project.duckdb"),
            "select country_name, customers from customers_per_country order by 1"
        ),
        [["France", "1"], ["Germany", "1"], ["United States", "1"]]
    );
}

/// `elt init`: a project from the template, named as asked, that builds green at once; bad
/// names and non-empty folders are refused; other adapters get their profile.
#[test]
fn elt_init_creates_a_project_that_builds_at_once() {
    let dir = tempfile::tempdir().expect("temp dir");
    let printed = ok(dir.path(), &["init", "shop"]);
    assert!(printed.contains("cd shop && elt build"), "{printed}");
    let project = dir.path().join("shop");
    let config = std::fs::read_to_string(project.join("elt_project.yml")).unwrap();
    assert!(config.contains("name: shop"), "{config}");
    assert!(project.join(".gitignore").exists());
    let printed = ok(&project, &["build"]);
    assert!(
        printed.contains("PASS=9 WARN=0 ERROR=0 SKIP=0 TOTAL=9"),
        "{printed}"
    );
    assert_eq!(
        query(
            &project.join("shop.duckdb"),
            "select count(*) from customers_per_country"
        ),
        [["3"]]
    );

    let again = support::elt(dir.path(), &["init", "shop"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(support::stderr(&again).contains("exists and is not empty"));
    let bad = support::elt(dir.path(), &["init", "My-Shop"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(support::stderr(&bad).contains("'My-Shop' is not a valid project name"));

    ok(dir.path(), &["init", "warehouse", "--adapter", "postgres"]);
    let profile = std::fs::read_to_string(dir.path().join("warehouse/profiles.yml")).unwrap();
    assert!(profile.contains("type: postgres"), "{profile}");
    assert!(profile.contains("schema: warehouse"), "{profile}");
    ok(&dir.path().join("warehouse"), &["compile"]);
}

/// The pull-request workflows and docker-compose.yml (no Docker or GitHub here: their YAML
/// and the commands and services they must hold).
#[test]
fn ci_workflows_and_docker_compose_hold_what_they_must() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let yaml = |path: &str| {
        let text = std::fs::read_to_string(root.join(path)).expect(path);
        let docs = yaml_rust2::YamlLoader::load_from_str(&text)
            .unwrap_or_else(|e| panic!("{path} is not YAML: {e}"));
        (text, docs.into_iter().next().expect("a document"))
    };
    for path in [
        "project_template/.github/workflows/elt.yml",
        ".github/workflows/example-warehouse.yml",
    ] {
        let (text, workflow) = yaml(path);
        let steps = workflow["jobs"]["build"]["steps"]
            .as_vec()
            .unwrap_or_else(|| panic!("{path}: jobs.build.steps"));
        let runs: Vec<&str> = steps.iter().filter_map(|s| s["run"].as_str()).collect();
        let has = |command: &str| runs.iter().any(|r| r.contains(command));
        assert!(has("elt compile --warn-error"), "{path}: {runs:?}");
        assert!(
            has("--select state:modified+ --defer --state main-state/target"),
            "{path}: {runs:?}"
        );
        assert!(text.contains("target/run_results.json"), "{path}");
    }
    let (_, compose) = yaml("docker-compose.yml");
    let services = &compose["services"];
    for (service, port) in [
        ("postgres", "5432"),
        ("clickhouse", "8123"),
        ("kafka", "9092"),
        ("minio", "9000"),
    ] {
        let ports = services[service]["ports"]
            .as_vec()
            .unwrap_or_else(|| panic!("docker-compose.yml: {service} has no ports"));
        assert!(
            ports
                .iter()
                .any(|p| p.as_str().is_some_and(|p| p.ends_with(&format!(":{port}")))),
            "{service}: {ports:?}"
        );
    }
    // The credentials of profiles.yml's postgres target.
    let postgres = &services["postgres"]["environment"];
    assert_eq!(postgres["POSTGRES_USER"].as_str(), Some("elt"));
    assert_eq!(postgres["POSTGRES_PASSWORD"].as_str(), Some("elt"));
}
