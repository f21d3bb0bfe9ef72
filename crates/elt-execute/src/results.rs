//! The outcome of each node, and `target/run_results.json` with dbt's field names (schema v6),
//! which `elt retry` reads back.

use std::path::Path;

use chrono::{DateTime, Utc};
use elt_core::diagnostics::Diagnostic;
use serde_json::{Value as Json, json};

/// dbt's statuses: models, seeds and snapshots succeed or err; tests pass, warn or fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Success,
    Error,
    Skipped,
    Pass,
    Warn,
    Fail,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "success",
            Status::Error => "error",
            Status::Skipped => "skipped",
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
        }
    }
}

/// What happened to one node.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub unique_id: String,
    pub status: Status,
    /// dbt's `message`: the adapter's response, a test's failure count, or the error.
    pub message: String,
    /// Failing rows of a test.
    pub failures: Option<i64>,
    /// The adapter response's `_message` and `rows_affected`, when a statement ran.
    pub adapter_message: Option<String>,
    pub rows_affected: Option<usize>,
    pub started_at: DateTime<Utc>,
    pub completed_at: DateTime<Utc>,
    pub thread: usize,
    /// The SQL that ran (incremental models: the incremental render).
    pub compiled_code: Option<String>,
    pub relation_name: Option<String>,
    /// The error or failure to print after the summary.
    pub diagnostic: Option<Diagnostic>,
}

impl RunResult {
    pub fn execution_time(&self) -> f64 {
        (self.completed_at - self.started_at).as_seconds_f64()
    }
}

fn timestamp(time: &DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// Writes `run_results.json`. `command` and `args` are recorded for `elt retry`.
pub fn write(
    target_dir: &Path,
    invocation_id: &str,
    results: &[RunResult],
    elapsed: f64,
    args: Json,
) -> std::io::Result<()> {
    let results: Vec<Json> = results.iter().map(result_json).collect();
    let document = json!({
        "metadata": {
            "dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json",
            "dbt_version": elt_core::DBT_VERSION,
            "elt_version": env!("CARGO_PKG_VERSION"),
            "generated_at": timestamp(&Utc::now()),
            "invocation_id": invocation_id,
            "env": {},
        },
        "results": results,
        "elapsed_time": elapsed,
        "args": args,
    });
    std::fs::create_dir_all(target_dir)?;
    let path = target_dir.join("run_results.json");
    let staged = target_dir.join("run_results.json.tmp");
    std::fs::write(&staged, serde_json::to_vec_pretty(&document)?)?;
    std::fs::rename(staged, path)
}

/// A result as `on-run-end` hooks see it in dbt's `results`: its run_results.json entry with
/// the node (as the manifest writes it) under `node`.
pub fn hook_result(result: &RunResult, node: Option<&elt_core::manifest::Node>) -> Json {
    let mut json = result_json(result);
    json["node"] = node.map_or(Json::Null, elt_core::manifest::json::node_json);
    json
}

fn result_json(result: &RunResult) -> Json {
    let mut adapter_response = serde_json::Map::new();
    if let Some(message) = &result.adapter_message {
        adapter_response.insert("_message".into(), json!(message));
        adapter_response.insert(
            "code".into(),
            json!(message.split(' ').next().unwrap_or_default()),
        );
    }
    if let Some(rows) = result.rows_affected {
        adapter_response.insert("rows_affected".into(), json!(rows));
    }
    let time = timestamp(&result.started_at);
    let done = timestamp(&result.completed_at);
    json!({
        "status": result.status.as_str(),
        "timing": [
            {"name": "compile", "started_at": time, "completed_at": time},
            {"name": "execute", "started_at": time, "completed_at": done},
        ],
        "thread_id": format!("Thread-{}", result.thread),
        "execution_time": result.execution_time(),
        "adapter_response": adapter_response,
        "message": result.message,
        "failures": result.failures,
        "unique_id": result.unique_id,
        "compiled": result.compiled_code.is_some(),
        "compiled_code": result.compiled_code,
        "relation_name": result.relation_name,
    })
}

/// The previous run's command arguments and the ids `elt retry` must run again.
pub struct Previous {
    pub args: Json,
    pub to_retry: Vec<String>,
}

/// Reads `run_results.json` for `elt retry`.
pub fn read_previous(target_dir: &Path) -> Result<Previous, String> {
    let path = target_dir.join("run_results.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let document: Json = serde_json::from_str(&text)
        .map_err(|e| format!("{} is not valid JSON: {e}", path.display()))?;
    let to_retry = document["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| {
            matches!(
                r["status"].as_str(),
                Some("error" | "skipped" | "fail" | "runtime error")
            )
        })
        .filter_map(|r| r["unique_id"].as_str().map(str::to_string))
        .collect();
    Ok(Previous {
        args: document["args"].clone(),
        to_retry,
    })
}
