//! `elt load`: runs the loaders of the selected sources, one table after another (with
//! `--follow`, all at once until SIGINT or SIGTERM), and prints a status line per table as it
//! ends; on a terminal a spinner shows the rows loaded so far and their rate (elsewhere, a line
//! every 15 s does).

use std::collections::HashSet;
use std::io::IsTerminal;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use elt_core::compile::Compiled;
use elt_core::diagnostics::{Diagnostic, Errors};
use elt_core::manifest::SourceNode;
use elt_core::project::Project;
use elt_load::{ConfigError, Follow, LoadError, LoaderConfig, Origin, Progress};
use indicatif::{ProgressBar, ProgressStyle};

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

type Table<'a> = (&'a SourceNode, Result<LoaderConfig, ConfigError>);

/// Loads `tables`, one after another, each with its status line as it ends (with `follow`,
/// all at once until SIGINT or SIGTERM).
fn load_tables(
    project: &Project,
    tables: &[Table<'_>],
    follow: bool,
    quiet: bool,
) -> Result<(), Errors> {
    let started = Instant::now();
    let target = &project.target;
    let warehouse =
        elt_warehouse::open(target, &project.root).map_err(|e| connection_error(target, &e))?;
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
    let load = |(source, config): &Table<'_>, on_commit: &(dyn Fn(&Progress) + Sync)| {
        let name = source.full_name();
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
            let root = &project.root;
            elt_load::load_table(warehouse.as_ref(), source, &config, root, follow, on_commit)
        })
    };
    let mut summary = Summary::new(tables.len(), started, quiet);
    if follow {
        let outcomes: Vec<_> = std::thread::scope(|scope| {
            let threads: Vec<_> = tables
                .iter()
                .map(|table| scope.spawn(|| load(table, &|_| {})))
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().expect("a loader thread panicked"))
                .collect()
        });
        for (table, outcome) in tables.iter().zip(outcomes) {
            summary.add(table, outcome);
        }
    } else {
        for table in tables {
            let spinner = Spinner::start(table.0, quiet);
            let outcome = load(table, &|progress| spinner.show(progress));
            spinner.finish();
            summary.add(table, outcome);
        }
    }
    summary.finish()
}

/// The status lines of a load's tables and its totals.
struct Summary {
    total: usize,
    done: usize,
    rows: u64,
    dead_letters: u64,
    errors: Vec<Diagnostic>,
    started: Instant,
    quiet: bool,
}

impl Summary {
    fn new(total: usize, started: Instant, quiet: bool) -> Self {
        Summary {
            total,
            done: 0,
            rows: 0,
            dead_letters: 0,
            errors: Vec::new(),
            started,
            quiet,
        }
    }

    /// Prints a table's status line.
    fn add(&mut self, (source, config): &Table<'_>, outcome: Result<Progress, LoadError>) {
        self.done += 1;
        let name = source.full_name();
        let head = format!("{} of {}", self.done, self.total);
        match outcome {
            Ok(progress) => {
                if !self.quiet {
                    println!(
                        "{head} OK loaded {name} into {} {}",
                        source.relation,
                        describe(&progress, config, self.started)
                    );
                }
                for key in &progress.changed {
                    println!(
                        "warning: {key} changed since it was loaded; its new contents were \
                         loaded too, beside the old rows (_elt_source = '{key}')"
                    );
                }
                self.rows += progress.rows;
                self.dead_letters += progress.dead_letters;
            }
            Err(e) => self.errors.push(error(&head, &name, source, e)),
        }
    }

    fn finish(self) -> Result<(), Errors> {
        if !self.quiet {
            println!(
                "\nLoaded {} tables: {} rows, {} dead letters in {:.2}s ({} errors)",
                self.total - self.errors.len(),
                self.rows,
                self.dead_letters,
                self.started.elapsed().as_secs_f64(),
                self.errors.len()
            );
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Errors(self.errors))
        }
    }
}

/// How often a load off a terminal (in a CI or scheduler log) prints its progress.
const LOG_EVERY: Duration = Duration::from_secs(15);

/// While a table loads, its rows so far and their rate, as batches commit: on a terminal a
/// spinner; elsewhere a line every [`LOG_EVERY`].
enum Spinner {
    Quiet,
    Bar(ProgressBar),
    Lines {
        name: String,
        started: Instant,
        last: Mutex<Instant>,
    },
}

impl Spinner {
    fn start(source: &SourceNode, quiet: bool) -> Self {
        if quiet {
            return Spinner::Quiet;
        }
        if !std::io::stdout().is_terminal() {
            let now = Instant::now();
            return Spinner::Lines {
                name: source.full_name(),
                started: now,
                last: Mutex::new(now),
            };
        }
        let style = ProgressStyle::with_template("{spinner} loading {prefix}: {msg} [{elapsed}]")
            .expect("valid progress template");
        let bar = ProgressBar::new_spinner()
            .with_style(style)
            .with_prefix(source.full_name())
            .with_message("starting");
        bar.enable_steady_tick(Duration::from_millis(100));
        Spinner::Bar(bar)
    }

    fn show(&self, progress: &Progress) {
        match self {
            Spinner::Bar(bar) => bar.set_message(so_far(progress, bar.elapsed())),
            Spinner::Lines { .. } => {
                if let Some(line) = self.line(progress, Instant::now()) {
                    println!("{line}");
                }
            }
            Spinner::Quiet => {}
        }
    }

    /// Off a terminal, the line to print at `now`, if one is due.
    fn line(&self, progress: &Progress, now: Instant) -> Option<String> {
        let Spinner::Lines {
            name,
            started,
            last,
        } = self
        else {
            return None;
        };
        let mut last = last.lock().expect("not poisoned");
        if now.duration_since(*last) < LOG_EVERY {
            return None;
        }
        *last = now;
        let elapsed = now.duration_since(*started);
        let so_far = so_far(progress, elapsed);
        Some(format!("loading {name}: {so_far} [{}s]", elapsed.as_secs()))
    }

    fn finish(&self) {
        if let Spinner::Bar(bar) = self {
            bar.finish_and_clear();
        }
    }
}

/// `12345 rows, 2 dead letters, 10287 rows/s`: a load's rows after `elapsed`.
fn so_far(progress: &Progress, elapsed: Duration) -> String {
    format!(
        "{} rows, {} dead letters, {:.0} rows/s",
        progress.rows,
        progress.dead_letters,
        progress.rows as f64 / elapsed.as_secs_f64().max(1e-3)
    )
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Off a terminal a load prints where it is every 15 s, no more often.
    #[test]
    fn off_a_terminal_progress_is_a_line_every_fifteen_seconds() {
        let started = Instant::now();
        let spinner = Spinner::Lines {
            name: "shop.orders".into(),
            started,
            last: Mutex::new(started),
        };
        let progress = Progress {
            rows: 300_000,
            dead_letters: 2,
            ..Progress::default()
        };
        let at = |seconds| started + Duration::from_secs(seconds);
        assert_eq!(spinner.line(&progress, at(10)), None);
        assert_eq!(
            spinner.line(&progress, at(20)).as_deref(),
            Some("loading shop.orders: 300000 rows, 2 dead letters, 15000 rows/s [20s]")
        );
        assert_eq!(spinner.line(&progress, at(30)), None);
        assert!(spinner.line(&progress, at(35)).is_some());
    }
}
