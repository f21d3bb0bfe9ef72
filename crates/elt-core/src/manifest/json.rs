//! `manifest.json` in dbt's schema (v12), so tools that read dbt manifests read ours.
//!
//! Serialized straight from the compiled project through borrowing structs: a manifest of
//! 20,000 nodes is tens of megabytes, and building a JSON tree first would copy all of it.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use rayon::prelude::*;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};
use serde_json::{Map, Value as Json};

use super::{Column, DocNode, MacroNode, Manifest, Node, NodeMap, ResourceType, SourceNode};
use crate::diagnostics::{Diagnostic, Result};
use crate::template::RefCall;

pub const SCHEMA_URL: &str = "https://schemas.getdbt.com/dbt/manifest/v12.json";

type IdMap = BTreeMap<String, Vec<String>>;

/// Writes `manifest.json` to `path` (atomically: a temporary file renamed into place).
pub fn write(
    manifest: &Manifest,
    parent_map: &IdMap,
    child_map: &IdMap,
    path: &Path,
) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| Diagnostic::error(format!("cannot create {}: {e}", dir.display())))?;
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&tmp)?);
        write_to(&mut out, manifest, parent_map, child_map)?;
        out.flush()?;
        drop(out);
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| Diagnostic::error(format!("cannot write {}: {e}", path.display())).into())
}

/// The manifest as a JSON value (for tests and tools that want it in memory).
pub fn to_json(manifest: &Manifest, parent_map: &IdMap, child_map: &IdMap) -> Json {
    let mut bytes = Vec::new();
    write_to(&mut bytes, manifest, parent_map, child_map).expect("writing to memory");
    serde_json::from_slice(&bytes).expect("the manifest is JSON")
}

/// Writes the manifest's JSON. Nodes, most of it, are serialized in parallel a chunk at a time
/// and written in order, so only one chunk's text is held in memory.
fn write_to(
    out: &mut impl Write,
    manifest: &Manifest,
    parent_map: &IdMap,
    child_map: &IdMap,
) -> std::io::Result<()> {
    let metadata = Metadata {
        dbt_schema_version: SCHEMA_URL,
        dbt_version: crate::DBT_VERSION,
        elt_version: env!("CARGO_PKG_VERSION"),
        generated_at: &manifest.generated_at,
        invocation_id: &manifest.invocation_id,
        env: Empty,
        project_name: &manifest.project_name,
        project_id: crate::local_md5(&manifest.project_name),
        user_id: None,
        send_anonymous_usage_stats: false,
        adapter_type: manifest.target.dialect.name(),
    };
    out.write_all(b"{\"metadata\":")?;
    serde_json::to_writer(&mut *out, &metadata)?;
    out.write_all(b",\"nodes\":")?;
    write_nodes(out, &manifest.nodes)?;
    field(out, "sources", &Sources(&manifest.sources))?;
    field(out, "macros", &Macros(&manifest.macros))?;
    field(out, "docs", &Docs(&manifest.docs))?;
    for empty in ["exposures", "metrics", "groups", "selectors"] {
        field(out, empty, &Empty)?;
    }
    field(out, "disabled", &Disabled(&manifest.disabled))?;
    field(out, "parent_map", parent_map)?;
    field(out, "child_map", child_map)?;
    for empty in ["group_map", "saved_queries", "semantic_models"] {
        field(out, empty, &Empty)?;
    }
    field(out, "unit_tests", &UnitTests(&manifest.nodes))?;
    out.write_all(b"}")
}

/// `,"key":<value>`
fn field(out: &mut impl Write, key: &str, value: &impl Serialize) -> std::io::Result<()> {
    write!(out, ",\"{key}\":")?;
    serde_json::to_writer(&mut *out, value).map_err(std::io::Error::from)
}

