//! `elt deps`: installs the packages a project declares in `packages.yml` (or the `packages:`
//! of `dependencies.yml`) into its `packages-install-path` (`dbt_packages/`), as dbt 1.7+
//! does, and keeps `package-lock.yml`: the packages pinned, with the sha1 of the declaration
//! they were resolved from. While the declaration is unchanged the lock is what is installed.
//!
//! Installed today: `local:` packages (a link to the folder, as dbt makes), with their own
//! packages in turn. `git:`, `tarball:` and hub packages are read and reported as not
//! installable yet.

mod spec;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::rc::Rc;

use elt_core::diagnostics::{Diagnostic, Errors};
use elt_core::project::ProjectConfig;

pub use spec::{Declared, PackageSpec, Source};

/// The lock file, beside the project file.
pub const LOCK_FILE: &str = "package-lock.yml";

type Result<T> = std::result::Result<T, Errors>;

/// A package `elt deps` installed.
#[derive(Debug, Clone, PartialEq)]
pub struct Installed {
    pub name: String,
    /// Where it came from, as written in the lock (`local: ../`).
    pub spec: PackageSpec,
    /// Its folder in the install path.
    pub dir: PathBuf,
    /// The folder it was installed from.
    origin: PathBuf,
}

/// Installs the packages of the project at `root`; returns them in install order.
pub fn install(root: &Path) -> Result<Vec<Installed>> {
    let (config, _) = ProjectConfig::load(root)?;
    let Some(declared) = spec::read_declared(root)? else {
        return Ok(Vec::new());
    };
    let hash = declared.sha1();
    let locked = spec::read_lock(root)?.filter(|lock| lock.sha1_hash == hash);
    let pinned: Vec<PackageSpec> = match locked {
        Some(lock) => lock.packages,
        None => declared.packages.clone(),
    };
    let install_dir = root.join(&config.packages_install_path);
    std::fs::create_dir_all(&install_dir).map_err(|e| {
        Diagnostic::error(format!("cannot create {}: {e}", install_dir.display()))
            .with_help("check the folder's permissions, or set packages-install-path")
    })?;
    let mut installed: Vec<Installed> = Vec::new();
    let declared = Rc::new(declared);
    let mut queue: VecDeque<(PackageSpec, PathBuf, Rc<Declared>)> = pinned
        .into_iter()
        .map(|p| (p, root.to_path_buf(), declared.clone()))
        .collect();
    while let Some((spec, from, declared_in)) = queue.pop_front() {
        let package = install_one(&spec, &from, &install_dir, &declared_in)?;
        if let Some(same) = installed.iter().find(|i| i.name == package.name) {
            if same.origin != package.origin {
                return Err(conflict(&same.spec, &package));
            }
            continue;
        }
        // The package's own packages, declared relative to its folder; a local one is
        // locked by its absolute path, which is what it is relative to no longer says.
        if let Some(mut nested) = spec::read_declared(&package.origin)? {
            nested.file = package.origin.join(&nested.file);
            let nested = Rc::new(nested);
            for mut spec in nested.packages.clone() {
                if let Source::Local(path) = &spec.source {
                    let absolute = package.origin.join(path);
                    let absolute = std::fs::canonicalize(&absolute).unwrap_or(absolute);
                    let text = absolute.display().to_string();
                    spec.entry.insert("local".into(), text.clone().into());
                    spec.source = Source::Local(text);
                }
                queue.push_back((spec, package.origin.clone(), nested.clone()));
            }
        }
        installed.push(package);
    }
    let lock = spec::Lock {
        packages: installed.iter().map(|i| i.spec.clone()).collect(),
        sha1_hash: hash,
    };
    let names: Vec<&str> = installed.iter().map(|i| i.name.as_str()).collect();
    spec::write_lock(root, &lock, &names)?;
    Ok(installed)
}

/// Installs one package into `install_dir`; `from` is the folder its spec is relative to.
fn install_one(
    spec: &PackageSpec,
    from: &Path,
    install_dir: &Path,
    declared: &Declared,
) -> Result<Installed> {
    match &spec.source {
        Source::Local(path) => {
            let folder = from.join(path);
            let folder = std::fs::canonicalize(&folder).map_err(|e| {
                declared.error_at(
                    spec,
                    format!("local package '{path}' cannot be read: {e}"),
                    "check the path (it is relative to the project that declares it)",
                )
            })?;
            let name = package_name(&folder).map_err(|e| {
                declared.error_at(spec, e, "a package is a dbt project: it needs a dbt_project.yml")
            })?;
            let link = install_dir.join(&name);
            replace_with_link(&link, &folder).map_err(|e| {
                Diagnostic::error(format!("cannot install '{name}' at {}: {e}", link.display()))
            })?;
            Ok(Installed {
                name: name.clone(),
                spec: spec.clone(),
                dir: PathBuf::from(name),
                origin: folder,
            })
        }
        other => Err(declared
            .error_at(
                spec,
                format!("{} packages are not installed by this version of elt yet", other.kind()),
                "install it by hand into dbt_packages/<name>/ (its release tree), or declare it as `local:`",
            )
            .into()),
    }
}

/// The `name:` of the project file in `folder`.
fn package_name(folder: &Path) -> std::result::Result<String, String> {
    let (config, _) = ProjectConfig::load(folder).map_err(|e| e.to_string())?;
    Ok(config.name)
}

/// Makes `link` point at `target`, replacing whatever was installed there.
fn replace_with_link(link: &Path, target: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(link) {
        Ok(meta) if meta.file_type().is_symlink() || meta.is_file() => std::fs::remove_file(link)?,
        Ok(_) => std::fs::remove_dir_all(link)?,
        Err(_) => {}
    }
    #[cfg(unix)]
    return std::os::unix::fs::symlink(target, link);
    #[cfg(windows)]
    return std::os::windows::fs::symlink_dir(target, link);
}

fn conflict(first: &PackageSpec, second: &Installed) -> Errors {
    Diagnostic::error(format!(
        "package '{}' is required twice, from different places: {} and {}",
        second.name,
        first.describe(),
        second.spec.describe()
    ))
    .with_help("declare it once, in the root project's packages.yml, so that one source wins")
    .into()
}
