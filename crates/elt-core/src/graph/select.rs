//! Node selection with dbt's syntax and semantics.
//!
//! A selection is a union of space-separated terms; a term is an intersection of
//! comma-separated criteria; a criterion is `[@][n+]method:value[+n]`. Methods: plain names and
//! fqn paths, `tag:`, `path:`, `file:`, `source:`, `resource_type:`, `config.<key>:`,
//! `test_type:`, `test_name:`, `package:`, `fqn:`, and `state:` against another run's
//! manifest (`--state`). Tests attached to selected nodes are added
//! by "indirect selection" (eager by default, as in dbt).

use std::collections::{BTreeSet, HashSet};

use globset::{Glob, GlobMatcher};
use petgraph::Direction;
use serde_json::Value as Json;

use super::Dag;
use super::state::State;
use crate::diagnostics::{Diagnostic, Result, closest};
use crate::manifest::{Manifest, Node, ResourceType};

const METHODS: &[&str] = &[
    "fqn",
    "tag",
    "path",
    "file",
    "source",
    "resource_type",
    "config",
    "test_type",
    "test_name",
    "package",
    "state",
    "exposure",
    "metric",
    "result",
    "source_status",
    "group",
    "access",
    "version",
    "semantic_model",
    "saved_query",
    "unit_test",
];

/// How tests next to selected nodes are picked up (dbt's `--indirect-selection`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IndirectSelection {
    #[default]
    Eager,
    Cautious,
    Buildable,
    Empty,
}

impl IndirectSelection {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "eager" => Self::Eager,
            "cautious" => Self::Cautious,
            "buildable" => Self::Buildable,
            "empty" => Self::Empty,
            _ => return None,
        })
    }
}

/// One criterion, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Criterion {
    pub raw: String,
    pub method: String,
    /// For `config.<key>:` the key path after `config.`.
    pub method_args: Vec<String>,
    pub value: String,
    pub childrens_parents: bool,
    /// `Some(None)` for `+x` (all ancestors), `Some(Some(n))` for `n+x`.
    pub parents: Option<Option<usize>>,
    pub children: Option<Option<usize>>,
}

/// Parses one criterion such as `2+tag:nightly+` or `@orders`.
///
/// ```
/// use elt_core::graph::select::parse_criterion;
/// let c = parse_criterion("2+tag:nightly+").unwrap();
/// assert_eq!((c.method.as_str(), c.value.as_str()), ("tag", "nightly"));
/// assert_eq!((c.parents, c.children), (Some(Some(2)), Some(None)));
/// ```
pub fn parse_criterion(raw: &str) -> Result<Criterion> {
    let bad = |why: String| -> crate::diagnostics::Errors {
        Diagnostic::error(format!("invalid selector '{raw}': {why}"))
            .with_help("selectors look like `orders`, `+orders+`, `2+tag:nightly`, `path:models/staging`, `config.materialized:table`")
            .into()
    };
    let mut rest = raw;
    let childrens_parents = rest.starts_with('@');
    if childrens_parents {
        rest = &rest[1..];
    }
    let (parents, after) = graph_prefix(rest);
    rest = after;
    let (children, before) = graph_suffix(rest);
    rest = before;
    if childrens_parents && (parents.is_some() || children.is_some()) {
        return Err(bad("'@' cannot be combined with '+'".into()));
    }
    if rest.is_empty() {
        return Err(bad("nothing to select".into()));
    }
    let (method, value) = match rest.split_once(':') {
        Some((method, value)) => (method, value),
        None => ("", rest),
    };
    let mut method_parts = method.split('.');
    let method_name = method_parts.next().unwrap_or("").to_string();
    let method_args: Vec<String> = method_parts.map(str::to_string).collect();
    if !method_name.is_empty() && !METHODS.contains(&method_name.as_str()) {
        let hint = closest(&method_name, METHODS.iter().copied())
            .map(|m| format!("; did you mean '{m}'?"))
            .unwrap_or_default();
        return Err(bad(format!("unknown method '{method_name}'{hint}")));
    }
    if method_name == "config" && method_args.is_empty() {
        return Err(bad(
            "write config.<key>:<value>, e.g. config.materialized:table".into(),
        ));
    }
    if value.is_empty() {
        return Err(bad(format!("'{method_name}:' needs a value")));
    }
    Ok(Criterion {
        raw: raw.to_string(),
        method: method_name,
        method_args,
        value: value.to_string(),
        childrens_parents,
        parents,
        children,
    })
}

