//! `elt load`: runs the loaders of the selected sources, one table after another (with
//! `--follow`, all at once until SIGINT or SIGTERM), and prints a status line per table.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use elt_core::compile::Compiled;
use elt_core::diagnostics::{Diagnostic, Errors};
use elt_core::manifest::SourceNode;
use elt_core::project::Project;
use elt_load::{ConfigError, Follow, LoadError, LoaderConfig, Origin, Progress};

use crate::cli::LoadArgs;
use crate::commands::{self, connection_error};

pub fn run(args: &LoadArgs) -> Result<(), Errors> {
    let (project, compiled) = commands::compiled(&args.project)?;
    let manifest = &compiled.manifest;
    let selected = if args.selection.select.is_empty() && args.selection.exclude.is_empty() {
        None
    } else {
        Some(commands::select(&compiled, &args.selection)?.0)
    };
    let sources = manifest.sources.values().filter(|s| {
        selected
            .as_ref()
            .is_none_or(|ids| ids.contains(&s.unique_id))
    });
    let tables = elt_load::loadable(sources, &project.vars);
    if tables.is_empty() {
        println!("Nothing to load: no selected source table has a `loader:` mapping.");
        return Ok(());
    }
    load_tables(&project, &tables, args.follow, args.project.quiet)
}

/// `elt run --load` and `build --load`: the loaders of the sources the selected nodes read,
/// before they run.
pub fn sources_of(
    project: &Project,
    compiled: &Compiled,
    selected: &HashSet<String>,
    quiet: bool,
) -> Result<(), Errors> {
    let read: HashSet<&String> = selected
        .iter()
        .filter_map(|id| compiled.manifest.nodes.get(id))
        .flat_map(|node| &node.depends_on_nodes)
        .collect();
    let sources = compiled
        .manifest
        .sources
        .values()
        .filter(|s| read.contains(&s.unique_id));
    let tables = elt_load::loadable(sources, &project.vars);
    if tables.is_empty() {
        return Ok(());
    }
    load_tables(project, &tables, false, quiet)
}

/// Loads `tables`, one after another (with `follow`, all at once until SIGINT or SIGTERM).
fn load_tables(
    project: &Project,
    tables: &[(&SourceNode, Result<LoaderConfig, ConfigError>)],
    follow: bool,
    quiet: bool,
) -> Result<(), Errors> {
    let started = Instant::now();
    let target = &project.target;
    let warehouse =
        elt_warehouse::open(target, &project.root).map_err(|e| connection_error(target, &e))?;
    let total = tables.len();
    let stop = Arc::new(AtomicBool::new(false));
    if follow {
        for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(signal, Arc::clone(&stop)).map_err(|e| {
                Errors(vec![Diagnostic::error(format!(
                    "cannot catch signals: {e}"
                ))])
            })?;
        }
    }
    let load = |(source, config): &(&SourceNode, Result<LoaderConfig, ConfigError>)| {
        let name = format!("{}.{}", source.source_name, source.name);
        let mut report = |progress: &Progress| {
            if !quiet {
                println!("following {name}: {}", describe(progress, config, started));
            }
        };
        let follow = follow.then(|| Follow {
            stop: &stop,
            report: &mut report,
        });
        config.clone().map_err(LoadError::from).and_then(|config| {
            elt_load::load_table(warehouse.as_ref(), source, &config, &project.root, follow)
        })
    };
    let outcomes: Vec<Result<Progress, LoadError>> = if follow {
        std::thread::scope(|scope| {
            let threads: Vec<_> = tables
                .iter()
                .map(|table| scope.spawn(|| load(table)))
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().expect("a loader thread panicked"))
                .collect()
        })
    } else {
        tables.iter().map(load).collect()
    };
    let mut errors = Vec::new();
    let mut rows = 0;
    let mut dead_letters = 0;
    for (index, ((source, config), outcome)) in tables.iter().zip(outcomes).enumerate() {
        let name = format!("{}.{}", source.source_name, source.name);
        let head = format!("{} of {total}", index + 1);
        match outcome {
            Ok(progress) => {
                if !quiet {
                    println!(
                        "{head} OK loaded {name} into {} {}",
                        source.relation,
                        describe(&progress, config, started)
                    );
                }
                for key in &progress.changed {
                    println!(
                        "warning: {key} changed since it was loaded; its new contents were \
                         loaded too, beside the old rows (_elt_source = '{key}')"
                    );
                }
                rows += progress.rows;
                dead_letters += progress.dead_letters;
            }
            Err(e) => errors.push(error(&head, &name, source, e)),
        }
    }
    if !quiet {
        println!(
            "\nLoaded {} tables: {rows} rows, {dead_letters} dead letters in {:.2}s ({} errors)",
            total - errors.len(),
            started.elapsed().as_secs_f64(),
            errors.len()
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Errors(errors))
    }
}

fn error(head: &str, name: &str, source: &SourceNode, e: LoadError) -> Diagnostic {
    println!("{head} ERROR loading {name}");
    let message = format!("loading {name}: {}", e.message);
    Diagnostic::from(LoadError { message, ..e }).at(&source.path, source.line, 0)
}

/// `12,345 rows from 30 objects, 2 dead letters [in 1.20s, 10,287 rows/s]`, with the lag
/// when following a topic.
fn describe(
    progress: &Progress,
    config: &Result<LoaderConfig, ConfigError>,
    started: Instant,
) -> String {
    let elapsed = match progress.elapsed.is_zero() {
        true => started.elapsed(),
        false => progress.elapsed,
    };
    let seconds = elapsed.as_secs_f64();
    let streams = match config {
        Ok(LoaderConfig {
            origin: Origin::Kafka(_),
            ..
        }) => "partitions",
        _ => "objects",
    };
    let mut text = format!("{} rows from {} {streams}", progress.rows, progress.objects);
    if progress.dead_letters > 0 {
        text.push_str(&format!(", {} dead letters", progress.dead_letters));
    }
    if let Some(lag) = progress.lag {
        text.push_str(&format!(", lag {lag}"));
    }
    text.push_str(&format!(
        " [in {seconds:.2}s, {:.0} rows/s]",
        progress.rows as f64 / seconds.max(1e-9)
    ));
    text
}
