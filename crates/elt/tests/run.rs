//! `elt run` on real DuckDB files: every materialization and incremental strategy, schema
//! changes, hooks, custom schemas, warehouse errors and atomic rebuilds.

mod support;

use support::{elt, ok, project, query, status_of, stderr, stdout, write};

#[test]
fn views_tables_and_ephemeral_models() {
    let dir = project(&[
        (
            "models/base.sql",
            "{{ config(materialized='ephemeral') }}\nselect * from (values (1, 'a'), (2, 'b'), (3, 'c')) as t(id, name)",
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
        printed.contains("OK created sql view model main.letters"),
        "{printed}"
    );
    assert!(
        printed.contains("OK created sql table model main.letter_count"),
        "{printed}"
    );
    assert!(
        printed.contains("PASS=2 WARN=0 ERROR=0 SKIP=0 TOTAL=2"),
        "{printed}"
    );
    let db = dir.path().join("warehouse.duckdb");
    assert_eq!(
        query(
            &db,
            "select table_name, table_type from information_schema.tables order by table_name"
        ),
        [["letter_count", "BASE TABLE"], ["letters", "VIEW"]],
        "the ephemeral model is not in the warehouse"
    );
    assert_eq!(query(&db, "select n, last from letter_count"), [["3", "C"]]);

    // A model that changes materialization replaces the old relation.
    write(
        dir.path(),
        "models/letters.sql",
        "{{ config(materialized='table') }}\nselect id, lower(name) as name from {{ ref('base') }}",
    );
    ok(dir.path(), &["run"]);
    assert_eq!(
        query(
            &db,
            "select table_type from information_schema.tables where table_name = 'letters'"
        ),
        [["BASE TABLE"]]
    );
    assert_eq!(query(&db, "select max(name) from letters"), [["c"]]);
    assert_eq!(status_of(dir.path(), "model.shop.letters"), "success");
}

const EVENTS_BATCH_1: &str = "id,value,batch\n1,a,1\n2,b,1\n";
const EVENTS_BATCH_2: &str = "id,value,batch\n1,a,1\n2,b,1\n2,B,2\n3,c,2\n";

fn incremental_model(config: &str) -> String {
    format!(
        "{{{{ config(materialized='incremental', {config}) }}}}\nselect id, value, batch from {{{{ ref('events') }}}}\n{{% if is_incremental() %}}\nwhere batch > (select max(batch) from {{{{ this }}}})\n{{% endif %}}\n"
    )
}

#[test]
fn incremental_strategies_over_batches() {
    let models = [
        (
            "models/appended.sql",
            incremental_model("incremental_strategy='append'"),
        ),
        (
            "models/deleted_inserted.sql",
            incremental_model("unique_key='id', incremental_strategy='delete+insert'"),
        ),
        (
            "models/merged.sql",
            incremental_model("unique_key='id', incremental_strategy='merge'"),
        ),
        (
            "models/merged_composite.sql",
            incremental_model("unique_key=['id', 'batch'], incremental_strategy='merge'"),
        ),
    ];
    let mut files: Vec<(&str, &str)> = models.iter().map(|(p, m)| (*p, m.as_str())).collect();
    files.push(("seeds/events.csv", EVENTS_BATCH_1));
    let dir = project(&files);
    let db = dir.path().join("warehouse.duckdb");
    ok(dir.path(), &["seed"]);
    ok(dir.path(), &["run"]);
    for table in ["appended", "deleted_inserted", "merged", "merged_composite"] {
        assert_eq!(
            query(
                &db,
                &format!("select id, value, batch from {table} order by all")
            ),
            [["1", "a", "1"], ["2", "b", "1"]],
            "{table} after the first batch"
        );
    }

    write(dir.path(), "seeds/events.csv", EVENTS_BATCH_2);
    ok(dir.path(), &["seed"]);
    let printed = ok(dir.path(), &["run"]);
    assert!(
        printed.contains("OK created sql incremental model main.merged"),
        "{printed}"
    );
    assert!(printed.contains("[INSERT 2 in"), "{printed}");
    let rows = |table: &str| {
        query(
            &db,
            &format!("select id, value, batch from {table} order by all"),
        )
    };
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
        query(
            &db,
            "select count(*) from information_schema.tables where table_name like '%dbt_tmp%'"
        ),
        [["0"]],
        "no staging tables are left behind"
    );
}

fn schema_change_project(policy: &str) -> tempfile::TempDir {
    let model = format!(
        "{{{{ config(materialized='incremental', on_schema_change='{policy}') }}}}\nselect {{{{ var('batch', 1) }}}} as batch, 'v' as kept\n{{% if var('batch', 1) == 1 %}}, 'old' as dropped{{% else %}}, 'new' as added{{% endif %}}\n"
    );
    let dir = project(&[("models/changing.sql", &model)]);
    ok(dir.path(), &["run"]);
    dir
}

#[test]
fn on_schema_change_policies() {
    let columns = |dir: &tempfile::TempDir| {
        query(
            &dir.path().join("warehouse.duckdb"),
            "select column_name from information_schema.columns where table_name = 'changing' order by ordinal_position",
        )
        .into_iter()
        .map(|r| r[0].clone())
        .collect::<Vec<_>>()
    };
    let rows =
        |dir: &tempfile::TempDir, sql: &str| query(&dir.path().join("warehouse.duckdb"), sql);

    let ignore = schema_change_project("ignore");
    ok(ignore.path(), &["run", "--vars", "{batch: 2}"]);
    assert_eq!(columns(&ignore), ["batch", "kept", "dropped"]);
    assert_eq!(
        rows(
            &ignore,
            "select batch, dropped from changing order by batch"
        ),
        [["1", "old"], ["2", "NULL"]]
    );

    let append = schema_change_project("append_new_columns");
    ok(append.path(), &["run", "--vars", "{batch: 2}"]);
    assert_eq!(columns(&append), ["batch", "kept", "dropped", "added"]);
    assert_eq!(
        rows(
            &append,
            "select batch, dropped, added from changing order by batch"
        ),
        [["1", "old", "NULL"], ["2", "NULL", "new"]]
    );

    let sync = schema_change_project("sync_all_columns");
    ok(sync.path(), &["run", "--vars", "{batch: 2}"]);
    assert_eq!(columns(&sync), ["batch", "kept", "added"]);
    assert_eq!(
        rows(&sync, "select batch, added from changing order by batch"),
        [["1", "NULL"], ["2", "new"]]
    );

    let fail = schema_change_project("fail");
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

#[test]
fn hooks_and_custom_schemas() {
    let dir = project(&[
        (
            "elt_project.yml",
            "name: shop\nprofile: shop\non-run-start:\n  - create table if not exists main.audit (event varchar)\n  - insert into main.audit values ('run started')\non-run-end:\n  - insert into main.audit values ('run ended')\nmodels:\n  shop:\n    marts:\n      +schema: marts\n      +materialized: table\n",
        ),
        (
            "models/marts/totals.sql",
            "{{ config(pre_hook=\"insert into main.audit values ('before ' || '{{ this.identifier }}')\", post_hook=[\"insert into main.audit select 'after, ' || count(*) || ' rows' from {{ this }}\"]) }}\nselect 42 as total",
        ),
    ]);
    ok(dir.path(), &["run"]);
    let db = dir.path().join("warehouse.duckdb");
    assert_eq!(query(&db, "select total from main_marts.totals"), [["42"]]);
    assert_eq!(
        query(&db, "select event from main.audit"),
        [
            ["run started"],
            ["before totals"],
            ["after, 1 rows"],
            ["run ended"]
        ]
    );
}

#[test]
fn warehouse_errors_name_the_model_file_and_line() {
    let dir = project(&[
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
        printed.contains("ERROR creating sql view model main.bad"),
        "{printed}"
    );
    assert!(
        printed.contains("SKIP sql view model main.after_bad"),
        "{printed}"
    );
    assert!(
        printed.contains("PASS=1 WARN=0 ERROR=1 SKIP=1 TOTAL=3"),
        "{printed}"
    );
    let errors = stderr(&output);
    assert!(
        errors.starts_with("error: model 'bad' failed in the warehouse: Binder Error: Referenced column \"nope_column\" not found"),
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

#[test]
fn a_failing_rebuild_leaves_the_previous_table_intact() {
    let dir = project(&[(
        "models/orders.sql",
        "{{ config(materialized='table') }}\nselect {{ var('version', 1) }} as version, range as id from range(1000)\n{% if var('fail', false) %}where cast('not a number' as integer) > 0{% endif %}",
    )]);
    ok(dir.path(), &["run"]);
    let db = dir.path().join("warehouse.duckdb");
    let output = elt(dir.path(), &["run", "--vars", "{version: 2, fail: true}"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert_eq!(
        query(&db, "select version, count(*) from orders group by version"),
        [["1", "1000"]]
    );
    assert_eq!(
        query(&db, "select count(*) from information_schema.tables"),
        [["1"]],
        "the staging table is dropped"
    );
    ok(dir.path(), &["run", "--vars", "{version: 2}"]);
    assert_eq!(
        query(&db, "select version, count(*) from orders group by version"),
        [["2", "1000"]]
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
    let started = std::time::Instant::now();
    ok(dir.path(), &["run"]);
    let full_run = started.elapsed();
    let db = dir.path().join("warehouse.duckdb");

    // Kill rebuilds at several moments of a run; every table must stay whole, in one version.
    for fraction in [0.2, 0.45, 0.7] {
        let delay_ms = (full_run.as_millis() as f64 * fraction) as u64;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_elt"))
            .args(["run", "--vars", "{version: 2}"])
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start elt");
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        child.kill().expect("SIGKILL");
        child.wait().expect("reap");
        let mut old = 0;
        for i in 0..tables {
            let versions = query(
                &db,
                &format!("select version, count(*) from big_{i} group by version"),
            );
            assert!(
                versions == [["1", "1000000"]] || versions == [["2", "1000000"]],
                "big_{i} after a kill at {delay_ms} ms: {versions:?}"
            );
            old += usize::from(versions[0][0] == "1");
        }
        if fraction == 0.2 {
            assert!(
                old > 0,
                "the first kill came before the run rebuilt every table"
            );
        }
    }
    // The next run cleans up whatever a kill left and completes.
    ok(dir.path(), &["run", "--vars", "{version: 3}"]);
    assert_eq!(
        query(
            &db,
            "select count(*) from information_schema.tables where table_name like '%dbt_tmp%'"
        ),
        [["0"]]
    );
    assert_eq!(query(&db, "select min(version) from big_0"), [["3"]]);
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
        "error: model 'events': unknown incremental_strategy 'upsert'\n  --> models/events.sql:3\n  |\n3 |     incremental_strategy='upsert'\n  = help: use one of: append, delete+insert, merge\n"
    );
}
