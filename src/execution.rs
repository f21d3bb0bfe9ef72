//! The commands that run against the warehouse: `run`, `test`, `seed`, `snapshot`, `build`,
//! `retry` and `show`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use elt_core::adapter::Relation;
use elt_core::compile::Compiled;
use elt_core::diagnostics::{Diagnostic, ErrorKind, Errors, Severity};
use elt_core::graph::state::State;
use elt_core::manifest::{Node, ResourceType};
use elt_core::project::{Flags, Project, RunHook};
use elt_execute::{Command, Options, Plan, RunResult, Status, results};
use elt_warehouse::Warehouse;
use elt_warehouse::introspect::Introspector;
use serde_json::json;

use crate::cli::{ProjectArgs, RetryArgs, RunArgs, ShowArgs};
use crate::commands::{
    compiled, compiled_for, connection_error, load, release_at_exit, select, write_artifacts,
};
use crate::report_warnings;
use crate::status::{StatusLines, totals, what_ran};

type Result<T> = std::result::Result<T, Errors>;

/// `elt run`, `test`, `seed`, `snapshot` and `build`.
pub fn run(command: Command, args: &RunArgs) -> Result<()> {
    let flags = Flags {
        which: command.as_str().to_string(),
        full_refresh: args.full_refresh,
        store_failures: args.store_failures,
    };
    let (mut project, mut compiled) = compiled_for(&args.project, flags)?;
    let (selected, selection_warnings) = select(&compiled, &args.selection)?;
    if args.defer
        && let Some(dir) = &args.selection.state
    {
        project.deferred = deferred(&project, &compiled, &State::read(dir)?, &selected)?;
        if !project.deferred.is_empty() {
            compiled = elt_core::compile::compile(&project)?;
        }
    }
    let mut warnings = compiled.warnings.clone();
    warnings.extend(selection_warnings);
    report_warnings(&warnings, args.project.warn_error, args.project.quiet)?;
    let options = Options {
        threads: args.threads.unwrap_or(project.target.threads),
        full_refresh: args.full_refresh,
        store_failures: args.store_failures,
        fail_fast: args.fail_fast,
    };
    let recorded = json!({
        "which": command.as_str(),
        "select": args.selection.select,
        "exclude": args.selection.exclude,
        "threads": options.threads,
        "full_refresh": options.full_refresh,
        "store_failures": options.store_failures,
        "fail_fast": options.fail_fast,
        "vars": args.project.vars,
        "target": args.project.target,
    });
    let selected: HashSet<String> = selected.into_iter().collect();
    if args.load {
        crate::load::sources_of(&project, &compiled, &selected, args.project.quiet)?;
    }
    let outcome = execute(
        &project,
        &compiled,
        &args.project,
        command,
        options,
        &selected,
        recorded,
    );
    release_at_exit((project, compiled));
    outcome
}

/// `elt retry`: the last run's command again, on what failed or was skipped.
pub fn retry(args: &RetryArgs) -> Result<()> {
    let target_dir = load(&args.project)?.target_dir();
    let previous = results::read_previous(&target_dir).map_err(|message| {
        Errors::one(Diagnostic::error(message).with_help(
            "`elt retry` resumes the last run, build, test, seed or snapshot; run one first",
        ))
    })?;
    // The last run's vars and target, unless given again (as dbt retry does).
    let mut project_args = args.project.clone();
    let recorded_text = |key: &str| previous.args[key].as_str().map(str::to_string);
    project_args.vars = project_args.vars.or_else(|| recorded_text("vars"));
    project_args.target = project_args.target.or_else(|| recorded_text("target"));
    let command = previous.args["which"]
        .as_str()
        .and_then(Command::parse)
        .ok_or_else(|| {
            Errors::one(Diagnostic::error(
                "the last run_results.json does not say which command ran",
            ))
        })?;
    let flag = |key: &str| previous.args[key].as_bool().unwrap_or(false);
    let flags = Flags {
        which: command.as_str().to_string(),
        full_refresh: flag("full_refresh"),
        store_failures: flag("store_failures"),
    };
    let (project, compiled) = compiled_for(&project_args, flags)?;
    if previous.to_retry.is_empty() {
        if !args.project.quiet {
            println!("Nothing to retry: the last {} succeeded.", command.as_str());
        }
        return Ok(());
    }
    let options = Options {
        threads: args
            .threads
            .or(previous.args["threads"].as_u64().map(|n| n as usize))
            .unwrap_or(project.target.threads),
        full_refresh: flag("full_refresh"),
        store_failures: flag("store_failures"),
        fail_fast: flag("fail_fast"),
    };
    let selected: HashSet<String> = previous
        .to_retry
        .into_iter()
        .filter(|id| compiled.manifest.nodes.contains_key(id))
        .collect();
    let recorded = previous.args;
    let outcome = execute(
        &project,
        &compiled,
        &project_args,
        command,
        options,
        &selected,
        recorded,
    );
    release_at_exit((project, compiled));
    outcome
}

