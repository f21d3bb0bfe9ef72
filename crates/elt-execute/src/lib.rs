//! Stage `execute`: runs the selected part of a compiled project against a warehouse, in
//! parallel and in graph order. A node that fails marks everything downstream of it SKIPPED;
//! each node's outcome is a [`RunResult`], written to `run_results.json` by [`results::write`].
//!
//! What a node's run means (materializations, tests, snapshots) is in [`nodes`]; the SQL for it
//! is the warehouse layer's.

// Errors are diagnostics: large, but rare, and returned once per failing node.
#![allow(clippy::result_large_err)]

mod catalog;
mod errors;
mod nodes;
pub mod results;
pub mod scheduler;
mod unit_tests;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::Utc;
use elt_core::compile::Compiled;
use elt_core::diagnostics::Diagnostic;
use elt_core::manifest::{Node, ResourceType};
use elt_core::project::{Project, RunHook};
use elt_core::template::introspect::Introspect;
use elt_warehouse::{Session, Warehouse};
use serde_json::Value as Json;

pub use catalog::Catalog;
pub use results::{RunResult, Status};

/// The command being run: it decides which resource types run and whether tests gate
/// downstream nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Run,
    Test,
    Seed,
    Snapshot,
    Build,
}

impl Command {
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Run => "run",
            Command::Test => "test",
            Command::Seed => "seed",
            Command::Snapshot => "snapshot",
            Command::Build => "build",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            Command::Run,
            Command::Test,
            Command::Seed,
            Command::Snapshot,
            Command::Build,
        ]
        .into_iter()
        .find(|c| c.as_str() == name)
    }

    /// Whether this command runs nodes of this kind.
    pub fn runs(self, node: &Node) -> bool {
        let kind = node.resource_type;
        match self {
            Command::Run => kind == ResourceType::Model && !node.is_ephemeral(),
            Command::Test => matches!(kind, ResourceType::Test | ResourceType::UnitTest),
            Command::Seed => kind == ResourceType::Seed,
            Command::Snapshot => kind == ResourceType::Snapshot,
            Command::Build => match kind {
                ResourceType::Model => !node.is_ephemeral(),
                ResourceType::Test
                | ResourceType::UnitTest
                | ResourceType::Seed
                | ResourceType::Snapshot => true,
                _ => false,
            },
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub threads: usize,
    pub full_refresh: bool,
    /// `--store-failures`: keep every test's failing rows in a table.
    pub store_failures: bool,
    /// `--fail-fast`: after the first failure, skip every node not started yet.
    pub fail_fast: bool,
}

/// Everything a run needs.
pub struct Plan<'a> {
    pub project: &'a Project,
    pub compiled: &'a Compiled,
    pub warehouse: &'a dyn Warehouse,
    /// What templates query while a node compiles to run (its own session).
    pub introspect: Arc<dyn Introspect>,
    pub command: Command,
    pub options: Options,
}

/// Hears about nodes as they start and finish (status lines, progress bars).
pub trait Reporter: Sync {
    fn started(&self, node: &Node, index: usize, total: usize);
    fn finished(&self, node: &Node, result: &RunResult, index: usize, total: usize);
}

/// The nodes of `selected` that the plan's command runs, in graph order.
pub fn runnable(plan: &Plan, selected: &HashSet<String>) -> Vec<String> {
    plan.compiled
        .dag
        .topological()
        .into_iter()
        .filter(|id| selected.contains(id))
        .filter(|id| {
            plan.compiled
                .manifest
                .nodes
                .get(id)
                .is_some_and(|node| plan.command.runs(node))
        })
        .collect()
}

