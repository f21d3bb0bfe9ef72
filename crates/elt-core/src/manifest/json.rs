//! `manifest.json` in dbt's schema (v12), so tools that read dbt manifests read ours.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use indexmap::IndexMap;
use serde_json::{Map, Value as Json, json};

use super::{Column, Manifest, Node, ResourceType, SourceNode};
use crate::diagnostics::{Diagnostic, Result};

pub const SCHEMA_URL: &str = "https://schemas.getdbt.com/dbt/manifest/v12.json";

/// Writes `manifest.json` to `path` (atomically: a temporary file renamed into place).
pub fn write(
    manifest: &Manifest,
    parent_map: &BTreeMap<String, Vec<String>>,
    child_map: &BTreeMap<String, Vec<String>>,
    path: &Path,
) -> Result<()> {
    let value = to_json(manifest, parent_map, child_map);
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)
        .map_err(|e| Diagnostic::error(format!("cannot create {}: {e}", dir.display())))?;
    let tmp = path.with_extension("json.tmp");
    let write = || -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
        serde_json::to_writer(&mut out, &value)?;
        out.flush()?;
        drop(out);
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| Diagnostic::error(format!("cannot write {}: {e}", path.display())).into())
}

pub fn to_json(
    manifest: &Manifest,
    parent_map: &BTreeMap<String, Vec<String>>,
    child_map: &BTreeMap<String, Vec<String>>,
) -> Json {
    let nodes: Map<String, Json> = manifest
        .nodes
        .iter()
        .map(|(id, n)| (id.clone(), node_json(n)))
        .collect();
    let mut disabled: Map<String, Json> = Map::new();
    for (id, node) in &manifest.disabled {
        disabled.insert(id.clone(), json!([node_json(node)]));
    }
    let sources: Map<String, Json> = manifest
        .sources
        .iter()
        .map(|(id, s)| (id.clone(), source_json(s)))
        .collect();
    let macros: Map<String, Json> = manifest
        .macros
        .values()
        .map(|m| {
            (
                m.unique_id.clone(),
                json!({
                    "name": m.name,
                    "resource_type": "macro",
                    "package_name": m.package_name,
                    "path": m.path,
                    "original_file_path": m.path,
                    "unique_id": m.unique_id,
                    "macro_sql": m.macro_sql,
                    "depends_on": {"macros": []},
                    "description": m.description,
                    "meta": m.meta,
                    "docs": {"show": true, "node_color": null},
                    "patch_path": null,
                    "arguments": m.arguments,
                    "created_at": 0.0,
                    "supported_languages": null,
                    "line": m.line,
                }),
            )
        })
        .collect();
    let docs: Map<String, Json> = manifest
        .docs
        .values()
        .map(|d| {
            (
                d.unique_id.clone(),
                json!({
                    "name": d.name,
                    "resource_type": "doc",
                    "package_name": d.package_name,
                    "path": d.path,
                    "original_file_path": d.path,
                    "unique_id": d.unique_id,
                    "block_contents": d.block_contents,
                }),
            )
        })
        .collect();
    json!({
        "metadata": {
            "dbt_schema_version": SCHEMA_URL,
            "dbt_version": crate::DBT_VERSION,
            "elt_version": env!("CARGO_PKG_VERSION"),
            "generated_at": manifest.generated_at,
            "invocation_id": manifest.invocation_id,
            "env": {},
            "project_name": manifest.project_name,
            "project_id": crate::local_md5(&manifest.project_name),
            "user_id": null,
            "send_anonymous_usage_stats": false,
            "adapter_type": manifest.target.dialect.name(),
        },
        "nodes": nodes,
        "sources": sources,
        "macros": macros,
        "docs": docs,
        "exposures": {},
        "metrics": {},
        "groups": {},
        "selectors": {},
        "disabled": disabled,
        "parent_map": parent_map,
        "child_map": child_map,
        "group_map": {},
        "saved_queries": {},
        "semantic_models": {},
        "unit_tests": {},
    })
}

fn columns_json(columns: &IndexMap<String, Column>) -> Json {
    Json::Object(
        columns
            .iter()
            .map(|(name, c)| {
                (
                    name.clone(),
                    json!({
                        "name": c.name,
                        "description": c.description,
                        "meta": c.meta,
                        "data_type": c.data_type,
                        "constraints": c.constraints,
                        "quote": c.quote,
                        "tags": c.tags,
                        "granularity": null,
                    }),
                )
            })
            .collect(),
    )
}

