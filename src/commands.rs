//! `elt parse`, `elt compile`, `elt ls` and `elt debug`, and what every command shares:
//! loading, compiling, selecting and writing artifacts.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use elt_core::artifacts;
use elt_core::compile::{Compiled, compile_with_cache};
use elt_core::diagnostics::{Diagnostic, Errors};
use elt_core::graph::select::{IndirectSelection, Selector};
use elt_core::graph::state::State;
use elt_core::manifest::{Manifest, Node, ResourceType};
use elt_core::project::{Flags, LoadOptions, Project};
use elt_core::sql::ValidSqlCache;
use elt_core::stopwatch::Stopwatch;
use elt_warehouse::Warehouse;
use elt_warehouse::introspect::Introspector;
use elt_warehouse::materialize::LEFTOVER_SUFFIXES;
use serde_json::{Map, Value as Json, json};

use crate::cli::{
    CompileArgs, Indirect, ListArgs, Output, ProjectArgs, ResourceTypeArg, SelectArgs,
};
use crate::report_warnings;

type Result<T> = std::result::Result<T, Errors>;

pub(crate) fn load(args: &ProjectArgs) -> Result<Project> {
    Project::load(&LoadOptions {
        project_dir: args.project_dir.clone(),
        profiles_dir: args.profiles_dir.clone(),
        target: args.target.clone(),
        vars: args.vars.clone(),
        target_path: args.target_path.clone(),
    })
}

/// Loads and compiles the project, and saves the cache of SQL known to parse.
pub(crate) fn compiled(args: &ProjectArgs) -> Result<(Project, Compiled)> {
    compiled_for(args, Flags::default())
}

/// [`compiled`] for a command whose `flags` templates see.
pub(crate) fn compiled_for(args: &ProjectArgs, flags: Flags) -> Result<(Project, Compiled)> {
    let clock = Stopwatch::start();
    let mut project = load(args)?;
    project.flags = flags;
    clock.lap("read the project");
    let cache_dir = project.target_dir().join(".elt");
    let dialect = project.target.dialect;
    let cache = ValidSqlCache::load(&cache_dir, dialect);
    let compiled = compile_with_cache(&project, &cache)?;
    clock.lap("compiled");
    compiled.valid_sql.save(&cache_dir, dialect);
    Ok((project, compiled))
}

/// Writes `manifest.json` and, at the same time, the compiled SQL of `nodes`.
pub(crate) fn write_artifacts(
    project: &Project,
    compiled: &Compiled,
    nodes: &[&Node],
) -> Result<()> {
    let clock = Stopwatch::start();
    let target_dir = project.target_dir();
    let (manifest, sql) = rayon::join(
        || artifacts::write_manifest(&target_dir, compiled),
        || artifacts::write_compiled_sql(&target_dir, nodes),
    );
    manifest?;
    sql?;
    clock.lap("wrote artifacts");
    Ok(())
}

pub(crate) fn select(
    compiled: &Compiled,
    selection: &SelectArgs,
) -> Result<(BTreeSet<String>, Vec<Diagnostic>)> {
    let state = match &selection.state {
        Some(dir) => Some(State::read(dir)?),
        None => None,
    };
    let selector = Selector {
        manifest: &compiled.manifest,
        dag: &compiled.dag,
        state: state.as_ref(),
        indirect: match selection.indirect_selection {
            Indirect::Eager => IndirectSelection::Eager,
            Indirect::Cautious => IndirectSelection::Cautious,
            Indirect::Buildable => IndirectSelection::Buildable,
            Indirect::Empty => IndirectSelection::Empty,
        },
    };
    selector.select(&selection.select, &selection.exclude)
}

pub fn parse(args: &ProjectArgs) -> Result<()> {
    let start = Instant::now();
    let (project, compiled) = compiled(args)?;
    write_artifacts(&project, &compiled, &[])?;
    report_warnings(&compiled.warnings, args.warn_error, args.quiet)?;
    if !args.quiet {
        println!(
            "Parsed {} in {:.2}s; wrote {}",
            summary(&compiled.manifest),
            start.elapsed().as_secs_f64(),
            project.target_dir().join("manifest.json").display()
        );
    }
    release_at_exit((project, compiled));
    Ok(())
}

