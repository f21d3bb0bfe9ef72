//! Properties YAML (`version: 2`): models, seeds, snapshots, analyses, sources, macros, their
//! columns, descriptions and data tests.
//!
//! Parsed by hand from the positioned YAML tree so that every problem names its line, and every
//! unknown key is reported with the closest valid one.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use super::config::unknown_key_warning;
use super::yaml::{self, YNode};
use crate::diagnostics::{Diagnostic, Result};

const TOP_KEYS: &[&str] = &[
    "version",
    "models",
    "seeds",
    "snapshots",
    "analyses",
    "sources",
    "macros",
    "exposures",
    "metrics",
    "semantic_models",
    "saved_queries",
    "groups",
    "unit_tests",
    "data_tests",
    "functions",
];
/// Top-level sections we accept but do not use yet.
const IGNORED_SECTIONS: &[&str] = &[
    "exposures",
    "metrics",
    "semantic_models",
    "saved_queries",
    "groups",
    "functions",
];
const NODE_KEYS: &[&str] = &[
    "name",
    "description",
    "config",
    "columns",
    "tests",
    "data_tests",
    "docs",
    "meta",
    "tags",
    "access",
    "group",
    "latest_version",
    "versions",
    "constraints",
    "deprecation_date",
    "time_spine",
];
const COLUMN_KEYS: &[&str] = &[
    "name",
    "description",
    "data_type",
    "tests",
    "data_tests",
    "meta",
    "tags",
    "quote",
    "constraints",
    "policy_tags",
    "granularity",
    "config",
];
const SOURCE_KEYS: &[&str] = &[
    "name",
    "description",
    "database",
    "schema",
    "loader",
    "loaded_at_field",
    "loaded_at_query",
    "meta",
    "tags",
    "config",
    "freshness",
    "quoting",
    "tables",
    "overrides",
    "event_time",
];
const SOURCE_TABLE_KEYS: &[&str] = &[
    "name",
    "description",
    "identifier",
    "loaded_at_field",
    "loaded_at_query",
    "meta",
    "tags",
    "config",
    "freshness",
    "quoting",
    "external",
    "columns",
    "tests",
    "data_tests",
    "loader",
    "event_time",
];
const MACRO_KEYS: &[&str] = &["name", "description", "docs", "meta", "arguments", "config"];
const UNIT_TEST_KEYS: &[&str] = &[
    "name",
    "model",
    "description",
    "given",
    "expect",
    "overrides",
    "config",
    "versions",
];
const UNIT_INPUT_KEYS: &[&str] = &["input", "rows", "format", "fixture"];
const OVERRIDE_KEYS: &[&str] = &["macros", "vars", "env_vars"];

/// The contents of one properties file.
#[derive(Debug, Clone, Default)]
pub struct PropertiesFile {
    pub path: PathBuf,
    /// Models, seeds, snapshots and analyses, tagged with their section.
    pub nodes: Vec<NodeProperties>,
    pub sources: Vec<SourceProperties>,
    pub macros: Vec<MacroProperties>,
    pub unit_tests: Vec<UnitTestProperties>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Models,
    Seeds,
    Snapshots,
    Analyses,
}

