//! `elt load`: runs the loaders of the selected sources, one table after another, and prints
//! a status line per table.

use std::time::Instant;

use elt_core::diagnostics::{Diagnostic, Errors};
use elt_load::{LoadError, Progress};

use crate::cli::LoadArgs;
use crate::commands::{self, connection_error};

pub fn run(args: &LoadArgs) -> Result<(), Errors> {
    let started = Instant::now();
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
    let target = &project.target;
    let warehouse =
        elt_warehouse::open(target, &project.root).map_err(|e| connection_error(target, &e))?;
    let total = tables.len();
    let mut errors = Vec::new();
    let mut sum = Progress::default();
    for (index, (source, config)) in tables.iter().enumerate() {
        let name = format!("{}.{}", source.source_name, source.name);
        let head = format!("{} of {total}", index + 1);
        let outcome = config.clone().map_err(LoadError::from).and_then(|config| {
            elt_load::load_table(warehouse.as_ref(), source, &config, &project.root)
        });
        match outcome {
            Ok(progress) => {
                if !args.project.quiet {
                    println!(
                        "{head} OK loaded {name} into {} {}",
                        source.relation,
                        describe(&progress)
                    );
                }
                sum.rows += progress.rows;
                sum.dead_letters += progress.dead_letters;
                sum.objects += progress.objects;
            }
            Err(e) => {
                println!("{head} ERROR loading {name}");
                let mut diagnostic = Diagnostic::error(format!("loading {name}: {}", e.message))
                    .at(&source.path, source.line, 0);
                if let Some(hint) = e.hint {
                    diagnostic = diagnostic.with_help(hint);
                }
                errors.push(diagnostic);
            }
        }
    }
    sum.elapsed = started.elapsed();
    if !args.project.quiet {
        println!(
            "\nLoaded {} tables: {} ({} errors)",
            total - errors.len(),
            describe(&sum),
            errors.len()
        );
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Errors(errors))
    }
}

/// `12,345 rows from 30 objects, 2 dead letters [in 1.20s, 10,287 rows/s]`.
fn describe(progress: &Progress) -> String {
    let seconds = progress.elapsed.as_secs_f64();
    let mut text = format!("{} rows from {} objects", progress.rows, progress.objects);
    if progress.dead_letters > 0 {
        text.push_str(&format!(", {} dead letters", progress.dead_letters));
    }
    text.push_str(&format!(
        " [in {seconds:.2}s, {:.0} rows/s]",
        progress.rows as f64 / seconds.max(1e-9)
    ));
    text
}
