//! Files written to the target folder: compiled SQL and `manifest.json`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::compile::{Compiled, compiled_path};
use crate::diagnostics::{Diagnostic, Errors, Result};
use crate::manifest::{Node, json};

/// Writes `target/compiled/<project>/...` for the given compiled nodes. Folders are created
/// once, and a file whose content is already what it would be written is left alone.
pub fn write_compiled_sql(target_dir: &Path, nodes: &[&Node]) -> Result<()> {
    let files: Vec<(PathBuf, &str)> = nodes
        .iter()
        .filter_map(|node| {
            Some((
                compiled_path(target_dir, node),
                node.compiled_code.as_deref()?,
            ))
        })
        .collect();
    let folders: BTreeSet<&Path> = files.iter().filter_map(|(path, _)| path.parent()).collect();
    for folder in folders {
        std::fs::create_dir_all(folder)
            .map_err(|e| Diagnostic::error(format!("cannot create {}: {e}", folder.display())))?;
    }
    let errors: Vec<Diagnostic> = files
        .par_iter()
        .filter(|(path, sql)| std::fs::read(path).ok().as_deref() != Some(sql.as_bytes()))
        .filter_map(|(path, sql)| {
            std::fs::write(path, sql)
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
    let clock = crate::stopwatch::Stopwatch::start();
    let (parent_map, child_map) = compiled.dag.maps();
    clock.lap("parent and child maps");
    json::write(
        &compiled.manifest,
        &parent_map,
        &child_map,
        &target_dir.join("manifest.json"),
    )
}
