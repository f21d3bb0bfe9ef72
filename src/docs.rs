//! `elt docs generate` and `elt docs serve`.

use std::io::Write;
use std::time::Instant;

use elt_core::diagnostics::{Diagnostic, Errors};
use elt_docs::catalog::Catalog;
use elt_docs::lineage::ProjectLineage;
use elt_docs::serve::DocsServer;
use elt_docs::site;

use crate::cli::{DocsGenerateArgs, DocsServeArgs, Indirect, SelectArgs};
use crate::commands::{compiled, connection_error, release_at_exit, select, write_artifacts};
use crate::report_warnings;

type Result<T> = std::result::Result<T, Errors>;

pub fn generate(args: &DocsGenerateArgs) -> Result<()> {
    let start = Instant::now();
    let (project, compiled) = compiled(&args.project)?;
    let nodes: Vec<_> = compiled.manifest.nodes.values().map(|n| &**n).collect();
    write_artifacts(&project, &compiled, &nodes)?;
    report_warnings(
        &compiled.warnings,
        args.project.warn_error,
        args.project.quiet,
    )?;
    let manifest = &compiled.manifest;
    let target_dir = project.target_dir();

    let mut catalog = if args.empty_catalog {
        Catalog::empty(manifest)
    } else {
        let target = &project.target;
        let warehouse = elt_warehouse::open(target, &project.root).map_err(|e| {
            let error = connection_error(target, &e);
            Errors(error.0.into_iter().map(|d| d.with_help("or run `elt docs generate --empty-catalog` to write the site without the warehouse")).collect())
        })?;
        let mut session = warehouse
            .session()
            .map_err(|e| connection_error(target, &e))?;
        Catalog::read(&mut *session, manifest).map_err(|e| {
            Diagnostic::error(format!(
                "reading the catalog from the warehouse failed: {}",
                e.message
            ))
            .with_help("run `elt debug` to check the connection, or pass --empty-catalog")
        })?
    };
    catalog.read_seed_headers(manifest, &project.root);
    let lineage = ProjectLineage::compute(manifest, &compiled.dag, &catalog);
    let io_error = |what: &str, e: std::io::Error| {
        Errors::one(Diagnostic::error(format!("cannot write {what}: {e}")))
    };
    catalog
        .write(&target_dir)
        .map_err(|e| io_error("catalog.json", e))?;
    lineage
        .write(&target_dir, manifest)
        .map_err(|e| io_error("lineage.json", e))?;
    let written = site::write(&target_dir.join("docs"), manifest, &catalog, &lineage)
        .map_err(|e| io_error("the docs site", e))?;

    if !args.project.quiet {
        let columns: Vec<_> = lineage.nodes.values().flat_map(|n| &n.columns).collect();
        let unknown = columns
            .iter()
            .filter(|c| c.kind == elt_core::sql::lineage::Kind::Unknown)
            .count();
        let failed = lineage.nodes.values().filter(|n| n.error.is_some()).count();
        println!(
            "Catalog: {} relations from the warehouse{}",
            catalog.nodes.len() + catalog.sources.len(),
            if args.empty_catalog {
                " (--empty-catalog)"
            } else {
                ""
            }
        );
        println!(
            "Lineage: {} columns of {} models ({unknown} unknown{})",
            columns.len(),
            lineage.nodes.len(),
            if failed > 0 {
                format!(", {failed} models whose SQL could not be analysed")
            } else {
                String::new()
            }
        );
        println!(
            "Wrote {} ({} nodes, {} files, {:.1} MB) in {:.2}s; serve it with `elt docs serve`",
            written.dir.display(),
            written.nodes,
            written.files,
            written.bytes as f64 / 1e6,
            start.elapsed().as_secs_f64()
        );
    }
    release_at_exit((project, compiled, catalog, lineage));
    Ok(())
}

pub fn serve(args: &DocsServeArgs) -> Result<()> {
    let (project, compiled) = compiled(&args.project)?;
    let root = project.target_dir().join("docs");
    if !root.join("index.html").is_file() {
        return Err(Errors::one(
            Diagnostic::error(format!("there is no docs site in {}", root.display()))
                .with_help("run `elt docs generate` first"),
        ));
    }
    let server = DocsServer::bind(&args.host, args.port, &root).map_err(|e| {
        Errors::one(
            Diagnostic::error(format!("cannot listen on {}:{}: {e}", args.host, args.port))
                .with_help("choose another port with --port (0 picks a free one)"),
        )
    })?;
    println!(
        "Serving {} at {} (Ctrl-C stops)",
        root.display(),
        server.url()
    );
    let _ = std::io::stdout().flush();
    let answer = |selected: &str, excluded: &str| -> std::result::Result<Vec<String>, String> {
        let selection = SelectArgs {
            select: words(selected),
            exclude: words(excluded),
            indirect_selection: Indirect::Eager,
            state: None,
        };
        select(&compiled, &selection)
            .map(|(ids, _)| ids.into_iter().collect())
            .map_err(|errors| {
                errors
                    .0
                    .iter()
                    .map(|d| d.message.clone())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
    };
    server.run(&answer);
    Ok(())
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}
