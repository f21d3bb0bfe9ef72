//! The crash-point sweep: elt is stopped at every step of every materialization, one step at
//! a time, on every warehouse (`ELT_CRASH_AT`, see `crates/elt-warehouse/src/crash_point.rs`):
//! killed there with SIGKILL, and on PostgreSQL and ClickHouse also left running with its
//! connections cut.
//! After each crash every relation holds exactly its old or its new version; the next run
//! completes, leaves no staged or backup table, and gives the same tables as a run that was
//! never interrupted.

mod support;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};

use support::{
    PrivateClickHouse, Step, Wh, WhProject, listed_steps, new_state_before, run_past_crash_point,
    stderr, stdout, write,
};

/// What a case does at its crash point.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Crash {
    /// SIGKILL the process.
    Kill,
    /// Cut the process's warehouse connections (the server ends them) and let it go on.
    Cut,
}

/// The warehouse a sweep runs on: the shared server, or (to cut ClickHouse's connections) an
/// engine of the sweep's own, killed while elt waits at the crash point and started again
/// once it has ended.
struct On {
    wh: Wh,
    engine: Option<RefCell<PrivateClickHouse>>,
}

impl On {
    fn shared(wh: Wh) -> Self {
        On { wh, engine: None }
    }

    fn project(&self, files: &[(&str, &str)]) -> WhProject {
        match &self.engine {
            Some(engine) => self.wh.project_on(&engine.borrow().url(), files),
            None => self.wh.project(files),
        }
    }

    /// Cuts elt's connections: the server ends them (PostgreSQL), or goes (ClickHouse).
    fn cut(&self, project: &WhProject) {
        match &self.engine {
            Some(engine) => engine.borrow_mut().crash(),
            None => assert!(project.cut_connections() > 0, "no connection to cut"),
        }
    }

    fn restore(&self) {
        if let Some(engine) = &self.engine {
            engine.borrow_mut().start().expect("restart the engine");
        }
    }
}

const SEED_V1: &str =
    "id,name,updated_at\n1,apple,2024-01-01\n2,banana,2024-01-01\n4,cherry,2024-01-01\n";
const SEED_V2: &str = "id,name,updated_at\n1,apple,2024-01-01\n2,blueberry,2024-01-02\n3,date,2024-01-02\n4,cherry,2024-01-01\n";

/// The nodes of the sweep's project, one per materialization, in build order, each with the
/// query of its relation that says which version it holds. A view shows its upstream as it is
/// now: which version of the view it is, is its definition (`built_by`).
fn nodes(wh: Wh) -> Vec<(&'static str, String)> {
    let rows = |name: &str, columns: &str| {
        format!("select {columns} from {name} order by id, updated_at, name")
    };
    let model = |name: &str| rows(name, "id, name, updated_at, built_by");
    let snapshot = |name: &str| rows(name, "id, name, updated_at, dbt_valid_to is null");
    let mut nodes = vec![
        ("seed.shop.items", rows("items", "id, name, updated_at")),
        (
            "model.shop.items_view",
            "select distinct built_by from items_view".to_string(),
        ),
        ("model.shop.items_table", model("items_table")),
        ("model.shop.items_append", model("items_append")),
        (
            "model.shop.items_delete_insert",
            model("items_delete_insert"),
        ),
    ];
    if wh == Wh::ClickHouse {
        nodes.push(("model.shop.items_overwrite", model("items_overwrite")));
    } else {
        nodes.push(("model.shop.items_merge", model("items_merge")));
    }
    nodes.push(("snapshot.shop.items_by_time", snapshot("items_by_time")));
    nodes.push(("snapshot.shop.items_by_check", snapshot("items_by_check")));
    nodes
}

