//! `elt deps`: installs the project's packages (see the `elt-deps` crate).

use elt_core::diagnostics::Errors;

use crate::cli::ProjectArgs;

pub fn run(args: &ProjectArgs) -> Result<(), Errors> {
    if let Some(declared) = elt_deps::read_declared(&args.project_dir)? {
        crate::report_warnings(&declared.unpinned_warnings(), false, false)?;
    }
    let installed = elt_deps::install(&args.project_dir, &elt_deps::hub_url_from_env())?;
    if installed.is_empty() {
        println!("No packages to install: packages.yml declares none.");
        return Ok(());
    }
    for package in &installed {
        println!("Installed {} ({})", package.name, package.spec.describe());
    }
    println!(
        "{} package(s) installed; {} is up to date.",
        installed.len(),
        elt_deps::LOCK_FILE
    );
    Ok(())
}