fn node_json(node: &Node) -> Json {
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
    let mut config = node.config.clone();
    config.entry("enabled").or_insert(json!(true));
    config
        .entry("materialized")
        .or_insert(json!(node.materialized()));
    config.entry("tags").or_insert(json!([]));
    config.entry("meta").or_insert(json!({}));
    config.entry("pre-hook").or_insert(json!([]));
    config.entry("post-hook").or_insert(json!([]));
    let compiled_path = node
        .compiled_code
        .as_ref()
        .map(|_| crate::compile::compiled_path(Path::new("target"), node));
    let checksum = match node.checksum.as_str() {
        "" => json!({"name": "none", "checksum": ""}),
        sha => json!({"name": "sha256", "checksum": sha}),
    };
    let mut value = json!({
        "database": relation.and_then(|r| r.database.clone()),
        "schema": relation.map(|r| r.schema.clone()),
        "name": node.name,
        "resource_type": node.resource_type.as_str(),
        "package_name": node.package_name,
        "path": node.path,
        "original_file_path": node.original_file_path,
        "unique_id": node.unique_id,
        "fqn": node.fqn,
        "alias": relation.map(|r| r.identifier.clone()).unwrap_or_else(|| node.name.clone()),
        "checksum": checksum,
        "config": config,
        "tags": node.tags,
        "description": node.description,
        "columns": columns_json(&node.columns),
        "meta": node.meta,
        "group": null,
        "docs": {
            "show": node.docs.get("show").and_then(Json::as_bool).unwrap_or(true),
            "node_color": node.docs.get("node_color").cloned().unwrap_or(Json::Null),
        },
        "patch_path": node.patch_path.as_ref().map(|p| format!("{}://{}", node.package_name, p.display())),
        "build_path": null,
        "unrendered_config": {},
        "created_at": 0.0,
        "relation_name": relation_name,
        "raw_code": node.raw_code,
        "language": "sql",
        "refs": node.refs.iter().map(|r| json!({"name": r.name, "package": r.package, "version": r.version})).collect::<Vec<_>>(),
        "sources": node.sources.iter().map(|(s, t)| json!([s, t])).collect::<Vec<_>>(),
        "metrics": [],
        "depends_on": {"macros": node.depends_on_macros, "nodes": node.depends_on_nodes},
        "compiled_path": compiled_path,
        "compiled": node.compiled_code.is_some(),
        "compiled_code": node.compiled_code,
        "extra_ctes_injected": node.compiled_code.is_some(),
        "extra_ctes": node.extra_ctes.iter().map(|(id, sql)| json!({"id": id, "sql": sql})).collect::<Vec<_>>(),
        "contract": {"enforced": false, "alias_types": true, "checksum": null},
    });
    let object = value.as_object_mut().expect("node json is an object");
    if node.resource_type == ResourceType::Model {
        object.insert(
            "access".into(),
            node.extra
                .get("access")
                .cloned()
                .unwrap_or(json!("protected")),
        );
        object.insert(
            "constraints".into(),
            node.extra.get("constraints").cloned().unwrap_or(json!([])),
        );
        object.insert("version".into(), Json::Null);
        object.insert("latest_version".into(), Json::Null);
        object.insert("deprecation_date".into(), Json::Null);
    }
    if let Some(test) = &node.test {
        object.insert("column_name".into(), json!(test.column_name));
        object.insert("file_key_name".into(), json!(test.file_key_name));
        object.insert("attached_node".into(), json!(test.attached_node));
        object.insert(
            "test_metadata".into(),
            json!({"name": test.name, "kwargs": test.kwargs, "namespace": test.namespace}),
        );
    }
    value
}

fn source_json(source: &SourceNode) -> Json {
    json!({
        "database": source.relation.database,
        "schema": source.relation.schema,
        "name": source.name,
        "resource_type": "source",
        "package_name": source.package_name,
        "path": source.path,
        "original_file_path": source.path,
        "unique_id": source.unique_id,
        "fqn": source.fqn,
        "source_name": source.source_name,
        "source_description": source.source_description,
        "loader": source.loader,
        "identifier": source.identifier,
        "quoting": {"database": null, "schema": null, "identifier": null, "column": null},
        "loaded_at_field": source.loaded_at_field,
        "freshness": source.freshness,
        "external": source.external,
        "description": source.description,
        "columns": columns_json(&source.columns),
        "meta": source.meta,
        "source_meta": source.source_meta,
        "tags": source.tags,
        "config": source.config,
        "patch_path": null,
        "unrendered_config": {},
        "relation_name": source.relation.to_string(),
        "created_at": 0.0,
    })
}
