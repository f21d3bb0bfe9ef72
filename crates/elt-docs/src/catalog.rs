//! `target/catalog.json`: what the warehouse holds for every model, seed, snapshot and source,
//! with dbt's field names. Read with one query per schema.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use elt_core::adapter::Relation;
use elt_core::manifest::{Manifest, ResourceType};
use elt_warehouse::{CatalogColumn, RelationKind, Session};
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::{Map, Value as Json, json};

#[derive(Debug, Default, Serialize)]
pub struct Catalog {
    pub metadata: Json,
    pub nodes: BTreeMap<String, CatalogTable>,
    pub sources: BTreeMap<String, CatalogTable>,
    pub errors: Option<Vec<String>>,
    /// Seeds' columns from their CSV headers, for seeds the warehouse does not have (yet): not
    /// part of catalog.json, but exact, so lineage and pages can use them.
    #[serde(skip)]
    pub seed_headers: HashMap<String, Vec<String>>,
}

#[derive(Debug, Serialize)]
pub struct CatalogTable {
    pub metadata: TableMetadata,
    pub columns: IndexMap<String, ColumnEntry>,
    pub stats: Map<String, Json>,
    pub unique_id: String,
}

#[derive(Debug, Serialize)]
pub struct TableMetadata {
    #[serde(rename = "type")]
    pub kind: String,
    pub schema: String,
    pub name: String,
    pub database: Option<String>,
    pub comment: Option<String>,
    pub owner: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ColumnEntry {
    #[serde(rename = "type")]
    pub data_type: String,
    pub index: usize,
    pub name: String,
    pub comment: Option<String>,
}

impl Catalog {
    /// A catalog with nothing in it (`--empty-catalog`, or no warehouse at hand).
    pub fn empty(manifest: &Manifest) -> Self {
        Catalog {
            metadata: metadata(manifest),
            ..Catalog::default()
        }
    }

    /// Reads the columns of every relation the project builds or reads.
    pub fn read(session: &mut dyn Session, manifest: &Manifest) -> elt_warehouse::Result<Self> {
        let relations = documented_relations(manifest);
        let schemas: BTreeSet<(Option<&str>, &str)> = relations
            .iter()
            .map(|(_, _, r)| (r.database.as_deref(), r.schema.as_str()))
            .collect();
        let mut found: HashMap<(Option<String>, String, String), Vec<CatalogColumn>> =
            HashMap::new();
        for (database, schema) in schemas {
            for column in session.schema_columns(database, schema)? {
                let key = key(database, schema, &column.table);
                found.entry(key).or_default().push(column);
            }
        }
        let mut catalog = Catalog::empty(manifest);
        for (id, is_source, relation) in relations {
            let key = key(
                relation.database.as_deref(),
                &relation.schema,
                &relation.identifier,
            );
            let Some(columns) = found.remove(&key) else {
                continue; // not built yet
            };
            let table = table(id, relation, columns);
            let into = if is_source {
                &mut catalog.sources
            } else {
                &mut catalog.nodes
            };
            into.insert(id.clone(), table);
        }
        Ok(catalog)
    }

    fn table(&self, unique_id: &str) -> Option<&CatalogTable> {
        self.nodes
            .get(unique_id)
            .or_else(|| self.sources.get(unique_id))
    }

    /// A node's or source's columns in the warehouse, in order; for a seed not loaded yet, its
    /// file's header (see [`Catalog::read_seed_headers`]).
    pub fn columns(&self, unique_id: &str) -> Option<Vec<String>> {
        match self.table(unique_id) {
            Some(table) => Some(table.columns.values().map(|c| c.name.clone()).collect()),
            None => self.seed_headers.get(unique_id).cloned(),
        }
    }

    /// Reads the header of every seed file the warehouse does not have. A file that cannot be
    /// read is left out: `elt seed` reports it.
    pub fn read_seed_headers(&mut self, manifest: &Manifest, root: &Path) {
        let seeds = manifest
            .nodes
            .values()
            .filter(|n| n.resource_type == ResourceType::Seed)
            .filter(|n| !self.nodes.contains_key(&n.unique_id));
        for seed in seeds {
            let delimiter = seed
                .config_str("delimiter")
                .and_then(|d| d.bytes().next())
                .unwrap_or(b',');
            let header = csv::ReaderBuilder::new()
                .delimiter(delimiter)
                .from_path(root.join(&seed.original_file_path))
                .and_then(|mut reader| reader.headers().cloned());
            if let Ok(header) = header {
                let columns = header
                    .iter()
                    .map(|c| c.trim_start_matches('\u{feff}').to_string());
                self.seed_headers
                    .insert(seed.unique_id.clone(), columns.collect());
            }
        }
    }

    /// A column's type in the warehouse.
    pub fn column_type(&self, unique_id: &str, column: &str) -> Option<&str> {
        self.table(unique_id)?
            .columns
            .values()
            .find(|c| c.name.eq_ignore_ascii_case(column))
            .map(|c| c.data_type.as_str())
    }

    pub fn write(&self, target_dir: &Path) -> std::io::Result<()> {
        let json = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        crate::write_atomically(&target_dir.join("catalog.json"), &json)
    }
}

fn metadata(manifest: &Manifest) -> Json {
    json!({
        "dbt_schema_version": "https://schemas.getdbt.com/dbt/catalog/v1.json",
        "dbt_version": env!("CARGO_PKG_VERSION"),
        "generated_at": manifest.generated_at,
        "invocation_id": manifest.invocation_id,
        "env": {},
    })
}

fn key(database: Option<&str>, schema: &str, table: &str) -> (Option<String>, String, String) {
    (
        database.map(str::to_lowercase),
        schema.to_lowercase(),
        table.to_lowercase(),
    )
}

/// Models, seeds and snapshots that are relations (not ephemeral), and sources.
fn documented_relations(manifest: &Manifest) -> Vec<(&String, bool, &Relation)> {
    let nodes = manifest.nodes.values().filter(|n| {
        matches!(
            n.resource_type,
            ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
        ) && !n.is_ephemeral()
    });
    let mut relations: Vec<_> = nodes
        .filter_map(|n| Some((&n.unique_id, false, n.relation.as_ref()?)))
        .collect();
    relations.extend(
        manifest
            .sources
            .values()
            .map(|s| (&s.unique_id, true, &s.relation)),
    );
    relations
}

fn table(id: &str, relation: &Relation, columns: Vec<CatalogColumn>) -> CatalogTable {
    let kind = match columns.first().map(|c| c.kind) {
        Some(RelationKind::View) => "VIEW",
        _ => "BASE TABLE",
    };
    CatalogTable {
        metadata: TableMetadata {
            kind: kind.to_string(),
            schema: relation.schema.clone(),
            name: relation.identifier.clone(),
            database: relation.database.clone(),
            comment: None,
            owner: None,
        },
        columns: columns
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                let entry = ColumnEntry {
                    data_type: c.data_type,
                    index: i + 1,
                    name: c.column.clone(),
                    comment: c.comment,
                };
                (c.column, entry)
            })
            .collect(),
        stats: Map::from_iter([(
            "has_stats".to_string(),
            json!({"id": "has_stats", "label": "Has Stats?", "value": false, "include": false,
                   "description": "Indicates whether there are statistics for this table"}),
        )]),
        unique_id: id.to_string(),
    }
}
