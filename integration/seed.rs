//! `elt seed` on DuckDB, PostgreSQL and ClickHouse: types inferred like dbt's, overrides, quoting and
//! UTF-8, and a failed load that leaves the previous table intact.

mod support;

use support::{Wh, elt, fixture, stderr, stdout};

on_every_warehouse!(
    seeds_load_with_dbt_types,
    column_types_override_and_quoted_unicode_values,
    a_broken_seed_fails_clearly_and_keeps_the_previous_table,
);

fn jaffle_shop(wh: Wh) -> support::WhProject {
    wh.fixture("jaffle_shop", "jaffle_shop")
}

/// A column's type as the warehouse's information_schema spells it.
fn column_type(dir: &support::WhProject, table: &str, column: &str) -> String {
    dir.query(&format!(
        "select data_type from information_schema.columns where table_schema = '{}' and table_name = '{table}' and column_name = '{column}'",
        dir.schema()
    ))[0][0]
        .clone()
}

fn seeds_load_with_dbt_types(wh: Wh) {
    let dir = jaffle_shop(wh);
    let output = elt(dir.path(), &["seed"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = stdout(&output);
    assert!(
        printed.contains(&format!(
            " of 3 OK loaded seed file {} ",
            dir.rel("raw_customers")
        )),
        "{printed}"
    );
    assert!(printed.contains("[INSERT 10 in "), "{printed}");
    assert!(printed.contains("PASS=3 WARN=0 ERROR=0"), "{printed}");
    assert_eq!(dir.query("select count(*) from raw_orders"), [["10"]]);
    assert_eq!(dir.query("select count(*) from raw_payments"), [["11"]]);
    let types: Vec<String> = ["id", "user_id", "order_date", "status"]
        .iter()
        .map(|c| column_type(&dir, "raw_orders", c))
        .collect();
    let expected = match wh {
        Wh::DuckDb => ["INTEGER", "INTEGER", "DATE", "VARCHAR"],
        Wh::Postgres => ["integer", "integer", "date", "text"],
        Wh::ClickHouse => [
            "Nullable(Int64)",
            "Nullable(Int64)",
            "Nullable(Date32)",
            "Nullable(String)",
        ],
    };
    assert_eq!(types, expected);
    assert_eq!(
        dir.query("select cast(order_date as varchar), status from raw_orders where id = 8"),
        [["2018-01-11", "return_pending"]]
    );
}

fn column_types_override_and_quoted_unicode_values(wh: Wh) {
    let dir = jaffle_shop(wh);
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
    assert_eq!(
        dir.query("select id, first_name, last_name from raw_customers order by id"),
        [["1", "Zoë, \"Z\"", "Ünal"], ["2", "O'Brien", "NULL"]]
    );
    let varchar = match wh {
        Wh::DuckDb => "VARCHAR",
        Wh::Postgres => "character varying",
        // ClickHouse keeps the column nullable, as NULL cells need.
        Wh::ClickHouse => "Nullable(String)",
    };
    assert_eq!(column_type(&dir, "raw_customers", "id"), varchar);
}

fn a_broken_seed_fails_clearly_and_keeps_the_previous_table(wh: Wh) {
    let dir = jaffle_shop(wh);
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
    assert_eq!(
        dir.query("select count(*) from raw_orders"),
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
    assert!(
        stderr(&output).contains("'returned'") || stderr(&output).contains("\"returned\""),
        "the error names the value: {}",
        stderr(&output)
    );
    assert_eq!(dir.query("select count(*) from raw_orders"), [["10"]]);
    assert_eq!(
        dir.relations("main").len(),
        3,
        "no staging tables are left behind: {:?}",
        dir.relations("main")
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