pub(crate) fn execute(
    project: &Project,
    compiled: &Compiled,
    args: &ProjectArgs,
    command: Command,
    options: Options,
    selected: &HashSet<String>,
    recorded: serde_json::Value,
) -> Result<()> {
    let start = Instant::now();
    let warehouse: Arc<dyn Warehouse> = elt_warehouse::open(&project.target, &project.root)
        .map_err(|e| connection_error(&project.target, &e))?
        .into();
    let plan = Plan {
        project,
        compiled,
        warehouse: warehouse.as_ref(),
        introspect: Introspector::over(warehouse.clone()),
        command,
        options,
    };
    let ids = elt_execute::runnable(&plan, selected);
    compiled.runtime.set_selected(&ids);
    let nodes: Vec<&Node> = ids.iter().map(|id| &*compiled.manifest.nodes[id]).collect();
    write_artifacts(project, compiled, &nodes)?;
    if nodes.is_empty() {
        if !args.quiet {
            println!(
                "Nothing to do: no selected node is run by `elt {}`.",
                command.as_str()
            );
        }
        return Ok(());
    }
    let catalog = elt_execute::prepare(&plan, &ids)?;
    elt_execute::run_project_hooks(&plan, RunHook::Start, &[])?;
    if !args.quiet {
        println!(
            "Running {} with {} threads\n",
            what_ran(&nodes),
            plan.options.threads.max(1)
        );
    }
    let lines = StatusLines::new(nodes.len(), args.quiet);
    let results = elt_execute::execute(&plan, &catalog, &ids, &lines);
    lines.finish();
    tracing::debug!(
        "time in the warehouse: {:.3} s",
        elt_warehouse::time_in_warehouse().as_secs_f64()
    );
    let end_hooks = elt_execute::run_project_hooks(&plan, RunHook::End, &results);
    let elapsed = start.elapsed().as_secs_f64();
    results::write(
        &project.target_dir(),
        &compiled.manifest.invocation_id,
        &results,
        elapsed,
        recorded,
    )
    .map_err(|e| {
        Errors::one(Diagnostic::error(format!(
            "cannot write {}: {e}",
            project.target_dir().join("run_results.json").display()
        )))
    })?;
    summarize(&results, &nodes, elapsed, args.quiet);
    let mut errors: Vec<Diagnostic> = results
        .iter()
        .filter_map(|r| Some((r, r.diagnostic.clone()?)))
        .filter(|(_, d)| d.severity == Severity::Error)
        .map(|(r, d)| with_load_hint(project, compiled, warehouse.as_ref(), command, r, d))
        .collect();
    if let Err(hook_error) = end_hooks {
        errors.push(hook_error);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Errors(errors))
    }
}

/// A node that failed on a missing raw table which a loader fills: the help says to load it
/// first (a fresh project's first `elt build` without `--load`), rather than where the
/// compiled SQL is.
fn with_load_hint(
    project: &Project,
    compiled: &Compiled,
    warehouse: &dyn Warehouse,
    command: Command,
    result: &RunResult,
    diagnostic: Diagnostic,
) -> Diagnostic {
    if diagnostic.kind != Some(ErrorKind::MissingRelation) {
        return diagnostic;
    }
    let Some(node) = compiled.manifest.nodes.get(&result.unique_id) else {
        return diagnostic;
    };
    let Ok(mut session) = warehouse.session() else {
        return diagnostic;
    };
    let read = node
        .depends_on_nodes
        .iter()
        .filter_map(|id| compiled.manifest.sources.get(id));
    let missing: Vec<String> = elt_load::loadable(read, &project.vars)
        .into_iter()
        .filter(|(source, _)| matches!(session.relation_kind(&source.relation), Ok(None)))
        .map(|(source, _)| source.full_name())
        .collect();
    if missing.is_empty() {
        return diagnostic;
    }
    diagnostic.with_help(format!(
        "{} is loaded by `elt load`, which has not filled it yet: run `elt load` first, or \
         `elt {} --load`",
        missing.join(", "),
        command.as_str()
    ))
}

fn summarize(results: &[RunResult], nodes: &[&Node], elapsed: f64, quiet: bool) {
    let warnings: Vec<&Diagnostic> = results
        .iter()
        .filter_map(|r| r.diagnostic.as_ref())
        .filter(|d| d.severity == Severity::Warning)
        .collect();
    let errors = results
        .iter()
        .filter(|r| matches!(r.status, Status::Error | Status::Fail))
        .count();
    if quiet {
        return;
    }
    println!("\nFinished running {} in {elapsed:.2}s.", what_ran(nodes));
    for warning in &warnings {
        eprint!("{warning}");
    }
    match errors {
        0 => println!("\nCompleted successfully"),
        n => println!(
            "\nCompleted with {n} error{} and {} warning{}:",
            if n == 1 { "" } else { "s" },
            warnings.len(),
            if warnings.len() == 1 { "" } else { "s" }
        ),
    }
    println!("\n{}", totals(results));
}

