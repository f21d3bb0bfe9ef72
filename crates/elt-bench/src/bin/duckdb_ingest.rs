//! `duckdb-ingest`: the least time any loader outside DuckDB can take to put `bench/load.sh`'s
//! rows into a DuckDB table: the rows already typed in memory as Arrow batches (nothing to
//! read, parse or check), each batch inserted and committed as the loader does, by
//! `insert ... select` from duckdb-rs's Arrow table function. Prints the seconds it took and the
//! CPU seconds the machine spent on it.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use clap::Parser;
use duckdb::Connection;
use duckdb::arrow::array::{
    ArrayRef, Decimal128Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use duckdb::arrow::datatypes::{DataType, Field, Schema, TimeUnit};
use duckdb::vtab::arrow::{ArrowBatchRegistration, ArrowVTab};

#[derive(Parser)]
struct Args {
    /// The database file to create (replaced if it exists).
    #[arg(long)]
    db: PathBuf,
    #[arg(long, default_value_t = 1_000_000)]
    rows: usize,
    /// Rows per batch, each committed on its own.
    #[arg(long, default_value_t = 100_000)]
    batch_rows: usize,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let _ = std::fs::remove_file(&args.db);
    let connection = Connection::open(&args.db)?;
    connection.register_table_function::<ArrowVTab>("arrow_rows")?;
    // The raw table as the loader makes it.
    connection.execute_batch(
        "set threads = 2; create schema raw; create table raw.orders (id bigint, customer text, \
         amount decimal(12,2), ordered_at timestamp, _elt_source text, _elt_position bigint, \
         _elt_loaded_at timestamp default make_timestamp(epoch_us(get_current_timestamp())))",
    )?;
    let batches: Vec<RecordBatch> = (0..args.rows)
        .step_by(args.batch_rows)
        .map(|start| orders(start, args.batch_rows.min(args.rows - start)))
        .collect();
    let started = Instant::now();
    let cpu_before = elt_bench::machine_cpu_seconds();
    for batch in batches {
        let rows = ArrowBatchRegistration::new(batch);
        connection.execute_batch("begin transaction")?;
        connection.execute(
            "insert into raw.orders (id, customer, amount, ordered_at, _elt_source, _elt_position) \
             select * from arrow_rows(?)",
            [&rows],
        )?;
        connection.execute_batch("commit")?;
    }
    println!(
        "{:.3} {:.2}",
        started.elapsed().as_secs_f64(),
        elt_bench::machine_cpu_seconds() - cpu_before
    );
    Ok(())
}

/// Rows `start..start + len` of `bench/load.sh`'s orders, typed, as the loader's raw rows.
fn orders(start: usize, len: usize) -> RecordBatch {
    let rows = start..start + len;
    let id: Int64Array = rows.clone().map(|i| Some(i as i64)).collect();
    let customer: StringArray = rows
        .clone()
        .map(|i| Some(format!("customer {}", i % 5000)))
        .collect();
    let amount = rows
        .clone()
        .map(|i| Some((i % 1000) as i128 * 100 + 25))
        .collect::<Decimal128Array>()
        .with_precision_and_scale(12, 2)
        .expect("a valid decimal type");
    // 2024-01-01 10:MM:SS UTC.
    let ordered_at: TimestampMicrosecondArray = rows
        .clone()
        .map(|i| Some((1_704_103_200 + ((i / 60) % 60 * 60 + i % 60) as i64) * 1_000_000))
        .collect();
    let source: StringArray = rows
        .clone()
        .map(|i| Some(format!("run/orders/orders_{:02}.jsonl", i % 10)))
        .collect();
    let position: Int64Array = rows.map(|i| Some((i / 10 + 1) as i64)).collect();
    let schema = Schema::new(vec![
        Field::new("id", DataType::Int64, true),
        Field::new("customer", DataType::Utf8, true),
        Field::new("amount", DataType::Decimal128(12, 2), true),
        Field::new(
            "ordered_at",
            DataType::Timestamp(TimeUnit::Microsecond, None),
            true,
        ),
        Field::new("_elt_source", DataType::Utf8, true),
        Field::new("_elt_position", DataType::Int64, true),
    ]);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id),
        Arc::new(customer),
        Arc::new(amount),
        Arc::new(ordered_at),
        Arc::new(source),
        Arc::new(position),
    ];
    RecordBatch::try_new(Arc::new(schema), columns).expect("one array per column")
}
