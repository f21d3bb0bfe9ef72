//! `elt generate`: writes the example warehouse's raw data and says what it wrote; with
//! `--kafka` or `--bucket` it also publishes it, for the loaders to load.

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::NaiveDate;
use elt_core::diagnostics::{Diagnostic, Errors};
use elt_generate::Options;

use crate::cli::{Dataset, GenerateArgs};

pub fn run(args: &GenerateArgs) -> Result<(), Errors> {
    let Dataset::Ecommerce = args.dataset;
    let start = NaiveDate::parse_from_str(&args.start, "%Y-%m-%d").map_err(|_| {
        Diagnostic::error(format!("--start '{}' is not a date", args.start))
            .with_help("write it as YYYY-MM-DD, e.g. 2024-01-01")
    })?;
    if !(args.scale > 0.0 && args.scale <= 100.0) {
        return Err(
            Diagnostic::error(format!("--scale {} is out of range", args.scale))
                .with_help("use a number above 0 and at most 100 (1 is about 100,000 orders)")
                .into(),
        );
    }
    let options = Options {
        scale: args.scale,
        seed: args.seed,
        start,
        days: args.days,
    };
    let started = Instant::now();
    let written = elt_generate::generate(&options, &args.out).map_err(|e| {
        Diagnostic::error(format!("cannot write to {}: {e}", args.out.display()))
            .with_help("check that the folder can be created and written")
    })?;
    let seconds = started.elapsed().as_secs_f64();
    for (table, rows) in &written.rows {
        println!("{table:>20} {rows:>10} rows");
    }
    println!(
        "Wrote {} rows of {} days to {} in {seconds:.2}s ({:.0} rows/s); expected figures in {}",
        written.total(),
        args.days,
        args.out.display(),
        written.total() as f64 / seconds.max(1e-9),
        args.out.join("expected.json").display()
    );
    publish(args, &written.rows)
}

/// Sends the JSON-lines tables to Kafka and every table's files to a bucket, as asked.
fn publish(args: &GenerateArgs, tables: &[(&str, u64)]) -> Result<(), Errors> {
    let failed = |e: elt_load::LoadError| Errors(vec![Diagnostic::from(e)]);
    for (table, _) in tables {
        let files = files_of(&args.out.join(table)).map_err(|e| {
            Errors(vec![Diagnostic::error(format!(
                "cannot list {}: {e}",
                args.out.join(table).display()
            ))])
        })?;
        if let Some(brokers) = &args.kafka {
            let lines: Vec<PathBuf> = files
                .iter()
                .filter(|f| f.extension().is_some_and(|e| e == "jsonl"))
                .cloned()
                .collect();
            if !lines.is_empty() {
                let topic = format!("{}{table}", args.topic_prefix);
                let sent = elt_load::publish::lines_to_kafka(
                    brokers,
                    &args.kafka_properties,
                    &topic,
                    &lines,
                )
                .map_err(failed)?;
                println!("Sent {sent} messages to the Kafka topic {topic}");
            }
        }
        if let Some(url) = &args.bucket {
            let put = elt_load::publish::files_to_bucket(
                url,
                args.s3_endpoint.as_deref(),
                &args.out,
                &files,
            )
            .map_err(failed)?;
            println!("Put {put} objects of {table} into {url}");
        }
    }
    Ok(())
}

/// The files of a table's folder, by name.
fn files_of(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    Ok(files)
}