/// `elt show`: the first rows of a selected node's query, or of `--inline` SQL.
pub fn show(args: &ShowArgs) -> Result<()> {
    let (project, compiled) = compiled(&args.project)?;
    let warehouse: Arc<dyn Warehouse> = elt_warehouse::open(&project.target, &project.root)
        .map_err(|e| connection_error(&project.target, &e))?
        .into();
    let introspect = Introspector::over(warehouse.clone());
    let runtime = &compiled.runtime;
    let (title, sql) = match &args.inline {
        Some(inline) => (
            "inline query".to_string(),
            runtime.hook_sql(
                None,
                inline,
                Path::new("<inline>"),
                "the inline query",
                &introspect,
            )?,
        ),
        None => {
            let node = shown_node(&compiled, args)?;
            let nodes = &compiled.manifest.nodes;
            let sql = runtime.sql_to_run(node, nodes, false, &introspect)?;
            (
                format!("node '{}'", node.name),
                sql.or_else(|| node.compiled_code.clone())
                    .unwrap_or_default(),
            )
        }
    };
    let mut session = warehouse
        .session()
        .map_err(|e| connection_error(&project.target, &e))?;
    let query = format!(
        "select * from (\n{}\n) as dbt_show_query limit {}",
        sql.trim().trim_end_matches(';'),
        args.limit
    );
    let table = session.query(&query).map_err(|e| {
        Errors::one(
            Diagnostic::error(format!("previewing the {title} failed: {}", e.message))
                .with_note(format!("the query:\n{query}")),
        )
    })?;
    let mut out = comfy_table::Table::new();
    out.load_style(comfy_table::presets::ASCII_MARKDOWN);
    out.set_header(&table.columns);
    for row in &table.rows {
        out.add_row(row.iter().map(|v| v.as_deref().unwrap_or("NULL")));
    }
    println!("Previewing {title}:\n{out}");
    release_at_exit((project, compiled));
    Ok(())
}

fn shown_node<'a>(compiled: &'a Compiled, args: &ShowArgs) -> Result<&'a Node> {
    let (selected, _) = select(compiled, &args.selection)?;
    let candidates: Vec<&Node> = selected
        .iter()
        .filter_map(|id| compiled.manifest.nodes.get(id))
        .map(|n| &**n)
        .filter(|n| n.compiled_code.is_some())
        .filter(|n| n.resource_type != ResourceType::Test)
        .collect();
    match candidates.as_slice() {
        [node] => Ok(node),
        [] => Err(Errors::one(
            Diagnostic::error("`elt show` needs one node to preview, and the selection has none")
                .with_help("select a model with --select <name>, or pass --inline '<sql>'"),
        )),
        many => Err(Errors::one(
            Diagnostic::error(format!(
                "`elt show` previews one node; the selection has {}: {}",
                many.len(),
                many.iter()
                    .take(5)
                    .map(|n| n.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
            .with_help("narrow --select to a single model"),
        )),
    }
}

/// `--defer`: the unselected models, seeds and snapshots that the state run built and this
/// target has not, with the state's relations (what their `ref()`s resolve to).
fn deferred(
    project: &Project,
    compiled: &Compiled,
    state: &State,
    selected: &BTreeSet<String>,
) -> Result<HashMap<String, Relation>> {
    let candidates: Vec<(&Node, Relation)> = compiled
        .manifest
        .nodes
        .values()
        .filter(|n| {
            matches!(
                n.resource_type,
                ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
            ) && !n.is_ephemeral()
                && !selected.contains(&n.unique_id)
        })
        .filter_map(|n| Some((n.as_ref(), state.relation_of(n)?)))
        .collect();
    if candidates.is_empty() {
        return Ok(HashMap::new());
    }
    let target = &project.target;
    let warehouse =
        elt_warehouse::open(target, &project.root).map_err(|e| connection_error(target, &e))?;
    let mut session = warehouse
        .session()
        .map_err(|e| connection_error(target, &e))?;
    let mut existing: HashMap<(Option<String>, String), Vec<String>> = HashMap::new();
    let mut deferred = HashMap::new();
    for (node, relation) in candidates {
        let Some(own) = &node.relation else { continue };
        let key = (own.database.clone(), own.schema.clone());
        if !existing.contains_key(&key) {
            let names = session
                .relations_in(own.database.as_deref(), &own.schema)
                .map_err(|e| Errors::one(Diagnostic::error(e.message)))?
                .into_iter()
                .map(|(name, _)| name)
                .collect();
            existing.insert(key.clone(), names);
        }
        if !existing[&key].contains(&own.identifier) {
            deferred.insert(node.unique_id.clone(), relation);
        }
    }
    Ok(deferred)
}
