//! Rendering: every node's Jinja, in two passes (see the module above). The first pass
//! records configs and refs and writes placeholders for relations; [`substitute`] puts the
//! relations in once they are known.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;

use minijinja::Value;
use minijinja::value::{Enumerator, Object};
use rayon::prelude::*;
use serde_json::{Map, Value as Json, json};

use crate::diagnostics::{Diagnostic, Errors, Result};
use crate::manifest::{DocNode, Node, ResourceType, SourceNode};
use crate::project::Project;
use crate::template::context::{PLACEHOLDER, RefTarget, SourceTarget};
use crate::template::introspect::Introspect;
use crate::template::python::{PyDict, PyList};
use crate::template::{
    NodeContext, Pass, RenderRecord, Renderer, Resolver, blocks, functions, is_templated,
    test_call_template,
};

use super::generic_tests::{AttachedTo, TestCall};

use super::nodes;

/// A node to render, and for generic tests the call of their test macro.
pub(super) struct Job {
    /// Shared with the render's `model` variable; nodes are large, and jobs move between passes.
    pub(super) node: Arc<Node>,
    pub(super) test: Option<TestCall>,
}

/// One render's output: SQL (with placeholders in the first pass) and what it recorded.
pub(super) struct Rendered {
    pub(super) sql: String,
    pub(super) record: RenderRecord,
}

pub(super) fn first_pass_resolver(
    project: &Project,
    renderer: &Renderer,
    jobs: &[Job],
    sources: &BTreeMap<String, SourceNode>,
    docs: &BTreeMap<String, DocNode>,
    generated_at: &str,
) -> Resolver {
    let mut refable: HashMap<String, Vec<RefTarget>> = HashMap::new();
    let refable_nodes = jobs.iter().map(|j| &j.node).filter(|n| {
        matches!(
            n.resource_type,
            ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
        )
    });
    for node in refable_nodes {
        refable
            .entry(node.name.clone())
            .or_default()
            .push(RefTarget {
                unique_id: node.unique_id.clone(),
                package: node.package_name.clone(),
                relation: None,
            });
    }
    Resolver {
        project_name: project.config.name.clone(),
        dialect: Some(project.target.dialect),
        target: target_value(project),
        vars: project.vars.clone(),
        package_vars: project
            .packages
            .iter()
            .map(|p| (p.name.clone(), p.vars.clone()))
            .collect(),
        refable,
        sources: source_targets(sources),
        docs: docs
            .values()
            .map(|d| (d.name.clone(), d.block_contents.clone()))
            .collect(),
        macros: Arc::new(renderer.table.clone()),
        invocation_id: uuid::Uuid::new_v4().to_string(),
        run_started_at: generated_at.to_string(),
        flags: crate::template::json_value(json!({
            "WHICH": project.flags.which,
            "FULL_REFRESH": project.flags.full_refresh,
            "STORE_FAILURES": project.flags.store_failures,
        })),
        graph: super::flat_graph::empty(),
        selected_resources: Default::default(),
    }
}

/// Source tables by (source name, table name), each declaring package's.
fn source_targets(
    sources: &BTreeMap<String, SourceNode>,
) -> HashMap<(String, String), Vec<SourceTarget>> {
    let mut out: HashMap<(String, String), Vec<SourceTarget>> = HashMap::new();
    for source in sources.values() {
        let key = (source.source_name.clone(), source.name.clone());
        out.entry(key).or_default().push(SourceTarget {
            unique_id: source.unique_id.clone(),
            package: source.package_name.clone(),
            relation: source.relation.clone(),
        });
    }
    out
}

