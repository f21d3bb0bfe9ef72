//! Nodes before rendering: one per model, seed, snapshot, analysis and singular test file, with
//! the configs and documentation that the project file and properties YAML give them.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use rayon::prelude::*;
use serde_json::{Map, Value as Json};

use crate::diagnostics::{Diagnostic, Errors, Result};
use crate::manifest::{Column, Node, NodeOrigin, ResourceType};
use crate::project::node_config::{self, as_string_list};
use crate::project::properties::{ColumnProperties, NodeProperties, Section};
use crate::project::{Project, ProjectFile, Resources};
use crate::template::blocks;

/// Properties by (package, resource type, name), with the file they are in.
pub type PropertiesIndex<'a> =
    HashMap<(&'a str, ResourceType, String), (&'a NodeProperties, &'a Path)>;

/// Indexes the properties of models, seeds, snapshots and analyses of every package; a node
/// documented twice is an error.
pub fn index_properties(project: &Project) -> Result<PropertiesIndex<'_>> {
    let mut index: PropertiesIndex = HashMap::new();
    let mut errors = Vec::new();
    let resources = project.resources();
    let files = resources
        .iter()
        .flat_map(|r| r.properties.iter().map(move |f| (r.package, f)));
    for (package, file) in files {
        for props in &file.nodes {
            let kind = section_type(props.section);
            let key = (package, kind, props.name.clone());
            if let Some((_, first)) = index.get(&key) {
                let source = source_of(project, &file.path);
                errors.push(
                    Diagnostic::error(format!(
                        "{} '{}' has properties in two files",
                        kind.as_str(),
                        props.name
                    ))
                    .at_source(&file.path, source, props.line, 0)
                    .with_note(format!("also documented in {}", first.display()))
                    .with_help("keep one entry per resource"),
                );
                continue;
            }
            index.insert(key, (props, &file.path));
        }
    }
    if errors.is_empty() {
        Ok(index)
    } else {
        Err(Errors(errors))
    }
}

fn section_type(section: Section) -> ResourceType {
    match section {
        Section::Models => ResourceType::Model,
        Section::Seeds => ResourceType::Seed,
        Section::Snapshots => ResourceType::Snapshot,
        Section::Analyses => ResourceType::Analysis,
    }
}

/// The text of a project file by path (for error snippets).
pub fn source_of<'a>(project: &'a Project, path: &Path) -> &'a str {
    project.file_text(path).unwrap_or("")
}

/// A node to build: its project, kind, file, name, and the SQL it holds with the line that
/// SQL starts at (`None`: the whole file; snapshot blocks start later).
struct NodeSpec<'a> {
    resources: Resources<'a>,
    kind: ResourceType,
    file: &'a ProjectFile,
    name: String,
    block: Option<(String, u32)>,
}

/// Builds every file-based node of the root project and the packages, in parallel. Snapshot
/// files may hold several `{% snapshot %}` blocks.
pub fn file_nodes(project: &Project, index: &PropertiesIndex) -> Result<Vec<Node>> {
    let mut specs = Vec::new();
    let mut errors = Vec::new();
    for resources in project.resources() {
        let files = resources.files;
        for (kind, list) in [
            (ResourceType::Model, &files.models),
            (ResourceType::Analysis, &files.analyses),
            (ResourceType::Test, &files.singular_tests),
            (ResourceType::Seed, &files.seeds),
        ] {
            specs.extend(list.iter().map(|file| NodeSpec {
                resources,
                kind,
                file,
                name: file.stem(),
                block: None,
            }));
        }
        for file in &files.snapshots {
            match blocks::find_blocks(&file.contents, &["snapshot"]) {
                Ok(found) => specs.extend(found.into_iter().map(|b| NodeSpec {
                    resources,
                    kind: ResourceType::Snapshot,
                    file,
                    name: b.name,
                    block: Some((b.body, b.body_line)),
                })),
                Err(e) => errors.push(
                    Diagnostic::error(e.message)
                        .at_source(&file.path, &file.contents, e.line, e.col)
                        .with_help(e.help),
                ),
            }
        }
    }
    if !errors.is_empty() {
        return Err(Errors(errors));
    }
    let nodes: Vec<Node> = specs
        .into_par_iter()
        .map(|spec| {
            let NodeSpec {
                resources,
                kind,
                file,
                name: node_name,
                block,
            } = spec;
            let package = resources.package.to_string();
            let mut fqn = vec![package.clone()];
            fqn.extend(file.folders());
            if kind == ResourceType::Snapshot {
                fqn.push(file.stem());
            }
            fqn.push(node_name.clone());
            let unique_id = format!("{}.{package}.{node_name}", kind.as_str());
            let (raw, raw_line) = match (kind, block) {
                (ResourceType::Seed, _) => (String::new(), 1),
                (_, Some(block)) => block,
                (_, None) => (file.contents.clone(), 1),
            };
            let mut node = Node::new(NodeOrigin {
                unique_id,
                resource_type: kind,
                name: node_name,
                package_name: package,
                path: file.resource_relative.clone(),
                original_file_path: file.path.clone(),
                package_dir: resources.dir.to_path_buf(),
                fqn,
                raw_code: raw,
                raw_line,
                checksum: file.checksum.clone(),
            });
            apply_configs(project, resources, index, &mut node);
            node
        })
        .collect();
    check_unique_names(&nodes)?;
    Ok(nodes)
}

