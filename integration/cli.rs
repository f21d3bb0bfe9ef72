//! The `elt` command end to end: outputs, artifacts, warnings and flags.

mod support;

use support::{elt, fixture, stderr, stdout};

#[test]
fn ls_prints_selected_resources_in_each_format() {
    let dir = fixture("showcase");
    let names = elt(
        dir.path(),
        &[
            "ls",
            "-s",
            "+fct_orders",
            "--resource-type",
            "model",
            "--output",
            "name",
        ],
    );
    assert!(names.status.success(), "{}", stderr(&names));
    assert_eq!(
        stdout(&names),
        "fct_orders\nint_order_amounts\nstg_orders\n"
    );

    let selectors = elt(
        dir.path(),
        &[
            "ls",
            "-s",
            "+fct_orders",
            "--resource-type",
            "model",
            "source",
        ],
    );
    assert_eq!(
        stdout(&selectors),
        "showcase.intermediate.int_order_amounts\nshowcase.marts.fct_orders\nshowcase.staging.stg_orders\nsource:showcase.shop_raw.orders\n"
    );

    let paths = elt(
        dir.path(),
        &[
            "ls",
            "-s",
            "tag:nightly",
            "--resource-type",
            "model",
            "--output",
            "path",
        ],
    );
    assert_eq!(
        stdout(&paths),
        "models/marts/dim_customers.sql\nmodels/marts/fct_orders.sql\n"
    );

    let json = elt(
        dir.path(),
        &[
            "ls",
            "-s",
            "stg_orders",
            "--resource-type",
            "model",
            "--output",
            "json",
            "--output-keys",
            "name,resource_type,unique_id",
        ],
    );
    assert_eq!(
        stdout(&json),
        "{\"name\":\"stg_orders\",\"resource_type\":\"model\",\"unique_id\":\"model.showcase.stg_orders\"}\n"
    );
}

