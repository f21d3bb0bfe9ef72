//! `elt generate`: writes the example warehouse's raw data and says what it wrote.

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
    Ok(())
}