impl Section {
    pub fn resource_type(self) -> &'static str {
        match self {
            Section::Models => "model",
            Section::Seeds => "seed",
            Section::Snapshots => "snapshot",
            Section::Analyses => "analysis",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct Described {
    pub description: String,
    pub meta: Map<String, Json>,
    pub tags: Vec<String>,
    pub config: Map<String, Json>,
}

#[derive(Debug, Clone)]
pub struct NodeProperties {
    pub section: Section,
    pub name: String,
    pub line: u32,
    pub described: Described,
    pub docs: Map<String, Json>,
    pub columns: Vec<ColumnProperties>,
    pub tests: Vec<TestDefinition>,
    /// Other keys kept as written (access, group, constraints, ...).
    pub extra: Map<String, Json>,
}

#[derive(Debug, Clone)]
pub struct ColumnProperties {
    pub name: String,
    pub line: u32,
    pub described: Described,
    pub data_type: Option<String>,
    pub quote: Option<bool>,
    pub constraints: Vec<Json>,
    pub tests: Vec<TestDefinition>,
}

#[derive(Debug, Clone)]
pub struct SourceProperties {
    pub name: String,
    pub line: u32,
    pub described: Described,
    pub database: Option<String>,
    pub schema: Option<String>,
    pub loaded_at_field: Option<String>,
    pub freshness: Option<Json>,
    pub quoting: Map<String, Json>,
    /// dbt's `loader` (a description: text), or elt's loader config (a mapping).
    pub loader: Option<Json>,
    pub tables: Vec<SourceTableProperties>,
}

#[derive(Debug, Clone)]
pub struct SourceTableProperties {
    pub name: String,
    pub line: u32,
    pub described: Described,
    pub identifier: Option<String>,
    pub loaded_at_field: Option<String>,
    pub freshness: Option<Json>,
    pub quoting: Map<String, Json>,
    pub external: Option<Json>,
    /// As on the source; a mapping here overrides the source's keys.
    pub loader: Option<Json>,
    pub columns: Vec<ColumnProperties>,
    pub tests: Vec<TestDefinition>,
}

#[derive(Debug, Clone)]
pub struct MacroProperties {
    pub name: String,
    pub line: u32,
    pub described: Described,
    pub arguments: Vec<Json>,
}

/// A unit test as written under `unit_tests:`: the model run on given rows, its output
/// compared with the expected rows.
#[derive(Debug, Clone)]
pub struct UnitTestProperties {
    pub name: String,
    pub model: String,
    pub line: u32,
    /// Description and `config` (tags, meta, enabled).
    pub described: Described,
    pub given: Vec<UnitTestInput>,
    pub expect: UnitTestRows,
    pub overrides: UnitTestOverrides,
}

/// One `given:` entry: `ref('x')`, `source('s', 't')` or `this`, and its rows.
#[derive(Debug, Clone)]
pub struct UnitTestInput {
    pub input: String,
    pub line: u32,
    pub rows: UnitTestRows,
}

/// Rows as a unit test gives or expects them.
#[derive(Debug, Clone, PartialEq)]
pub struct UnitTestRows {
    /// `dict` (a list of mappings), `csv` or `sql`.
    pub format: String,
    /// The rows as written (`rows:`); `None` with a `fixture:` file instead.
    pub rows: Option<Json>,
    /// A file of `tests/fixtures/` (without extension) holding the rows.
    pub fixture: Option<String>,
    pub line: u32,
}

/// What a unit test changes in the model's render.
#[derive(Debug, Clone, Default)]
pub struct UnitTestOverrides {
    pub macros: Map<String, Json>,
    pub vars: Map<String, Json>,
    pub env_vars: Map<String, Json>,
}

/// A data test as written under `tests:`/`data_tests:`.
#[derive(Debug, Clone)]
pub struct TestDefinition {
    /// The test macro name as written, maybe with a namespace: `unique`, `dbt_utils.at_least_one`.
    pub test_name: String,
    /// Arguments for the test macro (without `model` and `column_name`).
    pub args: Map<String, Json>,
    pub config: Map<String, Json>,
    /// A `name:` given by the user instead of the synthesized one.
    pub custom_name: Option<String>,
    pub description: Option<String>,
    pub line: u32,
    pub col: u32,
}

/// Config keys that may be written beside a test's arguments (dbt's older style).
const TEST_CONFIG_KEYS: &[&str] = &[
    "severity",
    "tags",
    "enabled",
    "where",
    "limit",
    "warn_if",
    "error_if",
    "fail_calc",
    "store_failures",
    "store_failures_as",
    "meta",
    "alias",
    "schema",
    "database",
];

/// Parses one properties file. Errors stop the file; warnings are returned beside it.
pub fn parse(path: &Path, source: &str) -> Result<(PropertiesFile, Vec<Diagnostic>)> {
    let doc = yaml::parse(source).map_err(|e| {
        Diagnostic::error(format!("invalid YAML: {}", e.message))
            .at_source(path, source, e.line, e.col)
            .with_help("fix the YAML syntax (indentation, colons, quotes)")
    })?;
    let mut parser = Parser {
        path,
        source,
        warnings: Vec::new(),
    };
    let mut file = PropertiesFile {
        path: path.to_path_buf(),
        ..Default::default()
    };
    if doc.is_null() {
        return Ok((file, parser.warnings));
    }
    let entries = doc
        .as_map()
        .ok_or_else(|| parser.error(&doc, "a properties file must be a YAML mapping"))?;
    for (key, value) in entries {
        let name = key.key_text();
        match name.as_str() {
            "version" => {}
            "models" => parser.nodes(value, Section::Models, &mut file.nodes)?,
            "seeds" => parser.nodes(value, Section::Seeds, &mut file.nodes)?,
            "snapshots" => parser.nodes(value, Section::Snapshots, &mut file.nodes)?,
            "analyses" => parser.nodes(value, Section::Analyses, &mut file.nodes)?,
            "sources" => {
                for item in parser.list(value, "sources")? {
                    file.sources.push(parser.source(item)?);
                }
            }
            "macros" => {
                for item in parser.list(value, "macros")? {
                    file.macros.push(parser.macro_properties(item)?);
                }
            }
            "unit_tests" => {
                for item in parser.list(value, "unit_tests")? {
                    file.unit_tests.push(parser.unit_test(item)?);
                }
            }
            other if IGNORED_SECTIONS.contains(&other) => {}
            other => parser.warn_unknown(key, other, TOP_KEYS, "a properties file"),
        }
    }
    Ok((file, parser.warnings))
}

struct Parser<'a> {
    path: &'a Path,
    source: &'a str,
    warnings: Vec<Diagnostic>,
}

impl Parser<'_> {
    fn error(&self, node: &YNode, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(message).at_source(self.path, self.source, node.line, node.col)
    }

