//! `elt_project.yml` / `dbt_project.yml`: the project file.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use super::yaml::{self, YNode};
use crate::diagnostics::{Diagnostic, Result, closest};

/// The project file names we accept, in order of preference.
pub const PROJECT_FILES: [&str; 2] = ["elt_project.yml", "dbt_project.yml"];

const KNOWN_KEYS: &[&str] = &[
    "name",
    "version",
    "config-version",
    "profile",
    "model-paths",
    "source-paths",
    "seed-paths",
    "data-paths",
    "test-paths",
    "analysis-paths",
    "macro-paths",
    "snapshot-paths",
    "docs-paths",
    "asset-paths",
    "function-paths",
    "target-path",
    "log-path",
    "packages-install-path",
    "clean-targets",
    "require-dbt-version",
    "require-elt-version",
    "quoting",
    "models",
    "seeds",
    "snapshots",
    "tests",
    "data_tests",
    "sources",
    "analyses",
    "unit_tests",
    "metrics",
    "semantic-models",
    "saved-queries",
    "exposures",
    "functions",
    "vars",
    "on-run-start",
    "on-run-end",
    "dispatch",
    "query-comment",
    "restrict-access",
    "flags",
    "dbt-cloud",
];

/// The parsed project file.
#[derive(Debug, Clone)]
pub struct ProjectConfig {
    /// `elt_project.yml` or `dbt_project.yml`, relative to the project root.
    pub file: PathBuf,
    pub source: String,
    pub name: String,
    pub version: Option<String>,
    pub profile: Option<String>,
    pub profile_line: u32,
    pub model_paths: Vec<String>,
    pub seed_paths: Vec<String>,
    pub test_paths: Vec<String>,
    pub macro_paths: Vec<String>,
    pub snapshot_paths: Vec<String>,
    pub analysis_paths: Vec<String>,
    /// Where `{% docs %}` blocks are searched; `None` means every resource path.
    pub docs_paths: Option<Vec<String>>,
    pub target_path: String,
    /// `packages-install-path`: where `elt deps` installs packages (`dbt_packages`).
    pub packages_install_path: String,
    /// `clean-targets`: what `elt clean` deletes (the target path when not set).
    pub clean_targets: Vec<String>,
    /// `require-dbt-version`: version ranges, each with its line.
    pub require_dbt_version: Vec<(String, u32)>,
    pub vars: Map<String, Json>,
    /// Folder-level config trees, keyed by resource kind ("models", "seeds", ...), as YAML nodes
    /// so that unused paths can be reported with their line.
    pub config_trees: Vec<(String, YNode)>,
    pub on_run_start: Vec<String>,
    pub on_run_end: Vec<String>,
    /// `dispatch:` entries: macro namespace -> search order of packages.
    pub dispatch: Vec<(String, Vec<String>)>,
    pub quoting: Map<String, Json>,
}

impl ProjectConfig {
    /// Finds and parses the project file in `root`. Returns the config and its warnings.
    pub fn load(root: &Path) -> Result<(Self, Vec<Diagnostic>)> {
        let Some(file) = PROJECT_FILES
            .iter()
            .map(PathBuf::from)
            .find(|f| root.join(f).is_file())
        else {
            return Err(Diagnostic::error(format!(
                "no elt_project.yml or dbt_project.yml in {}",
                root.display()
            ))
            .with_help(
                "run elt in a project folder, pass --project-dir, or create one with `elt init`",
            )
            .into());
        };
        let source = std::fs::read_to_string(root.join(&file))
            .map_err(|e| Diagnostic::error(format!("cannot read {}: {e}", file.display())))?;
        Self::parse(file, source)
    }