fn write_nodes(out: &mut impl Write, nodes: &NodeMap) -> std::io::Result<()> {
    const CHUNK: usize = 1024;
    let entries: Vec<(&String, &Box<Node>)> = nodes
        .iter()
        .filter(|(_, node)| node.resource_type != ResourceType::UnitTest)
        .collect();
    out.write_all(b"{")?;
    for (i, chunk) in entries.chunks(CHUNK).enumerate() {
        let texts: Vec<Vec<u8>> = chunk
            .par_iter()
            .map(|(id, node)| {
                let mut text = serde_json::to_vec(id).expect("ids serialize");
                text.push(b':');
                serde_json::to_writer(&mut text, &NodeJson::new(node)).expect("nodes serialize");
                text
            })
            .collect();
        for (j, text) in texts.iter().enumerate() {
            if i > 0 || j > 0 {
                out.write_all(b",")?;
            }
            out.write_all(text)?;
        }
    }
    out.write_all(b"}")
}

/// A node as the manifest writes it (also dbt's `graph.nodes` entries).
pub fn node_json(node: &Node) -> Json {
    serde_json::to_value(NodeJson::new(node)).expect("nodes serialize")
}

/// A source table as the manifest writes it (also dbt's `graph.sources` entries).
pub fn source_json(source: &SourceNode) -> Json {
    serde_json::to_value(SourceJson::new(source)).expect("sources serialize")
}

/// `{}`
struct Empty;

impl Serialize for Empty {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_map(Some(0))?.end()
    }
}

#[derive(Serialize)]
struct Metadata<'a> {
    dbt_schema_version: &'a str,
    dbt_version: &'a str,
    elt_version: &'a str,
    generated_at: &'a str,
    invocation_id: &'a str,
    env: Empty,
    project_name: &'a str,
    project_id: String,
    user_id: Option<&'a str>,
    send_anonymous_usage_stats: bool,
    adapter_type: &'a str,
}

struct Disabled<'a>(&'a NodeMap);
struct UnitTests<'a>(&'a NodeMap);

/// Unit tests as dbt writes them under `unit_tests`: the node's origin, and its model, given,
/// expect and overrides as written (kept in the node's `extra`).
impl Serialize for UnitTests<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let unit_tests = self
            .0
            .values()
            .filter(|node| node.resource_type == ResourceType::UnitTest);
        s.collect_map(unit_tests.map(|node| {
            let mut json = serde_json::json!({
                "name": node.name,
                "resource_type": "unit_test",
                "package_name": node.package_name,
                "path": node.path,
                "original_file_path": node.file_in_package(),
                "unique_id": node.unique_id,
                "fqn": node.fqn,
                "description": node.description,
                "config": {
                    "tags": node.tags,
                    "meta": node.meta,
                    "enabled": true,
                },
                "depends_on": {"macros": [], "nodes": node.depends_on_nodes},
                "schema": node.relation.as_ref().map(|r| r.schema.clone()),
                "versions": null,
                "version": null,
            });
            for (key, value) in &node.extra {
                json[key] = value.clone();
            }
            (node.unique_id.clone(), json)
        }))
    }
}
struct Sources<'a>(&'a BTreeMap<String, SourceNode>);
struct Macros<'a>(&'a BTreeMap<String, MacroNode>);
struct Docs<'a>(&'a BTreeMap<String, DocNode>);

impl Serialize for Disabled<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(id, node)| (id, [NodeJson::new(node)])))
    }
}

impl Serialize for Sources<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(
            self.0
                .iter()
                .map(|(id, source)| (id, SourceJson::new(source))),
        )
    }
}

impl Serialize for Macros<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(id, m)| (id, MacroJson::new(m))))
    }
}

impl Serialize for Docs<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(id, d)| {
            (
                id,
                DocJson {
                    name: &d.name,
                    resource_type: "doc",
                    package_name: &d.package_name,
                    path: &d.path,
                    original_file_path: &d.path,
                    unique_id: &d.unique_id,
                    block_contents: &d.block_contents,
                },
            )
        }))
    }
}

#[derive(Serialize)]
struct DocJson<'a> {
    name: &'a str,
    resource_type: &'a str,
    package_name: &'a str,
    path: &'a Path,
    original_file_path: &'a Path,
    unique_id: &'a str,
    block_contents: &'a str,
}

