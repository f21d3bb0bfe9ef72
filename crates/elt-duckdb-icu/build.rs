//! Compiles DuckDB's `icu` extension (vendored in `icu/`, see README.md) and its registration
//! shim against the DuckDB that libduckdb-sys's bundled build compiles, with the same flags.

use std::path::{Path, PathBuf};

fn main() {
    let duckdb_include = PathBuf::from(
        std::env::var("DEP_DUCKDB_INCLUDE")
            .expect("libduckdb-sys's bundled build publishes its headers (the `bundled` feature)"),
    );
    let icu = Path::new("icu");
    let mut build = cc::Build::new();
    build
        .cpp(true)
        .flag_if_supported("-std=c++17")
        .flag_if_supported("/std:c++17")
        .flag_if_supported("/utf-8")
        .flag_if_supported("/bigobj")
        .warnings(false)
        .flag_if_supported("-w")
        .include(icu.join("include"))
        .include(icu.join("collation/include"))
        .include(icu.join("datetime/include"))
        .includes(duckdb_include_dirs(&duckdb_include))
        .file("src/register.cpp")
        .files(cpp_files(icu));
    // DuckDB's sources assume exactly one of DEBUG and NDEBUG, as libduckdb-sys chose them.
    let debug = std::env::var("DEBUG").is_ok_and(|v| v != "false" && v != "0");
    build.define(if debug { "DEBUG" } else { "NDEBUG" }, None);
    if std::env::var("CARGO_CFG_WINDOWS").is_ok() {
        build.define("DUCKDB_BUILD_LIBRARY", None);
    }
    build.compile("elt_duckdb_icu");
    println!("cargo:rerun-if-changed=icu");
    println!("cargo:rerun-if-changed=src/register.cpp");
}

/// The include folders DuckDB's own headers need: `src/include`, and each bundled library's
/// folder and its `include/` (fmt, zstd, ...), in the sources libduckdb-sys unpacked.
/// (Reading its manifest.json would need serde_json here, and a build dependency with other
/// features than libduckdb-sys's would make cargo build DuckDB once more.)
fn duckdb_include_dirs(include: &Path) -> Vec<PathBuf> {
    let third_party = include.join("../../third_party");
    let mut dirs = vec![include.to_path_buf()];
    for entry in std::fs::read_dir(&third_party).expect("DuckDB's bundled libraries") {
        let dir = entry.expect("a folder entry").path();
        if dir.is_dir() {
            dirs.push(dir.join("include"));
            dirs.push(dir);
        }
    }
    dirs.retain(|d| d.is_dir());
    dirs.sort();
    dirs
}

/// Every `.cpp` file under `dir`, in a stable order.
fn cpp_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).expect("the vendored icu folder") {
            let path = entry.expect("a folder entry").path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "cpp") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}
