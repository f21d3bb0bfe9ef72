//! Errors from a run, pointed at the node's file: a warehouse error's `LINE n` is mapped from
//! the statement back to the compiled SQL and then to the line of the model file.

use elt_core::diagnostics::Diagnostic;
use elt_core::manifest::Node;
use elt_core::project::Project;
use elt_core::sql;
use elt_warehouse::WarehouseError;

/// A node's config `key` that cannot be run, pointed at the line of the node's file that sets
/// it (or at its properties file, where configs set in YAML live).
pub fn config_error(node: &Node, key: &str, message: String, help: &str) -> Diagnostic {
    let diagnostic = Diagnostic::error(format!(
        "{} '{}': {message}",
        node.resource_type.as_str(),
        node.name
    ))
    .with_help(help.to_string());
    match node
        .raw_code
        .lines()
        .enumerate()
        .find(|(_, line)| line.contains(key))
    {
        Some((index, line)) => {
            let mut located = diagnostic.at(
                &node.original_file_path,
                index as u32 + node.raw_line.max(1),
                0,
            );
            located.source_line = Some(line.to_string());
            located
        }
        None => diagnostic.at(
            node.patch_path.as_ref().unwrap_or(&node.original_file_path),
            0,
            0,
        ),
    }
}

/// A warehouse error while running `node`; `compiled` is the node's SQL as sent inside the
/// failing statement.
pub fn warehouse_error(
    project: &Project,
    node: &Node,
    error: &WarehouseError,
    compiled: Option<&str>,
) -> Diagnostic {
    let first_line = error.message.lines().next().unwrap_or_default();
    let diagnostic = Diagnostic::error(format!(
        "{} '{}' failed in the warehouse: {first_line}",
        node.resource_type.as_str(),
        node.name
    ))
    .of_kind(error.kind);
    let detail: Vec<&str> = error
        .message
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        // The statement's own line and caret: the location below points at the model instead.
        .filter(|l| !l.starts_with("LINE ") && l.trim() != "^")
        .collect();
    let diagnostic = if detail.is_empty() {
        diagnostic
    } else {
        diagnostic.with_note(detail.join("\n"))
    };
    let line = compiled.and_then(|compiled| model_line(node, error, compiled));
    match (line, project.file_text(&node.original_file_path)) {
        (Some(line), Some(source)) => {
            diagnostic.at_source(&node.original_file_path, source, line, 0)
        }
        _ => diagnostic.at(&node.original_file_path, node.raw_line.min(1), 0),
    }
    .with_help(format!(
        "the compiled SQL is in {}",
        compiled_sql_path(project, node).display()
    ))
}

/// The line of the node's file that a warehouse error's `LINE n:` points at.
fn model_line(node: &Node, error: &WarehouseError, compiled: &str) -> Option<u32> {
    if node.test.is_some() {
        return None;
    }
    let statement = error.sql.as_deref()?;
    let statement_line: u32 = error.message.lines().find_map(|l| {
        l.strip_prefix("LINE ")?
            .split(':')
            .next()?
            .trim()
            .parse()
            .ok()
    })?;
    let body = compiled.trim();
    let offset = statement.find(body)?;
    let before = statement[..offset].matches('\n').count() as u32;
    let compiled_line = statement_line.checked_sub(before)?;
    let body_start = compiled[..compiled.find(body)?].matches('\n').count() as u32;
    let (line, _) = sql::source_line(&node.raw_code, compiled, compiled_line + body_start);
    Some(line + node.raw_line.saturating_sub(1))
}

/// Where the node's compiled SQL was written, as the user would type it.
pub fn compiled_sql_path(project: &Project, node: &Node) -> std::path::PathBuf {
    let path = elt_core::compile::compiled_path(&project.target_dir(), node);
    path.strip_prefix(".").map(Into::into).unwrap_or(path)
}
