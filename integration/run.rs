//! `elt run` on real warehouses: every materialization and incremental strategy, schema
//! changes, hooks, custom schemas, warehouse errors and atomic rebuilds.
//!
//! The tests that take a `Wh` run on DuckDB, PostgreSQL and ClickHouse (see
//! `on_every_warehouse!`).

mod support;

use std::os::unix::process::ExitStatusExt;

use support::{Wh, elt, ok, project, query, status_of, stderr, stdout, write};

on_every_warehouse!(
    views_tables_and_ephemeral_models,
    incremental_strategies_over_batches,
    merge_columns_and_incremental_predicates,
    on_schema_change_policies,
    hooks_and_custom_schemas,
    on_run_end_sees_results_and_schemas,
    warehouse_errors_name_the_model_file_and_line,
    a_failing_rebuild_leaves_the_previous_table_intact,
);

fn views_tables_and_ephemeral_models(wh: Wh) {
    let dir = wh.project(&[
        (
            "models/base.sql",
            "{{ config(materialized='ephemeral') }}\nselect 1 as id, 'a' as name union all select 2, 'b' union all select 3, 'c'",
        ),
        (
            "models/letters.sql",
            "select id, upper(name) as name from {{ ref('base') }}",
        ),
        (
            "models/letter_count.sql",
            "{{ config(materialized='table') }}\nselect count(*) as n, max(name) as last from {{ ref('letters') }}",
        ),
    ]);
    let printed = ok(dir.path(), &["run"]);
    assert!(
        printed.contains(&format!("OK created sql view model {}", dir.rel("letters"))),
        "{printed}"
    );
    assert!(
        printed.contains(&format!(
            "OK created sql table model {}",
            dir.rel("letter_count")
        )),
        "{printed}"
    );
    assert!(
        printed.contains("PASS=2 WARN=0 ERROR=0 SKIP=0 TOTAL=2"),
        "{printed}"
    );
    assert_eq!(
        dir.relations("main"),
        [
            ("letter_count".to_string(), "BASE TABLE".to_string()),
            ("letters".into(), "VIEW".into())
        ],
        "the ephemeral model is not in the warehouse"
    );
    assert_eq!(dir.query("select n, last from letter_count"), [["3", "C"]]);

    // A model that changes materialization replaces the old relation.
    write(
        dir.path(),
        "models/letters.sql",
        "{{ config(materialized='table') }}\nselect id, lower(name) as name from {{ ref('base') }}",
    );
    ok(dir.path(), &["run"]);
    assert_eq!(
        dir.relations("main")[1],
        ("letters".into(), "BASE TABLE".into())
    );
    // letter_count selects from letters; on PostgreSQL it is rebuilt after it.
    assert_eq!(dir.query("select max(name) from letters"), [["c"]]);
    assert_eq!(dir.query("select n, last from letter_count"), [["3", "c"]]);
    assert_eq!(status_of(dir.path(), "model.shop.letters"), "success");
}

const EVENTS_BATCH_1: &str = "id,value,batch\n1,a,1\n2,b,1\n";
const EVENTS_BATCH_2: &str = "id,value,batch\n1,a,1\n2,b,1\n2,B,2\n3,c,2\n";

fn incremental_model(config: &str) -> String {
    format!(
        "{{{{ config(materialized='incremental', {config}) }}}}\nselect id, value, batch from {{{{ ref('events') }}}}\n{{% if is_incremental() %}}\nwhere batch > (select max(batch) from {{{{ this }}}})\n{{% endif %}}\n"
    )
}

