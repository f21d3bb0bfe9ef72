//! The `elt` command.
//!
//! Exit codes follow dbt: 0 success, 1 an error in the project or its run, 2 bad usage.

mod cli;
mod commands;
mod docs;
mod execution;
mod generate;
mod init;
mod load;
mod status;
mod watch;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

/// mimalloc: compiling allocates many small strings on every thread, where it is much faster
/// than the system allocator. With its `override` feature it is also the C `malloc` of the
/// whole process, so the embedded DuckDB allocates through it too.
#[cfg(not(feature = "dhat-heap"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(feature = "dhat-heap")]
#[global_allocator]
static GLOBAL: dhat::Alloc = dhat::Alloc;
use elt_core::diagnostics::{Diagnostic, Errors};
use elt_execute::Command;

fn main() -> ExitCode {
    #[cfg(feature = "dhat-heap")]
    let _profiler = dhat::Profiler::new_heap();
    let cli = cli::Cli::parse();
    init_logging();
    let result = match cli.command {
        cli::Command::Init(args) => init::run(&args),
        cli::Command::Parse(args) => commands::parse(&args),
        cli::Command::Compile(args) => commands::compile(&args),
        cli::Command::Ls(args) => commands::list(&args),
        cli::Command::Run(args) => execution::run(Command::Run, &args),
        cli::Command::Test(args) => execution::run(Command::Test, &args),
        cli::Command::Seed(args) => execution::run(Command::Seed, &args),
        cli::Command::Snapshot(args) => execution::run(Command::Snapshot, &args),
        cli::Command::Build(args) => execution::run(Command::Build, &args),
        cli::Command::Retry(args) => execution::retry(&args),
        cli::Command::Show(args) => execution::show(&args),
        cli::Command::Debug(args) => commands::debug(&args),
        cli::Command::Generate(args) => generate::run(&args),
        cli::Command::Load(args) => load::run(&args),
        cli::Command::Watch(args) => watch::run(&args),
        cli::Command::Docs(cli::DocsCommand::Generate(args)) => docs::generate(&args),
        cli::Command::Docs(cli::DocsCommand::Serve(args)) => docs::serve(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(errors) => {
            report_errors(&errors);
            ExitCode::from(1)
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("ELT_LOG")
        // sqlx warns about every connection a lost server breaks; elt reports the failure once.
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,elt::log=info,sqlx=error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .without_time()
        .init();
}

pub fn report_errors(errors: &Errors) {
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "{errors}");
    let count = errors.0.len();
    if count > 1 {
        let _ = writeln!(stderr, "\n{count} errors");
    }
}

/// Prints warnings to stderr; with `--warn-error` they become errors.
pub fn report_warnings(
    warnings: &[Diagnostic],
    warn_error: bool,
    quiet: bool,
) -> Result<(), Errors> {
    if warn_error && !warnings.is_empty() {
        let as_errors = warnings
            .iter()
            .map(|w| Diagnostic {
                severity: elt_core::diagnostics::Severity::Error,
                ..w.clone()
            })
            .collect();
        return Err(Errors(as_errors));
    }
    if !quiet {
        let mut stderr = std::io::stderr().lock();
        for warning in warnings {
            let _ = write!(stderr, "{warning}");
        }
    }
    Ok(())
}
