//! Docs: `{% docs %}` blocks from the project's markdown files, and properties that describe
//! nodes that do not exist (a warning each).

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::diagnostics::{Diagnostic, Errors, Result, closest};
use crate::manifest::{DocNode, ResourceType};
use crate::project::Project;
use crate::template::blocks;

use super::nodes;

/// `{% docs %}` blocks from the .md files of the project and its packages.
pub(super) fn docs(project: &Project) -> Result<BTreeMap<String, DocNode>> {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    let resources = project.resources();
    let files = resources
        .iter()
        .flat_map(|r| r.files.docs.iter().map(move |f| (r.package, f)));
    for (package, file) in files {
        match blocks::find_blocks(&file.contents, &["docs"]) {
            Ok(found) => {
                for block in found {
                    let id = format!("doc.{package}.{}", block.name);
                    if out.contains_key(&id) {
                        errors.push(
                            Diagnostic::error(format!(
                                "docs block '{}' is defined twice",
                                block.name
                            ))
                            .at_source(&file.path, &file.contents, block.line, 0)
                            .with_help("give each docs block a unique name"),
                        );
                        continue;
                    }
                    out.insert(
                        id.clone(),
                        DocNode {
                            unique_id: id,
                            name: block.name,
                            package_name: package.to_string(),
                            path: file.path.clone(),
                            block_contents: block.body.trim().to_string(),
                        },
                    );
                }
            }
            Err(e) => errors.push(
                Diagnostic::error(e.message)
                    .at_source(&file.path, &file.contents, e.line, e.col)
                    .with_help(e.help),
            ),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Errors(errors).sorted())
    }
}

/// Properties YAML entries that name no existing node: a warning with "did you mean".
pub(super) fn unmatched_properties(
    project: &Project,
    index: &nodes::PropertiesIndex,
) -> Vec<Diagnostic> {
    let mut names: HashMap<(&str, ResourceType), Vec<String>> = HashMap::new();
    for resources in project.resources() {
        let files = resources.files;
        let package = resources.package;
        for (kind, list) in [
            (ResourceType::Model, &files.models),
            (ResourceType::Seed, &files.seeds),
            (ResourceType::Analysis, &files.analyses),
        ] {
            let entry = names.entry((package, kind)).or_default();
            entry.extend(list.iter().map(|f| f.stem()));
        }
        let snapshot_names = files
            .snapshots
            .iter()
            .flat_map(|f| blocks::find_blocks(&f.contents, &["snapshot"]).unwrap_or_default())
            .map(|b| b.name);
        names
            .entry((package, ResourceType::Snapshot))
            .or_default()
            .extend(snapshot_names);
    }
    let known_names: HashMap<(&str, ResourceType), HashSet<&str>> = names
        .iter()
        .map(|(key, list)| (*key, list.iter().map(String::as_str).collect()))
        .collect();
    let mut warnings = Vec::new();
    for ((package, kind, name), (props, path)) in index {
        let key = (*package, *kind);
        if known_names
            .get(&key)
            .is_some_and(|k| k.contains(name.as_str()))
        {
            continue;
        }
        let known = names.get(&key).map(Vec::as_slice).unwrap_or_default();
        let source = nodes::source_of(project, path);
        let mut warning = Diagnostic::warning(format!(
            "properties for {} '{name}', but there is no such {}",
            kind.as_str(),
            kind.as_str()
        ))
        .at_source(path, source, props.line, 0);
        if let Some(best) = closest(name, known.iter().map(String::as_str)) {
            warning = warning.with_help(format!("did you mean '{best}'?"));
        }
        warnings.push(warning);
    }
    warnings
}
