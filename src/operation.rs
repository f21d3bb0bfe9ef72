//! `elt run-operation` (a macro run against the warehouse, as dbt's) and `elt clean`.

use std::sync::Arc;

use elt_core::diagnostics::{Diagnostic, Errors};
use elt_core::project::parse_cli_mapping;
use elt_warehouse::Warehouse;
use elt_warehouse::introspect::Introspector;

use crate::cli::{ProjectArgs, RunOperationArgs};
use crate::commands::{compiled, connection_error, load, release_at_exit};

type Result<T> = std::result::Result<T, Errors>;

/// Calls the macro with `--args` as its keyword arguments; its statements run on the target.
pub fn run(args: &RunOperationArgs) -> Result<()> {
    let macro_args = parse_cli_mapping("--args", args.args.as_deref())?;
    let (project, compiled) = compiled(&args.project)?;
    let warehouse: Arc<dyn Warehouse> = elt_warehouse::open(&project.target, &project.root)
        .map_err(|e| connection_error(&project.target, &e))?
        .into();
    let introspect = Introspector::over(warehouse);
    let outcome = compiled
        .runtime
        .run_operation(&args.macro_name, &macro_args, &introspect)
        .map_err(|e| {
            Errors::one(e.with_note(format!(
                "while running `elt run-operation {}`",
                args.macro_name
            )))
        });
    release_at_exit((project, compiled));
    outcome
}

/// Deletes each of the project's `clean-targets`; only folders inside the project, as dbt.
pub fn clean(args: &ProjectArgs) -> Result<()> {
    let project = load(args)?;
    let root = project.root.canonicalize().unwrap_or(project.root.clone());
    for target in &project.config.clean_targets {
        let path = root.join(target);
        let inside = path.canonicalize().map_or(!target.contains(".."), |p| {
            p.starts_with(&root) && p != root
        });
        if !inside {
            return Err(Errors::one(
                Diagnostic::error(format!(
                    "clean-targets entry '{target}' is not a folder inside the project"
                ))
                .at(&project.config.file, 0, 0)
                .with_help("list folders of the project only, such as target or dbt_packages"),
            ));
        }
        match std::fs::remove_dir_all(&path) {
            Ok(()) if !args.quiet => println!("Deleted {target}/"),
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Errors::one(Diagnostic::error(format!(
                    "cannot delete {}: {e}",
                    path.display()
                ))));
            }
        }
    }
    Ok(())
}