pub fn compile(args: &CompileArgs) -> Result<()> {
    let start = Instant::now();
    let (project, mut compiled) = compiled(&args.project)?;
    let (selected, selection_warnings) = select(&compiled, &args.selection)?;
    compiled.warnings.extend(selection_warnings);
    report_warnings(
        &compiled.warnings,
        args.project.warn_error,
        args.project.quiet,
    )?;
    compile_with_warehouse(&project, &mut compiled, &selected)?;
    let nodes: Vec<&Node> = selected
        .iter()
        .filter_map(|id| compiled.manifest.nodes.get(id))
        .map(|node| &**node)
        .filter(|node| node.compiled_code.is_some())
        .collect();
    write_artifacts(&project, &compiled, &nodes)?;
    if !args.project.quiet {
        let not_tests: Vec<_> = nodes
            .iter()
            .filter(|n| n.resource_type != ResourceType::Test)
            .collect();
        if let ([node], false) = (not_tests.as_slice(), args.selection.select.is_empty()) {
            let sql = node.compiled_code.as_deref().unwrap_or_default();
            println!("Compiled node '{}' is:\n{}", node.name, sql.trim());
        }
        let count = nodes.len();
        println!(
            "Compiled {count} node{} in {:.2}s to {}",
            if count == 1 { "" } else { "s" },
            start.elapsed().as_secs_f64(),
            project.target_dir().join("compiled").display()
        );
    }
    release_at_exit((project, compiled));
    Ok(())
}

