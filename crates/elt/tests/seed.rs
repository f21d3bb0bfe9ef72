//! `elt seed` on real DuckDB files: types inferred like dbt's, overrides, quoting and UTF-8,
//! and a failed load that leaves the previous table intact.

mod support;

use support::{elt, fixture, query, stderr, stdout};

#[test]
fn seeds_load_with_dbt_types() {
    let dir = fixture("jaffle_shop");
    let output = elt(dir.path(), &["seed"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    assert!(
        printed.contains(" of 3 OK loaded seed file main.raw_customers "),
        "{printed}"
    );
    assert!(printed.contains("[INSERT 10 in "), "{printed}");
    assert!(printed.contains("PASS=3 WARN=0 ERROR=0"), "{printed}");
    let db = dir.path().join("jaffle_shop.duckdb");
    assert_eq!(query(&db, "select count(*) from main.raw_orders"), [["10"]]);
    assert_eq!(
        query(&db, "select count(*) from main.raw_payments"),
        [["11"]]
    );
    assert_eq!(
        query(
            &db,
            "select column_name, data_type from information_schema.columns where table_name = 'raw_orders' order by ordinal_position"
        ),
        [
            ["id", "INTEGER"],
            ["user_id", "INTEGER"],
            ["order_date", "DATE"],
            ["status", "VARCHAR"]
        ]
    );
    assert_eq!(
        query(
            &db,
            "select cast(order_date as varchar), status from main.raw_orders where id = 8"
        ),
        [["2018-01-11", "return_pending"]]
    );
}

#[test]
fn column_types_override_and_quoted_unicode_values() {
    let dir = fixture("jaffle_shop");
    std::fs::write(
        dir.path().join("seeds/raw_customers.csv"),
        "id,first_name,last_name\n1,\"Zoë, \"\"Z\"\"\",Ünal\n2,O'Brien,\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("seeds/properties.yml"),
        "version: 2\nseeds:\n  - name: raw_customers\n    config:\n      column_types:\n        id: varchar(10)\n",
    )
    .unwrap();
    let output = elt(dir.path(), &["seed", "-s", "raw_customers"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let db = dir.path().join("jaffle_shop.duckdb");
    assert_eq!(
        query(
            &db,
            "select id, first_name, coalesce(last_name, 'NULL') from main.raw_customers order by id"
        ),
        [["1", "Zoë, \"Z\"", "Ünal"], ["2", "O'Brien", "NULL"]]
    );
    assert_eq!(
        query(
            &db,
            "select data_type from information_schema.columns where table_name = 'raw_customers' and column_name = 'id'"
        ),
        [["VARCHAR"]]
    );
}

#[test]
fn a_broken_seed_fails_clearly_and_keeps_the_previous_table() {
    let dir = fixture("jaffle_shop");
    assert!(elt(dir.path(), &["seed"]).status.success());
    std::fs::write(
        dir.path().join("seeds/raw_orders.csv"),
        "id,user_id,order_date,status\n1,1,2018-01-01,returned\n2,3\n",
    )
    .unwrap();
    let output = elt(dir.path(), &["seed"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: seed 'raw_orders' cannot be read: this row has 2 fields, the header has 4\n --> seeds/raw_orders.csv:3\n = help: fix the CSV: a header row, then rows with as many fields\n"
    );
    let db = dir.path().join("jaffle_shop.duckdb");
    assert_eq!(
        query(&db, "select count(*) from main.raw_orders"),
        [["10"]],
        "the previous version is intact"
    );

    // A value that does not fit its type fails in the warehouse, also leaving the table intact.
    std::fs::write(
        dir.path().join("seeds/raw_orders.csv"),
        "id,user_id,order_date,status\n1,1,2018-01-01,returned\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("seeds/properties.yml"),
        "version: 2\nseeds:\n  - name: raw_orders\n    config:\n      column_types:\n        status: integer\n",
    )
    .unwrap();
    let output = elt(dir.path(), &["seed", "-s", "raw_orders"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).starts_with("error: seed 'raw_orders' failed to load: "),
        "{}",
        stderr(&output)
    );
    assert_eq!(query(&db, "select count(*) from main.raw_orders"), [["10"]]);
    assert_eq!(
        query(
            &db,
            "select count(*) from information_schema.tables where table_name like '%__elt_%'"
        ),
        [["0"]],
        "no staging tables are left behind"
    );
}

#[test]
fn debug_reports_the_connection() {
    let dir = fixture("jaffle_shop");
    let output = elt(dir.path(), &["debug"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    assert!(
        printed
            .contains("target: dev (type duckdb, database jaffle_shop, schema main, threads 24)"),
        "{printed}"
    );
    assert!(printed.contains("connection: OK (DuckDB v"), "{printed}");
}