#[derive(Serialize)]
struct MacroJson<'a> {
    name: &'a str,
    resource_type: &'a str,
    package_name: &'a str,
    path: &'a Path,
    original_file_path: &'a Path,
    unique_id: &'a str,
    macro_sql: &'a str,
    depends_on: MacroDepends,
    description: &'a str,
    meta: &'a Map<String, Json>,
    docs: DocsConfig,
    patch_path: Option<&'a str>,
    arguments: &'a [Json],
    created_at: f64,
    supported_languages: Option<&'a str>,
}

impl<'a> MacroJson<'a> {
    fn new(m: &'a MacroNode) -> Self {
        MacroJson {
            name: &m.name,
            resource_type: "macro",
            package_name: &m.package_name,
            path: &m.path,
            original_file_path: &m.path,
            unique_id: &m.unique_id,
            macro_sql: &m.macro_sql,
            depends_on: MacroDepends { macros: [] },
            description: &m.description,
            meta: &m.meta,
            docs: DocsConfig {
                show: true,
                node_color: None,
            },
            patch_path: None,
            arguments: &m.arguments,
            created_at: 0.0,
            supported_languages: None,
        }
    }
}

#[derive(Serialize)]
struct MacroDepends {
    macros: [String; 0],
}

#[derive(Serialize)]
struct DocsConfig {
    show: bool,
    node_color: Option<String>,
}

#[derive(Serialize)]
struct Checksum<'a> {
    name: &'a str,
    checksum: &'a str,
}

#[derive(Serialize)]
struct DependsOn<'a> {
    macros: &'a [String],
    nodes: &'a [String],
}

#[derive(Serialize)]
struct RefJson<'a> {
    name: &'a str,
    package: Option<&'a str>,
    version: Option<&'a str>,
}

#[derive(Serialize)]
struct CteJson<'a> {
    id: &'a str,
    sql: &'a str,
}

#[derive(Serialize)]
struct Contract {
    enforced: bool,
    alias_types: bool,
    checksum: Option<String>,
}

#[derive(Serialize)]
struct NodeJson<'a> {
    database: Option<&'a str>,
    schema: Option<&'a str>,
    name: &'a str,
    resource_type: &'a str,
    package_name: &'a str,
    path: &'a Path,
    original_file_path: &'a Path,
    unique_id: &'a str,
    fqn: &'a [String],
    alias: &'a str,
    checksum: Checksum<'a>,
    config: ConfigJson<'a>,
    tags: &'a [String],
    description: &'a str,
    columns: Columns<'a>,
    meta: &'a Map<String, Json>,
    group: Option<&'a str>,
    docs: DocsConfig,
    patch_path: Option<String>,
    build_path: Option<&'a str>,
    unrendered_config: Empty,
    created_at: f64,
    relation_name: Option<String>,
    raw_code: &'a str,
    language: &'a str,
    refs: Vec<RefJson<'a>>,
    sources: Vec<[&'a str; 2]>,
    metrics: [String; 0],
    depends_on: DependsOn<'a>,
    compiled_path: Option<PathBuf>,
    compiled: bool,
    compiled_code: Option<&'a str>,
    extra_ctes_injected: bool,
    extra_ctes: Vec<CteJson<'a>>,
    contract: Contract,
    #[serde(flatten)]
    model: Option<ModelFields<'a>>,
    #[serde(flatten)]
    test: Option<TestFields<'a>>,
}

#[derive(Serialize)]
struct ModelFields<'a> {
    access: Json,
    constraints: Json,
    version: Option<&'a str>,
    latest_version: Option<&'a str>,
    deprecation_date: Option<&'a str>,
}

#[derive(Serialize)]
struct TestFields<'a> {
    column_name: Option<&'a str>,
    file_key_name: &'a str,
    attached_node: Option<&'a str>,
    test_metadata: TestMetadataJson<'a>,
}

#[derive(Serialize)]
struct TestMetadataJson<'a> {
    name: &'a str,
    kwargs: &'a Map<String, Json>,
    namespace: Option<&'a str>,
}

