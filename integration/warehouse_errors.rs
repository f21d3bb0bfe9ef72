//! Warehouse errors carry their kind, which each warehouse's connection reads from the
//! warehouse's own codes (DuckDB's error types, PostgreSQL's SQLSTATE, ClickHouse's error
//! codes), never from a message's words: docs/error-codes.md.

mod support;

use elt_warehouse::{ErrorKind, Session, Warehouse};
use support::{Wh, WhProject, closed_port, load_dir, project};

/// The warehouse of a project's profile, and a session on it.
fn connect(dir: &std::path::Path) -> (Box<dyn Warehouse>, Box<dyn Session>) {
    let loaded = load_dir(dir, None);
    let warehouse = elt_warehouse::open(&loaded.target, &loaded.root).expect("a warehouse");
    let session = warehouse.session().expect("a session");
    (warehouse, session)
}

fn kind_of(session: &mut dyn Session, sql: &str) -> ErrorKind {
    session.execute(sql).expect_err(sql).kind
}

on_every_warehouse!(statement_errors_carry_their_kind);

fn statement_errors_carry_their_kind(wh: Wh) {
    let project: WhProject = wh.project(&[("models/one.sql", "select 1 as id")]);
    let (_warehouse, mut session) = connect(project.path());
    let session = session.as_mut();
    assert_eq!(kind_of(session, "selec 1"), ErrorKind::Syntax);
    let missing = format!("select * from {}", project.rel("no_such_table"));
    assert_eq!(kind_of(session, &missing), ErrorKind::MissingRelation);
    assert_eq!(
        kind_of(session, "select cast('abc' as integer)"),
        ErrorKind::RefusedRows
    );
    // The statement after an error runs: the kind is the error's, not the session's.
    session.execute("select 1").expect("the session goes on");
}

#[test]
fn postgres_permission_denied() {
    if !Wh::Postgres.available() {
        return;
    }
    let project = Wh::Postgres.project(&[("models/one.sql", "select 1 as id")]);
    let (_warehouse, mut session) = connect(project.path());
    // Only superusers read the catalog of passwords.
    assert_eq!(
        kind_of(session.as_mut(), "select * from pg_authid"),
        ErrorKind::PermissionDenied
    );
}

#[test]
fn postgres_connection_cut_is_connection_lost() {
    if !Wh::Postgres.available() {
        return;
    }
    let project = Wh::Postgres.project(&[("models/one.sql", "select 1 as id")]);
    let (_warehouse, mut session) = connect(project.path());
    session.execute("select 1").expect("connected");
    assert!(
        project.cut_connections() >= 1,
        "the session's connection is cut"
    );
    assert_eq!(
        kind_of(session.as_mut(), "select 1"),
        ErrorKind::ConnectionLost
    );
}

#[test]
fn servers_that_are_not_there_are_connection_lost() {
    let port = closed_port();
    for output in [
        format!(
            "type: postgres\n      host: 127.0.0.1\n      port: {port}\n      user: elt\n      password: elt\n      dbname: elt"
        ),
        format!("type: clickhouse\n      url: http://127.0.0.1:{port}\n      connect_timeout: 2"),
    ] {
        let profile = format!(
            "shop:\n  target: dev\n  outputs:\n    dev:\n      {output}\n      threads: 1\n"
        );
        let dir = project(&[
            ("models/one.sql", "select 1 as id"),
            ("profiles.yml", &profile),
        ]);
        let loaded = load_dir(dir.path(), None);
        let error = elt_warehouse::open(&loaded.target, &loaded.root)
            .and_then(|warehouse| warehouse.session().map(|_| ()))
            .expect_err(&output);
        assert_eq!(error.kind, ErrorKind::ConnectionLost, "{output}: {error}");
    }
}
