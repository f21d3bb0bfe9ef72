//! `elt generate ecommerce`: the raw data of an online shop, deterministic (the same options
//! give the same bytes), with the dirt real sources have, and the business figures that the
//! warehouse built from it must report.
//!
//! Output, one file per table and day (`<table>/<YYYY-MM-DD>.<ext>`), so that a run with more
//! days writes the same files plus new ones:
//! - CSV (shop database exports): `customers` (new and changed), `products` (new and
//!   changed), `inventory_movements`.
//! - JSON lines (services and tracking): `orders`, `order_items`, `payments` (charges and
//!   refunds), `shipments`, `events` (clickstream).
//! - `expected.json`: figures computed here from the generated truth, without SQL, after the
//!   cleaning rules below.
//!
//! Dirt, at the rates in [`simulate::dirt`]: truncated JSON lines beside good ones; orders and
//! events written twice; events that arrive in the next day's file; timestamps written in
//! another time zone (with their offset); orders whose stated total is off; null emails and
//! countries.
//!
//! Cleaning rules (what the staging layer does, and what `expected.json` assumes):
//! 1. Lines that are not valid JSON are kept out of the clean layer and counted.
//! 2. A record written twice counts once (same id).
//! 3. Timestamps are converted to UTC; days and months are UTC.
//! 4. An order's amount is its items (quantity × unit price) plus shipping minus discount,
//!    whatever its stated total; revenue is that amount for orders not cancelled, in US
//!    dollars at seeds/currency_rates.csv, kept exact in micro-dollars (cents × basis points).
//! 5. The funnel counts distinct sessions with at least one event of each type.
//! 6. An active customer in a month placed an order (not cancelled) in it.

pub mod expected;
pub mod records;
pub mod simulate;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::{Duration, NaiveDate};
use rand::Rng;
use serde::Serialize;

use expected::Truth;
use simulate::{Shop, dirt};

/// What to generate.
#[derive(Debug, Clone)]
pub struct Options {
    /// 1.0 is about 100,000 orders in 30 days.
    pub scale: f64,
    pub seed: u64,
    pub start: NaiveDate,
    pub days: u32,
}

/// Rows written per table (in the order tables were first written), and the dirt lines.
#[derive(Debug, Default, Clone)]
pub struct Written {
    pub rows: Vec<(&'static str, u64)>,
    pub duplicates: BTreeMap<&'static str, u64>,
    pub malformed: BTreeMap<&'static str, u64>,
}

impl Written {
    pub fn total(&self) -> u64 {
        self.rows.iter().map(|(_, n)| n).sum()
    }

    fn add(&mut self, table: &'static str, rows: u64) {
        match self.rows.iter_mut().find(|(t, _)| *t == table) {
            Some((_, n)) => *n += rows,
            None => self.rows.push((table, rows)),
        }
    }
}

/// Generates the shop's data into `out` (created if needed).
pub fn generate(options: &Options, out: &Path) -> std::io::Result<Written> {
    let mut shop = Shop::new(options.seed, options.scale, options.start);
    let mut truth = Truth::default();
    let mut written = Written::default();
    let mut late_events = Vec::new();
    for index in 0..options.days {
        let date = options.start + Duration::days(index as i64);
        let day = shop.day(index);
        let mut files = DayFiles {
            out,
            date,
            rng: &mut shop.rng,
            written: &mut written,
        };
        files.csv("customers", &day.customers)?;
        files.csv("products", &day.products)?;
        files.csv("inventory_movements", &day.inventory)?;
        files.json_lines("orders", &day.orders, dirt::DUPLICATE_ORDER)?;
        files.json_lines("order_items", &day.order_items, 0.0)?;
        files.json_lines("payments", &day.payments, 0.0)?;
        files.json_lines("shipments", &day.shipments, 0.0)?;
        // Late events of the day before arrive with today's.
        let (late, on_time): (Vec<_>, Vec<_>) = day
            .events
            .into_iter()
            .partition(|_| files.rng.random_bool(dirt::LATE_EVENT));
        let mut events = std::mem::replace(&mut late_events, late);
        events.extend(on_time);
        files.json_lines("events", &events, dirt::DUPLICATE_EVENT)?;
        truth.add_day(&day.orders, &day.order_items, &events);
    }
    let expected = serde_json::to_string_pretty(&truth.figures(&written))?;
    fs::write(out.join("expected.json"), expected + "\n")?;
    Ok(written)
}

/// The files of one day.
struct DayFiles<'a> {
    out: &'a Path,
    date: NaiveDate,
    rng: &'a mut rand_chacha::ChaCha8Rng,
    written: &'a mut Written,
}

impl DayFiles<'_> {
    fn path(&self, table: &str, extension: &str) -> std::io::Result<PathBuf> {
        let dir = self.out.join(table);
        fs::create_dir_all(&dir)?;
        Ok(dir.join(format!("{}.{extension}", self.date.format("%Y-%m-%d"))))
    }

    /// A CSV file with a header row; none on a day without rows.
    fn csv<T: Serialize>(&mut self, table: &'static str, rows: &[T]) -> std::io::Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let mut writer = csv::Writer::from_writer(Vec::new());
        for row in rows {
            writer.serialize(row)?;
        }
        let bytes = writer.into_inner().map_err(|e| e.into_error())?;
        write_if_changed(&self.path(table, "csv")?, &bytes)?;
        self.written.add(table, rows.len() as u64);
        Ok(())
    }

    /// One JSON object per line; some written twice (`duplicate` of them), and now and then
    /// a truncated copy beside a good line.
    fn json_lines<T: Serialize>(
        &mut self,
        table: &'static str,
        rows: &[T],
        duplicate: f64,
    ) -> std::io::Result<()> {
        let mut file = Vec::new();
        let (mut duplicates, mut malformed) = (0, 0);
        for row in rows {
            let line = serde_json::to_string(row)?;
            writeln!(file, "{line}")?;
            if duplicate > 0.0 && self.rng.random_bool(duplicate) {
                writeln!(file, "{line}")?;
                duplicates += 1;
            }
            if self.rng.random_bool(dirt::MALFORMED_LINE) {
                writeln!(file, "{}", &line[..line.len() / 2])?;
                malformed += 1;
            }
        }
        write_if_changed(&self.path(table, "jsonl")?, &file)?;
        self.written.add(table, rows.len() as u64);
        *self.written.duplicates.entry(table).or_default() += duplicates;
        *self.written.malformed.entry(table).or_default() += malformed;
        Ok(())
    }
}

/// Writes a file unless it already holds these bytes: a run with more days leaves the earlier
/// days' files untouched (same modification time, so loaders do not see new versions).
fn write_if_changed(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if fs::read(path).is_ok_and(|old| old == bytes) {
        return Ok(());
    }
    fs::write(path, bytes)
}