/// Creates the schemas that the nodes of `ids` build in, one after the other (concurrent
/// schema creation can conflict in the warehouse), and reads what they hold.
pub fn prepare(plan: &Plan, ids: &[String]) -> Result<Catalog, Diagnostic> {
    let mut session = plan
        .warehouse
        .session()
        .map_err(|e| Diagnostic::error(format!("cannot open a warehouse session: {e}")))?;
    let catalog = Catalog::default();
    let mut done = HashSet::new();
    for id in ids {
        let node = &plan.compiled.manifest.nodes[id];
        let Some(relation) = node.relation.as_ref() else {
            continue;
        };
        if node.resource_type == ResourceType::Test
            || !done.insert(relation.render_parts(true, true, false))
        {
            continue;
        }
        elt_warehouse::materialize::ensure_schema(session.as_mut(), relation)
            .and_then(|()| {
                catalog.load_schema(
                    session.as_mut(),
                    relation.database.as_deref(),
                    &relation.schema,
                )
            })
            .map_err(|e| {
                Diagnostic::error(format!(
                    "cannot prepare schema {}: {}",
                    relation.render_parts(true, true, false),
                    e.message
                ))
                .at(&node.original_file_path, 0, 0)
            })?;
    }
    Ok(catalog)
}

/// Runs `ids` (from [`runnable`]) and returns their results in the same order.
pub fn execute(
    plan: &Plan,
    catalog: &Catalog,
    ids: &[String],
    reporter: &dyn Reporter,
) -> Vec<RunResult> {
    let nodes: Vec<&Node> = ids
        .iter()
        .map(|id| &*plan.compiled.manifest.nodes[id])
        .collect();
    let parents = job_parents(plan, ids);
    let total = ids.len();
    let started = AtomicUsize::new(0);
    let threads = AtomicUsize::new(0);
    // With --fail-fast: the first job that failed (plus one; zero while none has).
    let first_failure = AtomicUsize::new(0);
    let init = || {
        (
            threads.fetch_add(1, Ordering::SeqCst) + 1,
            plan.warehouse.session(),
        )
    };
    let work =
        |(thread, session): &mut (usize, elt_warehouse::Result<Box<dyn Session>>),
         jobs: &[scheduler::Job]| {
            let start = Utc::now();
            let stopped = match first_failure.load(Ordering::SeqCst) {
                0 => None,
                failed => Some(failed - 1),
            };
            let indices: Vec<usize> = jobs
                .iter()
                .map(|_| started.fetch_add(1, Ordering::SeqCst) + 1)
                .collect();
            let members: Vec<&Node> = jobs.iter().map(|job| nodes[job.index]).collect();
            let outcomes: Vec<nodes::Outcome> =
                match (jobs[0].skipped_by.or(stopped), session) {
                    (Some(cause), _) => jobs.iter().map(|_| skipped(nodes[cause])).collect(),
                    (None, Ok(session)) => {
                        for (node, &index) in members.iter().zip(&indices) {
                            reporter.started(node, index, total);
                        }
                        if let [node] = members.as_slice() {
                            vec![elt_warehouse::crash_point::around(
                                &node.unique_id,
                                session.as_mut(),
                                |session| nodes::run(plan, catalog, session, node),
                            )]
                        } else {
                            nodes::tests_together(plan, session.as_mut(), &members)
                        }
                    }
                    (None, Err(e)) => members
                        .iter()
                        .map(|node| {
                            nodes::Outcome::error(
                                Diagnostic::error(format!("cannot open a warehouse session: {e}"))
                                    .at(&node.original_file_path, 0, 0),
                            )
                        })
                        .collect(),
                };
            let completed = Utc::now();
            jobs.iter()
                .zip(outcomes)
                .zip(indices)
                .map(|((job, outcome), index)| {
                    let node = nodes[job.index];
                    let blocks = blocks_downstream(node, outcome.status);
                    if plan.options.fail_fast && blocks && outcome.status != Status::Skipped {
                        let _ = first_failure.compare_exchange(
                            0,
                            job.index + 1,
                            Ordering::SeqCst,
                            Ordering::SeqCst,
                        );
                    }
                    let result = RunResult {
                        unique_id: node.unique_id.clone(),
                        status: outcome.status,
                        message: outcome.message,
                        failures: outcome.failures,
                        adapter_message: outcome.built.as_ref().map(|b| b.message()),
                        rows_affected: outcome.built.as_ref().and_then(|b| b.rows),
                        started_at: start,
                        completed_at: completed,
                        thread: *thread,
                        compiled_code: outcome.sql.or_else(|| node.compiled_code.clone()),
                        relation_name: node.relation.as_ref().map(|r| r.to_string()),
                        diagnostic: outcome.diagnostic,
                    };
                    reporter.finished(node, &result, index, total);
                    scheduler::Finished {
                        value: result,
                        blocks,
                    }
                })
                .collect()
        };
    let batch = |job: usize| test_batch(nodes[job]);
    scheduler::run(&parents, plan.options.threads.max(1), batch, init, work)
}