/// A project with a seed, a view, a table over an ephemeral model, an incremental model per
/// strategy the warehouse has, and a snapshot per strategy; not built yet.
fn project(on: &On) -> WhProject {
    let wh = on.wh;
    // New rows are those updated after the newest already there: running an increment twice
    // adds nothing (as real incremental models are written).
    let incremental = |config: &str| {
        format!(
            "{{{{ config(materialized='incremental', {config}) }}}}\n\
             select id, name, updated_at, {{{{ var('version') }}}} as built_by from {{{{ ref('items') }}}}\n\
             {{% if is_incremental() %}}where updated_at > (select max(updated_at) from {{{{ this }}}}){{% endif %}}\n"
        )
    };
    let append = incremental("incremental_strategy='append'");
    let delete_insert = incremental("incremental_strategy='delete+insert', unique_key='id'");
    let merge = incremental("incremental_strategy='merge', unique_key='id'");
    let snapshot = |name: &str, config: &str| {
        format!(
            "{{% snapshot {name} %}}\n{{{{ config(target_schema=target.schema, unique_key='id', {config}) }}}}\n\
             select id, name, updated_at from {{{{ ref('items') }}}}\n{{% endsnapshot %}}\n"
        )
    };
    let snapshots = [
        snapshot(
            "items_by_time",
            "strategy='timestamp', updated_at='updated_at'",
        ),
        snapshot("items_by_check", "strategy='check', check_cols='all'"),
    ]
    .concat();
    let mut files = vec![
        ("seeds/items.csv", SEED_V1.to_string()),
        (
            "models/items_view.sql",
            "{{ config(materialized='view') }}\nselect id, name, updated_at, {{ var('version') }} as built_by from {{ ref('items') }}\n".into(),
        ),
        (
            "models/items_known.sql",
            "{{ config(materialized='ephemeral') }}\nselect * from {{ ref('items') }} where id is not null\n".into(),
        ),
        (
            "models/items_table.sql",
            "{{ config(materialized='table') }}\nselect id, name, updated_at, {{ var('version') }} as built_by from {{ ref('items_known') }}\n".into(),
        ),
        ("models/items_append.sql", append),
        ("models/items_delete_insert.sql", delete_insert),
        ("snapshots/items.sql", snapshots),
    ];
    if wh == Wh::ClickHouse {
        // Every row rewritten each run, a partition per id: the run replaces several
        // partitions, one statement each.
        files.push((
            "models/items_overwrite.sql",
            "{{ config(materialized='incremental', incremental_strategy='insert_overwrite', partition_by='id', settings={'allow_nullable_key': 1}) }}\nselect id, name, updated_at, {{ var('version') }} as built_by from {{ ref('items') }}\n".into(),
        ));
    } else {
        files.push(("models/items_merge.sql", merge));
    }
    let files: Vec<(&str, &str)> = files.iter().map(|(p, c)| (*p, c.as_str())).collect();
    on.project(&files)
}

/// The project built from the first version of its seed: a copy of `template`'s warehouse
/// where the warehouse can copy one, else built.
fn first_version(on: &On, template: &WhProject) -> WhProject {
    let project = project(on);
    if !project.copy_warehouse_of(template) {
        build(on, &project, 1, None).expect_success();
    }
    project
}

/// Runs `elt build` of `version` on one thread, with `ELT_CRASH_AT` set to `crash` when given
/// (with `Crash::Cut` the process pauses there while its connections are cut).
fn build(on: &On, project: &WhProject, version: u32, crash: Option<(String, Crash)>) -> Output {
    if version == 2 {
        write(project.path(), "seeds/items.csv", SEED_V2);
    }
    let mut command = Command::new(env!("CARGO_BIN_EXE_elt"));
    command
        .args(["build", "--threads", "1", "--vars"])
        .arg(format!("{{version: {version}}}"))
        .current_dir(project.path())
        .env("HOME", project.path())
        .env_remove("ELT_CRASH_AT");
    let Some((at, how)) = crash else {
        return command.output().expect("run elt");
    };
    command.env("ELT_CRASH_AT", at);
    // Paused at the crash point, elt has its connections cut, then goes on.
    let output = run_past_crash_point(&mut command, || {
        if how == Crash::Cut {
            on.cut(project);
        }
    });
    if how == Crash::Cut {
        on.restore();
    }
    output
}

trait Succeeded {
    fn expect_success(&self);
}

impl Succeeded for Output {
    fn expect_success(&self) {
        assert!(
            self.status.success(),
            "elt failed:\n{}\n{}",
            stdout(self),
            stderr(self)
        );
    }
}

/// Each node's relation as rows of text (or why it cannot be read).
type Contents = BTreeMap<&'static str, Result<Vec<Vec<String>>, String>>;

fn contents(project: &WhProject) -> Contents {
    let nodes = nodes(project.wh);
    let queries: Vec<&str> = nodes.iter().map(|(_, sql)| sql.as_str()).collect();
    let rows = project.query_each(&queries);
    nodes.iter().map(|(node, _)| *node).zip(rows).collect()
}

/// Relations left beside the models: staged, backup or raw seed tables.
fn leftovers(project: &WhProject) -> Vec<String> {
    let sql = match project.wh {
        Wh::ClickHouse => "select name from system.tables where database = currentDatabase()",
        _ => "select table_name from information_schema.tables where table_schema = 'main'",
    };
    project
        .query_each(&[sql])
        .remove(0)
        .expect("list the tables")
        .into_iter()
        .flatten()
        .filter(|name| name.contains("__"))
        .collect()
}

/// The warehouse calls of `node` when it builds the second version over a copy of `template`.
fn steps(on: &On, template: &WhProject, node: &str, new: &Contents) -> Vec<Step> {
    let project = first_version(on, template);
    let listed = build(on, &project, 2, Some((format!("{node}:list"), Crash::Kill)));
    listed.expect_success();
    assert_eq!(
        &contents(&project),
        new,
        "listing the steps changed the build"
    );
    listed_steps(&stderr(&listed), node)
}