/// `target` as templates see it: the profile's fields without secrets.
pub(super) fn target_value(project: &Project) -> Value {
    let target = &project.target;
    let mut map = target.redacted_settings();
    map.remove("password");
    map.insert("name".into(), json!(target.name));
    map.insert("target_name".into(), json!(target.name));
    map.insert("profile_name".into(), json!(target.profile_name));
    map.insert("type".into(), json!(target.dialect.name()));
    map.insert("schema".into(), json!(target.schema));
    map.insert("database".into(), json!(target.database));
    map.insert("threads".into(), json!(target.threads));
    crate::template::json_value(Json::Object(map))
}

/// The context of a render of `node`: its `model`, its configs so far, and its package.
pub(super) fn node_context(resolver: Arc<Resolver>, pass: Pass, node: Arc<Node>) -> NodeContext {
    let config = node.config.clone();
    let package = node.package_name.clone();
    let mut ctx = NodeContext::new(resolver, pass, model_value(node), config);
    ctx.package = package;
    ctx
}

/// The `model` variable: the node as a mapping, read lazily (most templates never look).
pub(super) fn model_value(node: Arc<Node>) -> Value {
    Value::from_object(ModelView(node))
}

#[derive(Debug)]
pub(super) struct ModelView(Arc<Node>);

impl Object for ModelView {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let node = &self.0;
        let relation = node.relation.as_ref();
        use crate::template::json_value as json;
        Some(match key.as_str()? {
            "unique_id" => Value::from(node.unique_id.as_str()),
            "name" => Value::from(node.name.as_str()),
            "resource_type" => Value::from(node.resource_type.as_str()),
            "package_name" => Value::from(node.package_name.as_str()),
            "path" => json(&node.path),
            "original_file_path" => json(&node.original_file_path),
            "fqn" => json(&node.fqn),
            "config" => json(&node.config),
            "tags" => json(&node.tags),
            "meta" => json(&node.meta),
            "description" => Value::from(node.description.as_str()),
            "columns" => json(
                node.columns
                    .keys()
                    .map(|c| (c.clone(), json!({"name": c})))
                    .collect::<Map<_, _>>(),
            ),
            "database" => Value::from(relation.and_then(|r| r.database.clone())),
            "schema" => Value::from(relation.map(|r| r.schema.clone())),
            "alias" => Value::from(relation.map(|r| r.identifier.clone())),
            "raw_code" => Value::from(node.raw_code.as_str()),
            "version" => Value::from(()),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&[
            "unique_id",
            "name",
            "resource_type",
            "package_name",
            "path",
            "original_file_path",
            "fqn",
            "config",
            "tags",
            "meta",
            "description",
            "columns",
            "database",
            "schema",
            "alias",
            "raw_code",
            "version",
        ])
    }
}

/// Rendering of jobs, shared by both passes.
pub(super) struct Renders<'a> {
    pub(super) renderer: &'a Renderer,
    pub(super) yaml_sources: &'a HashMap<&'a Path, &'a str>,
}

