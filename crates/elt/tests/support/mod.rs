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