/// The folders of a properties file below its resource folder (`models/marts/x.yml` ->
/// `[marts]`), for the fqn of what it declares; a package's are read from its own folder.
pub fn yaml_folders(resources: Resources, path: &Path) -> Vec<String> {
    let path = path.strip_prefix(resources.dir).unwrap_or(path);
    path.parent()
        .into_iter()
        .flat_map(|p| p.components().skip(1))
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect()
}

/// The config tree of the project file for a resource type.
pub fn tree_kind(kind: ResourceType) -> &'static str {
    match kind {
        ResourceType::Model => "models",
        ResourceType::Seed => "seeds",
        ResourceType::Snapshot => "snapshots",
        ResourceType::Test => "tests",
        ResourceType::UnitTest => "unit_tests",
        ResourceType::Analysis => "analyses",
        ResourceType::Source => "sources",
    }
}

/// Project-file configs (see [`Project::tree_configs`]), then the properties YAML (config,
/// docs, columns, tags, meta).
fn apply_configs(
    project: &Project,
    resources: Resources,
    index: &PropertiesIndex,
    node: &mut Node,
) {
    let mut config = project.tree_configs(resources, tree_kind(node.resource_type), &node.fqn);
    let key = (resources.package, node.resource_type, node.name.clone());
    if let Some((props, path)) = index.get(&key) {
        node_config::merge(&mut config, &props.described.config);
        let mut yaml_level = Map::new();
        if !props.described.tags.is_empty() {
            yaml_level.insert("tags".into(), Json::from(props.described.tags.clone()));
        }
        if !props.described.meta.is_empty() {
            yaml_level.insert("meta".into(), Json::Object(props.described.meta.clone()));
        }
        if !props.docs.is_empty() {
            yaml_level.insert("docs".into(), Json::Object(props.docs.clone()));
        }
        node_config::merge(&mut config, &yaml_level);
        node.description = props.described.description.clone();
        node.columns = columns(&props.columns);
        node.patch_path = Some(path.to_path_buf());
        node.docs = props.docs.clone();
        node.extra = props.extra.clone();
    }
    node.config = config;
    sync_tags_and_meta(node);
}

/// After a render: the root project file's configs win over a package node's `config()`
/// calls, as in dbt (so `models: some_package: +enabled: false` disables what the package
/// enables). Hooks are not merged again: [`apply_configs`] gave them, and they accumulate.
pub fn reapply_root_configs(project: &Project, node: &mut Node) {
    if node.package_name == project.config.name {
        return;
    }
    let mut config = project
        .config_tree(tree_kind(node.resource_type))
        .map(|t| t.configs_for(&node.fqn))
        .unwrap_or_default();
    config.retain(|k, _| !matches!(k.as_str(), "pre-hook" | "post-hook"));
    node_config::merge(&mut node.config, &config);
    sync_tags_and_meta(node);
}

/// After configs change, `tags` and `meta` of the node follow its config.
pub fn sync_tags_and_meta(node: &mut Node) {
    node.tags = as_string_list(node.config.get("tags"));
    if let Some(Json::Object(meta)) = node.config.get("meta") {
        node.meta = meta.clone();
    }
}

pub fn columns(props: &[ColumnProperties]) -> IndexMap<String, Column> {
    props
        .iter()
        .map(|c| {
            (
                c.name.clone(),
                Column {
                    name: c.name.clone(),
                    description: c.described.description.clone(),
                    data_type: c.data_type.clone(),
                    meta: c.described.meta.clone(),
                    tags: c.described.tags.clone(),
                    quote: c.quote,
                    constraints: c.constraints.clone(),
                },
            )
        })
        .collect()
}

/// In a package, models, seeds and snapshots share one namespace for `ref()`; tests and
/// analyses have their own.
fn check_unique_names(nodes: &[Node]) -> Result<()> {
    let mut seen: HashMap<(&str, bool, &str), &PathBuf> = HashMap::new();
    let mut errors = Vec::new();
    for node in nodes {
        let refable = matches!(
            node.resource_type,
            ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
        );
        let package = node.package_name.as_str();
        let namespace = if refable {
            (package, true, node.name.as_str())
        } else {
            (package, false, node.unique_id.as_str())
        };
        if let Some(first) = seen.insert(namespace, &node.original_file_path) {
            errors.push(
                Diagnostic::error(format!(
                    "two resources are named '{}': {} and {}",
                    node.name,
                    first.display(),
                    node.original_file_path.display()
                ))
                .at(&node.original_file_path, 0, 0)
                .with_help(
                    "rename one of them; names of models, seeds and snapshots must be unique",
                ),
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Errors(errors))
    }
}