/// Renders again, with the warehouse, the selected nodes whose SQL queries it while compiling
/// (`run_query`, `dbt_utils.star`, ...), as `dbt compile` does: what they read must be built.
fn compile_with_warehouse(
    project: &Project,
    compiled: &mut Compiled,
    selected: &BTreeSet<String>,
) -> Result<()> {
    let nodes = &compiled.manifest.nodes;
    let introspective: Vec<&String> = selected
        .iter()
        .filter(|id| nodes.get(*id).is_some_and(|n| n.introspective))
        .collect();
    if introspective.is_empty() {
        return Ok(());
    }
    let target = &project.target;
    let warehouse: Arc<dyn Warehouse> = elt_warehouse::open(target, &project.root)
        .map_err(|e| connection_error(target, &e))?
        .into();
    let introspect = Introspector::over(warehouse);
    let mut rendered = Vec::new();
    let mut errors = Vec::new();
    for id in introspective {
        match compiled
            .runtime
            .sql_to_run(&nodes[id], nodes, false, &introspect)
        {
            Ok(Some(sql)) => rendered.push((id.clone(), sql)),
            Ok(None) => {}
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        return Err(Errors(errors).sorted());
    }
    for (id, sql) in rendered {
        if let Some(node) = compiled.manifest.nodes.get_mut(&id) {
            node.compiled_code = Some(sql);
        }
    }
    Ok(())
}

pub fn list(args: &ListArgs) -> Result<()> {
    let (project, compiled) = compiled(&args.project)?;
    write_artifacts(&project, &compiled, &[])?;
    let (selected, selection_warnings) = select(&compiled, &args.selection)?;
    let mut warnings = compiled.warnings.clone();
    warnings.extend(selection_warnings);
    report_warnings(&warnings, args.project.warn_error, args.project.quiet)?;
    let manifest = &compiled.manifest;
    let wanted = |kind: ResourceType| {
        args.resource_types.is_empty()
            || args.resource_types.iter().any(|t| {
                *t == ResourceTypeArg::All
                    || matches!(
                        (t, kind),
                        (ResourceTypeArg::Model, ResourceType::Model)
                            | (ResourceTypeArg::Seed, ResourceType::Seed)
                            | (ResourceTypeArg::Snapshot, ResourceType::Snapshot)
                            | (ResourceTypeArg::Test, ResourceType::Test)
                            | (ResourceTypeArg::UnitTest, ResourceType::UnitTest)
                            | (ResourceTypeArg::Analysis, ResourceType::Analysis)
                            | (ResourceTypeArg::Source, ResourceType::Source)
                    )
            })
    };
    let mut lines: Vec<String> = selected
        .iter()
        .filter_map(|id| line_for(manifest, id, args))
        .filter(|(kind, _)| wanted(*kind))
        .map(|(_, line)| line)
        .collect();
    lines.sort();
    for line in lines {
        println!("{line}");
    }
    release_at_exit((project, compiled));
    Ok(())
}

fn line_for(manifest: &Manifest, id: &str, args: &ListArgs) -> Option<(ResourceType, String)> {
    if let Some(source) = manifest.sources.get(id) {
        let text = match args.output {
            Output::Selector => format!("source:{}", source.fqn.join(".")),
            Output::Name => source.full_name(),
            Output::Path => source.path.display().to_string(),
            Output::Json => keys(
                json!({
                    "name": source.name,
                    "resource_type": "source",
                    "package_name": source.package_name,
                    "original_file_path": source.path,
                    "unique_id": source.unique_id,
                    "source_name": source.source_name,
                    "config": source.config,
                    "tags": source.tags,
                }),
                &args.output_keys,
            ),
        };
        return Some((ResourceType::Source, text));
    }
    let node = manifest.nodes.get(id)?;
    let text = match args.output {
        Output::Selector => node.fqn.join("."),
        Output::Name => node.name.clone(),
        Output::Path => node.original_file_path.display().to_string(),
        Output::Json => keys(
            json!({
                "name": node.name,
                "resource_type": node.resource_type.as_str(),
                "package_name": node.package_name,
                "original_file_path": node.original_file_path,
                "unique_id": node.unique_id,
                "alias": node.relation.as_ref().map(|r| r.identifier.clone()),
                "config": node.config,
                "tags": node.tags,
                "depends_on": {"macros": node.depends_on_macros, "nodes": node.depends_on_nodes},
            }),
            &args.output_keys,
        ),
    };
    Some((node.resource_type, text))
}

/// A JSON line with only the requested keys (all when none are given).
fn keys(value: Json, wanted: &[String]) -> String {
    let Json::Object(map) = value else {
        return value.to_string();
    };
    let filtered: Map<String, Json> = if wanted.is_empty() {
        map
    } else {
        map.into_iter()
            .filter(|(k, _)| wanted.contains(k))
            .collect()
    };
    Json::Object(filtered).to_string()
}

fn summary(manifest: &Manifest) -> String {
    let count = |kind: ResourceType| {
        manifest
            .nodes
            .values()
            .filter(|n| n.resource_type == kind)
            .count()
    };
    let parts = [
        (count(ResourceType::Model), "model"),
        (count(ResourceType::Test), "test"),
        (count(ResourceType::Seed), "seed"),
        (count(ResourceType::Snapshot), "snapshot"),
        (count(ResourceType::Analysis), "analysis"),
        (manifest.sources.len(), "source"),
        (manifest.macros.len(), "macro"),
    ];
    parts
        .iter()
        .map(|(n, what)| {
            let plural = match (*n, *what) {
                (1, _) => what.to_string(),
                (_, "analysis") => "analyses".to_string(),
                _ => format!("{what}s"),
            };
            format!("{n} {plural}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The process exits right after a command: freeing the compiled project's many small
/// allocations one by one would only delay that, so they are left to the operating system.
pub(crate) fn release_at_exit<T>(value: T) {
    std::mem::forget(value);
}

pub fn debug(args: &ProjectArgs) -> Result<()> {
    let project = load(args)?;
    let target = &project.target;
    println!("elt {}", env!("CARGO_PKG_VERSION"));
    println!(
        "project: {} ({})",
        project.config.name,
        project.root.join(&project.config.file).display()
    );
    println!(
        "profile: {} from {}",
        target.profile_name,
        target.file.display()
    );
    println!(
        "target: {} (type {}, database {}, schema {}, threads {})",
        target.name, target.dialect, target.database, target.schema, target.threads
    );
    let warehouse =
        elt_warehouse::open(target, &project.root).map_err(|e| connection_error(target, &e))?;
    let version = warehouse
        .version()
        .map_err(|e| connection_error(target, &e))?;
    println!("connection: OK ({version} at {})", warehouse.location());
    let leftovers = leftovers(&project, warehouse.as_ref());
    if leftovers.is_empty() {
        println!("leftovers: none");
    } else {
        println!(
            "leftovers of interrupted builds (the next run of their model drops them, or completes a pending increment): {}",
            leftovers.join(", ")
        );
    }
    Ok(())
}

/// Tables that an interrupted build left in the schemas the project builds in (the target's
/// alone when the project does not compile): see `materialize::LEFTOVER_SUFFIXES`.
fn leftovers(project: &Project, warehouse: &dyn Warehouse) -> Vec<String> {
    let target = &project.target;
    let mut schemas: Vec<(Option<String>, String)> =
        vec![(Some(target.database.clone()), target.schema.clone())];
    if let Ok(compiled) = elt_core::compile::compile(project) {
        let built = compiled
            .manifest
            .nodes
            .values()
            .filter(|n| !n.is_ephemeral());
        for relation in built.filter_map(|n| n.relation.as_ref()) {
            let schema = (relation.database.clone(), relation.schema.clone());
            if !schemas.contains(&schema) {
                schemas.push(schema);
            }
        }
    }
    let Ok(mut session) = warehouse.session() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for (database, schema) in &schemas {
        let database = database
            .as_deref()
            .filter(|_| target.dialect.has_database());
        for (name, _) in session.relations_in(database, schema).unwrap_or_default() {
            if LEFTOVER_SUFFIXES
                .iter()
                .any(|suffix| name.ends_with(suffix))
            {
                found.push(format!("{schema}.{name}"));
            }
        }
    }
    found
}

pub(crate) fn connection_error(
    target: &elt_core::project::Target,
    error: &elt_warehouse::WarehouseError,
) -> Errors {
    Diagnostic::error(format!(
        "cannot connect to target '{}': {error}",
        target.name
    ))
    .at(&target.file, 0, 0)
    .with_help(
        error
            .hint
            .as_deref()
            .unwrap_or("check the target's settings in profiles.yml, then run `elt debug`"),
    )
    .into()
}
