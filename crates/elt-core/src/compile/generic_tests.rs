//! Generic data tests: one test node per entry under `tests:`/`data_tests:` in properties YAML,
//! named and hashed the way dbt names them.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use serde_json::{Map, Value as Json, json};

use super::nodes::{source_of, sync_tags_and_meta, yaml_folders};
use crate::adapter::Dialect;
use crate::diagnostics::{Diagnostic, Errors, Result, closest};
use crate::manifest::{Node, NodeOrigin, ResourceType, TestMetadata};
use crate::project::node_config;
use crate::project::properties::{PropertiesFile, Section, TestDefinition};
use crate::project::{Project, Resources};
use crate::template::MacroTable;

/// A generic test node and how its test macro is called.
pub struct GenericTest {
    pub node: Node,
    pub call: TestCall,
}

/// The arguments of a generic test's macro call and where the test is written.
#[derive(Debug, Clone)]
pub struct TestCall {
    /// The test's arguments as written (with `column_name`, without `model`).
    pub args: Map<String, Json>,
    /// The test macro, e.g. `test_unique`, and the package that defines it.
    pub macro_name: String,
    pub macro_package: String,
    /// What the test is attached to.
    pub attached: AttachedTo,
    pub yaml_file: PathBuf,
    pub yaml_line: u32,
    pub yaml_col: u32,
}

/// The model, seed, snapshot or source table a test checks.
#[derive(Debug, Clone)]
pub enum AttachedTo {
    Ref(String),
    Source(String, String),
}

/// What a test is attached to.
struct Attached<'a> {
    to: AttachedTo,
    /// `ref('orders')` or `source('raw', 'orders')`.
    relation_call: String,
    /// The name used in the test's name: `orders`, or `raw_orders` for a source table.
    target_name: String,
    attached_node: Option<String>,
    file_key_name: String,
    tags: &'a [String],
}

/// What a test can attach to: (package, resource type, name) of every model, seed and
/// snapshot.
pub type Existing<'a> = HashSet<(&'a str, ResourceType, &'a str)>;

/// Test nodes for every properties file of the project and its packages, built in parallel.
/// Tests of resources that do not exist are skipped (the missing resource is reported as a
/// warning elsewhere).
pub fn generic_tests(
    project: &Project,
    existing: &Existing,
    macros: &MacroTable,
) -> Result<Vec<GenericTest>> {
    let resources = project.resources();
    let files: Vec<(Resources, &PropertiesFile)> = resources
        .iter()
        .flat_map(|r| r.properties.iter().map(move |f| (*r, f)))
        .collect();
    let per_file: Vec<(Vec<GenericTest>, Vec<Diagnostic>)> = files
        .par_iter()
        .map(|(resources, file)| tests_of_file(project, *resources, file, existing, macros))
        .collect();
    let mut out = Vec::with_capacity(per_file.iter().map(|(t, _)| t.len()).sum());
    let mut errors = Vec::new();
    for (tests, mut file_errors) in per_file {
        out.extend(tests);
        errors.append(&mut file_errors);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Errors(errors))
    }
}

fn tests_of_file(
    project: &Project,
    resources: Resources,
    file: &PropertiesFile,
    existing: &Existing,
    macros: &MacroTable,
) -> (Vec<GenericTest>, Vec<Diagnostic>) {
    let package = resources.package;
    let dialect = project.target.dialect;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let source = source_of(project, &file.path);
    let folders = yaml_folders(resources, &file.path);
    let mut make = |attached: &Attached,
                    column: Option<(&str, Option<bool>, &[String])>,
                    test: &TestDefinition| {
        match build(
            resources, project, &folders, &file.path, attached, column, test, macros, dialect,
        ) {
            Ok(t) => out.push(t),
            Err(d) => errors.push(d.at_source(&file.path, source, test.line, test.col)),
        }
    };
    for props in &file.nodes {
        let kind = match props.section {
            Section::Models => ResourceType::Model,
            Section::Seeds => ResourceType::Seed,
            Section::Snapshots => ResourceType::Snapshot,
            Section::Analyses => continue,
        };
        if !existing.contains(&(package, kind, props.name.as_str())) {
            continue;
        }
        let attached = Attached {
            to: AttachedTo::Ref(props.name.clone()),
            relation_call: format!("ref('{}')", props.name),
            target_name: props.name.clone(),
            attached_node: Some(format!("{}.{package}.{}", kind.as_str(), props.name)),
            file_key_name: format!("{}s.{}", kind.as_str(), props.name),
            tags: &props.described.tags,
        };
        for test in &props.tests {
            make(&attached, None, test);
        }
        for column in &props.columns {
            for test in &column.tests {
                make(
                    &attached,
                    Some((&column.name, column.quote, &column.described.tags)),
                    test,
                );
            }
        }
    }
    for src in &file.sources {
        for table in &src.tables {
            let mut tags = src.described.tags.clone();
            tags.extend(table.described.tags.iter().cloned());
            let attached = Attached {
                to: AttachedTo::Source(src.name.clone(), table.name.clone()),
                relation_call: format!("source('{}', '{}')", src.name, table.name),
                target_name: format!("{}_{}", src.name, table.name),
                attached_node: None,
                file_key_name: format!("sources.{}", src.name),
                tags: &tags,
            };
            for test in &table.tests {
                make(&attached, None, test);
            }
            for column in &table.columns {
                for test in &column.tests {
                    make(
                        &attached,
                        Some((&column.name, column.quote, &column.described.tags)),
                        test,
                    );
                }
            }
        }
    }
    (out, errors)
}

