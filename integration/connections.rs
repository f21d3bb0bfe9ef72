//! Connecting: `elt debug` reports the server's version on every warehouse, and a server that
//! is not there fails `elt debug` and `elt run` with where elt looked and what to check.

mod support;

use support::{Wh, closed_port, elt, ok, project, stderr};

on_every_warehouse!(debug_reports_the_server_version_and_leftovers);

/// `elt debug` names the server, and the staged tables an interrupted build left behind,
/// which the next run of their model drops.
fn debug_reports_the_server_version_and_leftovers(wh: Wh) {
    let dir = wh.project(&[
        (
            "models/one.sql",
            "{{ config(materialized='table', order_by='id') }}\nselect 1 as id",
        ),
        (
            "macros/leave.sql",
            "{% macro leave() %}{% do run_query('create table ' ~ target.schema ~ '.one__dbt_tmp' ~ (' engine = Memory' if target.type == 'clickhouse' else '') ~ ' as select 1 as id') %}{% endmacro %}",
        ),
    ]);
    let printed = ok(dir.path(), &["debug"]);
    let version = match wh {
        Wh::DuckDb => "connection: OK (DuckDB v",
        Wh::Postgres => "connection: OK (PostgreSQL 15.",
        Wh::ClickHouse => "connection: OK (ClickHouse 26.9.",
    };
    assert!(printed.contains(version), "{printed}");
    assert!(printed.contains("leftovers: none"), "{printed}");
    ok(dir.path(), &["run"]);
    ok(dir.path(), &["run-operation", "leave"]);
    let printed = ok(dir.path(), &["debug"]);
    assert!(
        printed.contains(&format!(
            "leftovers of interrupted builds (the next run of their model drops them, or completes a pending increment): {}.one__dbt_tmp",
            dir.schema()
        )),
        "{printed}"
    );
    ok(dir.path(), &["run"]);
    assert!(ok(dir.path(), &["debug"]).contains("leftovers: none"));
}

/// `elt debug` and `elt run` with a profile whose target `dev` is `output` both fail with
/// `expected` (then the cause).
fn assert_cannot_connect(output: &str, expected: &str) {
    let profile =
        format!("shop:\n  target: dev\n  outputs:\n    dev:\n      {output}\n      threads: 1\n");
    let dir = project(&[
        ("models/one.sql", "select 1 as id"),
        ("profiles.yml", &profile),
    ]);
    for command in ["debug", "run"] {
        let output = elt(dir.path(), &[command]);
        assert_eq!(output.status.code(), Some(1), "elt {command}");
        let errors = stderr(&output);
        assert!(
            errors.starts_with(&format!(
                "error: cannot connect to target 'dev': {expected}"
            )),
            "elt {command}: {errors}"
        );
        assert!(errors.contains("--> profiles.yml"), "{errors}");
        assert!(
            errors.contains("help: check the target's settings in profiles.yml"),
            "{errors}"
        );
        assert!(!errors.contains("panicked"), "{errors}");
    }
}

#[test]
fn postgres_that_is_not_there_fails_clearly() {
    let port = closed_port();
    assert_cannot_connect(
        &format!(
            "type: postgres\n      host: 127.0.0.1\n      port: {port}\n      user: elt\n      password: elt\n      dbname: shop\n      connect_timeout: 3"
        ),
        &format!("cannot connect to PostgreSQL at 127.0.0.1:{port}/shop: "),
    );
}

#[test]
fn clickhouse_that_is_not_there_fails_clearly() {
    let port = closed_port();
    assert_cannot_connect(
        &format!(
            "type: clickhouse\n      host: 127.0.0.1\n      port: {port}\n      schema: shop\n      connect_timeout: 3"
        ),
        &format!("cannot connect to ClickHouse at http://127.0.0.1:{port}: "),
    );
}
