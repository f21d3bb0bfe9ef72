//! elt's core: reading a dbt-style project and compiling it.
//!
//! The pipeline, one module per stage, data flowing one way:
//!
//! | stage        | job                                                              |
//! |--------------|------------------------------------------------------------------|
//! | [`project`]  | project file, profile, files, properties YAML -> [`project::Project`] |
//! | [`template`] | Jinja environment: context functions, macros, dispatch           |
//! | [`graph`]    | the node graph (petgraph), cycles, selection                     |
//! | [`sql`]      | compiled SQL parsed per dialect (sqlparser)                      |
//! | [`manifest`] | the compiled project, written as `manifest.json`                 |
//! | [`adapter`]  | each warehouse's SQL and capabilities, one file per warehouse    |
//!
//! [`compile`] runs the stages in order and is what the CLI calls.

// Diagnostics are large by design (file, line, snippet, help) and only built on failures.
#![allow(clippy::result_large_err)]

pub mod adapter;
pub mod artifacts;
pub mod compile;
pub mod diagnostics;
pub mod graph;
pub mod manifest;
pub mod project;
pub mod sql;
pub mod stopwatch;
pub mod template;

/// The dbt version whose project format and artifacts elt follows.
pub const DBT_VERSION: &str = "1.11.0";

/// MD5 hex digest, as dbt uses for ids and hashes.
pub fn local_md5(text: &str) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(text.as_bytes()))
}
