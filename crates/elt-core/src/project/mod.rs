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
pub use properties::{PropertiesFile, UnitTestOverrides, UnitTestProperties, UnitTestRows};

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

/// One project's resources, which compile into nodes of its package: the root project's or an
/// installed package's.
#[derive(Clone, Copy)]
pub struct Resources<'a> {
    /// The package name (the root project's name for the root).
    pub package: &'a str,
    /// Its folder relative to the root project (empty for the root).
    pub dir: &'a Path,
    pub files: &'a ProjectFiles,
    pub properties: &'a [PropertiesFile],
    /// The folder-level config trees of its own project file.
    pub config_trees: &'a [(String, ConfigTree)],
    /// The vars its templates see.
    pub vars: &'a Map<String, Json>,
    pub is_root: bool,
}

impl Resources<'_> {
    /// Its own project file's config tree for a resource kind.
    pub fn config_tree(&self, kind: &str) -> Option<&ConfigTree> {
        find_tree(self.config_trees, kind)
    }
}

fn find_tree<'a>(trees: &'a [(String, ConfigTree)], kind: &str) -> Option<&'a ConfigTree> {
    trees.iter().find(|(k, _)| k == kind).map(|(_, t)| t)
}

/// Parses every properties file, in parallel; warnings are appended, errors returned together.
fn parse_properties(
    files: &ProjectFiles,
    warnings: &mut Vec<Diagnostic>,
) -> Result<Vec<PropertiesFile>> {
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
    if errors.is_empty() {
        Ok(properties)
    } else {
        Err(Errors(errors).sorted())
    }
}

/// A project file's folder-level config trees, by resource kind.
fn config_trees(config: &ProjectConfig) -> Vec<(String, ConfigTree)> {
    config
        .config_trees
        .iter()
        .map(|(kind, node)| {
            let kind = if kind == "data_tests" { "tests" } else { kind };
            (kind.to_string(), ConfigTree::from_yaml(node))
        })
        .collect()
}

/// When a project hook runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunHook {
    Start,
    End,
}

impl RunHook {
    /// Its key in the project file.
    pub fn as_str(self) -> &'static str {
        match self {
            RunHook::Start => "on-run-start",
            RunHook::End => "on-run-end",
        }
    }
}

/// An `on-run-start` or `on-run-end` hook of the root project or of a package.
pub struct ProjectHook<'a> {
    /// Whose it is: its macros render in that package's scope.
    pub package: &'a str,
    /// The project file that declares it, relative to the root project.
    pub file: &'a Path,
    pub sql: &'a str,
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
    /// The text of a model, snapshot, analysis, singular test or properties file, as read
    /// (the root project's or a package's).
    pub fn file_text(&self, path: &Path) -> Option<&str> {
        self.resources().into_iter().find_map(|r| {
            let files = r.files;
            files
                .models
                .iter()
                .chain(&files.snapshots)
                .chain(&files.analyses)
                .chain(&files.singular_tests)
                .chain(&files.properties)
                .find(|f| f.path == path)
                .map(|f| f.contents.as_str())
        })
    }

    pub fn load(options: &LoadOptions) -> Result<Self> {
        let root = options.project_dir.clone();
        let (mut config, mut warnings) = ProjectConfig::load(&root)?;
        if let Some(target_path) = &options.target_path {
            config.target_path = target_path.clone();
        }
        let cli_vars = parse_cli_vars(options.vars.as_deref())?;
        let vars = resolve_vars(&config, &config, &[], &cli_vars);
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
        Self::from_parts(root, config, target, &cli_vars, &mut warnings).map(|mut p| {
            warnings.append(&mut p.warnings);
            p.warnings = warnings;
            p
        })
    }

    /// Reads files and properties for an already resolved config and target; `cli_vars` are
    /// `--vars`.
    pub fn from_parts(
        root: PathBuf,
        config: ProjectConfig,
        target: Target,
        cli_vars: &Map<String, Json>,
        warnings: &mut Vec<Diagnostic>,
    ) -> Result<Self> {
        let (files, mut file_warnings) = files::discover(&root, &config)?;
        warnings.append(&mut file_warnings);
        let mut packages = packages::load(&root, &config.packages_install_path, &config.name)?;
        let properties = parse_properties(&files, warnings)?;
        let names: Vec<String> = packages.iter().map(|p| p.name.clone()).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        for package in &mut packages {
            package.properties = parse_properties(&package.files, warnings)?;
            package.config_trees = config_trees(&package.config);
            package.vars = resolve_vars(&package.config, &config, &names, cli_vars);
        }
        let config_trees = config_trees(&config);
        let vars = resolve_vars(&config, &config, &names, cli_vars);
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

    /// The config tree of the root project file for a resource kind ("models", "seeds",
    /// "snapshots", "tests", ...). It applies to the resources of packages too.
    pub fn config_tree(&self, kind: &str) -> Option<&ConfigTree> {
        find_tree(&self.config_trees, kind)
    }

    /// The folder-level configs the project files give a node of `resources`, of a kind
    /// ("models", "sources", ...) and with this fqn: its own project file's, then for a
    /// package's node the root project file's, which win (as in dbt: `models: dbt_utils:
    /// +enabled: false`).
    pub fn tree_configs(
        &self,
        resources: Resources,
        kind: &str,
        fqn: &[String],
    ) -> Map<String, Json> {
        let configs_for =
            |tree: Option<&ConfigTree>| tree.map(|t| t.configs_for(fqn)).unwrap_or_default();
        let mut config = configs_for(resources.config_tree(kind));
        if !resources.is_root {
            node_config::merge(&mut config, &configs_for(self.config_tree(kind)));
        }
        config
    }

    /// What compiles into nodes: the root project's resources, then each package's.
    pub fn resources(&self) -> Vec<Resources<'_>> {
        let root = Resources {
            package: &self.config.name,
            dir: Path::new(""),
            files: &self.files,
            properties: &self.properties,
            config_trees: &self.config_trees,
            vars: &self.vars,
            is_root: true,
        };
        std::iter::once(root)
            .chain(self.packages.iter().map(|p| Resources {
                package: &p.name,
                dir: &p.dir,
                files: &p.files,
                properties: &p.properties,
                config_trees: &p.config_trees,
                vars: &p.vars,
                is_root: false,
            }))
            .collect()
    }

    /// The `on-run-start` or `on-run-end` hooks of the project file and the packages', in
    /// dbt's order: the packages' by package name, then the root project's.
    pub fn run_hooks(&self, when: RunHook) -> Vec<ProjectHook<'_>> {
        let configs = self
            .packages
            .iter()
            .map(|p| &p.config)
            .chain(std::iter::once(&self.config));
        configs
            .flat_map(|config| {
                let hooks = match when {
                    RunHook::Start => &config.on_run_start,
                    RunHook::End => &config.on_run_end,
                };
                hooks.iter().map(move |sql| ProjectHook {
                    package: &config.name,
                    file: &config.file,
                    sql,
                })
            })
            .collect()
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
    parse_cli_mapping("--vars", text)
}

