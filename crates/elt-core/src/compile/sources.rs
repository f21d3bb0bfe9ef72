//! Sources: tables declared under `sources:`, with their relations in the warehouse.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json};

use super::nodes::{columns, source_of, yaml_folders};
use crate::adapter::{Dialect, Relation};
use crate::diagnostics::{Diagnostic, Errors, Result};
use crate::manifest::SourceNode;
use crate::project::node_config::{self, as_string_list};
use crate::project::properties::{SourceProperties, SourceTableProperties};
use crate::project::{Project, Resources};

/// Every source table of the project and its packages, by unique id.
pub fn sources(project: &Project) -> Result<BTreeMap<String, SourceNode>> {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for resources in project.resources() {
        package_sources(project, resources, &mut out, &mut errors);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Errors(errors))
    }
}

fn package_sources(
    project: &Project,
    resources: Resources,
    out: &mut BTreeMap<String, SourceNode>,
    errors: &mut Vec<Diagnostic>,
) {
    let package = resources.package.to_string();
    let target = &project.target;
    for file in resources.properties {
        let folders = yaml_folders(resources, &file.path);
        for source in &file.sources {
            for table in &source.tables {
                let unique_id = format!("source.{package}.{}.{}", source.name, table.name);
                if out.contains_key(&unique_id) {
                    errors.push(
                        Diagnostic::error(format!(
                            "source table '{}.{}' is declared twice",
                            source.name, table.name
                        ))
                        .at_source(&file.path, source_of(project, &file.path), table.line, 0)
                        .with_help("declare each table once"),
                    );
                    continue;
                }
                let mut fqn = vec![package.clone()];
                fqn.extend(folders.iter().cloned());
                fqn.push(source.name.clone());
                fqn.push(table.name.clone());
                let mut config = project.tree_configs(resources, "sources", &fqn);
                node_config::merge(&mut config, &source.described.config);
                node_config::merge(&mut config, &table.described.config);
                let mut tags = as_string_list(config.get("tags"));
                for tag in source.described.tags.iter().chain(&table.described.tags) {
                    if !tags.contains(tag) {
                        tags.push(tag.clone());
                    }
                }
                let identifier = table
                    .identifier
                    .clone()
                    .unwrap_or_else(|| table.name.clone());
                let place = (
                    source.database.as_deref().unwrap_or(&target.database),
                    source.schema.as_deref().unwrap_or(&source.name),
                );
                let (database, schema) = match (
                    rendered(place.0, project, resources.vars),
                    rendered(place.1, project, resources.vars),
                ) {
                    (Ok(database), Ok(schema)) => (database, schema),
                    (Err(message), _) | (_, Err(message)) => {
                        errors.push(
                            Diagnostic::error(format!("source '{}': {message}", source.name))
                                .at_source(&file.path, source_of(project, &file.path), source.line, 0)
                                .with_help("a source's database and schema may use target, env_var() and var()"),
                        );
                        continue;
                    }
                };
                let mut relation =
                    Relation::new(target.dialect, Some(database), schema, identifier.clone());
                apply_quoting(&mut relation, &project.config.quoting);
                apply_quoting(&mut relation, &source.quoting);
                apply_quoting(&mut relation, &table.quoting);
                if target.dialect.reads_external_locations() {
                    relation.external =
                        external_location(target.dialect, &config, source, table, &identifier);
                }
                out.insert(
                    unique_id.clone(),
                    SourceNode {
                        unique_id,
                        source_name: source.name.clone(),
                        name: table.name.clone(),
                        package_name: package.clone(),
                        path: file.path.clone(),
                        fqn,
                        source_description: source.described.description.clone(),
                        description: table.described.description.clone(),
                        loader: loader_name(source, table),
                        load: load_config(source, table),
                        identifier,
                        loaded_at_field: table
                            .loaded_at_field
                            .clone()
                            .or_else(|| source.loaded_at_field.clone()),
                        freshness: table.freshness.clone().or_else(|| source.freshness.clone()),
                        external: table.external.clone(),
                        columns: columns(&table.columns),
                        meta: table.described.meta.clone(),
                        source_meta: source.described.meta.clone(),
                        tags,
                        config,
                        relation,
                        line: table.line,
                    },
                );
            }
        }
    }
}

/// A source's `database` or `schema` as written, rendered as dbt renders them: e.g.
/// `"{{ target.schema }}_raw"`.
fn rendered(
    text: &str,
    project: &Project,
    vars: &Map<String, Json>,
) -> std::result::Result<String, String> {
    if !crate::template::is_templated(text) {
        return Ok(text.to_string());
    }
    let target = super::render::target_value(project);
    crate::project::profile::render_with_target(text, vars, target)
}

/// dbt's `loader` text: what loads the table. For an elt loader config, its `type`.
fn loader_name(source: &SourceProperties, table: &SourceTableProperties) -> String {
    let loader = table.loader.as_ref().or(source.loader.as_ref());
    match loader {
        Some(Json::String(text)) => text.clone(),
        Some(Json::Object(config)) => config
            .get("type")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string(),
        _ => String::new(),
    }
}

/// elt's loader config for a table: the source's `loader:` mapping with the table's keys
/// over it.
fn load_config(
    source: &SourceProperties,
    table: &SourceTableProperties,
) -> Option<Map<String, Json>> {
    let mapping = |loader: &Option<Json>| match loader {
        Some(Json::Object(config)) => Some(config.clone()),
        _ => None,
    };
    match (mapping(&source.loader), mapping(&table.loader)) {
        (None, None) => None,
        (base, over) => {
            let mut config = base.unwrap_or_default();
            config.extend(over.unwrap_or_default());
            Some(config)
        }
    }
}

/// dbt-duckdb's `external_location` (in the config, or the table's or source's meta): where
/// DuckDB reads the table from. `{name}` and `{identifier}` are the table's; a plain path is
/// quoted, a table function or subquery (anything with a parenthesis) is used as written.
fn external_location(
    dialect: Dialect,
    config: &Map<String, Json>,
    source: &SourceProperties,
    table: &SourceTableProperties,
    identifier: &str,
) -> Option<String> {
    let location = config
        .get("external_location")
        .or_else(|| table.described.meta.get("external_location"))
        .or_else(|| source.described.meta.get("external_location"))?
        .as_str()?
        .replace("{name}", &table.name)
        .replace("{identifier}", identifier);
    Some(if location.contains('(') {
        location
    } else {
        dialect.string_literal(&location)
    })
}

/// `quoting: {database: false, schema: true, identifier: false}`.
pub fn apply_quoting(relation: &mut Relation, quoting: &Map<String, Json>) {
    let flag = |k: &str| quoting.get(k).and_then(Json::as_bool);
    if let Some(q) = flag("database") {
        relation.quote_database = q;
    }
    if let Some(q) = flag("schema") {
        relation.quote_schema = q;
    }
    if let Some(q) = flag("identifier") {
        relation.quote_identifier = q;
    }
}
