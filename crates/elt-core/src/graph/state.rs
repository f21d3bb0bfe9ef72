//! Another run's `manifest.json` (`--state DIR`), for dbt's `state:` selectors: which nodes
//! are new, and which changed (their SQL, their configs, or a macro they call).

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value as Json;

use crate::adapter::Relation;
use crate::diagnostics::{Diagnostic, Result};
use crate::manifest::{Manifest, Node};

/// What the state manifest says of one node.
#[derive(Debug, Clone)]
struct StateNode {
    checksum: String,
    config: Json,
    macros: Vec<String>,
    /// Where it was built: (database, schema, identifier), for `--defer`.
    relation: Option<(Option<String>, String, String)>,
}

/// The nodes and macros of another run's manifest.
#[derive(Debug, Clone, Default)]
pub struct State {
    nodes: HashMap<String, StateNode>,
    /// Every unique id it has (nodes, sources, seeds...), for `state:new`.
    ids: std::collections::HashSet<String>,
    macros: HashMap<String, String>,
}

impl State {
    /// Reads `DIR/manifest.json`.
    pub fn read(dir: &Path) -> Result<State> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Diagnostic::error(format!(
                "cannot read the state manifest {}: {e}",
                path.display()
            ))
            .with_help("--state names a folder with another run's manifest.json (its target/)")
        })?;
        let manifest: Json = serde_json::from_str(&text)
            .map_err(|e| Diagnostic::error(format!("{} is not a manifest: {e}", path.display())))?;
        Ok(State::from_json(&manifest))
    }

    fn from_json(manifest: &Json) -> State {
        let mut state = State::default();
        for section in ["nodes", "sources", "exposures", "metrics"] {
            if let Some(entries) = manifest[section].as_object() {
                state.ids.extend(entries.keys().cloned());
            }
        }
        if let Some(nodes) = manifest["nodes"].as_object() {
            for (id, node) in nodes {
                let macros = node["depends_on"]["macros"]
                    .as_array()
                    .map(|m| {
                        m.iter()
                            .filter_map(|v| v.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                let text = |key: &str| node[key].as_str().map(str::to_string);
                let relation = match (text("schema"), text("alias")) {
                    (Some(schema), Some(alias)) if node["relation_name"].is_string() => {
                        Some((text("database"), schema, alias))
                    }
                    _ => None,
                };
                state.nodes.insert(
                    id.clone(),
                    StateNode {
                        checksum: node["checksum"]["checksum"].as_str().unwrap_or("").into(),
                        config: node["config"].clone(),
                        macros,
                        relation,
                    },
                );
            }
        }
        if let Some(macros) = manifest["macros"].as_object() {
            for (id, m) in macros {
                let sql = m["macro_sql"].as_str().unwrap_or("").to_string();
                state.macros.insert(id.clone(), sql);
            }
        }
        state
    }

    /// Where the state built `node` (a model, seed or snapshot), as a relation like the
    /// node's own (same dialect and quoting), for `--defer`.
    pub fn relation_of(&self, node: &Node) -> Option<Relation> {
        let (database, schema, identifier) = self.nodes.get(&node.unique_id)?.relation.clone()?;
        let own = node.relation.as_ref()?;
        Some(Relation {
            database: database.filter(|d| !d.is_empty()),
            schema,
            identifier,
            external: None,
            ..own.clone()
        })
    }

    /// Whether `id` is absent from the state.
    pub fn is_new(&self, id: &str) -> bool {
        !self.ids.contains(id)
    }

    /// Whether `node` changed since the state in the way `which` says (`""` any way, `body`,
    /// `configs`, `macros`). A new node is not "modified" (dbt's `state:modified` takes both:
    /// see [`State::matches`]).
    pub fn changed(&self, node: &Node, manifest: &Manifest, which: &str) -> bool {
        let Some(old) = self.nodes.get(&node.unique_id) else {
            return false;
        };
        let body = || old.checksum != node.checksum;
        let configs = || old.config != crate::manifest::json::config_json(node);
        let macros = || {
            node.depends_on_macros.iter().any(|id| {
                let now = manifest.macros.get(id).map(|m| m.macro_sql.as_str());
                now != self.macros.get(id).map(String::as_str)
            }) || old.macros != node.depends_on_macros
        };
        match which {
            "body" => body(),
            "configs" => configs(),
            "macros" => macros(),
            _ => body() || configs() || macros(),
        }
    }

    /// The `state:` selector `value` (`new`, `old`, `modified[.body|.configs|.macros]`,
    /// `unmodified`) on one node; `None` for an unknown value.
    pub fn matches(&self, value: &str, node: &Node, manifest: &Manifest) -> Option<bool> {
        let id = &node.unique_id;
        Some(match value {
            "new" => self.is_new(id),
            "old" => !self.is_new(id),
            "modified" => self.is_new(id) || self.changed(node, manifest, ""),
            "unmodified" => !self.is_new(id) && !self.changed(node, manifest, ""),
            _ => match value.strip_prefix("modified.") {
                Some(which @ ("body" | "configs" | "macros")) => {
                    self.is_new(id) || self.changed(node, manifest, which)
                }
                _ => return None,
            },
        })
    }
}