fn graph_prefix(s: &str) -> (Option<Option<usize>>, &str) {
    let digits = s.chars().take_while(char::is_ascii_digit).count();
    if s[digits..].starts_with('+') {
        let depth = s[..digits].parse().ok();
        (Some(depth), &s[digits + 1..])
    } else {
        (None, s)
    }
}

fn graph_suffix(s: &str) -> (Option<Option<usize>>, &str) {
    let digits = s.chars().rev().take_while(char::is_ascii_digit).count();
    let head = &s[..s.len() - digits];
    if let Some(stripped) = head.strip_suffix('+') {
        let depth = s[s.len() - digits..].parse().ok();
        (Some(depth), stripped)
    } else {
        (None, s)
    }
}

/// Selects unique ids from a compiled project.
pub struct Selector<'a> {
    pub manifest: &'a Manifest,
    pub dag: &'a Dag,
    pub indirect: IndirectSelection,
    /// Another run's manifest, for `state:` selectors (`--state`).
    pub state: Option<&'a State>,
}

impl Selector<'_> {
    /// `--select` and `--exclude` lists (each item may hold several space-separated terms).
    /// With no `--select`, everything is selected. Returns the ids and warnings for terms that
    /// matched nothing.
    pub fn select(
        &self,
        select: &[String],
        exclude: &[String],
    ) -> Result<(BTreeSet<String>, Vec<Diagnostic>)> {
        let mut warnings = Vec::new();
        let included = if select.is_empty() {
            self.manifest.all_ids().cloned().collect()
        } else {
            self.union(select, &mut warnings)?
        };
        let excluded = self.union(exclude, &mut warnings)?;
        Ok((included.difference(&excluded).cloned().collect(), warnings))
    }

    /// Space-separated terms: the union of their selections. In cautious mode, tests found next
    /// to any term are added when all their parents are in the union (as dbt does).
    fn union(&self, specs: &[String], warnings: &mut Vec<Diagnostic>) -> Result<BTreeSet<String>> {
        let mut direct = BTreeSet::new();
        let mut indirect = BTreeSet::new();
        for term in specs.iter().flat_map(|s| s.split_whitespace()) {
            let (term_direct, term_indirect) = self.intersection(term)?;
            if term_direct.is_empty() && term_indirect.is_empty() {
                warnings.push(Diagnostic::warning(format!(
                    "the selection criterion '{term}' does not match any enabled node"
                )));
            }
            direct.extend(term_direct);
            indirect.extend(term_indirect);
        }
        if self.indirect == IndirectSelection::Cautious {
            let cautious = self.cautious(&direct, &indirect);
            direct.extend(cautious);
        }
        Ok(direct)
    }

    /// A comma-separated term: the intersection of its criteria.
    fn intersection(&self, term: &str) -> Result<(BTreeSet<String>, BTreeSet<String>)> {
        let mut direct: Option<BTreeSet<String>> = None;
        let mut indirect: Option<BTreeSet<String>> = None;
        for raw in term.split(',').filter(|c| !c.is_empty()) {
            let criterion = parse_criterion(raw)?;
            let (d, i) = self.criterion(&criterion)?;
            let all = d.union(&i).cloned().collect::<BTreeSet<_>>();
            direct = Some(match direct {
                None => d,
                Some(prev) => prev.intersection(&d).cloned().collect(),
            });
            indirect = Some(match indirect {
                None => all,
                Some(prev) => prev.intersection(&all).cloned().collect(),
            });
        }
        Ok((direct.unwrap_or_default(), indirect.unwrap_or_default()))
    }

    /// Tests among `indirect` whose parents are all selected (cautious mode).
    fn cautious(&self, direct: &BTreeSet<String>, indirect: &BTreeSet<String>) -> Vec<String> {
        indirect
            .iter()
            .filter(|id| !direct.contains(*id))
            .filter(|id| self.manifest.parents(id).iter().all(|p| direct.contains(p)))
            .cloned()
            .collect()
    }

    fn criterion(&self, criterion: &Criterion) -> Result<(BTreeSet<String>, BTreeSet<String>)> {
        let matched = self.matching(criterion)?;
        let mut selected: BTreeSet<String> = matched.iter().cloned().collect();
        for id in &matched {
            if criterion.childrens_parents {
                let descendants = self.dag.reachable(id, Direction::Outgoing, None);
                for d in descendants.iter().chain(std::iter::once(id)) {
                    selected.extend(self.dag.reachable(d, Direction::Incoming, None));
                }
                selected.extend(descendants);
            }
            if let Some(depth) = criterion.parents {
                selected.extend(self.dag.reachable(id, Direction::Incoming, depth));
            }
            if let Some(depth) = criterion.children {
                selected.extend(self.dag.reachable(id, Direction::Outgoing, depth));
            }
        }
        Ok(self.expand_tests(selected))
    }

    /// dbt's indirect selection: tests that are children of selected nodes.
    fn expand_tests(&self, selected: BTreeSet<String>) -> (BTreeSet<String>, BTreeSet<String>) {
        let mut direct = selected.clone();
        let mut indirect = BTreeSet::new();
        let buildable: HashSet<String> = if self.indirect == IndirectSelection::Buildable {
            selected
                .iter()
                .flat_map(|id| self.dag.reachable(id, Direction::Incoming, None))
                .chain(selected.iter().cloned())
                .chain(self.manifest.sources.keys().cloned())
                .collect()
        } else {
            HashSet::new()
        };
        for id in &selected {
            for child in self.dag.children(id) {
                let Some(node) = self.manifest.nodes.get(child) else {
                    continue;
                };
                if !matches!(
                    node.resource_type,
                    ResourceType::Test | ResourceType::UnitTest
                ) {
                    continue;
                }
                let parents = &node.depends_on_nodes;
                let take = match self.indirect {
                    IndirectSelection::Eager => true,
                    IndirectSelection::Empty => false,
                    IndirectSelection::Buildable => parents.iter().all(|p| buildable.contains(p)),
                    IndirectSelection::Cautious => parents.iter().all(|p| selected.contains(p)),
                };
                if take {
                    direct.insert(child.to_string());
                } else if self.indirect != IndirectSelection::Empty {
                    indirect.insert(child.to_string());
                }
            }
        }
        (direct, indirect)
    }

    /// Ids matched by the criterion's method, before graph operators.
    fn matching(&self, c: &Criterion) -> Result<Vec<String>> {
        let method = if c.method.is_empty() {
            default_method(&c.value)
        } else {
            c.method.as_str()
        };
        let glob = |pattern: &str| -> Result<GlobMatcher> {
            Glob::new(pattern)
                .map(|g| g.compile_matcher())
                .map_err(|e| {
                    Diagnostic::error(format!("invalid selector '{}': bad pattern: {e}", c.raw))
                        .into()
                })
        };
        let nodes = self.manifest.nodes.values();
        let ids: Vec<String> = match method {
            "fqn" => nodes
                .filter(|n| fqn_matches(&n.fqn, &c.value))
                .map(|n| n.unique_id.clone())
                .collect(),
            "tag" => {
                let m = glob(&c.value)?;
                nodes
                    .filter(|n| n.tags.iter().any(|t| m.is_match(t)))
                    .map(|n| n.unique_id.clone())
                    .chain(
                        self.manifest
                            .sources
                            .values()
                            .filter(|s| s.tags.iter().any(|t| m.is_match(t)))
                            .map(|s| s.unique_id.clone()),
                    )
                    .collect()
            }
            "path" => {
                let wanted = c.value.trim_end_matches('/').to_string();
                let m = glob(&wanted)?;
                let hit = |p: &std::path::Path| p.starts_with(&wanted) || m.is_match(p);
                nodes
                    .filter(|n| hit(&n.original_file_path))
                    .map(|n| n.unique_id.clone())
                    .chain(
                        self.manifest
                            .sources
                            .values()
                            .filter(|s| hit(&s.path))
                            .map(|s| s.unique_id.clone()),
                    )
                    .collect()
            }
            "file" => {
                let m = glob(&c.value)?;
                nodes
                    .filter(|n| {
                        let file = n
                            .original_file_path
                            .file_name()
                            .map(|f| f.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        let stem = n
                            .original_file_path
                            .file_stem()
                            .map(|f| f.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        m.is_match(&file) || m.is_match(&stem)
                    })
                    .map(|n| n.unique_id.clone())
                    .collect()
            }
            "source" => {
                let parts: Vec<&str> = c.value.split('.').collect();
                self.manifest
                    .sources
                    .values()
                    .filter(|s| {
                        let with_package = [
                            s.package_name.as_str(),
                            s.source_name.as_str(),
                            s.name.as_str(),
                        ];
                        parts_match(&parts, &with_package[1..])
                            || parts_match(&parts, &with_package)
                    })
                    .map(|s| s.unique_id.clone())
                    .collect()
            }
            "resource_type" => {
                let Some(kind) = ResourceType::parse(&c.value) else {
                    return Err(Diagnostic::error(format!(
                        "invalid selector '{}': unknown resource type '{}'",
                        c.raw, c.value
                    ))
                    .with_help(
                        "resource types: model, seed, snapshot, test, unit_test, analysis, source",
                    )
                    .into());
                };
                if kind == ResourceType::Source {
                    self.manifest.sources.keys().cloned().collect()
                } else {
                    nodes
                        .filter(|n| n.resource_type == kind)
                        .map(|n| n.unique_id.clone())
                        .collect()
                }
            }
            "config" => nodes
                .filter(|n| config_matches(n, &c.method_args, &c.value))
                .map(|n| n.unique_id.clone())
                .collect(),
            // dbt 1.8: `data` is every data test, generic or singular; `unit` the unit tests.
            "test_type" => nodes
                .filter(|n| match (c.value.as_str(), n.resource_type) {
                    ("unit", ResourceType::UnitTest) => true,
                    (_, ResourceType::Test) => match c.value.as_str() {
                        "generic" | "schema" => n.test.is_some(),
                        "singular" => n.test.is_none(),
                        "data" => true,
                        _ => false,
                    },
                    _ => false,
                })
                .map(|n| n.unique_id.clone())
                .collect(),
            // A unit test by name, or by `model.test` / `package.model.test`.
            "unit_test" => {
                let m = glob(&c.value)?;
                nodes
                    .filter(|n| n.resource_type == ResourceType::UnitTest)
                    .filter(|n| {
                        let parts = &n.fqn[n.fqn.len().saturating_sub(2)..];
                        m.is_match(&n.name)
                            || m.is_match(parts.join("."))
                            || m.is_match(format!("{}.{}", n.package_name, parts.join(".")))
                    })
                    .map(|n| n.unique_id.clone())
                    .collect()
            }
            "test_name" => {
                let m = glob(&c.value)?;
                nodes
                    .filter(|n| n.test.as_ref().is_some_and(|t| m.is_match(&t.name)))
                    .map(|n| n.unique_id.clone())
                    .collect()
            }
            "package" => {
                let m = glob(&c.value)?;
                nodes
                    .filter(|n| m.is_match(&n.package_name))
                    .map(|n| n.unique_id.clone())
                    .chain(
                        self.manifest
                            .sources
                            .values()
                            .filter(|s| m.is_match(&s.package_name))
                            .map(|s| s.unique_id.clone()),
                    )
                    .collect()
            }
            "state" => {
                let Some(state) = self.state else {
                    return Err(Diagnostic::error(format!(
                        "'{}' compares with another run, but no --state was given",
                        c.raw
                    ))
                    .with_help("add --state <folder of that run's manifest.json>, e.g. --state prod-target/")
                    .into());
                };
                let mut ids = Vec::new();
                for node in nodes {
                    match state.matches(&c.value, node, self.manifest) {
                        Some(true) => ids.push(node.unique_id.clone()),
                        Some(false) => {}
                        None => {
                            return Err(Diagnostic::error(format!(
                                "unknown state selector '{}'",
                                c.raw
                            ))
                            .with_help("use state:new, state:old, state:modified (or .body, .configs, .macros) or state:unmodified")
                            .into());
                        }
                    }
                }
                ids.extend(
                    self.manifest
                        .sources
                        .keys()
                        .filter(|id| c.value == "new" && state.is_new(id))
                        .cloned(),
                );
                ids
            }
            other => {
                return Err(Diagnostic::error(format!(
                    "selector method '{other}:' is not supported yet (in '{}')",
                    c.raw
                ))
                .with_help("use names, tag:, path:, file:, source:, resource_type:, config.<key>:, test_type:, test_name:, unit_test:, package:")
                .into());
            }
        };
        Ok(ids)
    }
}

/// dbt picks the method of a bare value: a path if it looks like one, a file if it has an
/// extension, else an fqn or name.
fn default_method(value: &str) -> &'static str {
    if value.contains('/') || value.contains('\\') {
        "path"
    } else if [".sql", ".csv", ".yml", ".yaml", ".py"]
        .iter()
        .any(|e| value.ends_with(e))
    {
        "file"
    } else {
        "fqn"
    }
}