    fn warn_unknown(&mut self, key: &YNode, name: &str, valid: &[&str], what: &str) {
        self.warnings.push(unknown_key_warning(
            self.path,
            self.source,
            key,
            name,
            valid,
            what,
        ));
    }

    fn list<'n>(&self, node: &'n YNode, what: &str) -> Result<&'n [YNode]> {
        if node.is_null() {
            return Ok(&[]);
        }
        node.as_seq().ok_or_else(|| {
            self.error(
                node,
                format!("'{what}' must be a list, found {}", node.kind()),
            )
            .with_help(format!("write each entry of '{what}' as `- name: ...`"))
            .into()
        })
    }

    fn map<'n>(&self, node: &'n YNode, what: &str) -> Result<&'n [(YNode, YNode)]> {
        node.as_map().ok_or_else(|| {
            self.error(
                node,
                format!("{what} must be a mapping, found {}", node.kind()),
            )
            .into()
        })
    }

    /// `loader:`: text (dbt's description of what loads the source) or a mapping (elt's
    /// loader config, checked by `elt load`).
    fn loader(&self, node: &YNode) -> Result<Json> {
        if node.as_map().is_some() {
            Ok(node.to_json())
        } else {
            self.string(node, "loader").map(Json::String)
        }
    }

    fn string(&self, node: &YNode, key: &str) -> Result<String> {
        match &node.value {
            yaml::YValue::Scalar { text, .. } => Ok(text.clone()),
            yaml::YValue::Null => Ok(String::new()),
            _ => Err(self
                .error(
                    node,
                    format!("'{key}' must be a string, found {}", node.kind()),
                )
                .into()),
        }
    }

    fn json_map(&self, node: &YNode, key: &str) -> Result<Map<String, Json>> {
        match node.to_json() {
            Json::Object(map) => Ok(map),
            Json::Null => Ok(Map::new()),
            _ => Err(self
                .error(
                    node,
                    format!("'{key}' must be a mapping, found {}", node.kind()),
                )
                .into()),
        }
    }

    fn tags(&self, node: &YNode) -> Result<Vec<String>> {
        match node.to_json() {
            Json::String(s) => Ok(vec![s]),
            Json::Array(items) => items
                .into_iter()
                .map(|i| match i {
                    Json::String(s) => Ok(s),
                    other => Ok(other.to_string()),
                })
                .collect(),
            Json::Null => Ok(vec![]),
            _ => Err(self
                .error(node, "'tags' must be a string or a list of strings")
                .into()),
        }
    }

    /// The name of a list entry, required.
    fn name(&self, item: &YNode, what: &str) -> Result<String> {
        let entries = self.map(item, &format!("each {what}"))?;
        let name = entries
            .iter()
            .find(|(k, _)| k.as_str() == Some("name"))
            .map(|(_, v)| v);
        match name {
            Some(n) if n.as_str().is_some_and(|s| !s.is_empty()) => {
                Ok(n.as_str().unwrap().to_string())
            }
            _ => Err(self
                .error(item, format!("a {what} entry has no 'name'"))
                .with_help(format!("start each {what} with `- name: ...`"))
                .into()),
        }
    }

    /// Reads the keys shared by every described thing; returns false if `key` is not one.
    fn described(&self, described: &mut Described, key: &str, value: &YNode) -> Result<bool> {
        match key {
            "description" => described.description = self.string(value, key)?,
            "meta" => described.meta = self.json_map(value, key)?,
            "tags" => described.tags = self.tags(value)?,
            "config" => described.config = self.json_map(value, key)?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn nodes(
        &mut self,
        value: &YNode,
        section: Section,
        out: &mut Vec<NodeProperties>,
    ) -> Result<()> {
        let what = section.resource_type();
        for item in self.list(value, &format!("{what}s"))? {
            let mut node = NodeProperties {
                section,
                name: self.name(item, what)?,
                line: item.line,
                described: Described::default(),
                docs: Map::new(),
                columns: Vec::new(),
                tests: Vec::new(),
                extra: Map::new(),
            };
            let context = format!("{what} '{}'", node.name);
            for (key, value) in item.as_map().unwrap_or_default() {
                let name = key.key_text();
                if self.described(&mut node.described, &name, value)? {
                    continue;
                }
                match name.as_str() {
                    "name" => {}
                    "docs" => node.docs = self.json_map(value, "docs")?,
                    "columns" => {
                        for column in self.list(value, "columns")? {
                            node.columns.push(self.column(column, &context)?);
                        }
                    }
                    "tests" | "data_tests" => {
                        for test in self.list(value, &name)? {
                            node.tests.push(self.test(test)?);
                        }
                    }
                    other if NODE_KEYS.contains(&other) => {
                        node.extra.insert(name.clone(), value.to_json());
                    }
                    other => self.warn_unknown(key, other, NODE_KEYS, &context),
                }
            }
            out.push(node);
        }
        Ok(())
    }

    fn column(&mut self, item: &YNode, parent: &str) -> Result<ColumnProperties> {
        let mut column = ColumnProperties {
            name: self.name(item, "column")?,
            line: item.line,
            described: Described::default(),
            data_type: None,
            quote: None,
            constraints: Vec::new(),
            tests: Vec::new(),
        };
        let context = format!("column '{}' of {parent}", column.name);
        for (key, value) in item.as_map().unwrap_or_default() {
            let name = key.key_text();
            if self.described(&mut column.described, &name, value)? {
                continue;
            }
            match name.as_str() {
                "name" | "policy_tags" | "granularity" => {}
                "data_type" => column.data_type = Some(self.string(value, "data_type")?),
                "quote" => column.quote = value.to_json().as_bool(),
                "constraints" => {
                    column.constraints = match value.to_json() {
                        Json::Array(items) => items,
                        _ => return Err(self.error(value, "'constraints' must be a list").into()),
                    }
                }
                "tests" | "data_tests" => {
                    for test in self.list(value, &name)? {
                        column.tests.push(self.test(test)?);
                    }
                }
                other => self.warn_unknown(key, other, COLUMN_KEYS, &context),
            }
        }
        Ok(column)
    }

    fn source(&mut self, item: &YNode) -> Result<SourceProperties> {
        let mut source = SourceProperties {
            name: self.name(item, "source")?,
            line: item.line,
            described: Described::default(),
            database: None,
            schema: None,
            loader: None,
            loaded_at_field: None,
            freshness: None,
            quoting: Map::new(),
            tables: Vec::new(),
        };
        let context = format!("source '{}'", source.name);
        for (key, value) in item.as_map().unwrap_or_default() {
            let name = key.key_text();
            if self.described(&mut source.described, &name, value)? {
                continue;
            }
            match name.as_str() {
                "name" | "overrides" | "event_time" | "loaded_at_query" => {}
                "database" => source.database = Some(self.string(value, "database")?),
                "schema" => source.schema = Some(self.string(value, "schema")?),
                "loader" => source.loader = Some(self.loader(value)?),
                "loaded_at_field" => {
                    source.loaded_at_field = Some(self.string(value, "loaded_at_field")?)
                }
                "freshness" => source.freshness = Some(value.to_json()),
                "quoting" => source.quoting = self.json_map(value, "quoting")?,
                "tables" => {
                    for table in self.list(value, "tables")? {
                        let table = self.source_table(table, &context)?;
                        source.tables.push(table);
                    }
                }
                other => self.warn_unknown(key, other, SOURCE_KEYS, &context),
            }
        }
        Ok(source)
    }

    fn source_table(&mut self, item: &YNode, parent: &str) -> Result<SourceTableProperties> {
        let mut table = SourceTableProperties {
            name: self.name(item, "table")?,
            line: item.line,
            described: Described::default(),
            identifier: None,
            loaded_at_field: None,
            freshness: None,
            quoting: Map::new(),
            external: None,
            loader: None,
            columns: Vec::new(),
            tests: Vec::new(),
        };
        let context = format!("table '{}' of {parent}", table.name);
        for (key, value) in item.as_map().unwrap_or_default() {
            let name = key.key_text();
            if self.described(&mut table.described, &name, value)? {
                continue;
            }
            match name.as_str() {
                "name" | "event_time" | "loaded_at_query" => {}
                "identifier" => table.identifier = Some(self.string(value, "identifier")?),
                "loaded_at_field" => {
                    table.loaded_at_field = Some(self.string(value, "loaded_at_field")?)
                }
                "freshness" => table.freshness = Some(value.to_json()),
                "quoting" => table.quoting = self.json_map(value, "quoting")?,
                "external" => table.external = Some(value.to_json()),
                "loader" => table.loader = Some(self.loader(value)?),
                "columns" => {
                    for column in self.list(value, "columns")? {
                        table.columns.push(self.column(column, &context)?);
                    }
                }
                "tests" | "data_tests" => {
                    for test in self.list(value, &name)? {
                        table.tests.push(self.test(test)?);
                    }
                }
                other => self.warn_unknown(key, other, SOURCE_TABLE_KEYS, &context),
            }
        }
        Ok(table)
    }

    fn unit_test(&mut self, item: &YNode) -> Result<UnitTestProperties> {
        let name = self.name(item, "unit test")?;
        let context = format!("unit test '{name}'");
        let mut model = None;
        let mut given = Vec::new();
        let mut expect = None;
        let mut described = Described::default();
        let mut overrides = UnitTestOverrides::default();
        for (key, value) in item.as_map().unwrap_or_default() {
            let key_name = key.key_text();
            if self.described(&mut described, &key_name, value)? {
                continue;
            }
            match key_name.as_str() {
                "name" | "versions" => {}
                "model" => model = Some(self.string(value, "model")?),
                "given" => {
                    for input in self.list(value, "given")? {
                        given.push(self.unit_input(input, &context)?);
                    }
                }
                "expect" => expect = Some(self.unit_rows(value, &context, "expect")?),
                "overrides" => {
                    for (key, value) in self.map(value, "'overrides'")? {
                        let which = key.key_text();
                        let map = self.json_map(value, &which)?;
                        match which.as_str() {
                            "macros" => overrides.macros = map,
                            "vars" => overrides.vars = map,
                            "env_vars" => overrides.env_vars = map,
                            other => self.warn_unknown(key, other, OVERRIDE_KEYS, &context),
                        }
                    }
                }
                other => self.warn_unknown(key, other, UNIT_TEST_KEYS, &context),
            }
        }
        let missing = |what: &str| {
            self.error(item, format!("{context} has no '{what}'"))
                .with_help(format!(
                    "a unit test names its `model`, the rows it is `given` and the rows it should `expect`; add `{what}:`"
                ))
        };
        Ok(UnitTestProperties {
            model: model.ok_or_else(|| missing("model"))?,
            expect: expect.ok_or_else(|| missing("expect"))?,
            name,
            line: item.line,
            described,
            given,
            overrides,
        })
    }

    fn unit_input(&mut self, item: &YNode, context: &str) -> Result<UnitTestInput> {
        let entries = self.map(item, "each 'given' entry")?;
        let input = entries
            .iter()
            .find(|(k, _)| k.as_str() == Some("input"))
            .map(|(_, v)| self.string(v, "input"))
            .transpose()?
            .filter(|s| !s.trim().is_empty())
            .ok_or_else(|| {
                self.error(item, format!("a 'given' entry of {context} has no 'input'"))
                    .with_help("name what the rows stand for: `input: ref('model')`, `input: source('source', 'table')` or `input: this`")
            })?;
        let rows = self.unit_rows(item, context, "given")?;
        Ok(UnitTestInput {
            input: input.trim().to_string(),
            line: item.line,
            rows,
        })
    }

    /// The `rows`/`format`/`fixture` of a `given` entry or of `expect`.
    fn unit_rows(&mut self, item: &YNode, context: &str, section: &str) -> Result<UnitTestRows> {
        let mut rows = UnitTestRows {
            format: "dict".into(),
            rows: None,
            fixture: None,
            line: item.line,
        };
        for (key, value) in self.map(item, &format!("'{section}'"))? {
            match key.key_text().as_str() {
                "input" if section == "given" => {}
                "rows" => rows.rows = Some(value.to_json()),
                "fixture" => rows.fixture = Some(self.string(value, "fixture")?),
                "format" => {
                    let format = self.string(value, "format")?;
                    if !["dict", "csv", "sql"].contains(&format.as_str()) {
                        return Err(self
                            .error(
                                value,
                                format!("unknown rows format '{format}' in {context}"),
                            )
                            .with_help("use dict (the default), csv or sql")
                            .into());
                    }
                    rows.format = format;
                }
                other => {
                    let valid: &[&str] = if section == "given" {
                        UNIT_INPUT_KEYS
                    } else {
                        &UNIT_INPUT_KEYS[1..]
                    };
                    self.warn_unknown(key, other, valid, context)
                }
            }
        }
        Ok(rows)
    }

    fn macro_properties(&mut self, item: &YNode) -> Result<MacroProperties> {
        let mut properties = MacroProperties {
            name: self.name(item, "macro")?,
            line: item.line,
            described: Described::default(),
            arguments: Vec::new(),
        };
        let context = format!("macro '{}'", properties.name);
        for (key, value) in item.as_map().unwrap_or_default() {
            let name = key.key_text();
            if self.described(&mut properties.described, &name, value)? {
                continue;
            }
            match name.as_str() {
                "name" | "docs" => {}
                "arguments" => {
                    properties.arguments = match value.to_json() {
                        Json::Array(items) => items,
                        _ => vec![],
                    }
                }
                other => self.warn_unknown(key, other, MACRO_KEYS, &context),
            }
        }
        Ok(properties)
    }

    /// A test entry: `- unique`, `- accepted_values: {values: [...]}`,
    /// `- name: x, test_name: unique`, with configs beside or under `config:`/`arguments:`.
    fn test(&mut self, item: &YNode) -> Result<TestDefinition> {
        let (test_name, body) = if let Some(name) = item.as_str() {
            (name.to_string(), None)
        } else {
            let entries = self.map(item, "a test")?;
            if let Some(explicit) = item.get("test_name") {
                (self.string(explicit, "test_name")?, Some(item))
            } else if entries.len() == 1 {
                (entries[0].0.key_text(), Some(&entries[0].1))
            } else {
                return Err(self
                    .error(
                        item,
                        "a test must be a name or a mapping with one test name as key",
                    )
                    .with_help("e.g. `- accepted_values: {values: ['a', 'b']}`")
                    .into());
            }
        };
        let mut test = TestDefinition {
            test_name,
            args: Map::new(),
            config: Map::new(),
            custom_name: None,
            description: None,
            line: item.line,
            col: item.col,
        };
        let Some(body) = body.filter(|b| !b.is_null()) else {
            return Ok(test);
        };
        let entries = self.map(body, &format!("the arguments of test '{}'", test.test_name))?;
        for (key, value) in entries {
            let name = key.key_text();
            match name.as_str() {
                "test_name" => {}
                "name" => {
                    test.custom_name = Some(self.string(value, "name")?);
                }
                "description" => test.description = Some(self.string(value, "description")?),
                "config" => {
                    for (k, v) in self.json_map(value, "config")? {
                        test.config.insert(k, v);
                    }
                }
                "arguments" => {
                    for (k, v) in self.json_map(value, "arguments")? {
                        test.args.insert(k, v);
                    }
                }
                key if TEST_CONFIG_KEYS.contains(&key) => {
                    test.config.insert(name.clone(), value.to_json());
                }
                _ => {
                    test.args.insert(name.clone(), value.to_json());
                }
            }
        }
        Ok(test)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_columns_and_tests() {
        let src = r#"
version: 2
models:
  - name: orders
    description: "{{ doc('orders') }}"
    config: {materialized: table}
    columns:
      - name: order_id
        tests: [unique, not_null]
      - name: status
        data_tests:
          - accepted_values:
              values: ['placed', 'shipped']
              config: {severity: warn}
      - name: customer_id
        tests:
          - relationships: {to: ref('customers'), field: customer_id, where: "x > 1"}
"#;
        let (file, warnings) = parse(Path::new("models/schema.yml"), src).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let orders = &file.nodes[0];
        assert_eq!(orders.described.config["materialized"], "table");
        assert_eq!(orders.columns[0].tests.len(), 2);
        let accepted = &orders.columns[1].tests[0];
        assert_eq!(accepted.test_name, "accepted_values");
        assert_eq!(
            accepted.args["values"],
            serde_json::json!(["placed", "shipped"])
        );
        assert_eq!(accepted.config["severity"], "warn");
        let rel = &orders.columns[2].tests[0];
        assert_eq!(rel.args["to"], "ref('customers')");
        assert_eq!(rel.config["where"], "x > 1");
    }

    #[test]
    fn unknown_keys_warn_with_line() {
        let src = "models:\n  - name: a\n    descripton: x\n    columns:\n      - name: id\n        test: [unique]\n";
        let (_, warnings) = parse(Path::new("m.yml"), src).unwrap();
        let lines: Vec<_> = warnings
            .iter()
            .map(|w| w.location.as_ref().unwrap().line)
            .collect();
        assert_eq!(lines, [3, 6]);
        assert_eq!(
            warnings[0].help.as_deref(),
            Some("did you mean 'description'?")
        );
        assert_eq!(warnings[1].help.as_deref(), Some("did you mean 'tests'?"));
    }

    #[test]
    fn sources_with_tables() {
        let src = "sources:\n  - name: raw\n    schema: raw_data\n    tables:\n      - name: orders\n        identifier: raw_orders\n        columns:\n          - name: id\n            tests: [not_null]\n";
        let (file, _) = parse(Path::new("m.yml"), src).unwrap();
        let table = &file.sources[0].tables[0];
        assert_eq!(table.identifier.as_deref(), Some("raw_orders"));
        assert_eq!(table.columns[0].tests[0].test_name, "not_null");
    }

    #[test]
    fn models_not_a_list_is_an_error() {
        let err = parse(Path::new("m.yml"), "models:\n  name: a\n").unwrap_err();
        assert!(err.to_string().contains("'models' must be a list"), "{err}");
    }
}
