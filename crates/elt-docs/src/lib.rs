//! Stage 10: the docs site. `elt docs generate` reads the warehouse catalog ([`catalog`]),
//! computes column lineage from the compiled SQL ([`lineage`]) and writes a static site
//! ([`site`]) that `elt docs serve` ([`serve`]) serves on 127.0.0.1. Everything the site needs
//! is in the binary: it works offline.

pub mod catalog;
pub mod lineage;
mod markdown;
pub mod serve;
pub mod site;

use std::path::Path;

/// Writes a file whole or not at all: a reader never sees half of it.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}
