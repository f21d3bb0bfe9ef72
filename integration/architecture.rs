//! The architecture's rules, checked on the source tree: a warehouse's knowledge lives in its
//! adapter files (docs/adding-a-warehouse.md).

use std::path::{Path, PathBuf};

/// The files allowed to name a warehouse: its SQL (`elt-core`'s adapter) and its connection
/// (`elt-warehouse`), with their registries.
const ADAPTER_FILES: [&str; 8] = [
    "crates/elt-core/src/adapter/mod.rs",
    "crates/elt-core/src/adapter/duckdb.rs",
    "crates/elt-core/src/adapter/postgres.rs",
    "crates/elt-core/src/adapter/clickhouse.rs",
    "crates/elt-warehouse/src/lib.rs",
    "crates/elt-warehouse/src/duck.rs",
    "crates/elt-warehouse/src/postgres.rs",
    "crates/elt-warehouse/src/clickhouse.rs",
];

const WAREHOUSES: [&str; 3] = [
    "Dialect::DuckDb",
    "Dialect::Postgres",
    "Dialect::ClickHouse",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source folder") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            // Tests may name warehouses: they test each.
            if path.file_name().is_some_and(|n| n != "tests") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_code_outside_the_adapters_names_a_warehouse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("crates"), &mut files);
    let mut sites = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(root).expect("under the root");
        let relative = relative.to_string_lossy().replace('\\', "/");
        if ADAPTER_FILES.contains(&relative.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("a source file");
        // A file's unit tests come last, after `#[cfg(test)]`.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (number, line) in code.lines().enumerate() {
            if WAREHOUSES.iter().any(|w| line.contains(w)) {
                sites.push(format!("{relative}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(
        files.len() > 50,
        "read only {} files: is the tree there?",
        files.len()
    );
    assert_eq!(
        sites,
        Vec::<String>::new(),
        "code outside the adapter files names a warehouse: ask the adapter instead"
    );
}
