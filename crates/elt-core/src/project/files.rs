//! Finding the project's files: models, seeds, tests, macros, snapshots, analyses, properties
//! YAML and docs, each under the folders the project file names.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use sha2::{Digest, Sha256};
use walkdir::WalkDir;

use super::config::ProjectConfig;
use crate::diagnostics::{Diagnostic, Result};

/// A file of the project, read.
#[derive(Debug, Clone)]
pub struct ProjectFile {
    /// Relative to the project root, e.g. `models/staging/stg_orders.sql`.
    pub path: PathBuf,
    /// Relative to its resource folder, e.g. `staging/stg_orders.sql` (dbt's `path`).
    pub resource_relative: PathBuf,
    pub contents: String,
    /// sha256 of the bytes, hex.
    pub checksum: String,
}

impl ProjectFile {
    /// The file name without extension: a model's name.
    pub fn stem(&self) -> String {
        self.path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    }

    /// The folders between the resource folder and the file, for the node's fqn.
    pub fn folders(&self) -> Vec<String> {
        self.resource_relative
            .parent()
            .map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Default)]
pub struct ProjectFiles {
    pub models: Vec<ProjectFile>,
    pub seeds: Vec<ProjectFile>,
    pub singular_tests: Vec<ProjectFile>,
    /// Macro files, including generic tests under `tests/generic/`.
    pub macros: Vec<ProjectFile>,
    pub snapshots: Vec<ProjectFile>,
    pub analyses: Vec<ProjectFile>,
    pub properties: Vec<ProjectFile>,
    pub docs: Vec<ProjectFile>,
}

impl ProjectFiles {
    /// Makes every path relative to a folder `dir` levels above (a package's files, read
    /// from its own root, named from the root project's).
    pub fn rebase(&mut self, dir: &Path) {
        for list in [
            &mut self.models,
            &mut self.seeds,
            &mut self.singular_tests,
            &mut self.macros,
            &mut self.snapshots,
            &mut self.analyses,
            &mut self.properties,
            &mut self.docs,
        ] {
            for file in list.iter_mut() {
                file.path = dir.join(&file.path);
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Model,
    Seed,
    SingularTest,
    Macro,
    Snapshot,
    Analysis,
    Properties,
    Docs,
}

/// Lists and reads every file of the project. Returns the files and warnings (e.g. Python models).
pub fn discover(root: &Path, config: &ProjectConfig) -> Result<(ProjectFiles, Vec<Diagnostic>)> {
    let mut found: Vec<(Kind, String, PathBuf)> = Vec::new();
    let mut warnings = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let folders = [
        (&config.model_paths, Kind::Model),
        (&config.seed_paths, Kind::Seed),
        (&config.test_paths, Kind::SingularTest),
        (&config.macro_paths, Kind::Macro),
        (&config.snapshot_paths, Kind::Snapshot),
        (&config.analysis_paths, Kind::Analysis),
    ];
    for (dirs, kind) in folders {
        for dir in dirs {
            for path in walk(root, dir) {
                let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
                let file_kind = match (ext, kind) {
                    ("yml" | "yaml", _) => Kind::Properties,
                    ("md", _) => Kind::Docs,
                    ("sql", Kind::SingularTest) if in_test_subfolder(&path, dir, "generic") => {
                        Kind::Macro
                    }
                    // Unit tests' fixtures (dbt 1.8), not tests.
                    (_, Kind::SingularTest) if in_test_subfolder(&path, dir, "fixtures") => {
                        continue;
                    }
                    ("sql", k) => k,
                    ("csv", Kind::Seed) => Kind::Seed,
                    ("py", Kind::Model) => {
                        warnings.push(
                            Diagnostic::warning(
                                "Python models are not supported; this file is skipped",
                            )
                            .at(&path, 0, 0)
                            .with_help("write the model in SQL"),
                        );
                        continue;
                    }
                    _ => continue,
                };
                if seen.insert((path.clone(), file_kind as u8)) {
                    found.push((file_kind, dir.clone(), path));
                }
            }
        }
    }
    if let Some(docs_paths) = &config.docs_paths {
        found.retain(|(k, _, _)| *k != Kind::Docs);
        for dir in docs_paths {
            for path in walk(root, dir) {
                if path.extension().is_some_and(|e| e == "md") {
                    found.push((Kind::Docs, dir.clone(), path));
                }
            }
        }
    }
    let read: Vec<(Kind, ProjectFile)> = found
        .into_par_iter()
        .map(|(kind, dir, path)| read_file(root, &dir, path, kind == Kind::Seed).map(|f| (kind, f)))
        .collect::<Result<_>>()?;
    let mut files = ProjectFiles::default();
    for (kind, file) in read {
        let list = match kind {
            Kind::Model => &mut files.models,
            Kind::Seed => &mut files.seeds,
            Kind::SingularTest => &mut files.singular_tests,
            Kind::Macro => &mut files.macros,
            Kind::Snapshot => &mut files.snapshots,
            Kind::Analysis => &mut files.analyses,
            Kind::Properties => &mut files.properties,
            Kind::Docs => &mut files.docs,
        };
        list.push(file);
    }
    Ok((files, warnings))
}

/// Files under `root/dir`, relative to `root`, in a stable order; hidden entries are skipped.
fn walk(root: &Path, dir: &str) -> Vec<PathBuf> {
    let base = root.join(dir);
    if !base.is_dir() {
        return Vec::new();
    }
    WalkDir::new(&base)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.path().strip_prefix(root).ok().map(Path::to_path_buf))
        .collect()
}

/// Whether `path` is under `<test_dir>/<folder>/`: dbt reads `tests/generic/**.sql` as macros
/// (generic test definitions) and `tests/fixtures/**` as unit tests' fixtures.
fn in_test_subfolder(path: &Path, test_dir: &str, folder: &str) -> bool {
    path.strip_prefix(test_dir)
        .ok()
        .and_then(|rel| rel.components().next())
        .is_some_and(|first| first.as_os_str() == folder)
}

fn read_file(root: &Path, dir: &str, path: PathBuf, checksum_only: bool) -> Result<ProjectFile> {
    let bytes = std::fs::read(root.join(&path))
        .map_err(|e| Diagnostic::error(format!("cannot read file: {e}")).at(&path, 0, 0))?;
    let checksum = hex::encode(Sha256::digest(&bytes));
    let contents = if checksum_only {
        String::new()
    } else {
        String::from_utf8(bytes).map_err(|e| {
            Diagnostic::error(format!(
                "file is not valid UTF-8 (byte {})",
                e.utf8_error().valid_up_to()
            ))
            .at(&path, 0, 0)
            .with_help("save the file as UTF-8")
        })?
    };
    let resource_relative = path.strip_prefix(dir).unwrap_or(&path).to_path_buf();
    Ok(ProjectFile {
        path,
        resource_relative,
        contents,
        checksum,
    })
}
