//! Unit tests (`unit_tests:` in properties YAML, dbt 1.8): a model run on given rows instead
//! of its inputs, its output compared with expected rows. Compiling makes one node per test
//! and checks what needs no warehouse: the model exists, every input is one of the model's
//! refs or sources (or `this`), each of those is given, and rows are well formed. The SQL is
//! made when the test runs, where the inputs' column types can be read.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use super::relations::EPHEMERAL_PREFIX;
use crate::adapter::Relation;
use crate::diagnostics::{Diagnostic, Errors, Result};
use crate::manifest::{Node, NodeMap, NodeOrigin, ResourceType};
use crate::project::{Project, UnitTestOverrides, UnitTestProperties, UnitTestRows};
use crate::template::Resolver;

/// What a unit test runs with, by the test's unique id.
#[derive(Debug, Clone)]
pub struct UnitTestSpec {
    /// The model under test.
    pub model: String,
    pub inputs: Vec<UnitInput>,
    pub expect: Rows,
    pub overrides: UnitTestOverrides,
}

/// One given input: what it stands for, the CTE that replaces it and its rows.
#[derive(Debug, Clone)]
pub struct UnitInput {
    /// `ref:<name>`, `source:<source>.<table>` or `this`: how the model's render finds it.
    pub key: String,
    /// As written (`ref('customers')`), for messages.
    pub written: String,
    pub cte: String,
    /// The real relation, whose columns type the rows (`None` for `this`: the model's own).
    pub relation: Option<Relation>,
    pub rows: Rows,
}

/// Rows given or expected: mappings of column to value, or a select that returns them.
#[derive(Debug, Clone, PartialEq)]
pub enum Rows {
    Dicts(Vec<Map<String, Json>>),
    Sql(String),
}

/// The unit tests of every package, as nodes beside their specs. Errors name the YAML line.
pub(super) fn unit_tests(
    project: &Project,
    nodes: &NodeMap,
    resolver: &Resolver,
) -> Result<Vec<(Node, UnitTestSpec)>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for resources in project.resources() {
        let fixtures = fixture_dirs(project, resources.dir, resources.is_root);
        for file in resources.properties {
            let source = super::nodes::source_of(project, &file.path);
            for test in &file.unit_tests {
                let at = |line: u32, message: String| {
                    Diagnostic::error(message).at_source(&file.path, source, line, 0)
                };
                let made = UnitTestMaker {
                    package: resources.package,
                    file: &file.path,
                    fixtures: &fixtures,
                    nodes,
                    resolver,
                    at: &at,
                }
                .make(test);
                match made {
                    Ok(Some(made)) => out.push(made),
                    Ok(None) => {}
                    Err(e) => errors.push(e),
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Errors(errors).sorted())
    }
}

/// Where a package's fixture files are: `fixtures/` in each of its test paths.
fn fixture_dirs(project: &Project, dir: &Path, is_root: bool) -> Vec<PathBuf> {
    let config = if is_root {
        &project.config
    } else {
        match project.packages.iter().find(|p| p.dir == dir) {
            Some(package) => &package.config,
            None => return Vec::new(),
        }
    };
    config
        .test_paths
        .iter()
        .map(|tests| project.root.join(dir).join(tests).join("fixtures"))
        .collect()
}

struct UnitTestMaker<'a> {
    package: &'a str,
    file: &'a Path,
    fixtures: &'a [PathBuf],
    nodes: &'a NodeMap,
    resolver: &'a Resolver,
    at: &'a dyn Fn(u32, String) -> Diagnostic,
}