/// Tests of the same nodes run as one query (see [`nodes::tests_together`]), all but those
/// that query the warehouse while they compile: their key is the nodes they test.
fn test_batch(node: &Node) -> Option<&[String]> {
    (node.resource_type == ResourceType::Test && !node.introspective)
        .then_some(node.depends_on_nodes.as_slice())
}

fn skipped(cause: &Node) -> nodes::Outcome {
    nodes::Outcome {
        status: Status::Skipped,
        message: format!(
            "skipped because {} '{}' did not succeed",
            cause.resource_type.as_str(),
            cause.name
        ),
        failures: None,
        built: None,
        sql: None,
        diagnostic: None,
    }
}

/// A failed model, seed or snapshot, or a failing error-level test, stops what depends on it.
fn blocks_downstream(node: &Node, status: Status) -> bool {
    match status {
        Status::Error | Status::Skipped => true,
        Status::Fail => matches!(
            node.resource_type,
            ResourceType::Test | ResourceType::UnitTest
        ),
        _ => false,
    }
}

/// For each job, the jobs it waits for: its nearest ancestors among the jobs (through nodes
/// that are not run), and in `build`, the tests of those ancestors, which gate what is
/// downstream of what they test.
fn job_parents(plan: &Plan, ids: &[String]) -> Vec<Vec<usize>> {
    let position: HashMap<&str, usize> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let manifest = &plan.compiled.manifest;
    let mut nearest: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut parents: Vec<Vec<usize>> = ids
        .iter()
        .map(|id| {
            // A unit test runs before its model is built: it waits for what the model reads.
            let read = match unit_test_model(manifest, id) {
                Some(model) => manifest.parents(model),
                None => manifest.parents(id),
            };
            let mut found = Vec::new();
            for parent in read {
                found.extend(nearest_jobs(manifest, parent, &position, &mut nearest));
            }
            found.sort_unstable();
            found.dedup();
            found
        })
        .collect();
    if plan.command == Command::Build {
        add_test_gates(plan, ids, &mut parents);
        // A model waits for its unit tests; a failing one skips it.
        for (job, id) in ids.iter().enumerate() {
            if let Some(&model) = unit_test_model(manifest, id).and_then(|m| position.get(m)) {
                parents[model].push(job);
            }
        }
    }
    parents
}

/// The model a unit test tests, when `id` is a unit test.
fn unit_test_model<'a>(manifest: &'a elt_core::manifest::Manifest, id: &str) -> Option<&'a str> {
    let node = manifest.nodes.get(id)?;
    (node.resource_type == ResourceType::UnitTest)
        .then(|| node.depends_on_nodes.first().map(String::as_str))
        .flatten()
}

/// The jobs nearest to `id` going up the graph: `id` itself if it is a job.
fn nearest_jobs<'a>(
    manifest: &'a elt_core::manifest::Manifest,
    id: &'a str,
    position: &HashMap<&str, usize>,
    memo: &mut HashMap<&'a str, Vec<usize>>,
) -> Vec<usize> {
    if let Some(&job) = position.get(id) {
        return vec![job];
    }
    if let Some(known) = memo.get(id) {
        return known.clone();
    }
    let mut found = Vec::new();
    for parent in manifest.parents(id) {
        found.extend(nearest_jobs(manifest, parent, position, memo));
    }
    found.sort_unstable();
    found.dedup();
    memo.insert(id, found.clone());
    found
}

