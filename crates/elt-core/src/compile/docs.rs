//! Docs: `{% docs %}` blocks from the project's markdown files, and properties that describe
//! nodes that do not exist (a warning each).

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::diagnostics::{Diagnostic, Errors, Result, closest};
use crate::manifest::{DocNode, ResourceType};
use crate::project::Project;
use crate::template::blocks;

use super::nodes;

/// `{% docs %}` blocks from the project's .md files.
pub(super) fn docs(project: &Project) -> Result<BTreeMap<String, DocNode>> {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for file in &project.files.docs {
        match blocks::find_blocks(&file.contents, &["docs"]) {
            Ok(found) => {
                for block in found {
                    let id = format!("doc.{}.{}", project.config.name, block.name);
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
                            package_name: project.config.name.clone(),
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
    let mut names: HashMap<ResourceType, Vec<String>> = HashMap::new();
    for file in project
        .files
        .models
        .iter()
        .map(|f| (ResourceType::Model, f))
        .chain(project.files.seeds.iter().map(|f| (ResourceType::Seed, f)))
        .chain(
            project
                .files
                .analyses
                .iter()
                .map(|f| (ResourceType::Analysis, f)),
        )
    {
        names.entry(file.0).or_default().push(file.1.stem());
    }
    let snapshot_names: Vec<String> = project
        .files
        .snapshots
        .iter()
        .flat_map(|f| blocks::find_blocks(&f.contents, &["snapshot"]).unwrap_or_default())
        .map(|b| b.name)
        .collect();
    names.insert(ResourceType::Snapshot, snapshot_names);
    let known_names: HashMap<ResourceType, HashSet<&str>> = names
        .iter()
        .map(|(kind, list)| (*kind, list.iter().map(String::as_str).collect()))
        .collect();
    let mut warnings = Vec::new();
    for ((kind, name), (props, path)) in index {
        if known_names
            .get(kind)
            .is_some_and(|k| k.contains(name.as_str()))
        {
            continue;
        }
        let known = names.get(kind).map(Vec::as_slice).unwrap_or_default();
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