    pub fn parse(file: PathBuf, source: String) -> Result<(Self, Vec<Diagnostic>)> {
        let doc = yaml::parse(&source).map_err(|e| {
            Diagnostic::error(format!("invalid YAML: {}", e.message))
                .at_source(&file, &source, e.line, e.col)
                .with_help("fix the YAML syntax (indentation, colons, quotes)")
        })?;
        let Some(entries) = doc.as_map() else {
            return Err(Diagnostic::error("the project file must be a YAML mapping")
                .at(&file, doc.line, doc.col)
                .into());
        };
        let mut warnings = Vec::new();
        for (key, _) in entries {
            let name = key.key_text();
            if !KNOWN_KEYS.contains(&name.as_str()) {
                warnings.push(unknown_key_warning(
                    &file,
                    &source,
                    key,
                    &name,
                    KNOWN_KEYS,
                    "the project file",
                ));
            }
        }
        let str_at = |key: &str| -> Result<Option<String>> {
            match doc.get(key) {
                None => Ok(None),
                Some(n) if n.is_null() => Ok(None),
                Some(n) => match n.as_str() {
                    Some(s) => Ok(Some(s.to_string())),
                    None => Err(Diagnostic::error(format!(
                        "'{key}' must be a string, found {}",
                        n.kind()
                    ))
                    .at_source(&file, &source, n.line, n.col)
                    .into()),
                },
            }
        };
        let paths = |keys: &[&str], default: &str| -> Result<Vec<String>> {
            for key in keys {
                if let Some(node) = doc.get(key) {
                    return string_list(&file, &source, key, node);
                }
            }
            Ok(vec![default.to_string()])
        };
        let Some(name) = str_at("name")? else {
            return Err(Diagnostic::error("the project file has no 'name'")
                .at(&file, 1, 1)
                .with_help("add `name: my_project` (letters, digits and underscores)")
                .into());
        };
        if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            || name.starts_with(|c: char| c.is_ascii_digit())
        {
            let node = doc.get("name").expect("name was read");
            return Err(Diagnostic::error(format!(
                "project name '{name}' is not a valid identifier"
            ))
            .at_source(&file, &source, node.line, node.col)
            .with_help("use letters, digits and underscores, not starting with a digit")
            .into());
        }
        let hooks = |key: &str| -> Result<Vec<String>> {
            match doc.get(key) {
                None => Ok(vec![]),
                Some(n) if n.as_str().is_some() => Ok(vec![n.as_str().unwrap().to_string()]),
                Some(n) => string_list(&file, &source, key, n),
            }
        };
        let config = ProjectConfig {
            version: doc.get("version").map(|v| v.key_text()),
            profile: str_at("profile")?,
            profile_line: doc.get("profile").map_or(0, |n| n.line),
            model_paths: paths(&["model-paths", "source-paths"], "models")?,
            seed_paths: paths(&["seed-paths", "data-paths"], "seeds")?,
            test_paths: paths(&["test-paths"], "tests")?,
            macro_paths: paths(&["macro-paths"], "macros")?,
            snapshot_paths: paths(&["snapshot-paths"], "snapshots")?,
            analysis_paths: paths(&["analysis-paths"], "analyses")?,
            docs_paths: match doc.get("docs-paths") {
                Some(n) => Some(string_list(&file, &source, "docs-paths", n)?),
                None => None,
            },
            target_path: str_at("target-path")?.unwrap_or_else(|| "target".into()),
            packages_install_path: str_at("packages-install-path")?
                .unwrap_or_else(|| "dbt_packages".into()),
            clean_targets: match doc.get("clean-targets") {
                Some(n) => string_list(&file, &source, "clean-targets", n)?,
                None => vec![str_at("target-path")?.unwrap_or_else(|| "target".into())],
            },
            require_dbt_version: version_ranges(&doc),
            vars: mapping(&file, &source, &doc, "vars")?,
            config_trees: [
                "models",
                "seeds",
                "snapshots",
                "tests",
                "data_tests",
                "sources",
                "analyses",
            ]
            .iter()
            .filter_map(|k| doc.get(k).map(|n| (k.to_string(), n.clone())))
            .collect(),
            on_run_start: hooks("on-run-start")?,
            on_run_end: hooks("on-run-end")?,
            dispatch: dispatch(&file, &source, &doc)?,
            quoting: mapping(&file, &source, &doc, "quoting")?,
            name,
            file,
            source,
        };
        Ok((config, warnings))
    }

    /// Every folder that holds resources, for walking and for `{% docs %}` blocks.
    pub fn resource_paths(&self) -> impl Iterator<Item = &String> {
        self.model_paths
            .iter()
            .chain(&self.seed_paths)
            .chain(&self.test_paths)
            .chain(&self.macro_paths)
            .chain(&self.snapshot_paths)
            .chain(&self.analysis_paths)
    }
}

