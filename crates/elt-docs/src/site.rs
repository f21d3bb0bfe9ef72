//! The static site in `target/docs/`: the page and its script and style (shipped in the binary),
//! and the project as data files the page loads with `<script src>` (so it also opens from
//! file://):
//!
//! - `data/index.js`: every node with what the overview, the sidebar, search and the graphs
//!   need (loaded at once; kept small);
//! - `data/chunk-K.js`: the details of [`CHUNK`] nodes (descriptions, columns, SQL), loaded
//!   when one of their pages opens;
//! - `data/lineage.js`: column lineage, loaded when a page or a column graph needs it.
//!
//! Project text is data, never markup: the page puts it in with `textContent`. The only HTML
//! is the descriptions' Markdown, rendered by [`crate::markdown`], which escapes raw HTML.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use elt_core::manifest::{Manifest, Node, ResourceType, SourceNode};
use rayon::prelude::*;
use serde::Serialize;
use serde_json::{Map, Value as Json, json};

use crate::catalog::Catalog;
use crate::lineage::ProjectLineage;
use crate::markdown::to_html;

/// Nodes per details file.
const CHUNK: usize = 256;

const ASSETS: [(&str, &str); 3] = [
    ("index.html", include_str!("../assets/index.html")),
    ("elt-docs.js", include_str!("../assets/elt-docs.js")),
    ("elt-docs.css", include_str!("../assets/elt-docs.css")),
];

/// What was written.
#[derive(Debug)]
pub struct Written {
    pub dir: PathBuf,
    pub nodes: usize,
    pub files: usize,
    pub bytes: u64,
}

/// Writes the site to `dir`, replacing what was there only once every file is written.
pub fn write(
    dir: &Path,
    manifest: &Manifest,
    catalog: &Catalog,
    lineage: &ProjectLineage,
) -> std::io::Result<Written> {
    let entries = Entries::new(manifest);
    let mut files: Vec<(String, Vec<u8>)> = ASSETS
        .iter()
        .map(|(name, text)| (name.to_string(), text.as_bytes().to_vec()))
        .collect();
    files.push((
        "data/index.js".into(),
        index_file(manifest, &entries, catalog, lineage)?,
    ));
    let chunks: Vec<(String, Vec<u8>)> = entries
        .ids
        .par_chunks(CHUNK)
        .enumerate()
        .map(|(k, ids)| {
            let details: Map<String, Json> = ids
                .iter()
                .map(|id| {
                    (
                        id.to_string(),
                        entries.detail(id, manifest, catalog, lineage),
                    )
                })
                .collect();
            let data = serde_json::to_string(&details).map_err(std::io::Error::other)?;
            Ok((
                format!("data/chunk-{k}.js"),
                format!("window.ELT_DOCS_CHUNK({k}, {data});\n").into_bytes(),
            ))
        })
        .collect::<std::io::Result<_>>()?;
    files.extend(chunks);
    files.push(("data/lineage.js".into(), lineage_file(&entries, lineage)?));

    let staging = dir.with_extension("tmp");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(staging.join("data"))?;
    files
        .par_iter()
        .try_for_each(|(name, bytes)| std::fs::write(staging.join(name), bytes))?;
    let _ = std::fs::remove_dir_all(dir);
    std::fs::rename(&staging, dir)?;
    Ok(Written {
        dir: dir.to_path_buf(),
        nodes: entries.ids.len(),
        files: files.len(),
        bytes: files.iter().map(|(_, b)| b.len() as u64).sum(),
    })
}

/// Every documented thing, numbered: the site refers to nodes by number.
struct Entries<'a> {
    ids: Vec<&'a str>,
    number: HashMap<&'a str, usize>,
    /// Tests attached to each node, with the column they test.
    tests: HashMap<&'a str, Vec<&'a Node>>,
}

impl<'a> Entries<'a> {
    fn new(manifest: &'a Manifest) -> Self {
        let ids: Vec<&str> = manifest
            .nodes
            .keys()
            .chain(manifest.sources.keys())
            .chain(manifest.macros.keys())
            .map(String::as_str)
            .collect();
        let number = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        let mut tests: HashMap<&str, Vec<&Node>> = HashMap::new();
        for node in manifest.nodes.values() {
            if let Some(attached) = node.test.as_ref().and_then(|t| t.attached_node.as_deref()) {
                tests.entry(attached).or_default().push(node);
            }
        }
        Entries { ids, number, tests }
    }

