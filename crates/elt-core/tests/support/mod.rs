//! Helpers for the compiler's tests: fixture projects, small projects written on the fly, and
//! the compiler called as a library. The `elt` package's integration tests include this file
//! too (`integration/support`), so the projects here serve both.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use elt_core::compile::{Compiled, compile};
use elt_core::project::{LoadOptions, Project};

/// Projects shared by the compiler's tests and the command's: `showcase`, `jaffle_shop`.
pub fn fixtures() -> PathBuf {
    // This file is compiled into elt-core's tests and into the `elt` package's (at the
    // workspace root), each with its own manifest folder.
    let package = Path::new(env!("CARGO_MANIFEST_DIR"));
    [
        package.join("tests/fixtures"),
        package.join("crates/elt-core/tests/fixtures"),
    ]
    .into_iter()
    .find(|folder| folder.join("showcase").is_dir())
    .expect("elt-core's tests/fixtures")
}

/// A copy of `fixtures()/<name>` in a temporary folder, so that runs write their target/
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

/// Loads a project folder, with its own profiles.yml, for the given target.
pub fn load_dir(dir: &Path, target: Option<&str>) -> Project {
    Project::load(&LoadOptions {
        project_dir: dir.to_path_buf(),
        profiles_dir: Some(dir.to_path_buf()),
        target: target.map(str::to_string),
        vars: None,
        target_path: None,
    })
    .unwrap_or_else(|e| panic!("load {}:\n{e}", dir.display()))
}

/// Loads and compiles a project folder with the given target.
pub fn compile_dir(dir: &Path, target: Option<&str>) -> Compiled {
    let project = load_dir(dir, target);
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