/// Parses a command-line option that holds a YAML (or JSON) mapping, such as `--vars`.
pub fn parse_cli_mapping(option: &str, text: Option<&str>) -> Result<Map<String, Json>> {
    let Some(text) = text.filter(|t| !t.trim().is_empty()) else {
        return Ok(Map::new());
    };
    let example = format!("pass a mapping, e.g. {option} '{{start_date: 2024-01-01, limit: 10}}'");
    let doc = yaml::parse(text).map_err(|e| {
        Diagnostic::error(format!("{option} is not valid YAML: {}", e.message))
            .with_help(example.clone())
    })?;
    match doc.to_json() {
        Json::Object(map) => Ok(map),
        _ => Err(Diagnostic::error(format!("{option} must be a mapping"))
            .with_help(example)
            .into()),
    }
}

/// The vars the templates of project `own` see, as dbt merges them (later wins): for a
/// package, the vars of its own project file (global, then its scoped block); the root
/// project's global vars and its block for `own` (`vars: {dbt_date: {time_zone: ...}}`); then
/// `--vars`. Blocks named after a package in `packages` are not vars of their own.
fn resolve_vars(
    own: &ProjectConfig,
    root: &ProjectConfig,
    packages: &[&str],
    cli_vars: &Map<String, Json>,
) -> Map<String, Json> {
    let mut projects = packages.to_vec();
    projects.push(&root.name);
    let mut vars = Map::new();
    if own.name != root.name {
        overlay_scoped(&mut vars, &own.vars, &own.name, &projects);
    }
    overlay_scoped(&mut vars, &root.vars, &own.name, &projects);
    vars.extend(cli_vars.iter().map(|(k, v)| (k.clone(), v.clone())));
    vars
}

/// Global vars of a `vars:` mapping, then the block scoped to `project`; blocks of
/// `other_projects` are not vars.
fn overlay_scoped(
    vars: &mut Map<String, Json>,
    declared: &Map<String, Json>,
    project: &str,
    other_projects: &[&str],
) {
    for (key, value) in declared {
        if key != project && !other_projects.contains(&key.as_str()) {
            vars.insert(key.clone(), value.clone());
        }
    }
    if let Some(Json::Object(scoped)) = declared.get(project) {
        vars.extend(scoped.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
}
