//! Every project under `fixtures/broken/` is broken in one way. Each must fail with exit code 1,
//! no panic, and exactly the error in its snapshot (`snapshots/broken_projects__<case>.snap`):
//! one clear message that names the file and line and says what to do.
//!
//! A case folder is laid over `fixtures/broken/_base` (a working project). It may hold `args`
//! (the command line, one argument per line; default `compile`) and `remove` (base files to
//! delete).

mod support;

use std::path::Path;

use support::{copy_dir, fixtures};

fn run_case(case: &Path) -> (i32, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = fixtures().join("broken");
    copy_dir(&broken.join("_base"), dir.path());
    copy_dir(case, dir.path());
    let read = |name: &str| std::fs::read_to_string(case.join(name)).ok();
    for file in read("remove")
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.is_empty())
    {
        std::fs::remove_file(dir.path().join(file)).expect("remove base file");
    }
    let _ = std::fs::remove_file(dir.path().join("args"));
    let _ = std::fs::remove_file(dir.path().join("remove"));
    let args: Vec<String> = match read("args") {
        Some(text) => text.lines().map(str::to_string).collect(),
        None => vec!["compile".into()],
    };
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_elt"))
        .args(&args)
        .current_dir(dir.path())
        .env_remove("ELT_PROFILES_DIR")
        .env_remove("DBT_PROFILES_DIR")
        .env_remove("ELT_PROJECT_DIR")
        .env("HOME", "/nonexistent-home")
        .output()
        .expect("run elt");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output.status.code().unwrap_or(-1), stderr)
}

#[test]
fn broken_projects_fail_with_one_clear_error() {
    let root = fixtures().join("broken");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("broken fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.is_dir() && !p.ends_with("_base"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 25,
        "at least 25 broken projects, found {}",
        cases.len()
    );
    for case in cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let (code, stderr) = run_case(&case);
        assert_eq!(code, 1, "{name}: exit code\n{stderr}");
        assert!(!stderr.contains("panicked"), "{name} panicked:\n{stderr}");
        assert_eq!(
            stderr.matches("error:").count(),
            1,
            "{name}: exactly one error\n{stderr}"
        );
        insta::assert_snapshot!(name, stderr);
    }
}

#[test]
fn the_base_project_compiles() {
    let dir = tempfile::tempdir().expect("temp dir");
    copy_dir(&fixtures().join("broken/_base"), dir.path());
    let output = support::elt(dir.path(), &["compile"]);
    assert!(output.status.success(), "{}", support::stderr(&output));
}