impl<'a> NodeJson<'a> {
    fn new(node: &'a Node) -> Self {
        let relation = node.relation.as_ref();
        let relation_name = match node.resource_type {
            ResourceType::Model if node.is_ephemeral() => None,
            ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot => {
                relation.map(|r| r.to_string())
            }
            ResourceType::Test
                if node.config.get("store_failures").and_then(Json::as_bool) == Some(true) =>
            {
                relation.map(|r| r.to_string())
            }
            _ => None,
        };
        let compiled_path = node
            .compiled_code
            .as_ref()
            .map(|_| crate::compile::compiled_path(Path::new("target"), node));
        let checksum = match node.checksum.as_str() {
            "" => Checksum {
                name: "none",
                checksum: "",
            },
            sha => Checksum {
                name: "sha256",
                checksum: sha,
            },
        };
        let model = (node.resource_type == ResourceType::Model).then(|| ModelFields {
            access: node
                .extra
                .get("access")
                .cloned()
                .unwrap_or_else(|| Json::from("protected")),
            constraints: node
                .extra
                .get("constraints")
                .cloned()
                .unwrap_or_else(|| Json::Array(vec![])),
            version: None,
            latest_version: None,
            deprecation_date: None,
        });
        let test = node.test.as_ref().map(|t| TestFields {
            column_name: t.column_name.as_deref(),
            file_key_name: &t.file_key_name,
            attached_node: t.attached_node.as_deref(),
            test_metadata: TestMetadataJson {
                name: &t.name,
                kwargs: &t.kwargs,
                namespace: t.namespace.as_deref(),
            },
        });
        NodeJson {
            database: relation.and_then(|r| r.database.as_deref()),
            schema: relation.map(|r| r.schema.as_str()),
            name: &node.name,
            resource_type: node.resource_type.as_str(),
            package_name: &node.package_name,
            path: &node.path,
            original_file_path: node.file_in_package(),
            unique_id: &node.unique_id,
            fqn: &node.fqn,
            alias: relation.map_or(node.name.as_str(), |r| r.identifier.as_str()),
            checksum,
            config: ConfigJson(node),
            tags: &node.tags,
            description: &node.description,
            columns: Columns(&node.columns),
            meta: &node.meta,
            group: None,
            docs: DocsConfig {
                show: node
                    .docs
                    .get("show")
                    .and_then(Json::as_bool)
                    .unwrap_or(true),
                node_color: node
                    .docs
                    .get("node_color")
                    .and_then(Json::as_str)
                    .map(str::to_string),
            },
            patch_path: node
                .patch_path
                .as_ref()
                .map(|p| format!("{}://{}", node.package_name, p.display())),
            build_path: None,
            unrendered_config: Empty,
            created_at: 0.0,
            relation_name,
            raw_code: &node.raw_code,
            language: "sql",
            refs: node.refs.iter().map(ref_json).collect(),
            sources: node
                .sources
                .iter()
                .map(|(s, t)| [s.as_str(), t.as_str()])
                .collect(),
            metrics: [],
            depends_on: DependsOn {
                macros: &node.depends_on_macros,
                nodes: &node.depends_on_nodes,
            },
            compiled: node.compiled_code.is_some(),
            extra_ctes_injected: node.compiled_code.is_some(),
            compiled_path,
            compiled_code: node.compiled_code.as_deref(),
            extra_ctes: node
                .extra_ctes
                .iter()
                .map(|(id, sql)| CteJson { id, sql })
                .collect(),
            contract: Contract {
                enforced: false,
                alias_types: true,
                checksum: None,
            },
            model,
            test,
        }
    }
}

fn ref_json(r: &RefCall) -> RefJson<'_> {
    RefJson {
        name: &r.name,
        package: r.package.as_deref(),
        version: r.version.as_deref(),
    }
}

/// A node's `config` as the manifest writes it (with dbt's defaults), for comparing it with
/// another run's (`state:modified.configs`).
pub fn config_json(node: &Node) -> Json {
    serde_json::to_value(ConfigJson(node)).unwrap_or(Json::Null)
}

struct ConfigJson<'a>(&'a Node);