fn string_list(file: &Path, source: &str, key: &str, node: &YNode) -> Result<Vec<String>> {
    let bad = || {
        Diagnostic::error(format!("'{key}' must be a list of strings"))
            .at_source(file, source, node.line, node.col)
    };
    let items = node.as_seq().ok_or_else(bad)?;
    items
        .iter()
        .map(|n| n.as_str().map(str::to_string).ok_or_else(|| bad().into()))
        .collect()
}

/// `require-dbt-version: ">=1.3.0"` or a list of such ranges.
fn version_ranges(doc: &YNode) -> Vec<(String, u32)> {
    let Some(node) = doc.get("require-dbt-version") else {
        return Vec::new();
    };
    match node.as_seq() {
        Some(items) => items.iter().map(|n| (n.key_text(), n.line)).collect(),
        None => vec![(node.key_text(), node.line)],
    }
}

fn mapping(file: &Path, source: &str, doc: &YNode, key: &str) -> Result<Map<String, Json>> {
    match doc.get(key) {
        None => Ok(Map::new()),
        Some(n) if n.is_null() => Ok(Map::new()),
        Some(n) => match n.to_json() {
            Json::Object(map) => Ok(map),
            _ => Err(
                Diagnostic::error(format!("'{key}' must be a mapping, found {}", n.kind()))
                    .at_source(file, source, n.line, n.col)
                    .into(),
            ),
        },
    }
}

fn dispatch(file: &Path, source: &str, doc: &YNode) -> Result<Vec<(String, Vec<String>)>> {
    let Some(node) = doc.get("dispatch") else {
        return Ok(vec![]);
    };
    let bad = |n: &YNode| {
        Diagnostic::error("each 'dispatch' entry needs 'macro_namespace' and 'search_order'")
            .at_source(file, source, n.line, n.col)
            .with_help("e.g. dispatch: [{macro_namespace: dbt_utils, search_order: [my_project, dbt_utils]}]")
    };
    let items = node.as_seq().ok_or_else(|| bad(node))?;
    items
        .iter()
        .map(|item| {
            let namespace = item.get("macro_namespace").and_then(|n| n.as_str());
            let order = item.get("search_order");
            match (namespace, order) {
                (Some(ns), Some(order)) => Ok((
                    ns.to_string(),
                    string_list(file, source, "search_order", order)?,
                )),
                _ => Err(bad(item).into()),
            }
        })
        .collect()
}

/// "unknown key 'x' in <what>" with the closest valid key.
pub fn unknown_key_warning(
    file: &Path,
    source: &str,
    key: &YNode,
    name: &str,
    valid: &[&str],
    what: &str,
) -> Diagnostic {
    let warning = Diagnostic::warning(format!("unknown key '{name}' in {what}"))
        .at_source(file, source, key.line, key.col);
    match closest(name, valid.iter().copied()) {
        Some(best) => warning.with_help(format!("did you mean '{best}'?")),
        None => warning.with_help(format!("valid keys: {}", valid.join(", "))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<(ProjectConfig, Vec<Diagnostic>)> {
        ProjectConfig::parse("elt_project.yml".into(), text.into())
    }

    #[test]
    fn defaults_and_legacy_paths() {
        let (config, warnings) = parse("name: shop\nsource-paths: [src]\nprofile: p\n").unwrap();
        assert!(warnings.is_empty());
        assert_eq!(config.model_paths, ["src"]);
        assert_eq!(config.seed_paths, ["seeds"]);
        assert_eq!(config.target_path, "target");
        assert_eq!(config.profile.as_deref(), Some("p"));
    }

    #[test]
    fn unknown_key_warns_with_suggestion() {
        let (_, warnings) = parse("name: shop\nmodel-path: [m]\n").unwrap();
        assert_eq!(warnings.len(), 1);
        assert_eq!(
            warnings[0].help.as_deref(),
            Some("did you mean 'model-paths'?")
        );
        assert_eq!(warnings[0].location.as_ref().unwrap().line, 2);
    }

    #[test]
    fn invalid_name_is_an_error() {
        let err = parse("name: my-shop\n").unwrap_err();
        assert!(err.to_string().contains("not a valid identifier"));
    }
}
