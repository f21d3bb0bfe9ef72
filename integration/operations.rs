//! `elt run-operation` on real warehouses (a macro with arguments that runs statements and
//! queries), its errors, and `elt clean`.

mod support;

use support::{Wh, elt, ok, project, stderr, stdout};

on_every_warehouse!(run_operation_runs_a_macro_with_args);

const OPERATIONS: &str = r#"
{% macro make_table(name, n=1) %}
  {% do adapter.create_schema(api.Relation.create(database=target.database, schema=target.schema)) %}
  {% call statement('make') %}
    create table {{ target.schema }}.{{ name }} {{ 'engine = Log' if target.type == 'clickhouse' }} as select {{ n }} as n
  {% endcall %}
  {% set rows = run_query('select n from ' ~ target.schema ~ '.' ~ name) %}
  {{ print('made ' ~ name ~ ' holding ' ~ rows.columns[0].values()[0]) }}
  {{ return('ignored') }}
{% endmacro %}

{% macro refuse() %}
  {{ exceptions.raise_compiler_error('refusing on purpose') }}
{% endmacro %}
"#;

fn run_operation_runs_a_macro_with_args(wh: Wh) {
    let dir = wh.project(&[
        ("macros/operations.sql", OPERATIONS),
        ("models/a.sql", "select 1 as id"),
    ]);
    let out = ok(
        dir.path(),
        &[
            "run-operation",
            "make_table",
            "--args",
            "{name: made, n: 5}",
        ],
    );
    assert_eq!(out.trim(), "made made holding 5");
    assert_eq!(dir.query("select n from made"), [["5"]]);

    // A package-style name finds the root project's macro too.
    let out = ok(
        dir.path(),
        &["run-operation", "shop.make_table", "--args", "name: other"],
    );
    assert_eq!(out.trim(), "made other holding 1");
}

#[test]
fn run_operation_errors_name_the_macro_and_the_cause() {
    let dir = project(&[
        ("macros/operations.sql", OPERATIONS),
        ("models/a.sql", "select 1 as id"),
    ]);
    let unknown = elt(dir.path(), &["run-operation", "make_tabel"]);
    assert_eq!(unknown.status.code(), Some(1));
    let error = stderr(&unknown);
    assert!(
        error.contains("no macro named 'make_tabel' to run"),
        "{error}"
    );
    assert!(error.contains("did you mean 'make_table'?"), "{error}");

    let refused = elt(dir.path(), &["run-operation", "refuse"]);
    assert_eq!(refused.status.code(), Some(1));
    let error = stderr(&refused);
    assert!(error.contains("refusing on purpose"), "{error}");
    assert!(error.contains("macros/operations.sql:13"), "{error}");

    // Without its `name`, the macro's statement is not SQL: the error names the statement.
    let missing = elt(dir.path(), &["run-operation", "make_table"]);
    assert_eq!(missing.status.code(), Some(1));
    let error = stderr(&missing);
    assert!(error.contains("statement(make) failed"), "{error}");
    assert!(error.contains("macros/operations.sql:4"), "{error}");

    let bad_args = elt(
        dir.path(),
        &["run-operation", "make_table", "--args", "[1, 2]"],
    );
    assert_eq!(bad_args.status.code(), Some(1));
    assert!(stderr(&bad_args).contains("--args must be a mapping"));
}

#[test]
fn clean_deletes_the_clean_targets_inside_the_project_only() {
    let dir = project(&[
        (
            "elt_project.yml",
            "name: shop\nprofile: shop\nclean-targets: [target, dbt_packages, logs]\n",
        ),
        ("models/a.sql", "select 1 as id"),
        ("dbt_packages/tools/dbt_project.yml", "name: tools\n"),
    ]);
    ok(dir.path(), &["parse"]);
    assert!(dir.path().join("target/manifest.json").exists());
    let out = elt(dir.path(), &["clean"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out), "Deleted target/\nDeleted dbt_packages/\n");
    assert!(!dir.path().join("target").exists());
    assert!(!dir.path().join("dbt_packages").exists());
    assert!(dir.path().join("models/a.sql").exists());

    std::fs::write(
        dir.path().join("elt_project.yml"),
        "name: shop\nprofile: shop\nclean-targets: [..]\n",
    )
    .unwrap();
    let outside = elt(dir.path(), &["clean"]);
    assert_eq!(outside.status.code(), Some(1));
    assert!(
        stderr(&outside).contains("clean-targets entry '..' is not a folder inside the project"),
        "{}",
        stderr(&outside)
    );
}
