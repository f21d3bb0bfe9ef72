//! Helpers shared by the integration tests: fixture projects copied to a temporary folder, the
//! `elt` binary, and the compiler called as a library.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

use elt_core::compile::{Compiled, compile};
use elt_core::project::{LoadOptions, Project};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// A copy of `tests/fixtures/<name>` in a temporary folder, so that runs write their target/
/// folder there and never into the repository.
pub fn fixture(name: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixtures().join(name), dir.path());
    dir
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read fixture dir") {
        let entry = entry.expect("dir entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            if entry.file_name() != "target" {
                copy_dir(&entry.path(), &target);
            }
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// Runs `elt` with `args` in `dir`.
pub fn elt(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_elt"))
        .args(args)
        .current_dir(dir)
        .env_remove("ELT_PROFILES_DIR")
        .env_remove("DBT_PROFILES_DIR")
        .env("HOME", dir)
        .output()
        .expect("run elt")
}

/// Runs `elt` and asserts that it succeeded; returns what it printed.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let output = elt(dir, args);
    assert!(
        output.status.success(),
        "elt {args:?} failed:\n{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Loads and compiles a project folder with the given target.
pub fn compile_dir(dir: &Path, target: Option<&str>) -> Compiled {
    let project = Project::load(&LoadOptions {
        project_dir: dir.to_path_buf(),
        profiles_dir: Some(dir.to_path_buf()),
        target: target.map(str::to_string),
        vars: None,
        target_path: None,
    })
    .unwrap_or_else(|e| panic!("load {}:\n{e}", dir.display()));
    compile(&project).unwrap_or_else(|e| panic!("compile {}:\n{e}", dir.display()))
}

/// Compiled SQL of a node by name.
pub fn sql<'a>(compiled: &'a Compiled, name: &str) -> &'a str {
    compiled
        .manifest
        .nodes
        .values()
        .find(|n| n.name == name)
        .and_then(|n| n.compiled_code.as_deref())
        .unwrap_or_else(|| panic!("no compiled node named {name}"))
}

/// A project made of `files` (path, contents) in a temporary folder, with a profile for a
/// DuckDB file `warehouse.duckdb` in it.
pub fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut all = vec![
        ("elt_project.yml", "name: shop\nprofile: shop\n"),
        (
            "profiles.yml",
            "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: warehouse.duckdb\n      threads: 2\n",
        ),
    ];
    all.retain(|(path, _)| !files.iter().any(|(p, _)| p == path));
    all.extend_from_slice(files);
    for (path, contents) in all {
        write(dir.path(), path, contents);
    }
    dir
}

/// Writes a file of a project, creating its folder.
pub fn write(dir: &Path, path: &str, contents: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().expect("parent")).expect("create dir");
    std::fs::write(path, contents).expect("write file");
}

/// Rows of a query on a DuckDB file, every value as text (NULL as `NULL`).
pub fn query(db: &Path, sql: &str) -> Vec<Vec<String>> {
    let connection = duckdb::Connection::open(db).expect("open the DuckDB file");
    let mut statement = connection.prepare(sql).expect("prepare");
    let mut rows = statement.query([]).expect("query");
    let mut out = Vec::new();
    while let Some(row) = rows.next().expect("row") {
        let count = row.as_ref().column_count();
        out.push(
            (0..count)
                .map(|i| text(row.get_ref(i).expect("value").to_owned()))
                .collect(),
        );
    }
    out
}

fn text(value: duckdb::types::Value) -> String {
    use duckdb::types::Value;
    match value {
        Value::Null => "NULL".to_string(),
        Value::Text(s) => s,
        Value::Boolean(b) => b.to_string(),
        Value::TinyInt(v) => v.to_string(),
        Value::SmallInt(v) => v.to_string(),
        Value::Int(v) => v.to_string(),
        Value::BigInt(v) => v.to_string(),
        Value::HugeInt(v) => v.to_string(),
        Value::UBigInt(v) => v.to_string(),
        Value::Double(v) => v.to_string(),
        Value::Decimal(d) => d.to_string(),
        other => format!("{other:?}"),
    }
}

/// `target/run_results.json`: each result's unique id and status, in file order.
pub fn statuses(dir: &Path) -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(dir.join("target/run_results.json")).expect("run_results.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    json["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap_or_default().to_string(),
                r["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The status of one node in the last `run_results.json`.
pub fn status_of(dir: &Path, unique_id: &str) -> String {
    statuses(dir)
        .into_iter()
        .find(|(id, _)| id == unique_id)
        .map(|(_, status)| status)
        .unwrap_or_else(|| panic!("{unique_id} is not in run_results.json"))
}
