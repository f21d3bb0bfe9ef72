//! Validation: every compiled SQL text parsed in the target's grammar, so that a syntax error
//! is reported at the model's file and line before anything runs. SQL that cannot be wrong (a
//! `select` of a relation call alone) or that parsed in an earlier run is not parsed again.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;
use serde_json::Value as Json;

use crate::adapter::Dialect;
use crate::diagnostics::{Diagnostic, Errors, Result};
use crate::manifest::{Node, NodeMap, ResourceType};
use crate::project::Project;
use crate::sql;
use crate::template::MacroTable;

use super::render::is_relation_call;

/// Parses every compiled node in the target's dialect, unless `static_analysis: off`, or its
/// SQL is in the cache of SQL known to parse. Built-in generic tests whose arguments are plain
/// identifiers and values are skipped: their SQL is valid by construction, and a project has
/// thousands of them. Returns the SQL known to parse now.
pub(super) fn validate_sql(
    project: &Project,
    nodes: &NodeMap,
    yaml_sources: &HashMap<&Path, &str>,
    macros: &MacroTable,
    cache: &sql::ValidSqlCache,
) -> Result<sql::ValidSqlCache> {
    let dialect = project.target.dialect;
    let results: Vec<std::result::Result<u64, Diagnostic>> = nodes
        .par_iter()
        .filter(|(_, n)| n.resource_type != ResourceType::Seed)
        .filter(|(_, n)| n.config_str("static_analysis") != Some("off"))
        // Its SQL is as rendered without the warehouse; the run renders the real one.
        .filter(|(_, n)| !n.introspective)
        .filter(|(_, n)| !valid_by_construction(n, macros, dialect))
        .filter_map(|(_, node)| {
            let compiled = node.compiled_code.as_deref()?;
            let expect = if node.resource_type == ResourceType::Analysis {
                sql::Expect::Statements
            } else {
                sql::Expect::Query
            };
            let key = sql::ValidSqlCache::key(compiled, expect);
            if cache.contains(key) {
                return Some(Ok(key));
            }
            Some(match sql::validate(dialect, compiled, expect) {
                Ok(()) => Ok(key),
                Err(error) => Err(sql_error(project, node, compiled, &error, yaml_sources)),
            })
        })
        .collect();
    let mut valid = Vec::with_capacity(results.len());
    let mut errors = Vec::new();
    for result in results {
        match result {
            Ok(key) => valid.push(key),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(sql::ValidSqlCache::from_keys(valid))
    } else {
        Err(Errors(errors).sorted())
    }
}

/// Whether a generic test uses an unmodified built-in test macro with arguments that can only
/// produce valid SQL: identifiers for columns, relations from `ref()`/`source()`, quote-free
/// values, and no `where` filter.
pub(super) fn valid_by_construction(node: &Node, macros: &MacroTable, dialect: Dialect) -> bool {
    let Some(test) = &node.test else {
        return false;
    };
    const BUILT_IN: [&str; 4] = ["unique", "not_null", "accepted_values", "relationships"];
    if !BUILT_IN.contains(&test.name.as_str()) || test.namespace.is_some() {
        return false;
    }
    let overridden = |name: &str| macros.root_overrides(name, dialect);
    if overridden(&format!("test_{}", test.name)) || overridden("get_where_subquery") {
        return false;
    }
    if node.config.get("where").is_some_and(|w| !w.is_null()) {
        return false;
    }
    test.kwargs
        .iter()
        .all(|(key, value)| match (key.as_str(), value) {
            ("model", _) => true,
            ("column_name" | "field", Json::String(s)) => is_identifier(s),
            ("to", Json::String(s)) => is_relation_call(s),
            ("quote", Json::Bool(_)) => true,
            ("values", Json::Array(values)) => values.iter().all(|v| match v {
                Json::String(s) => !s.contains(['\'', '\\']),
                Json::Number(_) | Json::Bool(_) => true,
                _ => false,
            }),
            _ => false,
        })
}

/// A bare or quoted SQL identifier.
pub(super) fn is_identifier(text: &str) -> bool {
    let bare = !text.is_empty()
        && !text.starts_with(|c: char| c.is_ascii_digit())
        && text.chars().all(|c| c.is_alphanumeric() || c == '_');
    let quoted = |q: char| {
        text.len() >= 2
            && text.starts_with(q)
            && text.ends_with(q)
            && !text[1..text.len() - 1].contains(q)
    };
    bare || quoted('"') || quoted('`')
}

pub(super) fn sql_error(
    project: &Project,
    node: &Node,
    compiled: &str,
    error: &sql::SyntaxError,
    yaml_sources: &HashMap<&Path, &str>,
) -> Diagnostic {
    let dialect = project.target.dialect;
    let message = format!(
        "SQL syntax error in {} '{}': {}",
        node.resource_type.as_str(),
        node.name,
        error.message
    );
    let compiled_line = compiled
        .lines()
        .nth(error.line.saturating_sub(1) as usize)
        .unwrap_or("")
        .trim();
    let mut diagnostic = Diagnostic::error(message);
    if node.test.is_some() {
        let yaml = yaml_sources
            .get(node.original_file_path.as_path())
            .copied()
            .unwrap_or("");
        diagnostic = diagnostic.at_source(&node.original_file_path, yaml, node.raw_line, 0);
    } else {
        let (line, exact) = sql::source_line(&node.raw_code, compiled, error.line);
        let line = line + node.raw_line.saturating_sub(1);
        let source = project
            .file_text(&node.original_file_path)
            .unwrap_or(&node.raw_code);
        diagnostic = diagnostic.at_source(
            &node.original_file_path,
            source,
            line,
            if exact { error.col } else { 0 },
        );
    }
    diagnostic
        .with_note(format!("compiled SQL line {}: {compiled_line}", error.line))
        .with_help(format!(
            "fix the SQL; if it is valid {dialect} SQL that elt cannot parse, set `static_analysis: off` in the node's config"
        ))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::{Map, json};

    use super::*;
    use crate::manifest::{NodeOrigin, TestMetadata};

    fn generic_test(name: &str, kwargs: Json) -> Node {
        let mut node = Node::new(NodeOrigin {
            unique_id: format!("test.shop.{name}_orders_id"),
            resource_type: ResourceType::Test,
            name: format!("{name}_orders_id"),
            package_name: "shop".into(),
            path: PathBuf::from("t.sql"),
            original_file_path: PathBuf::from("models/schema.yml"),
            package_dir: PathBuf::new(),
            fqn: Vec::new(),
            raw_code: String::new(),
            raw_line: 1,
            checksum: String::new(),
        });
        let Json::Object(kwargs) = kwargs else {
            panic!("kwargs are an object")
        };
        node.test = Some(TestMetadata {
            name: name.into(),
            namespace: None,
            kwargs,
            column_name: Some("id".into()),
            attached_node: None,
            file_key_name: "models.orders".into(),
        });
        node
    }

    #[test]
    fn identifiers_bare_or_quoted() {
        for ok in ["id", "order_id", "\"Order Id\"", "`id`", "été"] {
            assert!(is_identifier(ok), "{ok}");
        }
        for bad in ["", "1id", "id; drop", "\"a\"b\"", "a.b"] {
            assert!(!is_identifier(bad), "{bad}");
        }
    }

    #[test]
    fn built_in_tests_of_plain_arguments_need_no_parse() {
        let none = MacroTable::new("shop", vec![]);
        let plain = generic_test("not_null", json!({"column_name": "id", "model": "x"}));
        assert!(valid_by_construction(&plain, &none, Dialect::DuckDb));
        let values = json!({"column_name": "status", "values": ["a", 1, true]});
        assert!(valid_by_construction(
            &generic_test("accepted_values", values),
            &none,
            Dialect::DuckDb
        ));
        let to = json!({"column_name": "id", "to": "ref('customers')", "field": "id"});
        assert!(valid_by_construction(
            &generic_test("relationships", to),
            &none,
            Dialect::Postgres
        ));
    }

    #[test]
    fn anything_that_could_be_wrong_is_parsed() {
        let none = MacroTable::new("shop", vec![]);
        let expression = generic_test("not_null", json!({"column_name": "id + 1"}));
        assert!(!valid_by_construction(&expression, &none, Dialect::DuckDb));
        let quote = json!({"column_name": "s", "values": ["it's"]});
        assert!(!valid_by_construction(
            &generic_test("accepted_values", quote),
            &none,
            Dialect::DuckDb
        ));
        let custom = generic_test("positive", json!({"column_name": "id"}));
        assert!(!valid_by_construction(&custom, &none, Dialect::DuckDb));
        let mut filtered = generic_test("unique", json!({"column_name": "id"}));
        filtered.config = Map::from_iter([("where".into(), json!("id > 0"))]);
        assert!(!valid_by_construction(&filtered, &none, Dialect::DuckDb));
        let mut overridden = MacroTable::new("shop", vec![]);
        overridden.insert("shop", "duckdb__test_unique", minijinja::Value::from(()));
        let plain = generic_test("unique", json!({"column_name": "id"}));
        assert!(!valid_by_construction(&plain, &overridden, Dialect::DuckDb));
        assert!(valid_by_construction(
            &plain,
            &overridden,
            Dialect::Postgres
        ));
    }
}