#[test]
fn compile_writes_sql_and_prints_a_single_selected_node() {
    let dir = fixture("showcase");
    let output = elt(
        dir.path(),
        &[
            "compile",
            "-s",
            "stg_orders",
            "--vars",
            "{start_date: '2025-06-01'}",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    assert!(
        printed.starts_with("Compiled node 'stg_orders' is:\nselect\n    id as order_id,"),
        "{printed}"
    );
    assert!(
        printed.contains("where ordered_at >= '2025-06-01'"),
        "--vars overrides project vars:\n{printed}"
    );
    let written = std::fs::read_to_string(
        dir.path()
            .join("target/compiled/showcase/models/staging/stg_orders.sql"),
    )
    .unwrap();
    assert!(
        written.contains(r#"from "warehouse"."raw"."raw_orders""#),
        "{written}"
    );
    // Only selected nodes (and their tests) are written.
    assert!(
        !dir.path()
            .join("target/compiled/showcase/models/marts/fct_orders.sql")
            .exists()
    );
}

#[test]
fn manifest_has_dbt_fields() {
    let dir = fixture("jaffle_shop");
    let output = elt(dir.path(), &["parse"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output)
            .starts_with("Parsed 5 models, 20 tests, 3 seeds, 0 snapshots, 0 analyses, 0 sources")
    );
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("target/manifest.json")).unwrap(),
    )
    .unwrap();
    for key in [
        "metadata",
        "nodes",
        "sources",
        "macros",
        "docs",
        "exposures",
        "metrics",
        "groups",
        "selectors",
        "disabled",
        "parent_map",
        "child_map",
        "group_map",
        "saved_queries",
        "semantic_models",
        "unit_tests",
    ] {
        assert!(manifest.get(key).is_some(), "manifest has '{key}'");
    }
    assert_eq!(
        manifest["metadata"]["dbt_schema_version"],
        "https://schemas.getdbt.com/dbt/manifest/v12.json"
    );
    assert_eq!(manifest["metadata"]["adapter_type"], "duckdb");
    let orders = &manifest["nodes"]["model.jaffle_shop.orders"];
    assert_eq!(orders["resource_type"], "model");
    assert_eq!(orders["config"]["materialized"], "table");
    assert_eq!(orders["relation_name"], r#""jaffle_shop"."main"."orders""#);
    assert_eq!(
        orders["depends_on"]["nodes"],
        serde_json::json!([
            "model.jaffle_shop.stg_orders",
            "model.jaffle_shop.stg_payments"
        ])
    );
    assert_eq!(orders["original_file_path"], "models/orders.sql");
    assert_eq!(orders["patch_path"], "jaffle_shop://models/schema.yml");
    assert_eq!(orders["checksum"]["name"], "sha256");
    assert_eq!(
        manifest["parent_map"]["model.jaffle_shop.orders"],
        orders["depends_on"]["nodes"]
    );
    assert!(
        manifest["docs"]["doc.jaffle_shop.orders_status"]["block_contents"]
            .as_str()
            .unwrap()
            .starts_with("Orders can be")
    );
    assert!(manifest["macros"]["macro.elt.default__test_unique"].is_object());
    let test = manifest["nodes"]
        .as_object()
        .unwrap()
        .values()
        .find(|n| n["name"] == "not_null_orders_amount")
        .unwrap();
    assert_eq!(test["test_metadata"]["name"], "not_null");
    assert_eq!(test["test_metadata"]["kwargs"]["column_name"], "amount");
    assert_eq!(
        test["test_metadata"]["kwargs"]["model"],
        "{{ get_where_subquery(ref('orders')) }}"
    );
    assert_eq!(test["attached_node"], "model.jaffle_shop.orders");
    assert_eq!(test["config"]["severity"], "ERROR");
}

#[test]
fn unknown_yaml_keys_warn_and_warn_error_fails() {
    let dir = fixture("jaffle_shop");
    let schema = dir.path().join("models/schema.yml");
    let text = std::fs::read_to_string(&schema).unwrap().replacen(
        "    description: This table has basic",
        "    descripton: This table has basic",
        1,
    );
    std::fs::write(&schema, text).unwrap();
    let warned = elt(dir.path(), &["parse"]);
    assert!(warned.status.success());
    assert_eq!(
        stderr(&warned),
        "warning: unknown key 'descripton' in model 'customers'\n  --> models/schema.yml:5:5\n  |\n5 |     descripton: This table has basic information about a customer, as well as some derived facts based on a customer's orders\n  |     ^\n  = help: did you mean 'description'?\n"
    );
    let failed = elt(dir.path(), &["parse", "--warn-error"]);
    assert_eq!(failed.status.code(), Some(1));
    assert!(
        stderr(&failed).starts_with("error: unknown key 'descripton' in model 'customers'"),
        "{}",
        stderr(&failed)
    );
}

#[test]
fn the_sql_cache_never_hides_a_new_syntax_error() {
    let dir = fixture("jaffle_shop");
    assert!(elt(dir.path(), &["compile"]).status.success());
    assert!(dir.path().join("target/.elt/valid-sql-duckdb").exists());
    let model = dir.path().join("models/customers.sql");
    let good = std::fs::read_to_string(&model).unwrap();
    std::fs::write(
        &model,
        good.replace("select * from final", "select * form final"),
    )
    .unwrap();
    let broken = elt(dir.path(), &["compile"]);
    assert_eq!(broken.status.code(), Some(1));
    assert!(
        stderr(&broken).contains("--> models/customers.sql:69"),
        "{}",
        stderr(&broken)
    );
    std::fs::write(&model, good).unwrap();
    assert!(elt(dir.path(), &["compile"]).status.success());
}

#[test]
fn profiles_dir_comes_from_the_environment() {
    let dir = fixture("jaffle_shop");
    let profiles = tempfile::tempdir().unwrap();
    std::fs::rename(
        dir.path().join("profiles.yml"),
        profiles.path().join("profiles.yml"),
    )
    .unwrap();
    let missing = elt(dir.path(), &["parse"]);
    assert_eq!(missing.status.code(), Some(1));
    let found = std::process::Command::new(env!("CARGO_BIN_EXE_elt"))
        .args(["parse", "--quiet"])
        .current_dir(dir.path())
        .env("ELT_PROFILES_DIR", profiles.path())
        .output()
        .unwrap();
    assert!(found.status.success(), "{}", stderr(&found));
}

#[test]
fn bad_usage_exits_2() {
    let dir = fixture("jaffle_shop");
    let output = elt(dir.path(), &["ls", "--output", "yaml"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("invalid value 'yaml'"));
}