impl Renders<'_> {
    /// Renders the jobs (or those at `only`), in parallel; all errors are returned together.
    pub(super) fn all(
        &self,
        resolver: &Arc<Resolver>,
        jobs: &[Job],
        only: Option<&[usize]>,
        pass: Pass,
    ) -> Result<Vec<Rendered>> {
        let selected: Vec<&Job> = match only {
            Some(indices) => indices.iter().map(|&i| &jobs[i]).collect(),
            None => jobs.iter().collect(),
        };
        let results: Vec<std::result::Result<Rendered, Diagnostic>> = selected
            .par_iter()
            .map(|job| self.one(resolver, job, pass))
            .collect();
        let mut out = Vec::with_capacity(results.len());
        let mut errors = Vec::new();
        for result in results {
            match result {
                Ok(r) => out.push(r),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(Errors(errors).sorted())
        }
    }

    fn one(
        &self,
        resolver: &Arc<Resolver>,
        job: &Job,
        pass: Pass,
    ) -> std::result::Result<Rendered, Diagnostic> {
        match self.render_job(resolver, job, pass, true, None) {
            (Ok(sql), record) => Ok(Rendered { sql, record }),
            // It queries the warehouse, which only a run opens, or fails only with `execute`
            // true (dbt compiles a node that way only when it runs): rendered as dbt parses,
            // and again when it runs, where a failure is the node's.
            (Err(error), _) if pass == Pass::Final => {
                match self.render_job(resolver, job, pass, false, None) {
                    (Ok(sql), mut record) => {
                        record.needs_warehouse = true;
                        Ok(Rendered { sql, record })
                    }
                    (Err(_), _) => Err(error),
                }
            }
            (Err(error), _) => Err(error),
        }
    }

    /// Renders a job's config values and SQL; `execute` as in dbt (see
    /// [`crate::template::introspect`]), and the warehouse it may query.
    pub(super) fn render_job(
        &self,
        resolver: &Arc<Resolver>,
        job: &Job,
        pass: Pass,
        execute: bool,
        warehouse: Option<Arc<dyn Introspect>>,
    ) -> (std::result::Result<String, Diagnostic>, RenderRecord) {
        let node = &job.node;
        let mut ctx = node_context(resolver.clone(), pass, node.clone());
        if pass == Pass::Final {
            ctx.this = node.relation.clone();
            ctx.execute = execute;
            ctx.warehouse = warehouse;
        }
        let ctx = Arc::new(ctx);
        let what = format!("{} '{}'", node.resource_type.as_str(), node.name);
        let sql = self
            .render_config_values(&ctx, node, job.test.as_ref(), &what)
            .and_then(|()| match &job.test {
                _ if node.resource_type == ResourceType::Seed => Ok(String::new()),
                None => {
                    let source = blocks::at_line(&node.raw_code, node.raw_line);
                    let out =
                        self.renderer
                            .render(&node.original_file_path, &source, &ctx, &what)?;
                    Ok(strip_padding(out, node.raw_line))
                }
                Some(call) => self.test(&ctx, call, &what),
            });
        let record = std::mem::take(&mut *ctx.record());
        (sql, record)
    }

    /// Renders Jinja in config values from YAML and the project file (e.g. a test's `where`),
    /// as dbt does. Hooks are left as written: they render when they run.
    fn render_config_values(
        &self,
        ctx: &Arc<NodeContext>,
        node: &Node,
        test: Option<&TestCall>,
        what: &str,
    ) -> std::result::Result<(), Diagnostic> {
        let templated: Vec<(String, Json)> = node
            .config
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "pre-hook" | "post-hook"))
            .filter(|(_, v)| holds_template(v))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        for (key, value) in templated {
            let rendered = self.render_json(&value, ctx).map_err(|(e, text)| {
                let file = match test {
                    Some(call) => &call.yaml_file,
                    None => node.patch_path.as_ref().unwrap_or(&node.original_file_path),
                };
                let what = format!("config '{key}' of {what}");
                self.locate_in_yaml(self.renderer.diagnostic(&e, file, "", &what), file, &text)
            })?;
            ctx.record().config.insert(key, rendered);
        }
        Ok(())
    }

    /// Renders the Jinja in a unit test's config (`tags: "{{ 'skip' if ... }}"`), then takes
    /// its tags and meta from it.
    pub(super) fn render_unit_test_config(
        &self,
        resolver: &Arc<Resolver>,
        node: &mut Node,
    ) -> std::result::Result<(), Diagnostic> {
        let ctx = Arc::new(node_context(
            resolver.clone(),
            Pass::Final,
            Arc::new(node.clone()),
        ));
        let what = format!("unit test '{}'", node.name);
        self.render_config_values(&ctx, node, None, &what)?;
        node.config = std::mem::take(&mut ctx.record().config);
        nodes::sync_tags_and_meta(node);
        Ok(())
    }

    /// A config value with the Jinja in its texts rendered, nested ones too
    /// (`column_types: {at: "{{ 'datetime2' if ... }}"}`). An error comes with its text.
    fn render_json(
        &self,
        value: &Json,
        ctx: &Arc<NodeContext>,
    ) -> std::result::Result<Json, (minijinja::Error, String)> {
        Ok(match value {
            Json::String(text) if is_templated(text) => native(
                self.renderer
                    .render_str(text, ctx)
                    .map_err(|e| (e, text.clone()))?,
            ),
            Json::Array(items) => Json::Array(
                items
                    .iter()
                    .map(|item| self.render_json(item, ctx))
                    .collect::<std::result::Result<_, _>>()?,
            ),
            Json::Object(map) => Json::Object(
                map.iter()
                    .map(|(k, v)| Ok((k.clone(), self.render_json(v, ctx)?)))
                    .collect::<std::result::Result<_, _>>()?,
            ),
            other => other.clone(),
        })
    }

    /// Points a diagnostic about a YAML value at the line that holds `text`.
    fn locate_in_yaml(&self, diagnostic: Diagnostic, file: &Path, text: &str) -> Diagnostic {
        let source = self.yaml_sources.get(file).copied().unwrap_or("");
        let first_line = text.lines().next().unwrap_or(text);
        let line = source
            .lines()
            .position(|l| l.contains(first_line))
            .map_or(0, |i| i as u32 + 1);
        Diagnostic {
            location: None,
            source_line: None,
            ..diagnostic
        }
        .at_source(file, source, line, 0)
    }

    /// Evaluates a generic test's arguments and renders its macro call.
    fn test(
        &self,
        ctx: &Arc<NodeContext>,
        call: &TestCall,
        what: &str,
    ) -> std::result::Result<String, Diagnostic> {
        let yaml = self
            .yaml_sources
            .get(call.yaml_file.as_path())
            .copied()
            .unwrap_or("");
        let at_yaml = |d: Diagnostic| -> Diagnostic {
            if d.location
                .as_ref()
                .is_some_and(|l| l.file == call.yaml_file)
            {
                Diagnostic {
                    location: None,
                    source_line: None,
                    ..d
                }
                .at_source(&call.yaml_file, yaml, call.yaml_line, call.yaml_col)
            } else {
                d
            }
        };
        let mut kwargs: BTreeMap<String, Value> = BTreeMap::new();
        for (key, value) in &call.args {
            let evaluated = self.test_argument(ctx, value);
            let evaluated = evaluated.map_err(|e| {
                at_yaml(self.renderer.diagnostic(
                    &e,
                    &call.yaml_file,
                    yaml,
                    &format!("argument '{key}' of {what}"),
                ))
            })?;
            kwargs.insert(key.clone(), evaluated);
        }
        // A package's test checks the package's own model, whatever the root project has.
        let package = (!ctx.in_root()).then(|| ctx.package.clone());
        let attached = match &call.attached {
            AttachedTo::Ref(name) => functions::resolve_ref(ctx, name.clone(), package, None),
            AttachedTo::Source(s, t) => functions::resolve_source(ctx, s.clone(), t.clone()),
        }
        .map_err(|e| at_yaml(self.renderer.diagnostic(&e, &call.yaml_file, yaml, what)))?;
        {
            let mut extra = ctx.extra.lock().expect("extra lock");
            extra.insert("__elt_attached".into(), attached);
            extra.insert("_dbt_generic_test_kwargs".into(), Value::from(kwargs));
        }
        self.renderer
            .render_registered(
                &test_call_template(&call.macro_package, &call.macro_name),
                ctx,
            )
            .map_err(|e| at_yaml(self.renderer.diagnostic(&e, &call.yaml_file, yaml, what)))
    }

    /// A test's argument as its macro gets it: `ref()`/`source()` as relations, and Jinja in
    /// strings rendered, in lists and mappings too (as dbt renders them).
    fn test_argument(
        &self,
        ctx: &Arc<NodeContext>,
        value: &Json,
    ) -> std::result::Result<Value, minijinja::Error> {
        Ok(match value {
            Json::String(s) => match relation_call(s) {
                Some(AttachedTo::Ref(name)) => functions::resolve_ref(ctx, name, None, None)?,
                Some(AttachedTo::Source(s, t)) => functions::resolve_source(ctx, s, t)?,
                None if is_relation_call(s) => self.renderer.eval(s.trim(), ctx)?,
                None if is_templated(s) => Value::from(self.renderer.render_str(s, ctx)?),
                None => Value::from(s.as_str()),
            },
            Json::Array(items) => PyList::value(
                items
                    .iter()
                    .map(|item| self.test_argument(ctx, item))
                    .collect::<std::result::Result<_, _>>()?,
            ),
            Json::Object(map) => PyDict::value(
                map.iter()
                    .map(|(k, v)| Ok((Value::from(k.as_str()), self.test_argument(ctx, v)?)))
                    .collect::<std::result::Result<_, minijinja::Error>>()?,
            ),
            other => crate::template::json_value(other),
        })
    }

    /// Takes what a render recorded into the node.
    pub(super) fn apply(&self, node: &mut Node, record: RenderRecord) {
        node.config = record.config;
        nodes::sync_tags_and_meta(node);
        node.refs = record.refs;
        node.sources = record.sources;
        node.depends_on_macros = record.macros.into_iter().collect();
        node.introspective = record.needs_warehouse;
    }
}