impl Serialize for ConfigJson<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        let node = self.0;
        let config = &node.config;
        let mut map = s.serialize_map(None)?;
        for (key, value) in config {
            map.serialize_entry(key, value)?;
        }
        for (key, value) in node.config_defaults() {
            map.serialize_entry(key, &value)?;
        }
        // The rest of dbt's NodeConfig, which packages read as attributes of `graph` and
        // `results` nodes (`node.config.full_refresh is none`).
        for (key, value) in unset_node_configs() {
            if !config.contains_key(key) {
                map.serialize_entry(key, &value)?;
            }
        }
        map.end()
    }
}

/// dbt's NodeConfig fields with their defaults, when a node leaves them unset.
fn unset_node_configs() -> [(&'static str, Json); 14] {
    [
        ("alias", Json::Null),
        ("schema", Json::Null),
        ("database", Json::Null),
        ("group", Json::Null),
        ("full_refresh", Json::Null),
        ("unique_key", Json::Null),
        ("incremental_strategy", Json::Null),
        ("on_schema_change", Json::from("ignore")),
        ("on_configuration_change", Json::from("apply")),
        ("persist_docs", Json::Object(Map::new())),
        ("quoting", Json::Object(Map::new())),
        ("column_types", Json::Object(Map::new())),
        ("grants", Json::Object(Map::new())),
        ("packages", Json::Array(Vec::new())),
    ]
}

struct Columns<'a>(&'a IndexMap<String, Column>);

#[derive(Serialize)]
struct ColumnJson<'a> {
    name: &'a str,
    description: &'a str,
    meta: &'a Map<String, Json>,
    data_type: Option<&'a str>,
    constraints: &'a [Json],
    quote: Option<bool>,
    tags: &'a [String],
    granularity: Option<&'a str>,
}

impl Serialize for Columns<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(name, c)| {
            (
                name,
                ColumnJson {
                    name: &c.name,
                    description: &c.description,
                    meta: &c.meta,
                    data_type: c.data_type.as_deref(),
                    constraints: &c.constraints,
                    quote: c.quote,
                    tags: &c.tags,
                    granularity: None,
                },
            )
        }))
    }
}

#[derive(Serialize)]
struct SourceJson<'a> {
    database: Option<&'a str>,
    schema: &'a str,
    name: &'a str,
    resource_type: &'a str,
    package_name: &'a str,
    path: &'a Path,
    original_file_path: &'a Path,
    unique_id: &'a str,
    fqn: &'a [String],
    source_name: &'a str,
    source_description: &'a str,
    loader: &'a str,
    identifier: &'a str,
    quoting: Quoting,
    loaded_at_field: Option<&'a str>,
    freshness: Option<&'a Json>,
    external: Option<&'a Json>,
    description: &'a str,
    columns: Columns<'a>,
    meta: &'a Map<String, Json>,
    source_meta: &'a Map<String, Json>,
    tags: &'a [String],
    config: &'a Map<String, Json>,
    patch_path: Option<&'a str>,
    unrendered_config: Empty,
    relation_name: String,
    created_at: f64,
}

#[derive(Serialize)]
struct Quoting {
    database: Option<bool>,
    schema: Option<bool>,
    identifier: Option<bool>,
    column: Option<bool>,
}

impl<'a> SourceJson<'a> {
    fn new(source: &'a SourceNode) -> Self {
        SourceJson {
            database: source.relation.database.as_deref(),
            schema: &source.relation.schema,
            name: &source.name,
            resource_type: "source",
            package_name: &source.package_name,
            path: &source.path,
            original_file_path: &source.path,
            unique_id: &source.unique_id,
            fqn: &source.fqn,
            source_name: &source.source_name,
            source_description: &source.source_description,
            loader: &source.loader,
            identifier: &source.identifier,
            quoting: Quoting {
                database: None,
                schema: None,
                identifier: None,
                column: None,
            },
            loaded_at_field: source.loaded_at_field.as_deref(),
            freshness: source.freshness.as_ref(),
            external: source.external.as_ref(),
            description: &source.description,
            columns: Columns(&source.columns),
            meta: &source.meta,
            source_meta: &source.source_meta,
            tags: &source.tags,
            config: &source.config,
            patch_path: None,
            unrendered_config: Empty,
            relation_name: source.relation.to_string(),
            created_at: 0.0,
        }
    }
}