    fn numbers<'i>(&self, ids: impl IntoIterator<Item = &'i String>) -> Vec<usize> {
        ids.into_iter()
            .filter_map(|id| self.number.get(id.as_str()).copied())
            .collect()
    }

    /// The numbers of the tests attached to a node or source.
    fn tests_of(&self, id: &str) -> Vec<usize> {
        self.numbers(
            self.tests
                .get(id)
                .into_iter()
                .flatten()
                .map(|t| &t.unique_id),
        )
    }

    fn detail(
        &self,
        id: &str,
        manifest: &Manifest,
        catalog: &Catalog,
        lineage: &ProjectLineage,
    ) -> Json {
        if let Some(node) = manifest.nodes.get(id) {
            return self.node_detail(node, catalog, lineage);
        }
        if let Some(source) = manifest.sources.get(id) {
            let columns = self.columns(id, &source.columns, catalog, lineage);
            let mut extra = Map::new();
            if !source.loader.is_empty() {
                extra.insert("loader".into(), json!(source.loader));
            }
            if let Some(freshness) = &source.freshness {
                extra.insert("freshness".into(), freshness.clone());
            }
            if let Some(field) = &source.loaded_at_field {
                extra.insert("loaded_at_field".into(), json!(field));
            }
            return json!({
                "description_html": to_html(source_description(source)),
                "database": source.relation.database,
                "schema": source.relation.schema,
                "original_file_path": source.path,
                "columns": columns,
                "config": source.config,
                "raw_code": null,
                "compiled_code": null,
                "tests": self.tests_of(id),
                "extra": extra,
            });
        }
        let Some(macro_node) = manifest.macros.get(id) else {
            return Json::Null;
        };
        json!({
            "description_html": to_html(&macro_node.description),
            "original_file_path": macro_node.path,
            "columns": [],
            "config": {},
            "raw_code": macro_node.macro_sql,
            "compiled_code": null,
            "tests": [],
            "extra": {"arguments": macro_node.arguments},
        })
    }

    fn node_detail(&self, node: &Node, catalog: &Catalog, lineage: &ProjectLineage) -> Json {
        let mut config = node.config.clone();
        for (key, value) in node.config_defaults() {
            config.entry(key).or_insert(value);
        }
        let mut extra = Map::new();
        if let Some(test) = &node.test {
            extra.insert("test".into(), json!(test.name));
            extra.insert("arguments".into(), Json::Object(test.kwargs.clone()));
        }
        json!({
            "description_html": to_html(&node.description),
            "database": node.relation.as_ref().and_then(|r| r.database.clone()),
            "schema": node.relation.as_ref().map(|r| r.schema.clone()),
            "original_file_path": node.original_file_path,
            "columns": self.columns(&node.unique_id, &node.columns, catalog, lineage),
            "config": config,
            "raw_code": node.raw_code,
            "compiled_code": node.compiled_code,
            "tests": self.tests_of(&node.unique_id),
            "extra": extra,
        })
    }

    /// The warehouse's columns in order, then documented ones it lacks, then ones only the
    /// lineage knows; with types, descriptions and the tests on each.
    fn columns(
        &self,
        id: &str,
        documented: &indexmap::IndexMap<String, elt_core::manifest::Column>,
        catalog: &Catalog,
        lineage: &ProjectLineage,
    ) -> Vec<Json> {
        let tests = self.tests.get(id).map(Vec::as_slice).unwrap_or_default();
        column_names(id, documented, catalog, lineage)
            .into_iter()
            .map(|name| {
                let doc = documented
                    .iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case(&name))
                    .map(|(_, c)| c);
                let data_type = catalog
                    .column_type(id, &name)
                    .map(str::to_string)
                    .or_else(|| doc.and_then(|d| d.data_type.clone()));
                let column_tests: Vec<&str> = tests
                    .iter()
                    .filter_map(|t| t.test.as_ref())
                    .filter(|t| {
                        t.column_name
                            .as_deref()
                            .is_some_and(|c| c.eq_ignore_ascii_case(&name))
                    })
                    .map(|t| t.name.as_str())
                    .collect();
                json!({
                    "name": name,
                    "type": data_type,
                    "description_html": doc.map(|d| to_html(&d.description)).unwrap_or_default(),
                    "tests": column_tests,
                })
            })
            .collect()
    }
}

/// A source table's description, or its source's when the table has none.
fn source_description(source: &SourceNode) -> &str {
    match source.description.trim() {
        "" => &source.source_description,
        _ => &source.description,
    }
}

fn column_names(
    id: &str,
    documented: &indexmap::IndexMap<String, elt_core::manifest::Column>,
    catalog: &Catalog,
    lineage: &ProjectLineage,
) -> Vec<String> {
    let mut names: Vec<String> = catalog.columns(id).unwrap_or_default();
    let mut add = |name: &str| {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name.to_string());
        }
    };
    documented.keys().for_each(|n| add(n));
    if let Some(node) = lineage.nodes.get(id) {
        node.columns
            .iter()
            .filter(|c| c.named)
            .for_each(|c| add(&c.name));
    }
    names
}