#[allow(clippy::too_many_arguments)]
fn build(
    resources: Resources,
    project: &Project,
    folders: &[String],
    yaml_file: &Path,
    attached: &Attached,
    column: Option<(&str, Option<bool>, &[String])>,
    test: &TestDefinition,
    macros: &MacroTable,
    dialect: Dialect,
) -> std::result::Result<GenericTest, Diagnostic> {
    let (namespace, test_name) = match test.test_name.split_once('.') {
        Some((ns, name)) => (Some(ns.to_string()), name.to_string()),
        None => (None, test.test_name.clone()),
    };
    let package = resources.package;
    let macro_name = format!("test_{test_name}");
    let found = macros.test_macro(namespace.as_deref(), &test_name, package);
    let Some((macro_package, _)) = found else {
        return Err(unknown_test(&test.test_name, namespace.as_deref(), macros));
    };
    let mut args = test.args.clone();
    let column_name = column.map(|(name, quote, _)| {
        if quote == Some(true) {
            dialect.quote(name)
        } else {
            name.to_string()
        }
    });
    if let Some(column_name) = &column_name {
        args.insert("column_name".into(), Json::from(column_name.clone()));
    }
    // dbt names a package's test after both: `dbt_utils_expression_is_true_orders_...`.
    let qualified = match &namespace {
        Some(ns) => format!("{ns}_{test_name}"),
        None => test_name.clone(),
    };
    let (short_name, full_name) = synthesize_names(&qualified, &attached.target_name, &args);
    let name = test.custom_name.clone().unwrap_or(full_name);
    let model_value = format!("{{{{ get_where_subquery({}) }}}}", attached.relation_call);
    let mut kwargs = args.clone();
    kwargs.insert("model".into(), Json::from(model_value));
    let metadata = json!({"name": test_name, "kwargs": kwargs, "namespace": namespace});
    let hash = {
        let digest = crate::local_md5(&format!("{name}{}", python_repr_hashable(&metadata)));
        digest[digest.len() - 10..].to_string()
    };
    let mut fqn = vec![package.to_string()];
    fqn.extend(folders.iter().cloned());
    fqn.push(name.clone());
    let mut config = project.tree_configs(resources, "tests", &fqn);
    let mut inherited = Map::new();
    let mut tags: Vec<String> = attached.tags.to_vec();
    if let Some((_, _, column_tags)) = column {
        tags.extend(column_tags.iter().cloned());
    }
    if !tags.is_empty() {
        inherited.insert("tags".into(), Json::from(tags));
    }
    node_config::merge(&mut config, &inherited);
    node_config::merge(&mut config, &test.config);
    if test.custom_name.is_none() {
        config
            .entry("alias")
            .or_insert(Json::from(short_name.clone()));
    }
    let raw_code = format!("{{{{ {}(**_dbt_generic_test_kwargs) }}}}", macro_name);
    let mut node = Node::new(NodeOrigin {
        unique_id: format!("test.{package}.{name}.{hash}"),
        resource_type: ResourceType::Test,
        name: name.clone(),
        package_name: package.to_string(),
        path: PathBuf::from(format!(
            "{}.sql",
            test.custom_name.as_deref().unwrap_or(&short_name)
        )),
        original_file_path: yaml_file.to_path_buf(),
        package_dir: resources.dir.to_path_buf(),
        fqn,
        raw_code,
        raw_line: test.line,
        checksum: String::new(),
    });
    node.config = config;
    node.description = test.description.clone().unwrap_or_default();
    node.test = Some(TestMetadata {
        name: test_name,
        namespace,
        kwargs,
        column_name,
        attached_node: attached.attached_node.clone(),
        file_key_name: attached.file_key_name.clone(),
    });
    sync_tags_and_meta(&mut node);
    Ok(GenericTest {
        node,
        call: TestCall {
            args,
            macro_name,
            macro_package,
            attached: attached.to.clone(),
            yaml_file: yaml_file.to_path_buf(),
            yaml_line: test.line,
            yaml_col: test.col,
        },
    })
}

