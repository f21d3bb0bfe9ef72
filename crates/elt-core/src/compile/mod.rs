//! Runs the pipeline: project -> rendered nodes -> relations -> graph -> validated SQL ->
//! manifest.
//!
//! Rendering happens in two passes, like dbt's parse and compile, but the second is usually
//! free: the first pass renders every node with placeholders for the relations of `ref()` and
//! `this` (which depend on configs not known yet); once configs are known the placeholders are
//! substituted. Only a node whose template inspected a relation (e.g. `ref('x').schema`) is
//! rendered again.

mod ephemeral;
mod generic_tests;
mod nodes;
mod relations;
mod runtime;
mod sources;

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::Value;
use minijinja::value::{Enumerator, Object};
use rayon::prelude::*;
use serde_json::{Map, Value as Json, json};

use crate::adapter::Dialect;
use crate::diagnostics::{Diagnostic, Errors, Result, closest};
use crate::graph::Dag;
use crate::manifest::{DocNode, MacroNode, Manifest, Node, NodeMap, ResourceType, SourceNode};
use crate::project::Project;
use crate::sql;
use crate::template::context::{PLACEHOLDER, RefTarget};
use crate::template::{
    NodeContext, Pass, RenderRecord, Renderer, Resolver, blocks, functions, test_call_template,
};

pub use generic_tests::synthesize_names;
use generic_tests::{AttachedTo, TestCall};
pub use relations::EPHEMERAL_PREFIX;
pub use runtime::{Hook, Runtime, hooks};

/// The result of compiling a project.
pub struct Compiled {
    pub manifest: Manifest,
    pub dag: Dag,
    pub warnings: Vec<Diagnostic>,
    /// Every compiled SQL text known to parse, for the next run's cache.
    pub valid_sql: sql::ValidSqlCache,
    /// Renders what only a run can: incremental SQL and hooks.
    pub runtime: Runtime,
}

/// Compiles the whole project, parsing every node's SQL. See [`compile_with_cache`].
pub fn compile(project: &Project) -> Result<Compiled> {
    compile_with_cache(project, &sql::ValidSqlCache::default())
}

/// A node to render, and for generic tests the call of their test macro.
struct Job {
    /// Shared with the render's `model` variable; nodes are large, and jobs move between passes.
    node: Arc<Node>,
    test: Option<TestCall>,
}

/// One render's output: SQL (with placeholders in the first pass) and what it recorded.
struct Rendered {
    sql: String,
    record: RenderRecord,
}