impl UnitTestMaker<'_> {
    /// The test's node and spec; `None` when the test is disabled.
    fn make(
        &self,
        test: &UnitTestProperties,
    ) -> std::result::Result<Option<(Node, UnitTestSpec)>, Diagnostic> {
        if test.described.config.get("enabled") == Some(&Json::Bool(false)) {
            return Ok(None);
        }
        let what = format!("unit test '{}'", test.name);
        let model = self
            .resolver
            .find_ref(&test.model, None, self.package)
            .and_then(|target| self.nodes.get(&target.unique_id))
            .filter(|node| node.resource_type == ResourceType::Model)
            .ok_or_else(|| {
                (self.at)(
                    test.line,
                    format!("{what} tests model '{}', which does not exist", test.model),
                )
                .with_help("name a model of the project in `model:`")
            })?;
        if model.is_ephemeral() {
            return Err((self.at)(
                test.line,
                format!("{what} tests ephemeral model '{}'", model.name),
            )
            .with_help("unit test the models that read it instead (dbt cannot unit test ephemeral models either)"));
        }
        let mut inputs = Vec::new();
        for given in &test.given {
            let key = input_key(&given.input).ok_or_else(|| {
                (self.at)(
                    given.line,
                    format!("{what}: cannot read the input `{}`", given.input),
                )
                .with_help("write `ref('model')`, `source('source', 'table')` or `this`")
            })?;
            if !model_reads(model, &key) {
                return Err((self.at)(
                    given.line,
                    format!(
                        "{what} gives rows for {}, which model '{}' does not read",
                        given.input, model.name
                    ),
                )
                .with_help("give rows only for the model's own refs and sources (and `this` for an incremental model)"));
            }
            inputs.push(UnitInput {
                relation: self.input_relation(model, &key),
                cte: cte_name(&key),
                key,
                written: given.input.clone(),
                rows: self.rows(&given.rows, &what)?,
            });
        }
        for key in model_inputs(model) {
            if !inputs.iter().any(|i| i.key == key) {
                return Err((self.at)(
                    test.line,
                    format!(
                        "{what} gives no rows for {}, which model '{}' reads",
                        written_key(&key),
                        model.name
                    ),
                )
                .with_help(format!(
                    "add `- input: {}` under `given:`, with `rows: []` where the test needs none",
                    written_key(&key)
                )));
            }
        }
        let node = self.node(test, model);
        let spec = UnitTestSpec {
            model: model.unique_id.clone(),
            inputs,
            expect: self.rows(&test.expect, &what)?,
            overrides: test.overrides.clone(),
        };
        Ok(Some((node, spec)))
    }

    fn node(&self, test: &UnitTestProperties, model: &Node) -> Node {
        let mut node = Node::new(NodeOrigin {
            unique_id: format!("unit_test.{}.{}.{}", self.package, model.name, test.name),
            resource_type: ResourceType::UnitTest,
            name: test.name.clone(),
            package_name: self.package.to_string(),
            path: model.path.clone(),
            original_file_path: self.file.to_path_buf(),
            package_dir: model.package_dir.clone(),
            fqn: model
                .fqn
                .iter()
                .cloned()
                .chain([test.name.clone()])
                .collect(),
            raw_code: String::new(),
            raw_line: test.line,
            checksum: String::new(),
        });
        node.description = test.described.description.clone();
        // Tags are taken from the config once its Jinja is rendered.
        node.config = test.described.config.clone();
        node.depends_on_nodes = vec![model.unique_id.clone()];
        let rows_json = |rows: &UnitTestRows| serde_json::json!({"rows": rows.rows, "format": rows.format, "fixture": rows.fixture});
        let given: Vec<Json> = test
            .given
            .iter()
            .map(|g| {
                let mut entry = rows_json(&g.rows);
                entry["input"] = Json::String(g.input.clone());
                entry
            })
            .collect();
        let overrides = &test.overrides;
        node.extra = Map::from_iter([
            ("model".to_string(), Json::String(test.model.clone())),
            ("given".to_string(), Json::Array(given)),
            ("expect".to_string(), rows_json(&test.expect)),
            (
                "overrides".to_string(),
                serde_json::json!({
                    "macros": overrides.macros,
                    "vars": overrides.vars,
                    "env_vars": overrides.env_vars,
                }),
            ),
        ]);
        node
    }

    /// The relation an input stands for, whose columns type its rows.
    fn input_relation(&self, model: &Node, key: &str) -> Option<Relation> {
        if let Some(name) = key.strip_prefix("ref:") {
            let call = model.refs.iter().find(|r| r.name == name)?;
            let target =
                self.resolver
                    .find_ref(&call.name, call.package.as_deref(), &model.package_name)?;
            return self.nodes.get(&target.unique_id)?.relation.clone();
        }
        let (source, table) = key.strip_prefix("source:")?.split_once('.')?;
        let key = (source.to_string(), table.to_string());
        Some(
            self.resolver
                .find_source(&key, &model.package_name)?
                .relation
                .clone(),
        )
    }

    fn rows(&self, rows: &UnitTestRows, what: &str) -> std::result::Result<Rows, Diagnostic> {
        let text = match (&rows.rows, &rows.fixture) {
            (Some(written), _) => written.clone(),
            (None, Some(_)) if rows.format == "dict" => {
                return Err((self.at)(
                    rows.line,
                    format!(
                        "{what}: a fixture file holds CSV or SQL rows, and the format here is dict"
                    ),
                )
                .with_help(
                    "add `format: csv` (tests/fixtures/<name>.csv) or `format: sql` (<name>.sql)",
                ));
            }
            (None, Some(fixture)) => {
                Json::String(self.fixture(fixture, &rows.format, rows.line, what)?)
            }
            (None, None) => {
                return Err((self.at)(rows.line, format!("{what}: rows are missing"))
                    .with_help("give `rows:` (a list of mappings by default), or a `fixture:` file of tests/fixtures/"));
            }
        };
        let bad = |message: String| (self.at)(rows.line, format!("{what}: {message}"));
        match (rows.format.as_str(), text) {
            ("dict", Json::Array(items)) => items
                .into_iter()
                .map(|item| match item {
                    Json::Object(map) => Ok(map),
                    other => Err(bad(format!(
                        "each row must be a mapping of column to value, found {other}"
                    ))
                    .with_help("write rows as `- {id: 1, name: a}`")),
                })
                .collect::<std::result::Result<_, _>>()
                .map(Rows::Dicts),
            ("dict", Json::Null) => Ok(Rows::Dicts(Vec::new())),
            ("dict", other) => Err(
                bad(format!("rows must be a list of mappings, found {other}")).with_help(
                    "write rows as `- {id: 1, name: a}`, or set `format: csv` or `format: sql`",
                ),
            ),
            ("csv", Json::String(text)) => csv_rows(&text).map(Rows::Dicts).map_err(|e| {
                bad(format!("cannot read the CSV rows: {e}"))
                    .with_help("write a header line, then one line per row")
            }),
            ("sql", Json::String(text)) => Ok(Rows::Sql(text)),
            (format, other) => Err(bad(format!("{format} rows must be text, found {other}"))
                .with_help("write them as a block: `rows: |`")),
        }
    }

    /// The text of fixture file `name` (`.csv` or `.sql` by `format`) in tests/fixtures/.
    fn fixture(
        &self,
        name: &str,
        format: &str,
        line: u32,
        what: &str,
    ) -> std::result::Result<String, Diagnostic> {
        let file_name = format!("{name}.{}", if format == "sql" { "sql" } else { "csv" });
        let found = self.fixtures.iter().find_map(|dir| {
            walkdir::WalkDir::new(dir)
                .into_iter()
                .filter_map(|e| e.ok())
                .find(|e| e.file_name().to_str() == Some(file_name.as_str()))
        });
        let Some(entry) = found else {
            return Err(
                (self.at)(line, format!("{what}: no fixture file {file_name}"))
                    .with_help("put it in tests/fixtures/ (the fixtures folder of a test path)"),
            );
        };
        std::fs::read_to_string(entry.path()).map_err(|e| {
            (self.at)(
                line,
                format!("{what}: cannot read {}: {e}", entry.path().display()),
            )
        })
    }
}

