//! Column lineage of every model and snapshot (`target/lineage.json`), computed from compiled SQL
//! in graph order: a node's upstream columns come from the warehouse catalog or, when it has not
//! been built, from the upstream node's own lineage.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use elt_core::adapter::Dialect;
use elt_core::graph::Dag;
use elt_core::manifest::{Manifest, Node, ResourceType};
use elt_core::sql::lineage::{ColumnLineage, Kind, Relations, Upstream, column_lineage};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::json;

use crate::catalog::Catalog;

/// The lineage of one node's columns, or why it could not be computed.
#[derive(Debug, Clone, Serialize)]
pub struct NodeLineage {
    pub error: Option<String>,
    pub columns: Vec<ColumnLineage>,
}

#[derive(Debug, Default)]
pub struct ProjectLineage {
    pub nodes: BTreeMap<String, NodeLineage>,
}

impl ProjectLineage {
    /// Lineage of every enabled model and snapshot with compiled SQL, in the order of the
    /// project's graph.
    pub fn compute(manifest: &Manifest, dag: &Dag, catalog: &Catalog) -> Self {
        let names = RelationNames::new(manifest);
        let mut lineage = ProjectLineage::default();
        for level in levels(manifest, dag) {
            let computed: Vec<(String, NodeLineage)> = level
                .par_iter()
                .map(|node| {
                    let resolver = Resolver {
                        names: &names,
                        catalog,
                        done: &lineage.nodes,
                    };
                    let sql = node.compiled_code.as_deref().unwrap_or_default();
                    let dialect = manifest.target.dialect;
                    let computed =
                        node_lineage(dialect, sql, &resolver, catalog.columns(&node.unique_id));
                    (node.unique_id.clone(), computed)
                })
                .collect();
            lineage.nodes.extend(computed);
        }
        lineage
    }

    pub fn write(&self, target_dir: &Path, manifest: &Manifest) -> std::io::Result<()> {
        let nodes: serde_json::Map<String, serde_json::Value> = self
            .nodes
            .iter()
            .map(|(id, node)| {
                let columns: serde_json::Map<String, serde_json::Value> = node
                    .columns
                    .iter()
                    .map(|c| {
                        (
                            c.name.clone(),
                            json!({"kind": c.kind, "sources": c.sources, "reason": c.reason}),
                        )
                    })
                    .collect();
                (id.clone(), json!({"error": node.error, "columns": columns}))
            })
            .collect();
        let document = json!({
            "metadata": {
                "elt_version": env!("CARGO_PKG_VERSION"),
                "generated_at": manifest.generated_at,
                "invocation_id": manifest.invocation_id,
            },
            "nodes": nodes,
        });
        let bytes = serde_json::to_vec(&document).map_err(std::io::Error::other)?;
        crate::write_atomically(&target_dir.join("lineage.json"), &bytes)
    }
}

/// One node's lineage, with its columns named and ordered as the warehouse has them when the
/// catalog knows the relation (an unaliased `count(*)` is named by the warehouse).
fn node_lineage(
    dialect: Dialect,
    sql: &str,
    relations: &dyn Relations,
    in_warehouse: Option<Vec<String>>,
) -> NodeLineage {
    let columns = match column_lineage(dialect, sql, relations) {
        Ok(columns) => columns,
        Err(error) => {
            return NodeLineage {
                error: Some(format!("the compiled SQL could not be analysed: {error}")),
                columns: Vec::new(),
            };
        }
    };
    let Some(in_warehouse) = in_warehouse else {
        return NodeLineage {
            error: None,
            columns,
        };
    };
    let by_position = columns.len() == in_warehouse.len();
    let wildcard = columns.iter().find(|c| c.kind == Kind::Unknown && !c.named);
    let named = in_warehouse
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let found = columns
                .iter()
                .find(|c| c.named && c.name.eq_ignore_ascii_case(name))
                .or_else(|| by_position.then(|| &columns[i]).filter(|c| !c.named));
            let mut column = match (found, wildcard) {
                (Some(found), _) => found.clone(),
                (None, Some(wildcard)) => wildcard.clone(),
                (None, None) => ColumnLineage {
                    name: String::new(),
                    kind: Kind::Unknown,
                    sources: Default::default(),
                    reason: Some("the column is not in the query's SELECT list as written".into()),
                    named: true,
                },
            };
            column.name = name.clone();
            column.named = true;
            column
        })
        .collect();
    NodeLineage {
        error: None,
        columns: named,
    }
}

/// Models and snapshots with compiled SQL, in levels: each level depends only on earlier ones.
fn levels<'a>(manifest: &'a Manifest, dag: &Dag) -> Vec<Vec<&'a Node>> {
    let mut depth: HashMap<&str, usize> = HashMap::new();
    let mut levels: Vec<Vec<&Node>> = Vec::new();
    for id in dag.topological() {
        let Some(node) = manifest.nodes.get(&id).filter(|n| analysed(n)) else {
            continue;
        };
        let level = node
            .depends_on_nodes
            .iter()
            .filter_map(|parent| depth.get(parent.as_str()))
            .max()
            .map_or(0, |d| d + 1);
        depth.insert(&node.unique_id, level);
        if levels.len() <= level {
            levels.resize_with(level + 1, Vec::new);
        }
        levels[level].push(node);
    }
    levels
}

fn analysed(node: &Node) -> bool {
    matches!(
        node.resource_type,
        ResourceType::Model | ResourceType::Snapshot
    ) && node.compiled_code.is_some()
}

/// Relation names as they appear in compiled SQL, lowercased: `db.schema.table`, `schema.table`
/// and `table` (the last two only when unambiguous).
struct RelationNames(HashMap<String, Option<String>>);

impl RelationNames {
    fn new(manifest: &Manifest) -> Self {
        let mut names: HashMap<String, Option<String>> = HashMap::new();
        let relations = manifest
            .nodes
            .values()
            .filter_map(|n| Some((&n.unique_id, n.relation.as_ref()?)))
            .chain(
                manifest
                    .sources
                    .values()
                    .map(|s| (&s.unique_id, &s.relation)),
            );
        for (id, relation) in relations {
            let table = relation.identifier.to_lowercase();
            let schema = format!("{}.{table}", relation.schema.to_lowercase());
            let mut keys = vec![table, schema.clone()];
            if let Some(database) = &relation.database {
                keys.push(format!("{}.{schema}", database.to_lowercase()));
            }
            for key in keys {
                names
                    .entry(key)
                    .and_modify(|known| {
                        if known.as_deref() != Some(id.as_str()) {
                            *known = None;
                        }
                    })
                    .or_insert_with(|| Some(id.clone()));
            }
        }
        RelationNames(names)
    }

    fn node(&self, parts: &[String]) -> Option<&str> {
        let key = parts
            .iter()
            .map(|p| p.to_lowercase())
            .collect::<Vec<_>>()
            .join(".");
        self.0.get(&key)?.as_deref()
    }
}

struct Resolver<'a> {
    names: &'a RelationNames,
    catalog: &'a Catalog,
    done: &'a BTreeMap<String, NodeLineage>,
}

impl Relations for Resolver<'_> {
    fn resolve(&self, parts: &[String]) -> Option<Upstream> {
        let node = self.names.node(parts)?;
        let columns = self.catalog.columns(node).or_else(|| {
            let lineage = self.done.get(node)?;
            let complete = lineage.error.is_none() && lineage.columns.iter().all(|c| c.named);
            complete.then(|| lineage.columns.iter().map(|c| c.name.clone()).collect())
        });
        Some(Upstream {
            node: node.to_string(),
            columns,
        })
    }
}
