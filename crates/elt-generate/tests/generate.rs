//! The generator is deterministic, extends by whole days, and its expected figures describe
//! the files it wrote.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::NaiveDate;
use elt_generate::{Options, generate};

fn options(days: u32) -> Options {
    Options {
        scale: 0.01,
        seed: 7,
        start: NaiveDate::from_ymd_opt(2024, 3, 1).unwrap(),
        days,
    }
}

/// Every file under `dir`, by relative path, with its bytes.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for table in std::fs::read_dir(dir).unwrap() {
        let table = table.unwrap().path();
        if table.is_dir() {
            for file in std::fs::read_dir(&table).unwrap() {
                let file = file.unwrap().path();
                let name = file.strip_prefix(dir).unwrap().display().to_string();
                out.insert(name, std::fs::read(&file).unwrap());
            }
        } else {
            let name = table.strip_prefix(dir).unwrap().display().to_string();
            out.insert(name, std::fs::read(&table).unwrap());
        }
    }
    out
}

#[test]
fn the_same_options_give_the_same_bytes() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate(&options(3), a.path()).unwrap();
    generate(&options(3), b.path()).unwrap();
    let (a, b) = (files(a.path()), files(b.path()));
    assert!(a.len() > 20, "{:?}", a.keys());
    assert_eq!(a, b);
}

#[test]
fn more_days_keep_the_earlier_days_files() {
    let (three, four) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    generate(&options(3), three.path()).unwrap();
    generate(&options(4), four.path()).unwrap();
    let (three, four) = (files(three.path()), files(four.path()));
    for (name, bytes) in &three {
        if name != "expected.json" {
            assert_eq!(Some(bytes), four.get(name), "{name}");
        }
    }
    assert!(four.keys().any(|k| k.ends_with("2024-03-04.jsonl")));
}

#[test]
fn expected_figures_describe_the_files() {
    let dir = tempfile::tempdir().unwrap();
    generate(&options(5), dir.path()).unwrap();
    let expected: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("expected.json")).unwrap()).unwrap();
    // Read back the orders and events files: good lines once, the rest malformed.
    let read = |table: &str| -> (Vec<serde_json::Value>, u64, u64) {
        let (mut good, mut seen, mut duplicates, mut malformed) =
            (Vec::new(), BTreeSet::new(), 0, 0);
        for (_, bytes) in files(dir.path())
            .iter()
            .filter(|(k, _)| k.starts_with(table))
        {
            for line in String::from_utf8_lossy(bytes).lines() {
                match serde_json::from_str::<serde_json::Value>(line) {
                    Ok(record) if seen.insert(line.to_string()) => good.push(record),
                    Ok(_) => duplicates += 1,
                    Err(_) => malformed += 1,
                }
            }
        }
        (good, duplicates, malformed)
    };
    let (orders, duplicates, malformed) = read("orders/");
    assert_eq!(expected["raw_rows"]["orders"], orders.len() as u64);
    assert_eq!(expected["duplicate_lines"]["orders"], duplicates);
    assert_eq!(expected["malformed_lines"]["orders"], malformed);
    let per_status: u64 = expected["orders_per_status"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(per_status, orders.len() as u64);
    let (events, duplicates, _) = read("events/");
    assert_eq!(expected["duplicate_lines"]["events"], duplicates);
    let purchase_sessions: BTreeSet<&str> = events
        .iter()
        .filter(|e| e["event_type"] == "purchase")
        .map(|e| e["session_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        expected["funnel_sessions"]["purchase"],
        purchase_sessions.len() as u64
    );
    // Dirt is there to be cleaned.
    assert!(
        orders
            .iter()
            .any(|o| o["ordered_at"].as_str().unwrap().contains('T'))
    );
    assert!(expected["mismatched_order_totals"].as_u64().unwrap() <= orders.len() as u64);
}