/// Compiles the whole project; SQL in `valid_sql` (from an earlier run) is not parsed again.
/// Errors from every node are gathered before returning.
pub fn compile_with_cache(project: &Project, valid_sql: &sql::ValidSqlCache) -> Result<Compiled> {
    let clock = crate::stopwatch::Stopwatch::start();
    let mut warnings = project.warnings.clone();
    let renderer = Renderer::new(&project.config.name, &project.files.macros)
        .map_err(|e| Errors(e).sorted())?;
    clock.lap("macros");
    let docs = docs(project)?;
    let index = nodes::index_properties(project)?;
    let file_nodes = nodes::file_nodes(project, &index)?;
    warnings.extend(unmatched_properties(project, &index));
    clock.lap("models, seeds, snapshots, analyses");
    let source_nodes = sources::sources(project)?;
    let macro_names: Vec<&str> = renderer.macros.iter().map(|m| m.name.as_str()).collect();
    let existing: HashSet<(ResourceType, &str)> = file_nodes
        .iter()
        .map(|n| (n.resource_type, n.name.as_str()))
        .collect();
    let generic = generic_tests::generic_tests(project, &existing, &macro_names)?;
    drop(existing);
    let mut jobs: Vec<Job> = Vec::with_capacity(file_nodes.len() + generic.len());
    jobs.extend(file_nodes.into_iter().map(|node| Job {
        node: Arc::new(node),
        test: None,
    }));
    jobs.extend(generic.into_iter().map(|g| Job {
        node: Arc::new(g.node),
        test: Some(g.call),
    }));

    let generated_at = chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string();
    let resolver = Arc::new(first_pass_resolver(
        project,
        &renderer,
        &jobs,
        &source_nodes,
        &docs,
        &generated_at,
    ));
    let yaml_sources: HashMap<&Path, &str> = project
        .files
        .properties
        .iter()
        .map(|f| (f.path.as_path(), f.contents.as_str()))
        .collect();
    let macro_ids: HashMap<&str, String> = renderer
        .macros
        .iter()
        .map(|m| (m.name.as_str(), format!("macro.{}.{}", m.package, m.name)))
        .collect();
    let renders = Renders {
        renderer: &renderer,
        yaml_sources: &yaml_sources,
        macro_ids: &macro_ids,
    };

    clock.lap("generic tests");

    // First pass: configs, refs and SQL with placeholders, for every node in parallel.
    let rendered = renders.all(&resolver, &jobs, None, Pass::Collect)?;
    clock.lap("first render pass");
    let mut sqls = Vec::with_capacity(jobs.len());
    let mut again = Vec::new();
    for (i, (job, out)) in jobs.iter_mut().zip(rendered).enumerate() {
        if out.record.needs_final_pass {
            again.push(i);
        }
        warnings.extend(
            out.record
                .warnings
                .iter()
                .map(|w| Diagnostic::warning(w.clone()).at(&job.node.original_file_path, 0, 0)),
        );
        renders.apply(Arc::make_mut(&mut job.node), out.record);
        sqls.push(out.sql);
    }

    // Relations, now that every config is known.
    let namer = relations::Namer::new(
        &renderer,
        resolver.clone(),
        &project.target,
        &project.config.quoting,
    );
    let relations: Vec<_> = jobs.par_iter().map(|j| namer.relation(&j.node)).collect();
    let mut errors = Vec::new();
    for (job, relation) in jobs.iter_mut().zip(relations) {
        match relation {
            Ok(r) => Arc::make_mut(&mut job.node).relation = Some(r),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(Errors(errors).sorted());
    }

    clock.lap("relations");

    // Final SQL: substitute placeholders, or render again where a template inspected relations.
    let mut final_resolver = (*resolver).clone();
    for job in &jobs {
        if let Some(target) = final_resolver.refable.get_mut(&job.node.name)
            && target.unique_id == job.node.unique_id
        {
            target.relation = match project.deferred.get(&job.node.unique_id) {
                Some(deferred) => Some(deferred.clone()),
                None => job.node.relation.clone(),
            };
        }
    }
    let final_resolver = Arc::new(final_resolver);
    if !again.is_empty() {
        let outs = renders.all(&final_resolver, &jobs, Some(&again), Pass::Final)?;
        for (i, out) in again.into_iter().zip(outs) {
            renders.apply(Arc::make_mut(&mut jobs[i].node), out.record);
            sqls[i] = out.sql;
        }
    }
    let mut all_nodes: Vec<Box<Node>> = jobs
        .into_par_iter()
        .zip(sqls)
        .map(|(job, sql)| {
            let mut node = Arc::unwrap_or_clone(job.node);
            if node.resource_type != ResourceType::Seed {
                node.compiled_code = Some(substitute(sql, &node, &final_resolver));
            }
            substitute_in_config(&mut node, &final_resolver);
            Box::new(node)
        })
        .collect();
    render_descriptions(&renders, &final_resolver, &mut all_nodes)?;

    clock.lap("final SQL");

    // Enabled nodes, the graph, and the errors only the graph can show.
    let (mut enabled, disabled) = split_disabled(all_nodes, &final_resolver);
    link(project, &mut enabled, &disabled, &final_resolver)?;
    let parents: Vec<(&str, &[String])> = enabled
        .values()
        .map(|n| (n.unique_id.as_str(), n.depends_on_nodes.as_slice()))
        .chain(source_nodes.keys().map(|id| (id.as_str(), &[][..])))
        .collect();
    let dag = Dag::new(parents);
    if let Some(cycle) = dag.find_cycle() {
        return Err(cycle_error(&cycle, &enabled).into());
    }
    clock.lap("graph");
    let valid_sql = validate_sql(
        project,
        &enabled,
        &yaml_sources,
        &final_resolver.project_macros,
        valid_sql,
    )?;
    clock.lap("SQL validation");
    inject_ephemerals(&mut enabled, &dag);
    warnings.extend(project.unused_config_paths());

    let manifest = Manifest {
        project_name: project.config.name.clone(),
        target: project.target.clone(),
        invocation_id: final_resolver.invocation_id.clone(),
        generated_at,
        nodes: enabled,
        disabled,
        sources: source_nodes,
        macros: macro_nodes(&renderer),
        docs,
    };
    Ok(Compiled {
        manifest,
        dag,
        warnings,
        valid_sql,
        runtime: Runtime::new(Arc::new(renderer), final_resolver),
    })
}

fn first_pass_resolver(
    project: &Project,
    renderer: &Renderer,
    jobs: &[Job],
    sources: &BTreeMap<String, SourceNode>,
    docs: &BTreeMap<String, DocNode>,
    generated_at: &str,
) -> Resolver {
    let refable = jobs
        .iter()
        .map(|j| &j.node)
        .filter(|n| {
            matches!(
                n.resource_type,
                ResourceType::Model | ResourceType::Seed | ResourceType::Snapshot
            )
        })
        .map(|n| {
            (
                n.name.clone(),
                RefTarget {
                    unique_id: n.unique_id.clone(),
                    relation: None,
                },
            )
        })
        .collect();
    Resolver {
        project_name: project.config.name.clone(),
        dialect: Some(project.target.dialect),
        target: target_value(project),
        vars: project.vars.clone(),
        refable,
        sources: sources
            .values()
            .map(|s| {
                (
                    (s.source_name.clone(), s.name.clone()),
                    (s.unique_id.clone(), s.relation.clone()),
                )
            })
            .collect(),
        docs: docs
            .values()
            .map(|d| (d.name.clone(), d.block_contents.clone()))
            .collect(),
        macros: renderer.macro_values(),
        project_macros: renderer
            .macros
            .iter()
            .filter(|m| m.package == project.config.name)
            .map(|m| m.name.clone())
            .collect(),
        dispatch: project.config.dispatch.clone(),
        invocation_id: uuid::Uuid::new_v4().to_string(),
        run_started_at: generated_at.to_string(),
    }
}

/// `target` as templates see it: the profile's fields without secrets.
pub(crate) fn target_value(project: &Project) -> Value {
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

/// The `model` variable: the node as a mapping, read lazily (most templates never look).
pub(crate) fn model_value(node: Arc<Node>) -> Value {
    Value::from_object(ModelView(node))
}

#[derive(Debug)]
struct ModelView(Arc<Node>);

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
struct Renders<'a> {
    renderer: &'a Renderer,
    yaml_sources: &'a HashMap<&'a Path, &'a str>,
    macro_ids: &'a HashMap<&'a str, String>,
}

impl Renders<'_> {
    /// Renders the jobs (or those at `only`), in parallel; all errors are returned together.
    fn all(
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
        let node = &job.node;
        let mut ctx = NodeContext::new(
            resolver.clone(),
            pass,
            model_value(node.clone()),
            node.config.clone(),
        );
        if pass == Pass::Final {
            ctx.this = node.relation.clone();
        }
        let ctx = Arc::new(ctx);
        let what = format!("{} '{}'", node.resource_type.as_str(), node.name);
        self.render_config_values(&ctx, node, job.test.as_ref(), &what)?;
        let sql = match &job.test {
            _ if node.resource_type == ResourceType::Seed => String::new(),
            None => {
                let source = blocks::at_line(&node.raw_code, node.raw_line);
                let out = self
                    .renderer
                    .render(&node.original_file_path, &source, &ctx, &what)?;
                strip_padding(out, node.raw_line)
            }
            Some(call) => self.test(&ctx, call, &what)?,
        };
        let record = std::mem::take(&mut *ctx.record());
        Ok(Rendered { sql, record })
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
        let templated: Vec<(String, String)> = node
            .config
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "pre-hook" | "post-hook"))
            .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
            .filter(|(_, v)| is_templated(v))
            .collect();
        for (key, text) in templated {
            let rendered = self
                .renderer
                .env
                .render_str(&text, Value::from_dyn_object(ctx.clone()))
                .map_err(|e| {
                    let file = match test {
                        Some(call) => &call.yaml_file,
                        None => node.patch_path.as_ref().unwrap_or(&node.original_file_path),
                    };
                    let what = format!("config '{key}' of {what}");
                    self.locate_in_yaml(self.renderer.diagnostic(&e, file, "", &what), file, &text)
                })?;
            ctx.record().config.insert(key, Json::String(rendered));
        }
        Ok(())
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
            let evaluated = match value {
                Json::String(s) => match relation_call(s) {
                    Some(AttachedTo::Ref(name)) => functions::resolve_ref(ctx, name, None, None),
                    Some(AttachedTo::Source(s, t)) => functions::resolve_source(ctx, s, t),
                    None if is_relation_call(s) => self.renderer.eval(s.trim(), ctx),
                    None if is_templated(s) => self
                        .renderer
                        .env
                        .render_str(s, Value::from_dyn_object(ctx.clone()))
                        .map(Value::from),
                    None => Ok(Value::from(s.as_str())),
                },
                other => Ok(crate::template::json_value(other)),
            };
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
        let attached = match &call.attached {
            AttachedTo::Ref(name) => functions::resolve_ref(ctx, name.clone(), None, None),
            AttachedTo::Source(s, t) => functions::resolve_source(ctx, s.clone(), t.clone()),
        }
        .map_err(|e| at_yaml(self.renderer.diagnostic(&e, &call.yaml_file, yaml, what)))?;
        {
            let mut extra = ctx.extra.lock().expect("extra lock");
            extra.insert("__elt_attached".into(), attached);
            extra.insert("_dbt_generic_test_kwargs".into(), Value::from(kwargs));
        }
        self.renderer
            .render_registered(&test_call_template(&call.macro_name), ctx)
            .map_err(|e| at_yaml(self.renderer.diagnostic(&e, &call.yaml_file, yaml, what)))
    }

    /// Takes what a render recorded into the node.
    fn apply(&self, node: &mut Node, record: RenderRecord) {
        node.config = record.config;
        nodes::sync_tags_and_meta(node);
        node.refs = record.refs;
        node.sources = record.sources;
        node.depends_on_macros = record
            .macros
            .iter()
            .filter_map(|m| self.macro_ids.get(m.as_str()).cloned())
            .collect();
    }
}

