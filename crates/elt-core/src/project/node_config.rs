//! Node configs: the folder-level trees of the project file, and dbt's merge rules.
//!
//! Precedence, lowest first: project file (shallow folders before deep ones), properties YAML,
//! `config()` in the SQL file. Most keys are replaced by later levels; `tags` are unioned,
//! `meta`, `docs` and `grants` are merged key by key, and hooks accumulate.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use indexmap::IndexMap;
use serde_json::{Map, Value as Json};

use super::yaml::YNode;
use crate::diagnostics::Diagnostic;

/// Keys whose value is a mapping but that are configs, not sub-folders, when written
/// without `+` in a config tree.
const MAPPING_CONFIGS: &[&str] = &[
    "meta",
    "docs",
    "persist_docs",
    "grants",
    "contract",
    "column_types",
    "quoting",
    "settings",
    "snapshot_meta_column_names",
    "partition_by",
    "labels",
    "freshness",
    "config",
    "query_settings",
];

/// Keys merged key by key instead of replaced.
const MERGED_MAPPINGS: &[&str] = &["meta", "docs", "grants", "persist_docs", "column_types"];

/// One level of a folder-level config tree (`models: my_project: staging: +materialized: view`).
#[derive(Debug, Default)]
pub struct ConfigTree {
    pub configs: Map<String, Json>,
    pub children: IndexMap<String, ConfigTree>,
    line: u32,
    col: u32,
    used: AtomicBool,
}

impl ConfigTree {
    pub fn from_yaml(node: &YNode) -> Self {
        let mut tree = ConfigTree {
            line: node.line,
            col: node.col,
            ..Default::default()
        };
        for (key, value) in node.as_map().unwrap_or_default() {
            let name = key.key_text();
            if let Some(config) = name.strip_prefix('+') {
                tree.configs.insert(normalize_key(config), value.to_json());
            } else if value.as_map().is_some() && !MAPPING_CONFIGS.contains(&name.as_str()) {
                let mut child = ConfigTree::from_yaml(value);
                (child.line, child.col) = (key.line, key.col);
                tree.children.insert(name, child);
            } else {
                tree.configs.insert(normalize_key(&name), value.to_json());
            }
        }
        tree
    }

    /// The configs that apply to a node with this fqn (`[project, folders.., name]`), merged
    /// from the root down; marks the levels it used.
    pub fn configs_for(&self, fqn: &[String]) -> Map<String, Json> {
        let mut merged = Map::new();
        merge(&mut merged, &self.configs);
        let mut level = self;
        for part in fqn {
            let Some(child) = level.children.get(part) else {
                break;
            };
            child.used.store(true, Ordering::Relaxed);
            merge(&mut merged, &child.configs);
            level = child;
        }
        merged
    }

    /// Warnings for folder paths that matched no resource, like dbt's "unused config paths".
    pub fn unused_paths(&self, file: &Path, source: &str, prefix: &str) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for (name, child) in &self.children {
            let path = format!("{prefix}.{name}");
            if child.used.load(Ordering::Relaxed) {
                out.extend(child.unused_paths(file, source, &path));
            } else {
                out.push(
                    Diagnostic::warning(format!(
                        "config path '{path}' does not match any resource"
                    ))
                    .at_source(file, source, child.line, child.col)
                    .with_help("check the folder names; configs apply by folder path under the project name"),
                );
            }
        }
        out
    }
}

/// `pre_hook` and `+pre-hook` mean the same; the manifest uses the dashed form.
pub fn normalize_key(key: &str) -> String {
    match key {
        "pre_hook" => "pre-hook".into(),
        "post_hook" => "post-hook".into(),
        "data_tests" => "tests".into(),
        other => other.to_string(),
    }
}

/// Merges `overlay` into `base` with dbt's rules.
pub fn merge(base: &mut Map<String, Json>, overlay: &Map<String, Json>) {
    for (key, value) in overlay {
        let key = normalize_key(key);
        match key.as_str() {
            "tags" => {
                let mut tags = as_string_list(base.get("tags"));
                for tag in as_string_list(Some(value)) {
                    if !tags.contains(&tag) {
                        tags.push(tag);
                    }
                }
                base.insert(key, Json::from(tags));
            }
            "pre-hook" | "post-hook" => {
                let mut hooks = as_hook_list(base.get(&key));
                hooks.extend(as_hook_list(Some(value)));
                base.insert(key, Json::Array(hooks));
            }
            k if MERGED_MAPPINGS.contains(&k) && value.is_object() => {
                let entry = base.entry(key).or_insert_with(|| Json::Object(Map::new()));
                if let (Json::Object(target), Json::Object(source)) = (entry, value) {
                    for (k, v) in source {
                        target.insert(k.clone(), v.clone());
                    }
                }
            }
            _ => {
                base.insert(key, value.clone());
            }
        }
    }
}

/// A `tags` value (a string or a list) as a list.
pub fn as_string_list(value: Option<&Json>) -> Vec<String> {
    match value {
        Some(Json::String(s)) => vec![s.clone()],
        Some(Json::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
            .collect(),
        _ => vec![],
    }
}

/// Hooks as dbt stores them: `[{sql, transaction, index}]`, from a string, a list or dicts.
fn as_hook_list(value: Option<&Json>) -> Vec<Json> {
    let items = match value {
        None | Some(Json::Null) => return vec![],
        Some(Json::Array(items)) => items.clone(),
        Some(other) => vec![other.clone()],
    };
    items
        .into_iter()
        .map(|item| match item {
            Json::String(sql) => {
                serde_json::json!({"sql": sql, "transaction": true, "index": null})
            }
            Json::Object(map) => Json::Object(map),
            other => {
                serde_json::json!({"sql": other.to_string(), "transaction": true, "index": null})
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::yaml;
    use serde_json::json;

    #[test]
    fn tree_configs_by_folder_with_plus_and_plain_keys() {
        let doc = yaml::parse(
            "+materialized: view\nshop:\n  +tags: [a]\n  marts:\n    materialized: table\n    tags: b\n    meta: {owner: x}\n  stagin:\n    +enabled: false\n",
        )
        .unwrap();
        let tree = ConfigTree::from_yaml(&doc);
        let fqn: Vec<String> = ["shop", "marts", "orders"].map(String::from).into();
        let configs = tree.configs_for(&fqn);
        assert_eq!(
            Json::Object(configs),
            json!({"materialized": "table", "tags": ["a", "b"], "meta": {"owner": "x"}})
        );
        let unused = tree.unused_paths(Path::new("elt_project.yml"), "", "models");
        assert_eq!(unused.len(), 1);
        assert!(unused[0].message.contains("models.shop.stagin"));
        assert_eq!(unused[0].location.as_ref().unwrap().line, 8);
    }

    #[test]
    fn hooks_accumulate_and_meta_merges() {
        let mut base = Map::new();
        merge(
            &mut base,
            json!({"pre_hook": "a", "meta": {"x": 1}})
                .as_object()
                .unwrap(),
        );
        merge(
            &mut base,
            json!({"pre-hook": ["b"], "meta": {"y": 2}})
                .as_object()
                .unwrap(),
        );
        assert_eq!(base["pre-hook"].as_array().unwrap().len(), 2);
        assert_eq!(base["meta"], json!({"x": 1, "y": 2}));
    }
}