/// dbt's fqn matching: the node's name, or a dotted fqn prefix (with or without the package),
/// where the first part containing a wildcard globs the rest.
fn fqn_matches(fqn: &[String], selector: &str) -> bool {
    let matches = |fqn: &[String]| -> bool {
        let Some(name) = fqn.last() else {
            return false;
        };
        if name == selector || (!selector.contains('.') && glob_matches(selector, name)) {
            return true;
        }
        let flat: Vec<&str> = fqn.iter().flat_map(|s| s.split('.')).collect();
        let parts: Vec<&str> = selector.split('.').collect();
        if flat.len() < parts.len() {
            return false;
        }
        for (i, part) in parts.iter().enumerate() {
            if part.contains(['*', '?', '[', ']']) {
                let pattern = parts[i..].join(".");
                return glob_matches(&pattern, &flat[i..].join("."));
            }
            if flat[i] != *part {
                return false;
            }
        }
        true
    };
    matches(fqn) || (fqn.len() > 1 && matches(&fqn[1..]))
}

fn parts_match(parts: &[&str], names: &[&str]) -> bool {
    if parts.len() > names.len() {
        return false;
    }
    parts.iter().zip(names).all(|(p, n)| glob_matches(p, n))
}

/// Whether `text` matches a shell-style pattern (a plain string matches only itself).
fn glob_matches(pattern: &str, text: &str) -> bool {
    if !pattern.contains(['*', '?', '[']) {
        return pattern == text;
    }
    Glob::new(pattern)
        .map(|g| g.compile_matcher().is_match(text))
        .unwrap_or(false)
}