fn incremental_strategies_over_batches(wh: Wh) {
    // ClickHouse has no merge: its replacing strategies are delete+insert and
    // insert_overwrite (by partition), which keeps batch 1 and replaces batch 2. Seed columns
    // are nullable there: keys on them need the table setting allow_nullable_key.
    let (merged, merged_composite) = if wh == Wh::ClickHouse {
        (
            incremental_model("unique_key=['id'], incremental_strategy='delete+insert'"),
            incremental_model(
                "incremental_strategy='insert_overwrite', partition_by='batch', order_by=['id', 'value'], settings={'allow_nullable_key': 1}",
            ),
        )
    } else {
        (
            incremental_model("unique_key='id', incremental_strategy='merge'"),
            incremental_model("unique_key=['id', 'batch'], incremental_strategy='merge'"),
        )
    };
    let models = [
        (
            "models/appended.sql",
            incremental_model("incremental_strategy='append'"),
        ),
        (
            "models/deleted_inserted.sql",
            incremental_model("unique_key='id', incremental_strategy='delete+insert'"),
        ),
        ("models/merged.sql", merged),
        ("models/merged_composite.sql", merged_composite),
    ];
    let mut files: Vec<(&str, &str)> = models.iter().map(|(p, m)| (*p, m.as_str())).collect();
    files.push(("seeds/events.csv", EVENTS_BATCH_1));
    let dir = wh.project(&files);
    ok(dir.path(), &["seed"]);
    ok(dir.path(), &["run"]);
    let rows = |table: &str| {
        dir.query(&format!(
            "select id, value, batch from {table} order by 1, 2, 3"
        ))
    };
    for table in ["appended", "deleted_inserted", "merged", "merged_composite"] {
        assert_eq!(
            rows(table),
            [["1", "a", "1"], ["2", "b", "1"]],
            "{table} after the first batch"
        );
    }

    write(dir.path(), "seeds/events.csv", EVENTS_BATCH_2);
    ok(dir.path(), &["seed"]);
    let printed = ok(dir.path(), &["run"]);
    assert!(
        printed.contains(&format!(
            "OK created sql incremental model {}",
            dir.rel("merged")
        )),
        "{printed}"
    );
    assert!(printed.contains("[INSERT 2 in"), "{printed}");
    assert_eq!(
        rows("appended"),
        [
            ["1", "a", "1"],
            ["2", "B", "2"],
            ["2", "b", "1"],
            ["3", "c", "2"]
        ]
    );
    let replaced = [["1", "a", "1"], ["2", "B", "2"], ["3", "c", "2"]];
    assert_eq!(rows("deleted_inserted"), replaced);
    assert_eq!(rows("merged"), replaced);
    assert_eq!(
        rows("merged_composite"),
        [
            ["1", "a", "1"],
            ["2", "B", "2"],
            ["2", "b", "1"],
            ["3", "c", "2"]
        ]
    );

    // A third run with no new batch adds nothing; --full-refresh rebuilds from the seed.
    ok(dir.path(), &["run"]);
    assert_eq!(rows("merged"), replaced);
    ok(dir.path(), &["run", "--full-refresh", "-s", "appended"]);
    assert_eq!(rows("appended").len(), 4);
    assert_eq!(
        dir.relations("main").len(),
        5,
        "no staging tables are left behind: {:?}",
        dir.relations("main")
    );
}