/// Runs the crash points of every node; returns how many cases ran. A crash before a step
/// that follows a read leaves the warehouse as the crash before that read did: where elt
/// cannot go on after it (killed, or its ClickHouse engine gone), that case is not run again.
fn sweep(on: &On, how: Crash) -> usize {
    let wh = on.wh;
    let every_step = how == Crash::Cut && on.engine.is_none();
    let template = project(on);
    build(on, &template, 1, None).expect_success();
    let old = contents(&template);
    let reference = first_version(on, &template);
    build(on, &reference, 2, None).expect_success();
    let new = contents(&reference);
    for (node, rows) in &new {
        assert!(rows.is_ok(), "{node}: {rows:?}");
    }
    let mut cases = 0;
    let mut recoverable = 0;
    let mut summary = Vec::new();
    for (node, _) in nodes(wh) {
        let steps = steps(on, &template, node, &new);
        assert!(!steps.is_empty(), "{node} made no warehouse call");
        let mut run = 0;
        for (index, step) in steps.iter().enumerate() {
            if !every_step && !new_state_before(&steps, index) {
                continue;
            }
            let at = match how {
                Crash::Kill => format!("{node}:{}", index + 1),
                Crash::Cut => format!("{node}:{}:pause", index + 1),
            };
            let case = format!("{wh:?}, {how:?} at {at}, before: {}", step.call);
            crash_case(
                on,
                &template,
                &case,
                (at, how),
                &old,
                &new,
                &mut recoverable,
            );
            run += 1;
        }
        summary.push(format!("{node}: {} steps, {run} cases", steps.len()));
        cases += run;
    }
    println!(
        "crash-point sweep on {wh:?} ({how:?}): {cases} cases passed, {recoverable} of them \
         with an increment pending that the next run completed\n  {}",
        summary.join("\n  ")
    );
    cases
}

/// Builds the second version over a copy of `template`, crashing at `crash`; checks that
/// every relation is whole, then that the next run completes as an uninterrupted one.
fn crash_case(
    on: &On,
    template: &WhProject,
    case: &str,
    crash: (String, Crash),
    old: &Contents,
    new: &Contents,
    recoverable: &mut usize,
) {
    let how = crash.1;
    let project = first_version(on, template);
    let crashed = build(on, &project, 2, Some(crash));
    let said = stderr(&crashed);
    assert!(
        said.contains("elt: crash point"),
        "{case}: not reached: {said}"
    );
    match how {
        Crash::Kill => assert_eq!(crashed.status.signal(), Some(9), "{case}: {said}"),
        Crash::Cut => assert_eq!(crashed.status.code(), Some(1), "{case}: {said}"),
    }
    assert!(!said.contains("panicked"), "{case}: {said}");
    // Without transactions (ClickHouse) an increment applied by several statements is
    // half-applied between them: then it is pending, for the next run to complete.
    let left = leftovers(&project);
    for (node, rows) in &contents(&project) {
        let name = node.rsplit('.').next().expect("a name");
        let pending = left.contains(&format!("{name}__elt_pending"));
        if pending && project.wh == Wh::ClickHouse {
            *recoverable += 1;
            continue;
        }
        assert!(
            *rows == old[node] || *rows == new[node],
            "{case}: {node} is neither its old nor its new version: {rows:?}\nold: {:?}\nnew: {:?}",
            old[node],
            new[node]
        );
    }
    let rerun = match how {
        Crash::Kill => build(on, &project, 2, None),
        Crash::Cut => retry(&project),
    };
    assert!(
        rerun.status.success(),
        "{case}: the next run failed:\n{}\n{}",
        stdout(&rerun),
        stderr(&rerun)
    );
    assert_eq!(
        &contents(&project),
        new,
        "{case}: the next run did not give the tables of an uninterrupted run"
    );
    assert_eq!(
        leftovers(&project),
        Vec::<String>::new(),
        "{case}: left after the next run"
    );
}

/// `elt retry` of the interrupted build.
fn retry(project: &WhProject) -> Output {
    Command::new(env!("CARGO_BIN_EXE_elt"))
        .args(["retry", "--threads", "1"])
        .current_dir(project.path())
        .env("HOME", project.path())
        .env_remove("ELT_CRASH_AT")
        .output()
        .expect("run elt retry")
}

#[test]
fn duckdb_killed_at_every_step() {
    assert!(sweep(&On::shared(Wh::DuckDb), Crash::Kill) > 0);
}

#[test]
fn postgres_killed_at_every_step() {
    if Wh::Postgres.available() {
        assert!(sweep(&On::shared(Wh::Postgres), Crash::Kill) > 0);
    }
}

#[test]
fn postgres_cut_off_at_every_step() {
    if Wh::Postgres.available() {
        assert!(sweep(&On::shared(Wh::Postgres), Crash::Cut) > 0);
    }
}

#[test]
fn clickhouse_killed_at_every_step() {
    if Wh::ClickHouse.available() {
        assert!(sweep(&On::shared(Wh::ClickHouse), Crash::Kill) > 0);
    }
}

#[test]
fn clickhouse_cut_off_at_every_step() {
    let Some(engine) = PrivateClickHouse::for_test() else {
        return;
    };
    let on = On {
        wh: Wh::ClickHouse,
        engine: Some(RefCell::new(engine)),
    };
    assert!(sweep(&on, Crash::Cut) > 0);
}