/// A rendered config value as dbt's native rendering reads it: `True`/`False`, `None` and
/// numbers become values of their kind (so `enabled: "{{ target.type == 'x' }}"` works).
fn native(rendered: String) -> Json {
    match rendered.trim() {
        "True" | "true" => Json::Bool(true),
        "False" | "false" => Json::Bool(false),
        "None" | "none" => Json::Null,
        text => match text.parse::<i64>() {
            Ok(n) => Json::from(n),
            Err(_) => match text.parse::<f64>() {
                Ok(f) if f.is_finite() && text.contains('.') => Json::from(f),
                _ => Json::String(rendered),
            },
        },
    }
}

/// `ref('x')` or `source('s', 't')` with plain quoted names, as test arguments are written.
pub(super) fn relation_call(text: &str) -> Option<AttachedTo> {
    let text = text.trim();
    let (function, rest) = text.split_once('(')?;
    let args: Vec<&str> = rest.strip_suffix(')')?.split(',').map(str::trim).collect();
    let names: Option<Vec<String>> = args
        .iter()
        .map(|a| {
            let inner = a
                .strip_prefix('\'')
                .and_then(|a| a.strip_suffix('\''))
                .or_else(|| a.strip_prefix('"').and_then(|a| a.strip_suffix('"')))?;
            (!inner.contains(['\'', '"'])).then(|| inner.to_string())
        })
        .collect();
    match (function.trim(), names?.as_slice()) {
        ("ref", [name]) => Some(AttachedTo::Ref(name.clone())),
        ("source", [source, table]) => Some(AttachedTo::Source(source.clone(), table.clone())),
        _ => None,
    }
}

