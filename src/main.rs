//! The `elt` command.
//!
//! Exit codes follow dbt: 0 success, 1 an error in the project or its run, 2 bad usage.

mod cli;
mod commands;
mod deps;
mod docs;
mod execution;
mod generate;
mod init;
mod load;
mod operation;
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

/// `mi_option_purge_delay` in the mimalloc bundled with libmimalloc-sys 0.1.49
/// (c_src/mimalloc/v3/include/mimalloc.h), which its Rust bindings do not name.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// mimalloc gives freed memory back to the OS a while after it is freed (1 s; 10 s for
/// arenas). A loader frees each batch's buffers and allocates the next one's: the kernel then
/// zeroes fresh pages again, which took up to a third of `elt load`'s time (and made it vary by
/// 1.6x between runs). elt is a batch command whose peak is bounded by its batches: freed
/// memory stays for reuse.
fn keep_freed_memory() {
    // SAFETY: sets a process-wide allocator option; any value is valid for this option.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) }
}

/// mimalloc asks the kernel to back its arenas with transparent huge pages. Where the kernel's
/// THP defrag setting is `madvise` (Debian's default), a first touch in such a region may
/// compact memory and always zeroes 2 MiB: identical `elt load`s of 1M Kafka rows into DuckDB
/// spent 0.04 to 0.66 s in the kernel, 1.21 s on average over ten runs, against 0.13-0.18 s
/// and 1.04 s with huge pages off; a cold `elt compile` of 10,000 models took 0.73-1.59 s
/// (mean 0.92 s, peak 234-249 MiB) against 0.77-0.88 s (0.80 s, 215-224 MiB). (Compiling
/// again into the same target folder is about 10% faster with them: 0.45 s against 0.50 s.)
/// The flag is the process's (and its children's), so it also covers memory mimalloc has
/// already mapped.
fn without_huge_pages() {
    // SAFETY: PR_SET_THP_DISABLE only sets a flag on this process's address space.
    #[cfg(target_os = "linux")]
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

fn main() -> ExitCode {
    #[cfg(feature = "dhat-heap")]
    let _profiler = dhat::Profiler::new_heap();
    keep_freed_memory();
    without_huge_pages();
    let cli = cli::Cli::parse();
    init_logging();
    let result = match cli.command {
        cli::Command::Init(args) => init::run(&args),
        cli::Command::Deps(args) => deps::run(&args),
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
        cli::Command::RunOperation(args) => operation::run(&args),
        cli::Command::Clean(args) => operation::clean(&args),
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

#[cfg(test)]
mod tests {
    use super::{MI_OPTION_PURGE_DELAY, without_huge_pages};

    #[cfg(target_os = "linux")]
    #[test]
    fn huge_pages_are_off_for_the_process() {
        without_huge_pages();
        // SAFETY: PR_GET_THP_DISABLE only reads the flag.
        assert_eq!(
            unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) },
            1
        );
    }

    /// The option index is mimalloc's purge delay: a child test process started with
    /// MIMALLOC_PURGE_DELAY=77 reads 77 there.
    #[test]
    fn the_purge_delay_option_is_the_one_set() {
        if std::env::var_os("ELT_PROBE_PURGE_DELAY").is_some() {
            let value = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
            println!("purge delay {value}");
            return;
        }
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "tests::the_purge_delay_option_is_the_one_set",
                "--nocapture",
            ])
            .env("ELT_PROBE_PURGE_DELAY", "1")
            .env("MIMALLOC_PURGE_DELAY", "77")
            .output()
            .unwrap();
        let printed = String::from_utf8_lossy(&output.stdout);
        assert!(printed.contains("purge delay 77"), "{printed}");
    }
}
