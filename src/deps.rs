//! `elt deps`: installs the project's packages (see the `elt-deps` crate).

use elt_core::diagnostics::Errors;

use crate::cli::ProjectArgs;

pub fn run(args: &ProjectArgs) -> Result<(), Errors> {
    let Some(declared) = elt_deps::read_declared(&args.project_dir)? else {
        println!("No packages to install: packages.yml declares none.");
        return Ok(());
    };
    let mut warnings = declared.unpinned_warnings();
    warnings.extend(declared.project_warnings());
    crate::report_warnings(&warnings, false, false)?;
    let file = declared.file.display().to_string();
    let hub_url = elt_deps::hub_url_from_env();
    let installed = elt_deps::install_declared(&args.project_dir, declared, &hub_url)?;
    if installed.is_empty() {
        println!("No packages to install: {file} declares none.");
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