pub(super) fn is_relation_call(text: &str) -> bool {
    let t = text.trim();
    (t.starts_with("ref(") || t.starts_with("source(")) && t.ends_with(')')
}

/// Removes the newlines that kept line numbers right for a block starting at `line`.
pub(super) fn strip_padding(mut out: String, line: u32) -> String {
    let padding = line.saturating_sub(1) as usize;
    let leading = out
        .bytes()
        .take(padding)
        .take_while(|b| *b == b'\n')
        .count();
    out.drain(..leading);
    out
}

/// Replaces relation placeholders with the relations they stand for.
pub(super) fn substitute(sql: String, node: &Node, resolver: &Resolver) -> String {
    if !sql.contains(PLACEHOLDER) {
        return sql;
    }
    let mut out = String::with_capacity(sql.len() + 64);
    let mut parts = sql.split(PLACEHOLDER);
    out.push_str(parts.next().unwrap_or_default());
    while let Some(key) = parts.next() {
        let relation = match key {
            "T" => node.relation.clone(),
            _ => key
                .strip_prefix('R')
                .and_then(|i| i.parse::<usize>().ok())
                .and_then(|i| node.refs.get(i))
                .and_then(|r| resolver.find_ref(&r.name, r.package.as_deref(), &node.package_name))
                .and_then(|t| t.relation.clone()),
        };
        if let Some(relation) = relation {
            out.push_str(&relation.to_string());
        }
        out.push_str(parts.next().unwrap_or_default());
    }
    out
}