#[derive(Serialize)]
struct IndexEntry<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'a str,
    name: String,
    package: &'a str,
    path: String,
    relation: Option<String>,
    materialized: Option<&'a str>,
    description: &'a str,
    tags: &'a [String],
    columns: Vec<String>,
    parents: Vec<usize>,
    chunk: usize,
}

fn index_file(
    manifest: &Manifest,
    entries: &Entries,
    catalog: &Catalog,
    lineage: &ProjectLineage,
) -> std::io::Result<Vec<u8>> {
    let index: Vec<IndexEntry> = entries
        .ids
        .par_iter()
        .enumerate()
        .map(|(i, id)| index_entry(id, i / CHUNK, manifest, entries, catalog, lineage))
        .collect();
    let overview = manifest
        .docs
        .values()
        .filter(|d| d.name == "__overview__")
        .max_by_key(|d| d.package_name == manifest.project_name)
        .map(|d| to_html(&d.block_contents))
        .unwrap_or_else(|| {
            to_html(&format!(
                "Documentation of the **{}** project. Search for a model above, or browse the \
                 project in the sidebar.",
                manifest.project_name
            ))
        });
    let data = json!({
        "project": {
            "name": manifest.project_name,
            "generated_at": manifest.generated_at,
            "elt_version": env!("CARGO_PKG_VERSION"),
            "adapter": manifest.target.dialect.to_string(),
            "overview_html": overview,
        },
        "nodes": index,
    });
    let text = serde_json::to_string(&data).map_err(std::io::Error::other)?;
    Ok(format!("window.ELT_DOCS = {text};\n").into_bytes())
}

fn index_entry<'a>(
    id: &'a str,
    chunk: usize,
    manifest: &'a Manifest,
    entries: &Entries,
    catalog: &Catalog,
    lineage: &ProjectLineage,
) -> IndexEntry<'a> {
    if let Some(node) = manifest.nodes.get(id) {
        let kind = node.resource_type.as_str();
        return IndexEntry {
            id,
            kind,
            name: node.name.clone(),
            package: &node.package_name,
            path: node.original_file_path.to_string_lossy().into_owned(),
            relation: node
                .relation
                .as_ref()
                .filter(|_| !node.is_ephemeral() && node.resource_type != ResourceType::Test)
                .map(|r| r.to_string()),
            materialized: matches!(
                node.resource_type,
                ResourceType::Model | ResourceType::Snapshot
            )
            .then(|| node.materialized()),
            description: &node.description,
            tags: &node.tags,
            columns: column_names(id, &node.columns, catalog, lineage),
            parents: entries.numbers(&node.depends_on_nodes),
            chunk,
        };
    }
    if let Some(source) = manifest.sources.get(id) {
        return IndexEntry {
            id,
            kind: "source",
            name: source.full_name(),
            package: &source.package_name,
            path: source.path.to_string_lossy().into_owned(),
            relation: Some(source.relation.to_string()),
            materialized: None,
            description: source_description(source),
            tags: &source.tags,
            columns: column_names(id, &source.columns, catalog, lineage),
            parents: Vec::new(),
            chunk,
        };
    }
    let macro_node = &manifest.macros[id];
    IndexEntry {
        id,
        kind: "macro",
        name: macro_node.name.clone(),
        package: &macro_node.package_name,
        path: macro_node.path.to_string_lossy().into_owned(),
        relation: None,
        materialized: None,
        description: &macro_node.description,
        tags: &[],
        columns: Vec::new(),
        parents: Vec::new(),
        chunk,
    }
}

/// Column lineage by node number: `{nodes: {"7": {error, columns: {name: {kind, sources:
/// [[node, column]], reason}}}}}`.
fn lineage_file(entries: &Entries, lineage: &ProjectLineage) -> std::io::Result<Vec<u8>> {
    let nodes: BTreeMap<String, Json> = lineage
        .nodes
        .iter()
        .filter_map(|(id, node)| {
            let number = entries.number.get(id.as_str())?;
            let columns: Map<String, Json> = node
                .columns
                .iter()
                .map(|c| {
                    let sources: Vec<Json> = c
                        .sources
                        .iter()
                        .filter_map(|s| {
                            Some(json!([entries.number.get(s.node.as_str())?, s.column]))
                        })
                        .collect();
                    (
                        c.name.clone(),
                        json!({"kind": c.kind, "sources": sources, "reason": c.reason}),
                    )
                })
                .collect();
            Some((
                number.to_string(),
                json!({"error": node.error, "columns": columns}),
            ))
        })
        .collect();
    let text = serde_json::to_string(&json!({ "nodes": nodes })).map_err(std::io::Error::other)?;
    Ok(format!("window.ELT_DOCS_LINEAGE = {text};\n").into_bytes())
}
