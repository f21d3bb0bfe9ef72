//! Ephemeral models are inlined into the SQL of the nodes that use them, as CTEs named
//! `__dbt__cte__<name>`, exactly where dbt puts them.

use std::collections::HashSet;

use super::relations::EPHEMERAL_PREFIX;
use crate::graph::Dag;
use crate::manifest::{Node, NodeMap};

/// Every ephemeral model a node needs, dependencies first: (unique id, CTE SQL).
pub fn ctes_for(node: &Node, nodes: &NodeMap) -> Vec<(String, String)> {
    let mut ctes = Vec::new();
    let mut seen = HashSet::new();
    collect(node, nodes, &mut seen, &mut ctes);
    ctes
}

fn collect(
    node: &Node,
    nodes: &NodeMap,
    seen: &mut HashSet<String>,
    out: &mut Vec<(String, String)>,
) {
    for parent_id in &node.depends_on_nodes {
        let Some(parent) = nodes.get(parent_id) else {
            continue;
        };
        if !parent.is_ephemeral() || !seen.insert(parent_id.clone()) {
            continue;
        }
        collect(parent, nodes, seen, out);
        let body = parent.compiled_code.as_deref().unwrap_or_default();
        let name = format!("{EPHEMERAL_PREFIX}{}", parent.name);
        out.push((parent_id.clone(), cte(&name, body)));
    }
}

/// A CTE as [`inject`] takes it: ` name as (\nbody\n)`.
pub fn cte(name: &str, body: &str) -> String {
    format!(" {name} as (\n{body}\n)")
}

/// Inserts CTEs into `sql` like dbt: after a leading `with` (before the query's own CTEs), or
/// as a new `with` clause in front of the first token.
pub fn inject(sql: &str, ctes: &[(String, String)]) -> String {
    if ctes.is_empty() {
        return sql.to_string();
    }
    let joined = ctes
        .iter()
        .map(|(_, c)| c.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let first_token = sql.len() - sql.trim_start().len();
    match leading_with_end(sql) {
        Some(end) => format!("{}{joined},{}", &sql[..end], &sql[end..]),
        None => format!("{}with{joined}{}", &sql[..first_token], &sql[first_token..]),
    }
}

/// The byte offset just after a leading `with` (or `with recursive`), skipping whitespace and
/// comments before it.
fn leading_with_end(sql: &str) -> Option<usize> {
    let mut pos = 0;
    loop {
        let rest = &sql[pos..];
        let trimmed = rest.trim_start();
        pos += rest.len() - trimmed.len();
        if trimmed.starts_with("--") {
            pos += trimmed.find('\n').map_or(trimmed.len(), |i| i + 1);
        } else if trimmed.starts_with("/*") {
            pos += trimmed.find("*/").map_or(trimmed.len(), |i| i + 2);
        } else {
            break;
        }
    }
    let end = keyword_end(sql, pos, "with")?;
    let after = &sql[end..];
    let skipped = after.len() - after.trim_start().len();
    Some(keyword_end(sql, end + skipped, "recursive").unwrap_or(end))
}

fn keyword_end(sql: &str, pos: usize, keyword: &str) -> Option<usize> {
    let candidate = sql.get(pos..pos + keyword.len())?;
    let boundary = sql[pos + keyword.len()..]
        .chars()
        .next()
        .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
    (candidate.eq_ignore_ascii_case(keyword) && boundary).then_some(pos + keyword.len())
}

/// Inlines ephemeral models into the SQL of the nodes that use them.
pub(super) fn inject_ephemerals(nodes: &mut NodeMap, dag: &Dag) {
    if !nodes.values().any(|n| n.is_ephemeral()) {
        return;
    }
    let order = dag.topological();
    for id in order {
        let Some(node) = nodes.get(&id) else {
            continue;
        };
        let ctes = ctes_for(node, nodes);
        if ctes.is_empty() {
            continue;
        }
        let node = nodes.get_mut(&id).expect("node exists");
        if let Some(sql) = &node.compiled_code {
            node.compiled_code = Some(inject(sql, &ctes));
        }
        node.extra_ctes = ctes
            .into_iter()
            .map(|(id, sql)| (id, sql.trim_start().to_string()))
            .collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cte(sql: &str) -> Vec<(String, String)> {
        vec![("model.p.e".into(), format!(" __dbt__cte__e as (\n{sql}\n)"))]
    }

    #[test]
    fn injects_before_existing_ctes() {
        assert_eq!(
            inject(
                "-- c\nWITH a as (select 1) select * from a",
                &cte("select 2")
            ),
            "-- c\nWITH __dbt__cte__e as (\nselect 2\n), a as (select 1) select * from a"
        );
    }

    #[test]
    fn adds_a_with_clause() {
        assert_eq!(
            inject("\nselect * from __dbt__cte__e", &cte("select 2")),
            "\nwith __dbt__cte__e as (\nselect 2\n)select * from __dbt__cte__e"
        );
        assert_eq!(leading_with_end("without_x as (select)"), None);
    }
}
