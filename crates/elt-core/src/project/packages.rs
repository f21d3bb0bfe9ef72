//! Installed packages: every project under `packages-install-path` (default `dbt_packages/`),
//! read as dbt reads them: its own project file (name, paths, `require-dbt-version`) and its
//! files. `elt deps` is what puts them there; this module only reads what is installed.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use super::config::ProjectConfig;
use super::files::{self, ProjectFiles};
use super::node_config::ConfigTree;
use super::properties::PropertiesFile;
use super::yaml;
use crate::diagnostics::{Diagnostic, Errors, Result};

/// The files that declare a project's packages, in dbt's order of preference.
pub const PACKAGE_FILES: [&str; 2] = ["packages.yml", "dependencies.yml"];

/// An installed package.
#[derive(Debug)]
pub struct Package {
    /// The name in its project file: the namespace of its macros (`dbt_utils.star`).
    pub name: String,
    /// Its folder relative to the root project, e.g. `dbt_packages/dbt_utils`.
    pub dir: PathBuf,
    pub config: ProjectConfig,
    /// Its files, with paths relative to the root project (so errors name the real file).
    pub files: ProjectFiles,
    /// Its properties files, parsed.
    pub properties: Vec<PropertiesFile>,
    /// The folder-level config trees of its own project file.
    pub config_trees: Vec<(String, ConfigTree)>,
    /// The vars its templates see (its own, the root project's, `--vars`).
    pub vars: Map<String, Json>,
}

/// Reads every package installed in `install_path` (relative to `root`), in name order.
/// Declared packages that are not installed are an error that says to run `elt deps`.
pub fn load(root: &Path, install_path: &str, root_name: &str) -> Result<Vec<Package>> {
    let declared = declared_packages(root)?;
    let dir = root.join(install_path);
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect(),
        Err(_) => Vec::new(),
    };
    entries.sort();
    if let Some(declared) = &declared
        && declared.count > 0
        && entries.is_empty()
    {
        return Err(Diagnostic::error(format!(
            "{} declares packages, and none is installed in {install_path}/",
            declared.file.display()
        ))
        .at_source(&declared.file, &declared.source, declared.line, 1)
        .with_help("run `elt deps` to install them")
        .into());
    }
    let mut packages: Vec<Package> = Vec::new();
    let mut errors = Vec::new();
    for abs in entries {
        let relative = abs.strip_prefix(root).unwrap_or(&abs).to_path_buf();
        match read_package(root, &relative) {
            Ok(Some(package)) if package.name == root_name => {}
            Ok(Some(package)) => packages.push(package),
            Ok(None) => {}
            Err(Errors(mut e)) => errors.append(&mut e),
        }
    }
    if !errors.is_empty() {
        return Err(Errors(errors).sorted());
    }
    packages.sort_by(|a, b| a.name.cmp(&b.name));
    if let Some(pair) = packages.windows(2).find(|w| w[0].name == w[1].name) {
        return Err(Diagnostic::error(format!(
            "two installed packages are named '{}': {} and {}",
            pair[0].name,
            pair[0].dir.display(),
            pair[1].dir.display()
        ))
        .with_help("remove one of them, or run `elt deps` to install the packages afresh")
        .into());
    }
    Ok(packages)
}

/// One package folder; `None` when it holds no project file (not a package).
fn read_package(root: &Path, dir: &Path) -> Result<Option<Package>> {
    let abs = root.join(dir);
    if !super::config::PROJECT_FILES
        .iter()
        .any(|f| abs.join(f).is_file())
    {
        return Ok(None);
    }
    let (mut config, _) = ProjectConfig::load(&abs)?;
    config.file = dir.join(&config.file);
    check_dbt_version(&config)?;
    let (mut files, _) = files::discover(&abs, &config)?;
    files.rebase(dir);
    Ok(Some(Package {
        name: config.name.clone(),
        dir: dir.to_path_buf(),
        config,
        files,
        properties: Vec::new(),
        config_trees: Vec::new(),
        vars: Map::new(),
    }))
}

/// `require-dbt-version`: every range listed must admit the dbt version elt follows.
fn check_dbt_version(config: &ProjectConfig) -> Result<()> {
    let ours = semver::Version::parse(crate::DBT_VERSION).expect("DBT_VERSION is semver");
    let mut admitted = true;
    for (spec, line) in &config.require_dbt_version {
        let req = semver::VersionReq::parse(spec).map_err(|e| {
            Diagnostic::error(format!(
                "require-dbt-version '{spec}' is not a version range: {e}"
            ))
            .at_source(&config.file, &config.source, *line, 1)
        })?;
        admitted &= req.matches(&ours);
    }
    if admitted {
        return Ok(());
    }
    let specs: Vec<&str> = config
        .require_dbt_version
        .iter()
        .map(|(s, _)| s.as_str())
        .collect();
    let line = config.require_dbt_version.first().map_or(1, |(_, l)| *l);
    Err(Diagnostic::error(format!(
        "package '{}' requires dbt {}, and elt follows dbt {}",
        config.name,
        specs.join(", "),
        crate::DBT_VERSION
    ))
    .at_source(&config.file, &config.source, line, 1)
    .with_help("install a release of the package that supports this dbt version (its `version:` in packages.yml), then run `elt deps`")
    .into())
}

/// The root project's package declaration file, and how many packages it lists.
struct Declared {
    file: PathBuf,
    source: String,
    line: u32,
    count: usize,
}

fn declared_packages(root: &Path) -> Result<Option<Declared>> {
    for name in PACKAGE_FILES {
        let Ok(source) = std::fs::read_to_string(root.join(name)) else {
            continue;
        };
        let doc = yaml::parse(&source).map_err(|e| {
            Diagnostic::error(format!("invalid YAML: {}", e.message)).at_source(
                Path::new(name),
                &source,
                e.line,
                e.col,
            )
        })?;
        let list = doc.get("packages");
        let count = list.and_then(|n| n.as_seq()).map_or(0, <[_]>::len);
        let line = list.map_or(1, |n| n.line);
        if count > 0 || name == PACKAGE_FILES[0] {
            return Ok(Some(Declared {
                file: PathBuf::from(name),
                source,
                line,
                count,
            }));
        }
    }
    Ok(None)
}