/// Rows of CSV text, values as text (an empty field or `null` is NULL, as dbt reads fixtures).
fn csv_rows(text: &str) -> std::result::Result<Vec<Map<String, Json>>, csv::Error> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.trim().as_bytes());
    let columns: Vec<String> = reader.headers()?.iter().map(str::to_string).collect();
    reader
        .records()
        .map(|record| {
            Ok(columns
                .iter()
                .cloned()
                .zip(record?.iter().map(|v| {
                    if v.is_empty() || v.eq_ignore_ascii_case("null") {
                        Json::Null
                    } else {
                        Json::String(v.to_string())
                    }
                }))
                .collect())
        })
        .collect()
}

/// `ref('x')`, `ref('pkg', 'x')`, `source('s', 't')` or `this` as the key the render uses.
fn input_key(input: &str) -> Option<String> {
    let input = input.trim();
    if input == "this" {
        return Some("this".into());
    }
    let (func, rest) = input.split_once('(')?;
    let args: Vec<String> = rest
        .strip_suffix(')')?
        .split(',')
        .map(|a| a.trim().trim_matches(|c| c == '\'' || c == '"').to_string())
        .filter(|a| !a.is_empty() && !a.starts_with("v=") && !a.starts_with("version="))
        .collect();
    match (func.trim(), args.as_slice()) {
        ("ref", [name]) | ("ref", [_, name]) => Some(format!("ref:{name}")),
        ("source", [source, table]) => Some(format!("source:{source}.{table}")),
        _ => None,
    }
}

/// What the model reads, as input keys.
fn model_inputs(model: &Node) -> Vec<String> {
    model
        .refs
        .iter()
        .map(|r| format!("ref:{}", r.name))
        .chain(model.sources.iter().map(|(s, t)| format!("source:{s}.{t}")))
        .collect()
}

fn model_reads(model: &Node, key: &str) -> bool {
    key == "this" || model_inputs(model).iter().any(|k| k == key)
}

fn written_key(key: &str) -> String {
    if let Some(name) = key.strip_prefix("ref:") {
        format!("ref('{name}')")
    } else if let Some((s, t)) = key.strip_prefix("source:").and_then(|k| k.split_once('.')) {
        format!("source('{s}', '{t}')")
    } else {
        key.to_string()
    }
}

/// The CTE an input becomes (named as dbt names ephemeral models' CTEs).
fn cte_name(key: &str) -> String {
    let base = key
        .replace("ref:", "")
        .replace("source:", "")
        .replace('.', "__");
    format!("{EPHEMERAL_PREFIX}{base}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_read_as_dbt_writes_them() {
        assert_eq!(input_key("ref('orders')").as_deref(), Some("ref:orders"));
        assert_eq!(
            input_key("ref(\"shop\", \"orders\")").as_deref(),
            Some("ref:orders")
        );
        assert_eq!(
            input_key("source('raw', 'events')").as_deref(),
            Some("source:raw.events")
        );
        assert_eq!(input_key(" this ").as_deref(), Some("this"));
        assert_eq!(input_key("orders"), None);
        assert_eq!(cte_name("source:raw.events"), "__dbt__cte__raw__events");
    }

    #[test]
    fn csv_rows_read_nulls_and_check_widths() {
        let rows = csv_rows("id,name\n1,ann\n2,\n").unwrap();
        assert_eq!(rows[0]["name"], "ann");
        assert_eq!(rows[1]["name"], Json::Null);
        assert!(csv_rows("id,name\n1\n").is_err(), "a row short of a value");
    }
}
