//! Files written to the target folder: compiled SQL and `manifest.json`.

use std::path::Path;

use rayon::prelude::*;

use crate::compile::{Compiled, compiled_path};
use crate::diagnostics::{Diagnostic, Errors, Result};
use crate::manifest::json;

/// Writes `target/compiled/<project>/...` for every compiled node.
pub fn write_compiled_sql(target_dir: &Path, compiled: &Compiled) -> Result<()> {
    let errors: Vec<Diagnostic> = compiled
        .manifest
        .nodes
        .par_iter()
        .filter_map(|(_, node)| {
            let sql = node.compiled_code.as_ref()?;
            let path = compiled_path(target_dir, node);
            let write = || -> std::io::Result<()> {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir)?;
                }
                std::fs::write(&path, sql)
            };
            write()
                .err()
                .map(|e| Diagnostic::error(format!("cannot write {}: {e}", path.display())))
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Errors(errors))
    }
}

/// Writes `target/manifest.json`.
pub fn write_manifest(target_dir: &Path, compiled: &Compiled) -> Result<()> {
    let (parent_map, child_map) = compiled.dag.maps();
    json::write(
        &compiled.manifest,
        &parent_map,
        &child_map,
        &target_dir.join("manifest.json"),
    )
}
