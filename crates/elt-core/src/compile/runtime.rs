//! Rendering that can only happen when a node runs: an incremental model's SQL once its table
//! is known to exist (`is_incremental()` is then true), a node that queries the warehouse
//! while compiling (its upstream is built by then), and hooks, which see the node's `this`.
//! It reuses the compile's template environment and resolved relations.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value as Json;

use super::ephemeral;
use super::generic_tests::TestCall;
use super::render::{Job, Renders, node_context, strip_padding, substitute};
use super::unit_tests::UnitTestSpec;
use crate::adapter::Relation;
use crate::diagnostics::Diagnostic;
use crate::manifest::{Node, NodeMap};
use crate::project::ProjectHook;
use crate::template::introspect::Introspect;
use crate::template::{NodeContext, Pass, Renderer, Resolver, UnitTestScope, blocks, python};

/// The compile's renderer, kept for run-time renders.
#[derive(Clone)]
pub struct Runtime {
    renderer: Arc<Renderer>,
    resolver: Arc<Resolver>,
    /// How each introspective generic test calls its macro, by unique id.
    tests: Arc<HashMap<String, TestCall>>,
    /// The properties files of those tests, for error locations.
    yaml_sources: Arc<HashMap<PathBuf, String>>,
    /// What each unit test runs with, by unique id.
    unit_tests: Arc<HashMap<String, UnitTestSpec>>,
}

/// A unit test ready to run, but for its rows: the spec, the model under test, and the
/// model's SQL reading the inputs' CTEs (to be put in front with [`UnitTestRun::with_ctes`]).
pub struct UnitTestRun<'a> {
    pub spec: &'a UnitTestSpec,
    pub model: &'a Node,
    pub sql: String,
}

impl UnitTestRun<'_> {
    /// The model's SQL with the inputs' CTEs, given as `(cte name, select)`, in front.
    pub fn with_ctes(&self, ctes: &[(String, String)]) -> String {
        let ctes: Vec<(String, String)> = ctes
            .iter()
            .map(|(name, sql)| (name.clone(), ephemeral::cte(name, sql)))
            .collect();
        ephemeral::inject(&self.sql, &ctes)
    }
}

/// A hook as configured: its SQL template and whether dbt would run it inside the model's
/// transaction (`transaction: false` hooks run outside it).
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    pub sql: String,
    pub transaction: bool,
}

impl Runtime {
    pub(super) fn new(
        renderer: Arc<Renderer>,
        resolver: Arc<Resolver>,
        tests: HashMap<String, TestCall>,
        yaml_sources: HashMap<PathBuf, String>,
        unit_tests: HashMap<String, UnitTestSpec>,
    ) -> Self {
        Runtime {
            renderer,
            resolver,
            tests: Arc::new(tests),
            yaml_sources: Arc::new(yaml_sources),
            unit_tests: Arc::new(unit_tests),
        }
    }