/// `ref('x')` or `source('s', 't')` with plain quoted names, as test arguments are written.
fn relation_call(text: &str) -> Option<AttachedTo> {
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

fn is_relation_call(text: &str) -> bool {
    let t = text.trim();
    (t.starts_with("ref(") || t.starts_with("source(")) && t.ends_with(')')
}

/// Removes the newlines that kept line numbers right for a block starting at `line`.
fn strip_padding(mut out: String, line: u32) -> String {
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
fn substitute(sql: String, node: &Node, resolver: &Resolver) -> String {
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
                .and_then(|r| resolver.refable.get(&r.name))
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
fn substitute_in_config(node: &mut Node, resolver: &Resolver) {
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
fn render_descriptions(
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
            let ctx = Arc::new(NodeContext::new(
                resolver.clone(),
                Pass::Final,
                model_value(Arc::new(Node::clone(node))),
                node.config.clone(),
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
                renders
                    .renderer
                    .env
                    .render_str(text, Value::from_dyn_object(ctx.clone()))
                    .map_err(|e| {
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

fn is_templated(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// Separates disabled nodes; tests that depend on a disabled node are disabled with it.
#[allow(clippy::vec_box)] // the boxes move into the node maps as they are
fn split_disabled(nodes: Vec<Box<Node>>, resolver: &Resolver) -> (NodeMap, NodeMap) {
    let disabled_names: HashSet<String> = nodes
        .iter()
        .filter(|n| !n.enabled() && n.resource_type != ResourceType::Test)
        .map(|n| n.name.clone())
        .collect();
    let (enabled, disabled): (Vec<Box<Node>>, Vec<Box<Node>>) =
        nodes.into_iter().partition(|node| {
            let test_of_disabled = node.resource_type == ResourceType::Test
                && node.refs.iter().any(|r| {
                    disabled_names.contains(&r.name) && resolver.refable.contains_key(&r.name)
                });
            node.enabled() && !test_of_disabled
        });
    let by_id = |nodes: Vec<Box<Node>>| {
        nodes
            .into_iter()
            .map(|n| (n.unique_id.clone(), n))
            .collect()
    };
    (by_id(enabled), by_id(disabled))
}

/// Fills `depends_on_nodes` from refs and sources; a ref to a disabled node is an error.
fn link(
    project: &Project,
    enabled: &mut NodeMap,
    disabled: &NodeMap,
    resolver: &Resolver,
) -> Result<()> {
    let errors: Vec<Diagnostic> = enabled
        .par_iter_mut()
        .flat_map_iter(|(_, node)| link_node(project, node, disabled, resolver))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Errors(errors).sorted())
    }
}

fn link_node(
    project: &Project,
    node: &mut Node,
    disabled: &NodeMap,
    resolver: &Resolver,
) -> Vec<Diagnostic> {
    let mut errors = Vec::new();
    let mut parents = Vec::with_capacity(node.refs.len() + node.sources.len());
    for call in &node.refs {
        let Some(target) = resolver.refable.get(&call.name) else {
            continue;
        };
        if disabled.contains_key(&target.unique_id) {
            let (line, col) = find_call(&node.raw_code, "ref", &call.name);
            let source = project
                .file_text(&node.original_file_path)
                .unwrap_or(&node.raw_code);
            errors.push(
                Diagnostic::error(format!(
                    "{} '{}' depends on '{}', which is disabled",
                    node.resource_type.as_str(),
                    node.name,
                    call.name
                ))
                .at_source(
                    &node.original_file_path,
                    source,
                    line + node.raw_line.saturating_sub(1),
                    col,
                )
                .with_help(format!("enable '{}' or remove this ref()", call.name)),
            );
            continue;
        }
        if !parents.contains(&target.unique_id) {
            parents.push(target.unique_id.clone());
        }
    }
    for key in &node.sources {
        if let Some((id, _)) = resolver.sources.get(key)
            && !parents.contains(id)
        {
            parents.push(id.clone());
        }
    }
    node.depends_on_nodes = parents;
    errors
}

/// The 1-based line and column of `func('name'` in a template, or (0, 0).
fn find_call(raw: &str, func: &str, name: &str) -> (u32, u32) {
    for (i, line) in raw.lines().enumerate() {
        for quote in ['\'', '"'] {
            let needle = format!("{quote}{name}{quote}");
            if let Some(col) = line.find(&needle)
                && line[..col].contains(&format!("{func}("))
            {
                let start = line[..col].rfind(&format!("{func}(")).unwrap_or(col);
                return (i as u32 + 1, line[..start].chars().count() as u32 + 1);
            }
        }
    }
    (0, 0)
}

fn cycle_error(cycle: &[String], nodes: &NodeMap) -> Diagnostic {
    let name = |id: &String| nodes.get(id).map_or(id.clone(), |n| n.name.clone());
    let path: Vec<String> = cycle.iter().map(name).collect();
    let mut diagnostic = Diagnostic::error(format!("dependency cycle: {}", path.join(" -> ")))
        .with_help("break the cycle: one of these models must not ref() the next");
    if let (Some(first), Some(second)) = (cycle.first().and_then(|id| nodes.get(id)), cycle.get(1))
    {
        let (line, col) = find_call(&first.raw_code, "ref", &name(second));
        diagnostic = diagnostic.at_source(&first.original_file_path, &first.raw_code, line, col);
    }
    for id in cycle.iter().skip(1).take(cycle.len().saturating_sub(2)) {
        if let Some(node) = nodes.get(id) {
            diagnostic = diagnostic.with_note(format!(
                "{} is {}",
                node.name,
                node.original_file_path.display()
            ));
        }
    }
    diagnostic
}

/// Parses every compiled node in the target's dialect, unless `static_analysis: off`, or its
/// SQL is in the cache of SQL known to parse. Built-in generic tests whose arguments are plain
/// identifiers and values are skipped: their SQL is valid by construction, and a project has
/// thousands of them. Returns the SQL known to parse now.
fn validate_sql(
    project: &Project,
    nodes: &NodeMap,
    yaml_sources: &HashMap<&Path, &str>,
    project_macros: &BTreeSet<String>,
    cache: &sql::ValidSqlCache,
) -> Result<sql::ValidSqlCache> {
    let dialect = project.target.dialect;
    let results: Vec<std::result::Result<u64, Diagnostic>> = nodes
        .par_iter()
        .filter(|(_, n)| n.resource_type != ResourceType::Seed)
        .filter(|(_, n)| n.config_str("static_analysis") != Some("off"))
        .filter(|(_, n)| !valid_by_construction(n, project_macros, dialect))
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
fn valid_by_construction(node: &Node, project_macros: &BTreeSet<String>, dialect: Dialect) -> bool {
    let Some(test) = &node.test else {
        return false;
    };
    const BUILT_IN: [&str; 4] = ["unique", "not_null", "accepted_values", "relationships"];
    if !BUILT_IN.contains(&test.name.as_str()) || test.namespace.is_some() {
        return false;
    }
    let overridden = |name: &str| {
        [
            name.to_string(),
            format!("default__{name}"),
            format!("{}__{name}", dialect.name()),
        ]
        .iter()
        .any(|m| project_macros.contains(m))
    };
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
fn is_identifier(text: &str) -> bool {
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

fn sql_error(
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

/// Inlines ephemeral models into the SQL of the nodes that use them.
fn inject_ephemerals(nodes: &mut NodeMap, dag: &Dag) {
    if !nodes.values().any(|n| n.is_ephemeral()) {
        return;
    }
    let order = dag.topological();
    for id in order {
        let Some(node) = nodes.get(&id) else {
            continue;
        };
        let ctes = ephemeral::ctes_for(node, nodes);
        if ctes.is_empty() {
            continue;
        }
        let node = nodes.get_mut(&id).expect("node exists");
        if let Some(sql) = &node.compiled_code {
            node.compiled_code = Some(ephemeral::inject(sql, &ctes));
        }
        node.extra_ctes = ctes
            .into_iter()
            .map(|(id, sql)| (id, sql.trim_start().to_string()))
            .collect();
    }
}

/// `{% docs %}` blocks from the project's .md files.
fn docs(project: &Project) -> Result<BTreeMap<String, DocNode>> {
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
fn unmatched_properties(project: &Project, index: &nodes::PropertiesIndex) -> Vec<Diagnostic> {
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

fn macro_nodes(renderer: &Renderer) -> BTreeMap<String, MacroNode> {
    renderer
        .macros
        .iter()
        .map(|m| {
            let id = format!("macro.{}.{}", m.package, m.name);
            let node = MacroNode {
                unique_id: id.clone(),
                name: m.name.clone(),
                package_name: m.package.clone(),
                path: m.path.clone(),
                line: m.line,
                macro_sql: m.source.clone(),
                description: String::new(),
                meta: Map::new(),
                arguments: Vec::new(),
            };
            (id, node)
        })
        .collect()
}

/// Where a node's compiled SQL is written, like dbt: `target/compiled/<project>/<file>`, and
/// for generic tests `<yml file>/<test>.sql`.
pub fn compiled_path(target_dir: &Path, node: &Node) -> PathBuf {
    let base = target_dir.join("compiled").join(&node.package_name);
    if node.test.is_some() {
        base.join(&node.original_file_path).join(&node.path)
    } else if node.resource_type == ResourceType::Snapshot {
        base.join(&node.original_file_path)
            .with_file_name(format!("{}.sql", node.name))
    } else {
        base.join(&node.original_file_path)
    }
}
