//! dbt-style status lines as nodes finish, with a progress bar while attached to a terminal,
//! and the summary at the end of a run.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::time::Duration;

use elt_core::manifest::{Node, ResourceType};
use elt_execute::{Reporter, RunResult, Status};
use indicatif::{ProgressBar, ProgressStyle};

pub struct StatusLines {
    quiet: bool,
    bar: Option<ProgressBar>,
}

impl StatusLines {
    pub fn new(total: usize, quiet: bool) -> Self {
        let bar = (!quiet && total > 0 && std::io::stdout().is_terminal()).then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template("{bar:40} {pos}/{len} {elapsed_precise} {msg}")
                    .expect("valid progress template"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        StatusLines { quiet, bar }
    }

    fn print(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.println(line),
            None => println!("{line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Reporter for StatusLines {
    fn started(&self, node: &Node, _index: usize, _total: usize) {
        if let Some(bar) = &self.bar {
            bar.set_message(node.name.clone());
        }
    }

    fn finished(&self, node: &Node, result: &RunResult, index: usize, total: usize) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if self.quiet {
            return;
        }
        let (message, status) = describe(node, result);
        let head = format!("{index} of {total} {message} ");
        let dots = ".".repeat(80usize.saturating_sub(head.chars().count()).max(3));
        self.print(format!("{head}{dots} [{status}]"));
    }
}

/// `OK created sql table model main.orders` and `OK in 0.02s`, as dbt words them.
fn describe(node: &Node, result: &RunResult) -> (String, String) {
    let seconds = format!("in {:.2}s", result.execution_time());
    let relation = node
        .relation
        .as_ref()
        .map(|r| format!("{}.{}", r.schema, r.identifier))
        .unwrap_or_else(|| node.name.clone());
    let what = match node.resource_type {
        ResourceType::Seed => format!("seed file {relation}"),
        ResourceType::Snapshot => format!("snapshot {relation}"),
        ResourceType::Test => node.name.clone(),
        // dbt's `model::test`.
        ResourceType::UnitTest => match node.unique_id.split('.').nth(2) {
            Some(model) => format!("{model}::{}", node.name),
            None => node.name.clone(),
        },
        _ => format!("sql {} model {relation}", node.materialized()),
    };
    let kind = match node.resource_type {
        ResourceType::UnitTest => ResourceType::Test,
        other => other,
    };
    let adapter = result.adapter_message.as_deref().unwrap_or("OK");
    let failures = result.failures.unwrap_or(0);
    match (kind, result.status) {
        (_, Status::Skipped) => (format!("SKIP {what}"), "SKIP".into()),
        (ResourceType::Test, Status::Pass) => (format!("PASS {what}"), format!("PASS {seconds}")),
        (ResourceType::Test, Status::Warn) => (
            format!("WARN {failures} {what}"),
            format!("WARN {failures} {seconds}"),
        ),
        (ResourceType::Test, Status::Fail) => (
            format!("FAIL {failures} {what}"),
            format!("FAIL {failures} {seconds}"),
        ),
        (ResourceType::Test, _) => (format!("ERROR {what}"), format!("ERROR {seconds}")),
        (ResourceType::Seed, Status::Success) => {
            (format!("OK loaded {what}"), format!("{adapter} {seconds}"))
        }
        (ResourceType::Snapshot, Status::Success) => (
            format!("OK snapshotted {what}"),
            format!("{adapter} {seconds}"),
        ),
        (_, Status::Success) => (format!("OK created {what}"), format!("{adapter} {seconds}")),
        (ResourceType::Seed, _) => (format!("ERROR loading {what}"), format!("ERROR {seconds}")),
        (ResourceType::Snapshot, _) => (
            format!("ERROR snapshotting {what}"),
            format!("ERROR {seconds}"),
        ),
        _ => (format!("ERROR creating {what}"), format!("ERROR {seconds}")),
    }
}

/// `3 view models, 2 table models, 5 data tests`.
pub fn what_ran(nodes: &[&Node]) -> String {
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    for node in nodes {
        let kind = match node.resource_type {
            ResourceType::Model => format!("{} model", node.materialized()),
            ResourceType::Test => "data test".into(),
            ResourceType::UnitTest => "unit test".into(),
            other => other.as_str().to_string(),
        };
        *counts.entry(kind).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(kind, n)| format!("{n} {kind}{}", if n == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `Done. PASS=10 WARN=0 ERROR=1 SKIP=2 TOTAL=13`.
pub fn totals(results: &[RunResult]) -> String {
    let count = |wanted: &[Status]| {
        results
            .iter()
            .filter(|r| wanted.contains(&r.status))
            .count()
    };
    format!(
        "Done. PASS={} WARN={} ERROR={} SKIP={} TOTAL={}",
        count(&[Status::Success, Status::Pass]),
        count(&[Status::Warn]),
        count(&[Status::Error, Status::Fail]),
        count(&[Status::Skipped]),
        results.len()
    )
}