fn config_matches(node: &Node, key_path: &[String], wanted: &str) -> bool {
    let top = node.config_value(&key_path[0]);
    let mut value = top.as_ref();
    for key in &key_path[1..] {
        value = value.and_then(|v| v.get(key));
    }
    let scalar_matches = |v: &Json| match v {
        Json::String(s) => s == wanted,
        Json::Bool(b) => wanted.eq_ignore_ascii_case(&b.to_string()),
        Json::Number(n) => n.to_string() == wanted,
        _ => false,
    };
    match value {
        Some(Json::Array(items)) => items.iter().any(scalar_matches),
        Some(v) => scalar_matches(v),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_graph_operators() {
        let c = parse_criterion("2+tag:nightly+3").unwrap();
        assert_eq!((c.method.as_str(), c.value.as_str()), ("tag", "nightly"));
        assert_eq!((c.parents, c.children), (Some(Some(2)), Some(Some(3))));
        let c = parse_criterion("+orders+").unwrap();
        assert_eq!((c.parents, c.children), (Some(None), Some(None)));
        let c = parse_criterion("@config.materialized:table").unwrap();
        assert!(c.childrens_parents);
        assert_eq!(c.method_args, ["materialized"]);
    }

    #[test]
    fn bad_selectors_explain() {
        let err = parse_criterion("tagg:x").unwrap_err().to_string();
        assert!(
            err.contains("unknown method 'tagg'; did you mean 'tag'?"),
            "{err}"
        );
        assert!(parse_criterion("@+x").is_err());
        assert!(parse_criterion("config:x").is_err());
    }

    #[test]
    fn fqn_semantics() {
        let fqn: Vec<String> = ["shop", "staging", "stg_orders"].map(String::from).into();
        assert!(fqn_matches(&fqn, "stg_orders"));
        assert!(fqn_matches(&fqn, "staging"));
        assert!(fqn_matches(&fqn, "shop.staging"));
        assert!(fqn_matches(&fqn, "staging.stg_*"));
        assert!(fqn_matches(&fqn, "stg_*"));
        assert!(!fqn_matches(&fqn, "marts"));
    }
}