/// The error for a test whose macro no package defines.
fn unknown_test(written: &str, namespace: Option<&str>, macros: &MacroTable) -> Diagnostic {
    if let Some(ns) = namespace
        && !macros.is_namespace(ns)
    {
        return Diagnostic::error(format!(
            "test '{written}' comes from package '{ns}', which is not installed"
        ))
        .with_help(format!(
            "add {ns} to packages.yml and run `elt deps`, or check the package name"
        ));
    }
    let names = macros.test_names();
    let hint = match closest(written, names.iter().map(String::as_str)) {
        Some(best) => format!("did you mean '{best}'?"),
        None => {
            let name = written.rsplit('.').next().unwrap_or(written);
            format!(
                "define it with {{% test {name}(model, column_name) %}} in macros/ or tests/generic/"
            )
        }
    };
    Diagnostic::error(format!("unknown test '{written}'")).with_help(hint)
}

/// dbt's test names: `{test}_{target}_{flattened args}`; names of 64 characters or more are
/// shortened to the first 30 characters of `{test}_{target}` plus an MD5 of the full name.
/// Returns (short name for files and aliases, full name).
pub fn synthesize_names(
    test_name: &str,
    target_name: &str,
    args: &Map<String, Json>,
) -> (String, String) {
    let mut keys: Vec<&String> = args.keys().filter(|k| *k != "model").collect();
    keys.sort();
    let mut flat = Vec::new();
    for key in keys {
        match &args[key] {
            Json::Object(map) => flat.extend(map.values().map(python_str)),
            Json::Array(items) => flat.extend(items.iter().map(python_str)),
            other => flat.push(python_str(other)),
        }
    }
    let clean: Vec<String> = flat
        .iter()
        .map(|part| {
            let mut out = String::new();
            let mut in_run = false;
            for c in part.chars() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    out.push(c);
                    in_run = false;
                } else if !in_run {
                    out.push('_');
                    in_run = true;
                }
            }
            out
        })
        .collect();
    let identifier = format!("{test_name}_{target_name}");
    let full = format!("{identifier}_{}", clean.join("__"));
    if full.len() >= 64 {
        let truncated: String = identifier.chars().take(30).collect();
        (format!("{truncated}_{}", crate::local_md5(&full)), full)
    } else {
        (full.clone(), full)
    }
}

/// Python's `str()` of a YAML value, as dbt flattens test arguments.
fn python_str(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Bool(true) => "True".into(),
        Json::Bool(false) => "False".into(),
        Json::Null => "None".into(),
        Json::Number(n) => n.to_string(),
        other => python_repr(other),
    }
}

/// Python's `repr()` of a JSON value.
fn python_repr(value: &Json) -> String {
    match value {
        Json::String(s) => python_repr_str(s),
        Json::Array(items) => format!(
            "[{}]",
            items.iter().map(python_repr).collect::<Vec<_>>().join(", ")
        ),
        Json::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .map(|(k, v)| format!("{}: {}", python_repr_str(k), python_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => python_str(other),
    }
}

fn python_repr_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::from(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// dbt hashes `repr()` of the test metadata with dict keys sorted and scalars as `str()`.
fn python_repr_hashable(value: &Json) -> String {
    fn hashable(value: &Json) -> Json {
        match value {
            Json::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                Json::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), hashable(&map[k])))
                        .collect(),
                )
            }
            Json::Array(items) => Json::Array(items.iter().map(hashable).collect()),
            other => Json::String(python_str(other)),
        }
    }
    python_repr(&hashable(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(value: Json) -> Map<String, Json> {
        value.as_object().unwrap().clone()
    }

    #[test]
    fn names_like_dbt() {
        let (short, full) = synthesize_names(
            "unique",
            "orders",
            &args(json!({"column_name": "order_id"})),
        );
        assert_eq!(
            (short.as_str(), full.as_str()),
            ("unique_orders_order_id", "unique_orders_order_id")
        );
        let (_, full) = synthesize_names(
            "relationships",
            "orders",
            &args(
                json!({"column_name": "customer_id", "to": "ref('customers')", "field": "customer_id"}),
            ),
        );
        assert_eq!(
            full,
            "relationships_orders_customer_id__customer_id__ref_customers_"
        );
        let (short, full) = synthesize_names(
            "accepted_values",
            "orders",
            &args(
                json!({"column_name": "status", "values": ["placed", "shipped", "completed", "return_pending", "returned"]}),
            ),
        );
        assert_eq!(
            full,
            "accepted_values_orders_status__placed__shipped__completed__return_pending__returned"
        );
        assert_eq!(
            short,
            format!("accepted_values_orders_{}", crate::local_md5(&full))
        );
    }

    #[test]
    fn python_reprs() {
        assert_eq!(
            python_repr(&json!({"a": ["x", true, null]})),
            "{'a': ['x', True, None]}"
        );
        assert_eq!(python_repr_str("ref('x')"), "\"ref('x')\"");
    }
}