    /// Renders the model of unit test `unit_test` as the test sees it: its refs, sources and
    /// `this` read the given inputs' CTEs, and the test's overrides of vars, env vars and
    /// macros (`is_incremental` among them) apply.
    pub fn unit_test_run<'a>(
        &'a self,
        unit_test: &Node,
        nodes: &'a NodeMap,
        warehouse: &Arc<dyn Introspect>,
    ) -> Result<UnitTestRun<'a>, Diagnostic> {
        let spec = self.unit_tests.get(&unit_test.unique_id).ok_or_else(|| {
            Diagnostic::error(format!("{} is not a unit test", unit_test.unique_id))
        })?;
        let model = nodes.get(&spec.model).ok_or_else(|| {
            Diagnostic::error(format!(
                "the model of unit test '{}' is gone",
                unit_test.name
            ))
        })?;
        let dialect = model
            .relation
            .as_ref()
            .map_or(self.resolver.dialect(), |r| r.dialect);
        let overrides = &spec.overrides;
        let is_incremental = overrides
            .macros
            .get("is_incremental")
            .is_some_and(|v| v.as_bool() == Some(true));
        let ctx = self.context(Some(model), None, is_incremental, warehouse);
        let mut ctx = Arc::try_unwrap(ctx).expect("a new context has one owner");
        let mut inputs = HashMap::new();
        for input in &spec.inputs {
            let cte = Relation::bare(dialect, input.cte.clone());
            if input.key == "this" {
                ctx.this = Some(cte);
            } else {
                inputs.insert(input.key.clone(), cte);
            }
        }
        let macros: HashMap<String, minijinja::Value> = overrides
            .macros
            .iter()
            .filter(|(name, _)| *name != "is_incremental")
            .map(|(name, value)| (name.clone(), python::from_json(value)))
            .collect();
        // Plain names shadow the macros for the model's template; `package.name` overrides
        // are found by the package's namespace (see UnitTestScope::macro_override).
        ctx.extra.lock().expect("extra lock").extend(
            macros
                .iter()
                .filter(|(name, _)| !name.contains('.'))
                .map(|(name, value)| (name.clone(), returns(value.clone()))),
        );
        ctx.unit_test = Some(UnitTestScope {
            inputs,
            vars: overrides.vars.clone(),
            env_vars: overrides.env_vars.clone(),
            macros,
        });
        let what = format!("unit test '{}' of model '{}'", unit_test.name, model.name);
        let source = blocks::at_line(&model.raw_code, model.raw_line);
        let sql = self
            .renderer
            .render(&model.original_file_path, &source, &Arc::new(ctx), &what)
            .map(|out| strip_padding(out, model.raw_line))?;
        Ok(UnitTestRun { spec, model, sql })
    }

    /// Tells run-time renders which nodes the run selected (`selected_resources`); the first
    /// call counts.
    pub fn set_selected(&self, unique_ids: &[String]) {
        let ids: Vec<minijinja::Value> = unique_ids.iter().map(minijinja::Value::from).collect();
        let _ = self
            .resolver
            .selected_resources
            .set(minijinja::Value::from(ids));
    }

    /// The SQL a node runs, when it differs from its compiled SQL: rendered again with
    /// `is_incremental()` true, or with the warehouse for a node that queries it while
    /// compiling. `None`: the compiled SQL stands.
    pub fn sql_to_run(
        &self,
        node: &Node,
        nodes: &NodeMap,
        is_incremental: bool,
        warehouse: &Arc<dyn Introspect>,
    ) -> Result<Option<String>, Diagnostic> {
        if !is_incremental && !node.introspective {
            return Ok(None);
        }
        let sql = match self.tests.get(&node.unique_id) {
            Some(call) => self.test_sql(node, call, warehouse)?,
            None => {
                let ctx = self.context(Some(node), None, is_incremental, warehouse);
                let what = format!("{} '{}'", node.resource_type.as_str(), node.name);
                let source = blocks::at_line(&node.raw_code, node.raw_line);
                let out = self
                    .renderer
                    .render(&node.original_file_path, &source, &ctx, &what)?;
                strip_padding(out, node.raw_line)
            }
        };
        let sql = substitute(sql, node, &self.resolver);
        let ctes = ephemeral::ctes_for(node, nodes);
        Ok(Some(if ctes.is_empty() {
            sql
        } else {
            ephemeral::inject(&sql, &ctes)
        }))
    }

    fn test_sql(
        &self,
        node: &Node,
        call: &TestCall,
        warehouse: &Arc<dyn Introspect>,
    ) -> Result<String, Diagnostic> {
        let yaml_sources = self
            .yaml_sources
            .iter()
            .map(|(path, text)| (path.as_path(), text.as_str()))
            .collect();
        let renders = Renders {
            renderer: &self.renderer,
            yaml_sources: &yaml_sources,
        };
        let job = Job {
            node: Arc::new(node.clone()),
            test: Some(call.clone()),
        };
        renders
            .render_job(
                &self.resolver,
                &job,
                Pass::Final,
                true,
                Some(warehouse.clone()),
            )
            .0
    }

    /// The context of a run-time render, which may query `warehouse`: of a node, or of the
    /// run in a package's scope (`package` is ignored with a node, which has its own).
    fn context(
        &self,
        node: Option<&Node>,
        package: Option<&str>,
        is_incremental: bool,
        warehouse: &Arc<dyn Introspect>,
    ) -> Arc<NodeContext> {
        let resolver = self.resolver.clone();
        let mut ctx = match node {
            Some(node) => node_context(resolver, Pass::Final, Arc::new(node.clone())),
            None => {
                let undefined = minijinja::Value::UNDEFINED;
                let mut ctx =
                    NodeContext::new(resolver, Pass::Final, undefined, Default::default());
                if let Some(package) = package {
                    ctx.package = package.to_string();
                }
                ctx
            }
        };
        ctx.this = node.and_then(|n| n.relation.clone());
        ctx.is_incremental = is_incremental;
        ctx.warehouse = Some(warehouse.clone());
        Arc::new(ctx)
    }

    /// Renders a hook of a node (`this` is its relation), or SQL outside any node (`elt show
    /// --inline`).
    pub fn hook_sql(
        &self,
        node: Option<&Node>,
        hook: &str,
        file: &Path,
        what: &str,
        warehouse: &Arc<dyn Introspect>,
    ) -> Result<String, Diagnostic> {
        let ctx = self.context(node, None, false, warehouse);
        self.renderer.render(file, hook, &ctx, what)
    }

    /// Renders an `on-run-start`/`on-run-end` hook of the root project or a package; `globals`
    /// are added to its context (`results`, `schemas` for on-run-end).
    pub fn run_hook_sql(
        &self,
        hook: &ProjectHook,
        what: &str,
        warehouse: &Arc<dyn Introspect>,
        globals: &serde_json::Map<String, Json>,
    ) -> Result<String, Diagnostic> {
        let ctx = self.context(None, Some(hook.package), false, warehouse);
        ctx.extra.lock().expect("extra lock").extend(
            globals
                .iter()
                .map(|(name, value)| (name.clone(), python::from_json(value))),
        );
        self.renderer.render(hook.file, hook.sql, &ctx, what)
    }

    /// `elt run-operation`: calls a macro (`name` or `package.name`, found as dbt does: the
    /// root project's, then any package's, then a built-in) with `args` as its keyword
    /// arguments. What it runs with `statement`/`run_query` runs; what it renders is dropped.
    pub fn run_operation(
        &self,
        name: &str,
        args: &serde_json::Map<String, Json>,
        warehouse: &Arc<dyn Introspect>,
    ) -> Result<(), Diagnostic> {
        let (namespace, macro_name) = match name.split_once('.') {
            Some((package, name)) => (Some(package), name),
            None => (None, name),
        };
        let table = &self.renderer.table;
        let Some((package, value)) = table.find(namespace, macro_name, &table.root) else {
            let mut error = Diagnostic::error(format!("no macro named '{name}' to run"));
            if let Some(close) = crate::diagnostics::closest(macro_name, table.names()) {
                error = error.with_help(format!("did you mean '{close}'?"));
            }
            return Err(error);
        };
        let ctx = self.context(None, None, false, warehouse);
        ctx.extra.lock().expect("extra lock").extend([
            ("__elt_operation".to_string(), value.clone()),
            (
                "__elt_operation_args".to_string(),
                python::from_json(&Json::Object(args.clone())),
            ),
        ]);
        let call = "{%- do __elt_operation(**__elt_operation_args) -%}";
        let what = format!("operation '{package}.{macro_name}'");
        self.renderer
            .render(Path::new("<run-operation>"), call, &ctx, &what)
            .map(drop)
    }
}

/// A function that returns `value` whatever it is called with: an overridden macro.
fn returns(value: minijinja::Value) -> minijinja::Value {
    minijinja::Value::from_function(move |_args: &[minijinja::Value]| value.clone())
}

/// The hooks of a node's `pre-hook` or `post-hook` config, in order.
pub fn hooks(node: &Node, key: &str) -> Vec<Hook> {
    let list = match node.config.get(key) {
        Some(Json::Array(items)) => items.clone(),
        Some(Json::Null) | None => Vec::new(),
        Some(other) => vec![other.clone()],
    };
    list.into_iter()
        .filter_map(|item| match item {
            Json::String(sql) => Some(Hook {
                sql,
                transaction: true,
            }),
            Json::Object(map) => Some(Hook {
                sql: map.get("sql")?.as_str()?.to_string(),
                transaction: map.get("transaction").and_then(Json::as_bool) != Some(false),
            }),
            _ => None,
        })
        .filter(|hook| !hook.sql.trim().is_empty())
        .collect()
}
