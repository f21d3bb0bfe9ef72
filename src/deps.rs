//! `elt deps`: installs the project's packages (see the `elt-deps` crate).

use elt_core::diagnostics::Errors;

use crate::cli::ProjectArgs;

pub fn run(args: &ProjectArgs) -> Result<(), Errors> {
    let declared = elt_deps::read_declared(&args.project_dir)?;
    if let Some(declared) = &declared {
        let mut warnings = declared.unpinned_warnings();
        warnings.extend(declared.project_warnings());
        crate::report_warnings(&warnings, false, false)?;
    }
    let installed = elt_deps::install(&args.project_dir, &elt_deps::hub_url_from_env())?;
    if installed.is_empty() {
        let file = declared.map_or("packages.yml".into(), |d| d.file.display().to_string());
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
