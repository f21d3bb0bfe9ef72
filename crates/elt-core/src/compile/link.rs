//! Linking: enabled and disabled nodes apart, each node's `ref()`s and `source()`s resolved to
//! the nodes they name (or an error that says which exist), and cycles reported with their path.

use std::collections::{HashMap, HashSet};

use rayon::prelude::*;

use crate::diagnostics::{Diagnostic, Errors, Result};
use crate::manifest::{Node, NodeMap, ResourceType};
use crate::project::Project;
use crate::template::Resolver;

/// Separates disabled nodes; tests that depend on a disabled node are disabled with it.
#[allow(clippy::vec_box)] // the boxes move into the node maps as they are
pub(super) fn split_disabled(nodes: Vec<Box<Node>>, resolver: &Resolver) -> (NodeMap, NodeMap) {
    let disabled_ids: HashSet<String> = nodes
        .iter()
        .filter(|n| !n.enabled() && n.resource_type != ResourceType::Test)
        .map(|n| n.unique_id.clone())
        .collect();
    let (enabled, disabled): (Vec<Box<Node>>, Vec<Box<Node>>) =
        nodes.into_iter().partition(|node| {
            let test_of_disabled = node.resource_type == ResourceType::Test
                && node.refs.iter().any(|r| {
                    resolver
                        .find_ref(&r.name, r.package.as_deref(), &node.package_name)
                        .is_some_and(|t| disabled_ids.contains(&t.unique_id))
                });
            node.enabled() && !test_of_disabled
        });
    let by_id = |nodes: Vec<Box<Node>>| {
        nodes
            .into_iter()
            .map(|n| (n.unique_id.clone(), n))
            .collect()
    };
    (by_id(enabled), by_id(disabled))
}

/// Two enabled models, seeds or snapshots that build the same relation would overwrite each
/// other (as a package's model can, named like one of the project's): an error naming both.
pub(super) fn check_unique_relations(enabled: &NodeMap) -> Result<()> {
    let mut built: HashMap<String, &Node> = HashMap::new();
    let mut errors = Vec::new();
    let builders = enabled.values().filter(|n| {
        matches!(
            n.resource_type,
            ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
        ) && !n.is_ephemeral()
    });
    for node in builders {
        let Some(relation) = &node.relation else {
            continue;
        };
        let key = relation.to_string().to_lowercase();
        if let Some(first) = built.insert(key, node) {
            errors.push(
                Diagnostic::error(format!(
                    "{} and {} both build {relation}",
                    first.unique_id, node.unique_id
                ))
                .at(&node.original_file_path, 0, 0)
                .with_note(format!(
                    "the other is {}",
                    first.original_file_path.display()
                ))
                .with_help(
                    "give one of them another `alias` or `schema` in its config, or disable one",
                ),
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Errors(errors).sorted())
    }
}

/// Fills `depends_on_nodes` from refs and sources; a ref to a disabled node is an error.
pub(super) fn link(
    project: &Project,
    enabled: &mut NodeMap,
    disabled: &NodeMap,
    resolver: &Resolver,
) -> Result<()> {
    let errors: Vec<Diagnostic> = enabled
        .par_iter_mut()
        .flat_map_iter(|(_, node)| link_node(project, node, disabled, resolver))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Errors(errors).sorted())
    }
}

pub(super) fn link_node(
    project: &Project,
    node: &mut Node,
    disabled: &NodeMap,
    resolver: &Resolver,
) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    let mut parents = Vec::with_capacity(node.refs.len() + node.sources.len());
    for call in &node.refs {
        let found = resolver.find_ref(&call.name, call.package.as_deref(), &node.package_name);
        let Some(target) = found else {
            continue;
        };
        if disabled.contains_key(&target.unique_id) {
            let (line, col) = find_call(&node.raw_code, "ref", &call.name);
            let source = project
                .file_text(&node.original_file_path)
                .unwrap_or(&node.raw_code);
            errors.push(
                Diagnostic::error(format!(
                    "{} '{}' depends on '{}', which is disabled",
                    node.resource_type.as_str(),
                    node.name,
                    call.name
                ))
                .at_source(
                    &node.original_file_path,
                    source,
                    line + node.raw_line.saturating_sub(1),
                    col,
                )
                .with_help(format!("enable '{}' or remove this ref()", call.name)),
            );
            continue;
        }
        if !parents.contains(&target.unique_id) {
            parents.push(target.unique_id.clone());
        }
    }
    for key in &node.sources {
        if let Some(target) = resolver.find_source(key, &node.package_name)
            && !parents.contains(&target.unique_id)
        {
            parents.push(target.unique_id.clone());
        }
    }
    node.depends_on_nodes = parents;
    errors
}