/// Hooks and other configs may hold `{{ this }}` rendered in the first pass.
pub(super) fn substitute_in_config(node: &mut Node, resolver: &Resolver) {
    fn walk(value: &mut Json, node: &Node, resolver: &Resolver) {
        match value {
            Json::String(s) if s.contains(PLACEHOLDER) => {
                *s = substitute(std::mem::take(s), node, resolver)
            }
            Json::Array(items) => items.iter_mut().for_each(|v| walk(v, node, resolver)),
            Json::Object(map) => map.values_mut().for_each(|v| walk(v, node, resolver)),
            _ => {}
        }
    }
    let mut config = Json::Object(std::mem::take(&mut node.config));
    walk(&mut config, node, resolver);
    if let Json::Object(map) = config {
        node.config = map;
    }
}

/// Renders `{{ doc('x') }}` and other Jinja in YAML descriptions.
pub(super) fn render_descriptions(
    renders: &Renders,
    resolver: &Arc<Resolver>,
    nodes: &mut [Box<Node>],
) -> Result<()> {
    let errors: Vec<Diagnostic> = nodes
        .par_iter_mut()
        .filter(|node| {
            is_templated(&node.description)
                || node.columns.values().any(|c| is_templated(&c.description))
        })
        .filter_map(|node| {
            let ctx = Arc::new(node_context(
                resolver.clone(),
                Pass::Final,
                Arc::new(Node::clone(node)),
            ));
            let file = node
                .patch_path
                .clone()
                .unwrap_or_else(|| node.original_file_path.clone());
            let what = format!(
                "the description of {} '{}'",
                node.resource_type.as_str(),
                node.name
            );
            let render = |text: &str| -> std::result::Result<String, Diagnostic> {
                if !is_templated(text) {
                    return Ok(text.to_string());
                }
                renders.renderer.render_str(text, &ctx).map_err(|e| {
                    let diagnostic = renders.renderer.diagnostic(&e, &file, "", &what);
                    renders.locate_in_yaml(diagnostic, &file, text)
                })
            };
            let mut result = render(&node.description).map(|d| node.description = d);
            for column in node.columns.values_mut() {
                result = result
                    .and_then(|_| render(&column.description).map(|d| column.description = d));
            }
            result.err()
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Errors(errors).sorted())
    }
}

/// Whether a config value holds Jinja in any of its texts.
fn holds_template(value: &Json) -> bool {
    match value {
        Json::String(text) => is_templated(text),
        Json::Array(items) => items.iter().any(holds_template),
        Json::Object(map) => map.values().any(holds_template),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_before_a_block_is_stripped_up_to_its_line() {
        // A node starting on line 3 of its file is rendered after two padding newlines.
        assert_eq!(strip_padding("\n\nselect 1".into(), 3), "select 1");
        assert_eq!(strip_padding("\n\n\nselect 1".into(), 3), "\nselect 1");
        assert_eq!(strip_padding("\nselect 1".into(), 1), "\nselect 1");
    }

    #[test]
    fn relation_calls_alone_are_recognized() {
        assert!(is_relation_call("ref('orders')"));
        assert!(is_relation_call(" source('raw', 'orders') "));
        assert!(!is_relation_call("ref('orders') where 1"));
        assert!(!is_relation_call("orders"));
    }
}