/// In `build`, a node waits for the tests on its parents: a test on one node gates all of that
/// node's children; a test on several nodes (e.g. relationships) gates the children that
/// depend on all of them.
fn add_test_gates(plan: &Plan, ids: &[String], parents: &mut [Vec<usize>]) {
    let manifest = &plan.compiled.manifest;
    let is_test = |job: usize| manifest.nodes[&ids[job]].resource_type == ResourceType::Test;
    let tests: Vec<(usize, Vec<usize>)> = (0..ids.len())
        .filter(|&job| is_test(job))
        .map(|test| (test, parents[test].clone()))
        .filter(|(_, tested)| !tested.is_empty())
        .collect();
    for (job, job_parents) in parents.iter_mut().enumerate() {
        if is_test(job) {
            continue;
        }
        let gates: Vec<usize> = tests
            .iter()
            .filter(|(_, tested)| {
                !tested.contains(&job) && tested.iter().all(|t| job_parents.contains(t))
            })
            .map(|(test, _)| *test)
            .collect();
        if !gates.is_empty() {
            job_parents.extend(gates);
            job_parents.sort_unstable();
            job_parents.dedup();
        }
    }
}

/// What dbt gives `on-run-end` hooks besides the usual context: `results` (each node's
/// result, with its node), and the `schemas` and `database_schemas` the run built in.
fn run_end_context(plan: &Plan, results: &[RunResult]) -> serde_json::Map<String, Json> {
    let nodes = &plan.compiled.manifest.nodes;
    let results: Vec<Json> = results
        .iter()
        .map(|r| results::hook_result(r, nodes.get(&r.unique_id).map(|n| &**n)))
        .collect();
    let mut database_schemas: Vec<(String, String)> = Vec::new();
    for result in &results {
        let node = &result["node"];
        if node["resource_type"] == "test" || node["config"]["materialized"] == "ephemeral" {
            continue;
        }
        let pair = (
            node["database"].as_str().unwrap_or_default().to_string(),
            node["schema"].as_str().unwrap_or_default().to_string(),
        );
        if !pair.1.is_empty() && !database_schemas.contains(&pair) {
            database_schemas.push(pair);
        }
    }
    let mut schemas: Vec<&str> = Vec::new();
    for (_, schema) in &database_schemas {
        if !schemas.contains(&schema.as_str()) {
            schemas.push(schema);
        }
    }
    let mut context = serde_json::Map::new();
    context.insert("schemas".into(), serde_json::json!(schemas));
    context.insert(
        "database_schemas".into(),
        serde_json::json!(database_schemas),
    );
    context.insert("results".into(), Json::Array(results));
    context
}

/// Runs the `on-run-start` or `on-run-end` hooks of the project and its packages (the
/// latter seeing the run's `results`). Returns how many ran.
pub fn run_project_hooks(
    plan: &Plan,
    when: RunHook,
    results: &[RunResult],
) -> Result<usize, Diagnostic> {
    let hooks = plan.project.run_hooks(when);
    if hooks.is_empty() {
        return Ok(0);
    }
    let context = match when {
        RunHook::Start => serde_json::Map::new(),
        RunHook::End => run_end_context(plan, results),
    };
    let which = when.as_str();
    let mut session = plan.warehouse.session().map_err(|e| {
        Diagnostic::error(format!("cannot open a warehouse session: {e}")).at(
            &plan.project.config.file,
            0,
            0,
        )
    })?;
    for hook in &hooks {
        let sql = plan
            .compiled
            .runtime
            .run_hook_sql(hook, which, &plan.introspect, &context)?;
        session.execute(&sql).map_err(|e| {
            let source =
                std::fs::read_to_string(plan.project.root.join(hook.file)).unwrap_or_default();
            let first_line = hook.sql.lines().next().unwrap_or(hook.sql);
            let line = source
                .lines()
                .position(|l| l.contains(first_line))
                .map_or(0, |i| i as u32 + 1);
            Diagnostic::error(format!("{which} hook failed: {}", e.message))
                .at_source(hook.file, &source, line, 0)
        })?;
    }
    Ok(hooks.len())
}