/// The 1-based line and column of `func('name'` in a template, or (0, 0).
pub(super) fn find_call(raw: &str, func: &str, name: &str) -> (u32, u32) {
    for (i, line) in raw.lines().enumerate() {
        for quote in ['\'', '"'] {
            let needle = format!("{quote}{name}{quote}");
            if let Some(col) = line.find(&needle)
                && line[..col].contains(&format!("{func}("))
            {
                let start = line[..col].rfind(&format!("{func}(")).unwrap_or(col);
                return (i as u32 + 1, line[..start].chars().count() as u32 + 1);
            }
        }
    }
    (0, 0)
}

pub(super) fn cycle_error(cycle: &[String], nodes: &NodeMap) -> Diagnostic {
    let name = |id: &String| nodes.get(id).map_or(id.clone(), |n| n.name.clone());
    let path: Vec<String> = cycle.iter().map(name).collect();
    let mut diagnostic = Diagnostic::error(format!("dependency cycle: {}", path.join(" -> ")))
        .with_help("break the cycle: one of these models must not ref() the next");
    if let (Some(first), Some(second)) = (cycle.first().and_then(|id| nodes.get(id)), cycle.get(1))
    {
        let (line, col) = find_call(&first.raw_code, "ref", &name(second));
        diagnostic = diagnostic.at_source(&first.original_file_path, &first.raw_code, line, col);
    }
    for id in cycle.iter().skip(1).take(cycle.len().saturating_sub(2)) {
        if let Some(node) = nodes.get(id) {
            diagnostic = diagnostic.with_note(format!(
                "{} is {}",
                node.name,
                node.original_file_path.display()
            ));
        }
    }
    diagnostic
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::manifest::NodeOrigin;

    fn model(name: &str, raw_code: &str) -> Box<Node> {
        Box::new(Node::new(NodeOrigin {
            unique_id: format!("model.shop.{name}"),
            resource_type: ResourceType::Model,
            name: name.into(),
            package_name: "shop".into(),
            path: PathBuf::from(format!("{name}.sql")),
            original_file_path: PathBuf::from(format!("models/{name}.sql")),
            package_dir: PathBuf::new(),
            fqn: vec!["shop".into(), name.into()],
            raw_code: raw_code.into(),
            raw_line: 1,
            checksum: String::new(),
        }))
    }

    #[test]
    fn calls_are_found_by_line_and_column() {
        let raw = "select *\nfrom {{ ref(\"orders\") }} join {{ ref('customers') }}";
        assert_eq!(find_call(raw, "ref", "orders"), (2, 9));
        assert_eq!(find_call(raw, "ref", "customers"), (2, 34));
        assert_eq!(find_call(raw, "source", "orders"), (0, 0));
        assert_eq!(find_call(raw, "ref", "missing"), (0, 0));
    }

    #[test]
    fn a_cycle_is_reported_with_its_path_at_the_first_ref() {
        let nodes: NodeMap = [
            model("a", "select * from {{ ref('b') }}"),
            model("b", "select * from\n  {{ ref('c') }}"),
            model("c", "select * from {{ ref('a') }}"),
        ]
        .into_iter()
        .map(|n| (n.unique_id.clone(), n))
        .collect();
        let cycle: Vec<String> = ["a", "b", "c", "a"]
            .iter()
            .map(|n| format!("model.shop.{n}"))
            .collect();
        let error = cycle_error(&cycle, &nodes);
        assert_eq!(error.message, "dependency cycle: a -> b -> c -> a");
        let location = error.location.expect("a location");
        assert_eq!(
            (location.file, location.line, location.col),
            (PathBuf::from("models/a.sql"), 1, 18)
        );
        assert_eq!(error.notes, ["b is models/b.sql", "c is models/c.sql"]);
    }
}
