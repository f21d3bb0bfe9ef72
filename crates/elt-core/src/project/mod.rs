//! Stage 1: read the project. The project file, the profile's target, every file of the project
//! and every properties YAML, parsed but not yet rendered.

pub mod config;
pub mod files;
pub mod node_config;
pub mod packages;
pub mod profile;
pub mod properties;
pub mod yaml;

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde_json::{Map, Value as Json};

pub use config::ProjectConfig;
pub use files::{ProjectFile, ProjectFiles};
pub use node_config::ConfigTree;
pub use packages::Package;
pub use profile::Target;
pub use properties::PropertiesFile;

use crate::diagnostics::{Diagnostic, Errors, Result};

/// How to find and read a project (the CLI's global flags).
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    pub project_dir: PathBuf,
    pub profiles_dir: Option<PathBuf>,
    pub target: Option<String>,
    /// `--vars` as YAML text.
    pub vars: Option<String>,
    /// `--target-path`: overrides the project file's `target-path`.
    pub target_path: Option<String>,
}

/// dbt's `flags` as templates see them: the command that runs and its switches.
#[derive(Debug, Clone, PartialEq)]
pub struct Flags {
    /// `flags.WHICH`: `compile`, `run`, `build`, `test`, ...
    pub which: String,
    pub full_refresh: bool,
    pub store_failures: bool,
}

impl Default for Flags {
    fn default() -> Self {
        Flags {
            which: "compile".into(),
            full_refresh: false,
            store_failures: false,
        }
    }
}

/// A project as read from disk.
#[derive(Debug)]
pub struct Project {
    pub root: PathBuf,
    pub config: ProjectConfig,
    pub target: Target,
    /// Project vars overlaid with `--vars` (which win).
    pub vars: Map<String, Json>,
    pub files: ProjectFiles,
    /// Installed packages (`dbt_packages/`), by name.
    pub packages: Vec<Package>,
    pub properties: Vec<PropertiesFile>,
    /// Folder-level config trees by resource kind ("models", "seeds", ...).
    pub config_trees: Vec<(String, ConfigTree)>,
    pub warnings: Vec<Diagnostic>,
    /// `--defer`: nodes whose `ref()` resolves to another run's relation (by unique id).
    pub deferred: std::collections::HashMap<String, crate::adapter::Relation>,
    /// The command's flags, for templates (`flags.WHICH`, `flags.FULL_REFRESH`).
    pub flags: Flags,
}

impl Project {
    /// The text of a model, snapshot, analysis, singular test or properties file, as read.
    pub fn file_text(&self, path: &Path) -> Option<&str> {
        let files = &self.files;
        files
            .models
            .iter()
            .chain(&files.snapshots)
            .chain(&files.analyses)
            .chain(&files.singular_tests)
            .chain(&files.properties)
            .find(|f| f.path == path)
            .map(|f| f.contents.as_str())
    }

    pub fn load(options: &LoadOptions) -> Result<Self> {
        let root = options.project_dir.clone();
        let (mut config, mut warnings) = ProjectConfig::load(&root)?;
        if let Some(target_path) = &options.target_path {
            config.target_path = target_path.clone();
        }
        let cli_vars = parse_cli_vars(options.vars.as_deref())?;
        let vars = resolve_vars(&config, &cli_vars);
        let dirs = profile::profile_dirs(options.profiles_dir.as_deref(), &root);
        let target = profile::load_target(
            &dirs,
            &profile::ProfileRequest {
                profile: config.profile.as_deref(),
                target: options.target.as_deref(),
                project_file: &config.file,
                project_source: &config.source,
                profile_line: config.profile_line,
                vars: &vars,
            },
        )?;
        Self::from_parts(root, config, target, vars, &mut warnings).map(|mut p| {
            warnings.append(&mut p.warnings);
            p.warnings = warnings;
            p
        })
    }

    /// Reads files and properties for an already resolved config and target.
    pub fn from_parts(
        root: PathBuf,
        config: ProjectConfig,
        target: Target,
        vars: Map<String, Json>,
        warnings: &mut Vec<Diagnostic>,
    ) -> Result<Self> {
        let (files, mut file_warnings) = files::discover(&root, &config)?;
        warnings.append(&mut file_warnings);
        let packages = packages::load(&root, &config.packages_install_path, &config.name)?;
        let parsed: Vec<Result<(PropertiesFile, Vec<Diagnostic>)>> = files
            .properties
            .par_iter()
            .map(|f| properties::parse(&f.path, &f.contents))
            .collect();
        let mut properties = Vec::new();
        let mut errors = Vec::new();
        for result in parsed {
            match result {
                Ok((file, mut w)) => {
                    properties.push(file);
                    warnings.append(&mut w);
                }
                Err(Errors(mut e)) => errors.append(&mut e),
            }
        }
        if !errors.is_empty() {
            return Err(Errors(errors).sorted());
        }
        let config_trees = config
            .config_trees
            .iter()
            .map(|(kind, node)| {
                let kind = if kind == "data_tests" { "tests" } else { kind };
                (kind.to_string(), ConfigTree::from_yaml(node))
            })
            .collect();
        Ok(Project {
            root,
            config,
            target,
            vars,
            files,
            packages,
            properties,
            config_trees,
            warnings: Vec::new(),
            deferred: Default::default(),
            flags: Flags::default(),
        })
    }

    /// The config tree for a resource kind ("models", "seeds", "snapshots", "tests", ...).
    pub fn config_tree(&self, kind: &str) -> Option<&ConfigTree> {
        self.config_trees
            .iter()
            .find(|(k, _)| k == kind)
            .map(|(_, t)| t)
    }

    /// Where compiled SQL and artifacts go.
    pub fn target_dir(&self) -> PathBuf {
        self.root.join(&self.config.target_path)
    }

    /// Reports config-tree folder paths that matched nothing (call after configs were applied).
    pub fn unused_config_paths(&self) -> Vec<Diagnostic> {
        self.config_trees
            .iter()
            .flat_map(|(kind, tree)| {
                tree.unused_paths(&self.config.file, &self.config.source, kind)
            })
            .collect()
    }

    pub fn path_of(&self, relative: &Path) -> PathBuf {
        self.root.join(relative)
    }
}

/// Parses `--vars` (YAML or JSON mapping).
pub fn parse_cli_vars(text: Option<&str>) -> Result<Map<String, Json>> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(Map::new());
    };
    let doc = yaml::parse(text).map_err(|e| {
        Diagnostic::error(format!("--vars is not valid YAML: {}", e.message))
            .with_help("pass a mapping, e.g. --vars '{start_date: 2024-01-01, limit: 10}'")
    })?;
    match doc.to_json() {
        Json::Object(map) => Ok(map),
        _ => Err(Diagnostic::error("--vars must be a mapping")
            .with_help("pass a mapping, e.g. --vars '{start_date: 2024-01-01}'")
            .into()),
    }
}

/// Project vars for this project: global vars plus the `<project_name>:` scoped block, then
/// `--vars` on top.
fn resolve_vars(config: &ProjectConfig, cli_vars: &Map<String, Json>) -> Map<String, Json> {
    let mut vars = Map::new();
    for (key, value) in &config.vars {
        if key == &config.name {
            continue;
        }
        vars.insert(key.clone(), value.clone());
    }
    if let Some(Json::Object(scoped)) = config.vars.get(&config.name) {
        for (key, value) in scoped {
            vars.insert(key.clone(), value.clone());
        }
    }
    for (key, value) in cli_vars {
        vars.insert(key.clone(), value.clone());
    }
    vars
}
