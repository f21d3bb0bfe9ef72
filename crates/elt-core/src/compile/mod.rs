//! Runs the pipeline: project -> rendered nodes -> relations -> graph -> validated SQL ->
//! manifest.
//!
//! Rendering happens in two passes, like dbt's parse and compile, but the second is usually
//! free: the first pass renders every node with placeholders for the relations of `ref()` and
//! `this` (which depend on configs not known yet); once configs are known the placeholders are
//! substituted. Only a node whose template inspected a relation (e.g. `ref('x').schema`) is
//! rendered again.

mod docs;
mod ephemeral;
mod flat_graph;
mod generic_tests;
mod link;
mod nodes;
mod relations;
mod render;
mod runtime;
mod sources;
mod unit_tests;
mod validate;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde_json::Map;

use crate::diagnostics::{Diagnostic, Errors, Result};
use crate::graph::Dag;
use crate::manifest::{MacroNode, Manifest, Node, ResourceType};
use crate::project::Project;
use crate::sql;
use crate::template::{Pass, Renderer};

pub use generic_tests::synthesize_names;
pub use relations::EPHEMERAL_PREFIX;
pub use runtime::{Hook, Runtime, UnitTestRun, hooks};
pub use unit_tests::{Rows, UnitInput, UnitTestSpec};

use docs::{docs, unmatched_properties};
use ephemeral::inject_ephemerals;
use link::{check_unique_relations, cycle_error, link, split_disabled};
use render::{
    Job, Renders, first_pass_resolver, render_descriptions, substitute, substitute_in_config,
};
use validate::validate_sql;

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

/// Compiles the whole project; SQL in `valid_sql` (from an earlier run) is not parsed again.
/// Errors from every node are gathered before returning.
pub fn compile_with_cache(project: &Project, valid_sql: &sql::ValidSqlCache) -> Result<Compiled> {
    let clock = crate::stopwatch::Stopwatch::start();
    let mut warnings = project.warnings.clone();
    let package_macros: Vec<(&str, &[crate::project::ProjectFile])> = project
        .packages
        .iter()
        .map(|p| (p.name.as_str(), p.files.macros.as_slice()))
        .collect();
    let renderer = Renderer::new(
        &project.config.name,
        &project.files.macros,
        &package_macros,
        project.config.dispatch.clone(),
    )
    .map_err(|e| Errors(e).sorted())?;
    clock.lap("macros");
    let docs = docs(project)?;
    let index = nodes::index_properties(project)?;
    let file_nodes = nodes::file_nodes(project, &index)?;
    warnings.extend(unmatched_properties(project, &index));
    clock.lap("models, seeds, snapshots, analyses");
    let source_nodes = sources::sources(project)?;
    let existing: generic_tests::Existing = file_nodes
        .iter()
        .map(|n| (n.package_name.as_str(), n.resource_type, n.name.as_str()))
        .collect();
    let generic = generic_tests::generic_tests(project, &existing, &renderer.table)?;
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
    let resources = project.resources();
    let yaml_sources: HashMap<&Path, &str> = resources
        .iter()
        .flat_map(|r| &r.files.properties)
        .map(|f| (f.path.as_path(), f.contents.as_str()))
        .collect();
    let renders = Renders {
        renderer: &renderer,
        yaml_sources: &yaml_sources,
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
        let node = Arc::make_mut(&mut job.node);
        renders.apply(node, out.record);
        nodes::reapply_root_configs(project, node);
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
        let targets = final_resolver.refable.get_mut(&job.node.name);
        let found = targets.and_then(|t| t.iter_mut().find(|t| t.unique_id == job.node.unique_id));
        if let Some(target) = found {
            target.relation = match project.deferred.get(&job.node.unique_id) {
                Some(deferred) => Some(deferred.clone()),
                None => job.node.relation.clone(),
            };
        }
    }
    if flat_graph::is_used(project, &renderer, &jobs) {
        final_resolver.graph = flat_graph::FlatGraph::value(
            jobs.iter().map(|j| j.node.clone()).collect(),
            Arc::new(source_nodes.clone()),
            resolver.clone(),
        );
    }
    let final_resolver = Arc::new(final_resolver);
    if !again.is_empty() {
        let outs = renders.all(&final_resolver, &jobs, Some(&again), Pass::Final)?;
        for (i, out) in again.into_iter().zip(outs) {
            let node = Arc::make_mut(&mut jobs[i].node);
            renders.apply(node, out.record);
            nodes::reapply_root_configs(project, node);
            sqls[i] = out.sql;
        }
    }
    let runtime_tests: HashMap<String, generic_tests::TestCall> = jobs
        .iter()
        .filter(|job| job.node.introspective)
        .filter_map(|job| Some((job.node.unique_id.clone(), job.test.clone()?)))
        .collect();
    let runtime_yaml: HashMap<PathBuf, String> = runtime_tests
        .values()
        .filter_map(|call| {
            let text = yaml_sources.get(call.yaml_file.as_path())?;
            Some((call.yaml_file.clone(), text.to_string()))
        })
        .collect();
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
    check_unique_relations(&enabled)?;
    link(project, &mut enabled, &disabled, &final_resolver)?;
    let mut unit_test_specs = HashMap::new();
    for (mut node, spec) in unit_tests::unit_tests(project, &enabled, &final_resolver)? {
        renders.render_unit_test_config(&final_resolver, &mut node)?;
        unit_test_specs.insert(node.unique_id.clone(), spec);
        enabled.insert(node.unique_id.clone(), Box::new(node));
    }
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
        &final_resolver.macros,
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
        runtime: Runtime::new(
            Arc::new(renderer),
            final_resolver,
            runtime_tests,
            runtime_yaml,
            unit_test_specs,
        ),
    })
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

/// Where a node's compiled SQL is written, like dbt: `target/compiled/<package>/<file>`, and
/// for generic tests `<yml file>/<test>.sql`; a package's files are named from its own folder.
pub fn compiled_path(target_dir: &Path, node: &Node) -> PathBuf {
    let base = target_dir.join("compiled").join(&node.package_name);
    let file = node.file_in_package();
    if node.test.is_some() {
        base.join(file).join(&node.path)
    } else if node.resource_type == ResourceType::Snapshot {
        base.join(file).with_file_name(format!("{}.sql", node.name))
    } else {
        base.join(file)
    }
}
