//! `elt watch`: on every saved change to the project's models, macros, YAML, seeds or tests,
//! compile again (the SQL cache keeps it to what changed), print errors at once, and re-run
//! the nodes whose compiled form changed and everything downstream of them. A bad edit is
//! reported and waited out; the command runs until interrupted.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use elt_core::compile::Compiled;
use elt_core::diagnostics::{Diagnostic, Errors};
use elt_core::graph::Direction;
use elt_core::manifest::{ResourceType, json::config_json};
use elt_execute::{Command, Options};
use notify_debouncer_mini::{DebounceEventResult, new_debouncer, notify::RecursiveMode};
use serde_json::json;

use crate::cli::WatchArgs;
use crate::commands::{compiled, select};
use crate::execution::execute;
use crate::report_errors;

/// Saves closer together than this are one change.
const DEBOUNCE: Duration = Duration::from_millis(50);

pub fn run(args: &WatchArgs) -> Result<(), Errors> {
    let root = args.project.project_dir.clone();
    let (events, changes) = mpsc::channel::<DebounceEventResult>();
    let mut debouncer = new_debouncer(DEBOUNCE, events)
        .map_err(|e| Errors::one(Diagnostic::error(format!("cannot watch files: {e}"))))?;
    debouncer
        .watcher()
        .watch(&root, RecursiveMode::Recursive)
        .map_err(|e| {
            Errors::one(Diagnostic::error(format!(
                "cannot watch {}: {e}",
                root.display()
            )))
        })?;
    let mut saved = Saved::since(SystemTime::now());
    let mut last = compile_and_report(args, None);
    println!("Watching {} for changes (Ctrl-C to stop)", root.display());
    for batch in changes {
        let Ok(batch) = batch else { continue };
        // Reading a file (as compiling does) is an event too: only a new modification time,
        // or a file gone, is a change.
        let Some(event) = batch
            .iter()
            .find(|event| is_source(&event.path) && saved.changed(&event.path))
        else {
            continue;
        };
        tracing::debug!("changed: {}", event.path.display());
        if let Some(now) = compile_and_report(args, last.as_ref()) {
            last = Some(now);
        }
    }
    Ok(())
}

/// The modification times of the files seen changing, to tell saves from reads.
struct Saved {
    since: SystemTime,
    seen: HashMap<PathBuf, Option<SystemTime>>,
}

impl Saved {
    fn since(since: SystemTime) -> Self {
        Saved {
            since,
            seen: HashMap::new(),
        }
    }

    /// Whether `path` was saved (or removed) since it was last seen (or since the watch began).
    fn changed(&mut self, path: &Path) -> bool {
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let before = self.seen.insert(path.to_path_buf(), modified);
        match (before, modified) {
            (Some(before), now) => before != now,
            (None, Some(now)) => now > self.since,
            (None, None) => true,
        }
    }
}

/// Compiles; on success runs what changed since `last` (everything selected the first time)
/// and returns the compile. Errors are printed, never returned: the watch goes on.
fn compile_and_report(args: &WatchArgs, last: Option<&Compiled>) -> Option<Compiled> {
    let started = Instant::now();
    let (project, compiled) = match compiled(&args.project) {
        Ok(done) => done,
        Err(errors) => {
            report_errors(&errors);
            // On stderr too, after the errors it follows.
            eprintln!("Waiting for the next change.");
            return None;
        }
    };
    println!(
        "Recompiled {} nodes in {} ms",
        compiled.manifest.nodes.len(),
        started.elapsed().as_millis()
    );
    let selected: HashSet<String> = match select(&compiled, &args.selection) {
        Ok((ids, _)) => ids.into_iter().collect(),
        Err(errors) => {
            report_errors(&errors);
            return Some(compiled);
        }
    };
    let to_run: HashSet<String> = match last {
        None => selected,
        Some(last) => downstream_of_changes(last, &compiled)
            .into_iter()
            .filter(|id| selected.contains(id))
            .collect(),
    };
    if to_run.is_empty() {
        println!("Nothing changed that runs.");
        return Some(compiled);
    }
    let command = if args.test {
        Command::Build
    } else {
        Command::Run
    };
    let options = Options {
        threads: args.threads.unwrap_or(project.target.threads),
        full_refresh: false,
        store_failures: false,
        fail_fast: false,
    };
    let recorded = json!({"which": command.as_str(), "watch": true});
    if let Err(errors) = execute(
        &project,
        &compiled,
        &args.project,
        command,
        options,
        &to_run,
        recorded,
    ) {
        report_errors(&errors);
    }
    Some(compiled)
}

/// Nodes that are new or whose compiled SQL, config or file changed, and every node downstream
/// of them (with the tests on them).
fn downstream_of_changes(last: &Compiled, now: &Compiled) -> HashSet<String> {
    let changed =
        now.manifest
            .nodes
            .values()
            .filter(|node| match last.manifest.nodes.get(&node.unique_id) {
                None => true,
                Some(old) => {
                    old.checksum != node.checksum
                        || old.compiled_code != node.compiled_code
                        || config_json(old) != config_json(node)
                }
            });
    let mut out = HashSet::new();
    for node in changed {
        if node.resource_type == ResourceType::Test && node.test.is_none() {
            out.insert(node.unique_id.clone());
            continue;
        }
        out.extend(
            now.dag
                .reachable(&node.unique_id, Direction::Outgoing, None),
        );
        out.insert(node.unique_id.clone());
    }
    out
}

/// Whether a changed path is one of the project's sources (not its outputs: target/, logs,
/// the DuckDB file).
fn is_source(path: &Path) -> bool {
    let output = path.components().any(|c| {
        matches!(
            c.as_os_str().to_str(),
            Some("target" | "logs" | ".git" | "dbt_packages")
        )
    });
    let source = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "sql" | "yml" | "yaml" | "csv" | "md"));
    source && !output
}