fn merge_columns_and_incremental_predicates(wh: Wh) {
    if wh == Wh::ClickHouse {
        return incremental_predicates_and_no_merge_on_clickhouse();
    }
    let models = [
        (
            "models/merged_value_only.sql",
            incremental_model(
                "unique_key='id', incremental_strategy='merge', merge_update_columns=['value']",
            ),
        ),
        (
            "models/merged_but_value.sql",
            incremental_model(
                "unique_key='id', incremental_strategy='merge', merge_exclude_columns=['value']",
            ),
        ),
        (
            "models/deleted_when_recent.sql",
            incremental_model(
                "unique_key='id', incremental_strategy='delete+insert', incremental_predicates=['DBT_INTERNAL_DEST.batch > 5']",
            ),
        ),
    ];
    let mut files: Vec<(&str, &str)> = models.iter().map(|(p, m)| (*p, m.as_str())).collect();
    files.push(("seeds/events.csv", EVENTS_BATCH_1));
    let dir = wh.project(&files);
    ok(dir.path(), &["seed"]);
    ok(dir.path(), &["run"]);
    write(dir.path(), "seeds/events.csv", EVENTS_BATCH_2);
    ok(dir.path(), &["seed"]);
    ok(dir.path(), &["run"]);
    let rows = |table: &str| {
        dir.query(&format!(
            "select id, value, batch from {table} order by 1, 2, 3"
        ))
    };
    assert_eq!(
        rows("merged_value_only"),
        [["1", "a", "1"], ["2", "B", "1"], ["3", "c", "2"]],
        "only value is updated"
    );
    assert_eq!(
        rows("merged_but_value"),
        [["1", "a", "1"], ["2", "b", "2"], ["3", "c", "2"]],
        "everything but value is updated"
    );
    assert_eq!(
        rows("deleted_when_recent"),
        [
            ["1", "a", "1"],
            ["2", "B", "2"],
            ["2", "b", "1"],
            ["3", "c", "2"]
        ],
        "the predicate keeps old rows from being deleted"
    );

    write(
        dir.path(),
        "models/merged_value_only.sql",
        &incremental_model(
            "unique_key='id', incremental_strategy='merge', merge_update_columns=['value'], merge_exclude_columns=['batch']",
        ),
    );
    let output = elt(dir.path(), &["run", "-s", "merged_value_only"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("sets both merge_update_columns and merge_exclude_columns"),
        "{}",
        stderr(&output)
    );
}

/// ClickHouse's delete+insert takes incremental_predicates over the target's columns (as
/// `DBT_INTERNAL_DEST.x` or `x`); merge is refused with what to use instead.
fn incremental_predicates_and_no_merge_on_clickhouse() {
    let wh = Wh::ClickHouse;
    let dir = wh.project(&[
        (
            "models/deleted_when_recent.sql",
            &incremental_model(
                "unique_key='id', incremental_strategy='delete+insert', incremental_predicates=['DBT_INTERNAL_DEST.batch > 5']",
            ),
        ),
        ("seeds/events.csv", EVENTS_BATCH_1),
    ]);
    ok(dir.path(), &["seed"]);
    ok(dir.path(), &["run"]);
    write(dir.path(), "seeds/events.csv", EVENTS_BATCH_2);
    ok(dir.path(), &["seed"]);
    ok(dir.path(), &["run"]);
    assert_eq!(
        dir.query("select id, value, batch from deleted_when_recent order by 1, 2, 3"),
        [
            ["1", "a", "1"],
            ["2", "B", "2"],
            ["2", "b", "1"],
            ["3", "c", "2"]
        ],
        "the predicate keeps old rows from being deleted"
    );
    write(
        dir.path(),
        "models/deleted_when_recent.sql",
        &incremental_model("unique_key='id', incremental_strategy='merge'"),
    );
    let output = elt(dir.path(), &["run"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("ClickHouse has no merge: use incremental_strategy delete+insert"),
        "{}",
        stderr(&output)
    );
}

fn schema_change_project(wh: Wh, policy: &str) -> support::WhProject {
    let model = format!(
        "{{{{ config(materialized='incremental', on_schema_change='{policy}') }}}}\nselect {{{{ var('batch', 1) }}}} as batch, 'v' as kept\n{{% if var('batch', 1) == 1 %}}, 'old' as dropped{{% else %}}, 'new' as added{{% endif %}}\n"
    );
    let dir = wh.project(&[("models/changing.sql", &model)]);
    ok(dir.path(), &["run"]);
    dir
}

fn on_schema_change_policies(wh: Wh) {
    let columns = |dir: &support::WhProject| dir.columns("changing");
    let rows = |dir: &support::WhProject, sql: &str| dir.query(sql);
    // What rows that lack a column hold: NULL, or on ClickHouse (whose columns are not
    // nullable unless declared so) the type's default.
    let missing = if wh == Wh::ClickHouse { "" } else { "NULL" };

    let ignore = schema_change_project(wh, "ignore");
    ok(ignore.path(), &["run", "--vars", "{batch: 2}"]);
    assert_eq!(columns(&ignore), ["batch", "kept", "dropped"]);
    assert_eq!(
        rows(
            &ignore,
            "select batch, dropped from changing order by batch"
        ),
        [["1", "old"], ["2", missing]]
    );

    let append = schema_change_project(wh, "append_new_columns");
    ok(append.path(), &["run", "--vars", "{batch: 2}"]);
    assert_eq!(columns(&append), ["batch", "kept", "dropped", "added"]);
    assert_eq!(
        rows(
            &append,
            "select batch, dropped, added from changing order by batch"
        ),
        [["1", "old", missing], ["2", missing, "new"]]
    );

    let sync = schema_change_project(wh, "sync_all_columns");
    ok(sync.path(), &["run", "--vars", "{batch: 2}"]);
    assert_eq!(columns(&sync), ["batch", "kept", "added"]);
    assert_eq!(
        rows(&sync, "select batch, added from changing order by batch"),
        [["1", missing], ["2", "new"]]
    );

    let fail = schema_change_project(wh, "fail");
    let output = elt(fail.path(), &["run", "--vars", "{batch: 2}"]);
    assert_eq!(output.status.code(), Some(1));
    let errors = stderr(&output);
    assert!(
        errors.contains("model 'changing' failed in the warehouse: the source and target schemas of this incremental model are out of sync (new columns: [added], removed columns: [dropped]"),
        "{errors}"
    );
    assert!(errors.contains("--> models/changing.sql"), "{errors}");
    assert_eq!(columns(&fail), ["batch", "kept", "dropped"]);
    assert_eq!(rows(&fail, "select count(*) from changing"), [["1"]]);
    assert_eq!(status_of(fail.path(), "model.shop.changing"), "error");
}

fn hooks_and_custom_schemas(wh: Wh) {
    // Every audit row numbers itself by the rows before it, so the hooks' order is checked
    // without relying on the order a table returns its rows in.
    let (create_schema, audit_table) = match wh {
        Wh::ClickHouse => (
            "create database if not exists {{ target.schema }}",
            "create table if not exists {{ target.schema }}.audit (n UInt64, event String) engine = Log",
        ),
        _ => (
            "create schema if not exists {{ target.schema }}",
            "create table if not exists {{ target.schema }}.audit (n bigint, event varchar)",
        ),
    };
    let audit = |event: &str| {
        format!(
            "insert into {{{{ target.schema }}}}.audit select (select count(*) from {{{{ target.schema }}}}.audit), {event}"
        )
    };
    let project = format!(
        "name: shop\nprofile: shop\non-run-start:\n  - {create_schema}\n  - {audit_table}\n  - \"{}\"\non-run-end:\n  - \"{}\"\nmodels:\n  shop:\n    marts:\n      +schema: marts\n      +materialized: table\n",
        audit("'run started'"),
        audit("'run ended'"),
    );
    let model = format!(
        "{{{{ config(pre_hook=\"{}\", post_hook=[\"{} from {{{{ this }}}}\"]) }}}}\nselect 42 as total",
        audit("'before ' || '{{ this.identifier }}'"),
        audit("'after, ' || count(*) || ' rows'"),
    );
    let dir = wh.project(&[
        ("elt_project.yml", &project),
        ("models/marts/totals.sql", &model),
    ]);
    ok(dir.path(), &["run"]);
    assert_eq!(
        dir.query(&format!("select total from {}_marts.totals", dir.schema())),
        [["42"]]
    );
    assert_eq!(
        dir.query("select n, event from audit order by n"),
        [
            ["0", "run started"],
            ["1", "before totals"],
            ["2", "after, 1 rows"],
            ["3", "run ended"]
        ]
    );
}

/// dbt's on-run-end context: `results` (status and node of each result), the `schemas` the
/// run built in and `selected_resources`, as hooks that grant or record runs use them.
fn on_run_end_sees_results_and_schemas(wh: Wh) {
    let (create_schema, audit_table) = match wh {
        Wh::ClickHouse => (
            "create database if not exists {{ target.schema }}",
            "create table if not exists {{ target.schema }}.audit (id String, status String) engine = Log",
        ),
        _ => (
            "create schema if not exists {{ target.schema }}",
            "create table if not exists {{ target.schema }}.audit (id varchar, status varchar)",
        ),
    };
    let record_results = "insert into {{ target.schema }}.audit values {% for r in results %}('{{ r.node.resource_type }}:{{ r.node.name }}', '{{ r.status }}{{ ',timed' if r.execution_time >= 0 and r.node.name == 'totals' }}'){{ ',' if not loop.last }}{% endfor %}";
    let record_schemas = "insert into {{ target.schema }}.audit values ('schemas', '{{ schemas | sort | join(',') }}'), ('selected', '{{ selected_resources | length }}')";
    let project = format!(
        "name: shop\nprofile: shop\non-run-start:\n  - {create_schema}\n  - {audit_table}\non-run-end:\n  - \"{record_results}\"\n  - \"{record_schemas}\"\nmodels:\n  shop:\n    marts:\n      +schema: marts\n      +materialized: table\n"
    );
    let dir = wh.project(&[
        ("elt_project.yml", &project),
        ("models/marts/totals.sql", "select 42 as total"),
        ("models/base.sql", "select 1 as id"),
        (
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: base\n    columns:\n      - name: id\n        data_tests: [not_null]\n",
        ),
    ]);
    ok(dir.path(), &["build"]);
    let schema = dir.schema();
    assert_eq!(
        dir.query("select id, status from audit order by id"),
        [
            vec!["model:base".to_string(), "success".into()],
            vec!["model:totals".into(), "success,timed".into()],
            vec!["schemas".into(), format!("{schema},{schema}_marts")],
            vec!["selected".into(), "3".into()],
            vec!["test:not_null_base_id".into(), "pass".into()],
        ]
    );
}

fn warehouse_errors_name_the_model_file_and_line(wh: Wh) {
    let dir = wh.project(&[
        (
            "models/good.sql",
            "{{ config(materialized='table') }}\nselect 1 as id",
        ),
        (
            "models/bad.sql",
            "-- a model with a typo\nselect\n  id,\n  nope_column\nfrom {{ ref('good') }}\n",
        ),
        ("models/after_bad.sql", "select * from {{ ref('bad') }}"),
    ]);
    let output = elt(dir.path(), &["run"]);
    assert_eq!(output.status.code(), Some(1));
    let printed = stdout(&output);
    assert!(
        printed.contains(&format!("ERROR creating sql view model {}", dir.rel("bad"))),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("SKIP sql view model {}", dir.rel("after_bad"))),
        "{printed}"
    );
    assert!(
        printed.contains("PASS=1 WARN=0 ERROR=1 SKIP=1 TOTAL=3"),
        "{printed}"
    );
    let errors = stderr(&output);
    let message = match wh {
        Wh::DuckDb => "Binder Error: Referenced column \"nope_column\" not found",
        Wh::Postgres => "ERROR: column \"nope_column\" does not exist",
        Wh::ClickHouse => "Code: 47. DB::Exception: Unknown expression identifier `nope_column`",
    };
    assert!(
        errors.starts_with(&format!(
            "error: model 'bad' failed in the warehouse: {message}"
        )),
        "{errors}"
    );
    assert!(errors.contains("--> models/bad.sql:4"), "{errors}");
    assert!(
        errors.contains("the compiled SQL is in target/compiled/shop/models/bad.sql"),
        "{errors}"
    );
    assert_eq!(status_of(dir.path(), "model.shop.bad"), "error");
    assert_eq!(status_of(dir.path(), "model.shop.after_bad"), "skipped");
    assert_eq!(status_of(dir.path(), "model.shop.good"), "success");
}

fn a_failing_rebuild_leaves_the_previous_table_intact(wh: Wh) {
    let model = format!(
        "{{{{ config(materialized='table') }}}}\nselect {{{{ var('version', 1) }}}} as version, id from {}\n{{% if var('fail', false) %}}where cast('not a number' as integer) > 0{{% endif %}}",
        wh.integers(1000)
    );
    let dir = wh.project(&[("models/orders.sql", &model)]);
    ok(dir.path(), &["run"]);
    let output = elt(dir.path(), &["run", "--vars", "{version: 2, fail: true}"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let versions = || dir.query("select version, count(*) from orders group by version");
    assert_eq!(versions(), [["1", "1000"]]);
    assert_eq!(
        dir.relations("main").len(),
        1,
        "the staging table is dropped"
    );
    ok(dir.path(), &["run", "--vars", "{version: 2}"]);
    assert_eq!(versions(), [["2", "1000"]]);
}

/// A model's `engine`, `order_by`, `partition_by`, `primary_key` and `settings` become its
/// ClickHouse table's, and stay through rebuilds.
#[test]
fn clickhouse_tables_take_their_engine_configs() {
    let wh = Wh::ClickHouse;
    if !wh.available() {
        return;
    }
    let dir = wh.project(&[(
        "models/events.sql",
        "{{ config(materialized='table', engine='ReplacingMergeTree(version)', order_by=['id', 'day'], primary_key='id', partition_by='toYYYYMM(day)', settings={'index_granularity': 4096}) }}\nselect number as id, toDate('2024-01-01') + number as day, 1 as version from numbers(40)",
    )]);
    for _ in 0..2 {
        ok(dir.path(), &["run"]);
        assert_eq!(
            dir.query(
                "select engine, sorting_key, primary_key, partition_key from system.tables where database = currentDatabase() and name = 'events'"
            ),
            [["ReplacingMergeTree", "id, day", "id", "toYYYYMM(day)"]]
        );
        let definition = dir.query(
            "select engine_full from system.tables where database = currentDatabase() and name = 'events'",
        );
        assert!(
            definition[0][0].contains("SETTINGS index_granularity = 4096"),
            "{definition:?}"
        );
        assert_eq!(
            dir.query("select count(), uniqExact(toYYYYMM(day)) from events"),
            [["40", "2"]]
        );
    }
}

/// ClickHouse's `Ordinary` databases cannot `EXCHANGE TABLES`: tables are swapped in by one
/// `RENAME` of both there.
#[test]
fn clickhouse_swaps_by_rename_where_tables_cannot_be_exchanged() {
    let wh = Wh::ClickHouse;
    if !wh.available() {
        return;
    }
    let dir = wh.project(&[(
        "models/orders.sql",
        "{{ config(materialized='table') }}\nselect {{ var('version', 1) }} as version",
    )]);
    // The project's database again, with the engine that cannot exchange tables.
    support::clickhouse_admin(&format!("drop database {}", dir.schema()), "");
    support::clickhouse_admin(
        &format!("create database {} engine = Ordinary", dir.schema()),
        "allow_deprecated_database_ordinary=1",
    );
    ok(dir.path(), &["run"]);
    ok(dir.path(), &["run", "--vars", "{version: 2}"]);
    assert_eq!(dir.query("select version from orders"), [["2"]]);
    assert_eq!(
        dir.relations("main"),
        [("orders".to_string(), "BASE TABLE".to_string())],
        "the staged and the previous tables are dropped"
    );
}

#[test]
fn a_killed_build_leaves_every_table_old_or_new() {
    let tables = 8;
    let files: Vec<(String, String)> = (0..tables)
        .map(|i| {
            (
                format!("models/big_{i}.sql"),
                "{{ config(materialized='table') }}\nselect {{ var('version', 1) }} as version, range as id, cast(range as varchar) || '-padding' as h from range(1000000)".to_string(),
            )
        })
        .collect();
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let dir = project(&borrowed);
    ok(dir.path(), &["run"]);
    let db = dir.path().join("warehouse.duckdb");

    // Kill rebuilds at several moments of a run, each when a model is about to be rebuilt
    // (a crash point) while the other thread is in the middle of writing a million rows:
    // every table must stay whole, in one version.
    for (version, crashed) in [(2, 2), (3, 4), (4, 6)] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_elt"))
            .args(["run", "--vars", &format!("{{version: {version}}}")])
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .env("ELT_CRASH_AT", format!("model.shop.big_{crashed}:1"))
            .output()
            .expect("run elt");
        assert_eq!(output.status.signal(), Some(9), "{}", stderr(&output));
        for i in 0..tables {
            let versions = query(
                &db,
                &format!("select version, count(*) from big_{i} group by version"),
            );
            assert!(
                versions.len() == 1 && versions[0][1] == "1000000",
                "big_{i} after a kill before big_{crashed}: {versions:?}"
            );
            if i == crashed {
                assert_ne!(versions[0][0], version.to_string(), "big_{i} was rebuilt");
            }
        }
    }
    // The next run cleans up whatever a kill left and completes.
    ok(dir.path(), &["run", "--vars", "{version: 5}"]);
    assert_eq!(
        query(
            &db,
            "select count(*) from information_schema.tables where table_name like '%dbt_tmp%'"
        ),
        [["0"]]
    );
    assert_eq!(query(&db, "select min(version) from big_0"), [["5"]]);
}

#[test]
fn fail_fast_skips_what_has_not_started() {
    let dir = project(&[
        ("models/bad.sql", "select nope from (select 1 as id)"),
        ("models/good_root.sql", "select 1 as id"),
        ("models/child.sql", "select * from {{ ref('good_root') }}"),
    ]);
    // One thread: `child` becomes ready only after both roots have run.
    let output = elt(dir.path(), &["run", "--threads", "1", "--fail-fast"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(status_of(dir.path(), "model.shop.bad"), "error");
    assert_eq!(status_of(dir.path(), "model.shop.child"), "skipped");

    let output = elt(dir.path(), &["run", "--threads", "1"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(status_of(dir.path(), "model.shop.child"), "success");
}

#[test]
fn unknown_incremental_configs_are_clear_errors() {
    let dir = project(&[(
        "models/events.sql",
        "{{ config(\n    materialized='incremental',\n    incremental_strategy='upsert'\n) }}\nselect 1 as id",
    )]);
    let output = elt(dir.path(), &["run"]);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        stderr(&output),
        "error: model 'events': unknown incremental_strategy 'upsert'\n  --> models/events.sql:3\n  |\n3 |     incremental_strategy='upsert'\n  = help: use one of: append, delete+insert, merge, insert_overwrite\n"
    );
}

/// Rebuilding a PostgreSQL table drops the views over it (`cascade`); elt creates them again
/// in the same transaction, unless one no longer fits the new table (then it stays dropped,
/// as dbt leaves it, until its model is built).
#[test]
fn postgres_keeps_the_views_over_a_rebuilt_table() {
    let wh = Wh::Postgres;
    if !wh.available() {
        return;
    }
    let base = "{{ config(materialized='table') }}\nselect {{ var('version', 1) }} as version{% if not var('narrow', false) %}, 1 as extra{% endif %}";
    let dir = wh.project(&[
        ("models/base.sql", base),
        (
            "models/over_base.sql",
            "{{ config(materialized='view') }}\nselect version, extra from {{ ref('base') }}",
        ),
        (
            "models/over_over.sql",
            "{{ config(materialized='view') }}\nselect version from {{ ref('over_base') }}",
        ),
    ]);
    ok(dir.path(), &["run"]);
    ok(
        dir.path(),
        &["run", "--select", "base", "--vars", "{version: 2}"],
    );
    assert_eq!(dir.query("select version from over_over"), [["2"]]);

    ok(
        dir.path(),
        &[
            "run",
            "--select",
            "base",
            "--vars",
            "{version: 3, narrow: true}",
        ],
    );
    assert_eq!(dir.query("select version from base"), [["3"]]);
    let names: Vec<String> = dir.relations("main").into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["base"], "the views that no longer fit are dropped");
}
