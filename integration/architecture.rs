//! The architecture's rules, checked on the source tree: a warehouse's knowledge lives in its
//! adapter files (docs/adding-a-warehouse.md), and errors are told apart by their kind, not by
//! their words (docs/error-codes.md).

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

/// Where an error's text is read because its source gives nothing else: librdkafka's log lines
/// (a TLS disconnect) and object_store's generic errors (an S3 refusal's status). Warehouse
/// errors are classified by their kind, never by their words.
const SOURCE_ERRORS_READ_AS_TEXT: [&str; 2] = [
    "crates/elt-load/src/kafka_client.rs",
    "crates/elt-load/src/objects.rs",
];

/// What reading an error's words looks like.
const MESSAGE_MATCHES: [&str; 3] = [
    "message.contains(",
    "to_string().contains(",
    "message.starts_with(",
];

/// Every line of product code (a file's unit tests aside) that contains one of `patterns`,
/// outside the files `allowed`, as `path:line: text`.
fn lines_matching(patterns: &[&str], allowed: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    rust_files(&root.join("crates"), &mut files);
    assert!(
        files.len() > 50,
        "read only {} files: is the tree there?",
        files.len()
    );
    let mut found = Vec::new();
    for file in &files {
        let relative = file.strip_prefix(root).expect("under the root");
        let relative = relative.to_string_lossy().replace('\\', "/");
        if allowed.contains(&relative.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(file).expect("a source file");
        // A file's unit tests come last, after `#[cfg(test)]`.
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (number, line) in code.lines().enumerate() {
            if patterns.iter().any(|p| line.contains(p)) {
                found.push(format!("{relative}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    found
}

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
    assert_eq!(
        lines_matching(&WAREHOUSES, &ADAPTER_FILES),
        Vec::<String>::new(),
        "code outside the adapter files names a warehouse: ask the adapter instead"
    );
}

#[test]
fn no_error_is_classified_by_its_words() {
    assert_eq!(
        lines_matching(&MESSAGE_MATCHES, &SOURCE_ERRORS_READ_AS_TEXT),
        Vec::<String>::new(),
        "an error is told by its words: give it a kind where it is made (ErrorKind)"
    );
}
