//! `elt deps`: installs the packages a project declares in `packages.yml` (or the `packages:`
//! of `dependencies.yml`) into its `packages-install-path` (`dbt_packages/`), as dbt 1.7+
//! does, and keeps `package-lock.yml`: the packages pinned, with the sha1 of the declaration
//! they were resolved from. While the declaration is unchanged the lock is what is installed.
//!
//! Kinds: `local:` (a link to the folder, as dbt makes), `git:` (cloned by the `git` command,
//! locked at the commit it resolved to), `tarball:` and hub packages (`package: org/name` with
//! `version:` ranges, resolved through the hub's JSON API at `DBT_PACKAGE_HUB_URL`). A
//! package's own packages are installed too, flat; hub ranges from every requirer are
//! intersected.

mod fetch;
mod hub;
mod spec;

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::rc::Rc;

use elt_core::diagnostics::{Diagnostic, Errors};
use elt_core::project::ProjectConfig;

pub use hub::hub_url_from_env;
pub use spec::{Declared, PackageSpec, Source, read_declared};

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

/// Installs the packages of the project at `root`, hub packages from the hub at `hub_url`
/// ([`hub_url_from_env`]); returns them in install order.
pub fn install(root: &Path, hub_url: &str) -> Result<Vec<Installed>> {
    match read_declared(root)? {
        Some(declared) => install_declared(root, declared, hub_url),
        None => Ok(Vec::new()),
    }
}

/// [`install`] of a declaration already read with [`read_declared`].
pub fn install_declared(root: &Path, declared: Declared, hub_url: &str) -> Result<Vec<Installed>> {
    let (config, _) = ProjectConfig::load(root)?;
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
    let mut installer = Installer {
        hub_url: hub_url.to_string(),
        install_dir,
        installed: Vec::new(),
        hub: hub::Requirements::default(),
    };
    let declared = Rc::new(declared);
    let queue = pinned
        .into_iter()
        .map(|p| (p, root.to_path_buf(), declared.clone(), config.name.clone()))
        .collect();
    installer.install_direct(queue)?;
    installer.install_hub()?;
    let lock = spec::Lock {
        packages: installer.installed.iter().map(|i| i.spec.clone()).collect(),
        sha1_hash: hash,
    };
    let names: Vec<&str> = installer
        .installed
        .iter()
        .map(|i| i.name.as_str())
        .collect();
    spec::write_lock(root, &lock, &names)?;
    Ok(installer.installed)
}

/// A package to install: its spec, the folder it is relative to, the declaration that lists
/// it, and who asked for it.
type Pending = (PackageSpec, PathBuf, Rc<Declared>, String);

struct Installer {
    hub_url: String,
    install_dir: PathBuf,
    installed: Vec<Installed>,
    /// Hub packages asked for so far, installed once every requirement is known.
    hub: hub::Requirements,
}

impl Installer {
    /// Local, git and tarball packages, and their own packages in turn (flat); hub packages
    /// are collected as requirements.
    fn install_direct(&mut self, mut queue: VecDeque<Pending>) -> Result<()> {
        while let Some((spec, from, declared_in, requirer)) = queue.pop_front() {
            if let Source::Hub { package, versions } = &spec.source {
                self.hub.add(package, &requirer, versions);
                let prerelease = spec.entry.get("install-prerelease");
                if prerelease.and_then(serde_json::Value::as_bool) == Some(true) {
                    self.hub.prerelease.push(package.clone());
                }
                continue;
            }
            let package = install_one(&spec, &from, &self.install_dir, &declared_in)?;
            if let Some(same) = self.installed.iter().find(|i| i.name == package.name) {
                if same.origin != package.origin {
                    return Err(conflict(&same.spec, &package));
                }
                continue;
            }
            queue.extend(self.nested(&package)?);
            self.installed.push(package);
        }
        Ok(())
    }

    /// A package's own packages, declared relative to its folder; a local one is locked by
    /// its absolute path, which is what it is relative to no longer says.
    fn nested(&self, package: &Installed) -> Result<Vec<Pending>> {
        let folder = self.install_dir.join(&package.dir);
        let folder = std::fs::canonicalize(&folder).unwrap_or(folder);
        let Some(mut nested) = read_declared(&folder)? else {
            return Ok(Vec::new());
        };
        nested.file = folder.join(&nested.file);
        let nested = Rc::new(nested);
        let mut out = Vec::new();
        for mut spec in nested.packages.clone() {
            if let Source::Local(path) = &spec.source {
                let absolute = folder.join(path);
                let absolute = std::fs::canonicalize(&absolute).unwrap_or(absolute);
                let text = absolute.display().to_string();
                spec.entry.insert("local".into(), text.clone().into());
                spec.source = Source::Local(text);
            }
            out.push((spec, folder.clone(), nested.clone(), package.name.clone()));
        }
        Ok(out)
    }

    /// Chooses a release of every hub package (the newest that all requirers admit, their own
    /// packages' requirements included) and installs it from its tarball.
    fn install_hub(&mut self) -> Result<()> {
        let mut releases: BTreeMap<String, Vec<hub::Release>> = BTreeMap::new();
        let mut chosen: BTreeMap<String, hub::Release> = BTreeMap::new();
        loop {
            let mut changed = false;
            let wanted: Vec<String> = self.hub.by_package.keys().cloned().collect();
            for package in wanted {
                if !releases.contains_key(&package) {
                    releases.insert(package.clone(), hub::releases(&self.hub_url, &package)?);
                }
                let release = self.hub.choose(&package, &releases[&package])?;
                if chosen.get(&package).map(|r| &r.version) != Some(&release.version) {
                    for (dependency, ranges) in &release.packages {
                        self.hub.add(dependency, &package, ranges);
                    }
                    chosen.insert(package, release);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        for (package, release) in chosen {
            let what = format!("{package} {}", release.version);
            let staging = fetch::Staging::new(&self.install_dir, "hub")?;
            let folder = fetch::tarball(&release.tarball, &staging.0, &what)?;
            let name =
                package_name(&folder).map_err(|e| Diagnostic::error(format!("{what}: {e}")))?;
            let dir = self.install_dir.join(&name);
            fetch::place(&folder, &dir)?;
            let mut entry = serde_json::Map::new();
            entry.insert("package".into(), package.clone().into());
            entry.insert("version".into(), release.version.to_string().into());
            let version = release.version.to_string();
            self.installed.push(Installed {
                name: name.clone(),
                spec: PackageSpec {
                    source: Source::Hub {
                        package,
                        versions: vec![version],
                    },
                    entry,
                    line: 0,
                },
                dir: PathBuf::from(name),
                origin: dir,
            });
        }
        Ok(())
    }
}

/// Installs one local, git or tarball package into `install_dir`; `from` is the folder its
/// spec is relative to.
fn install_one(
    spec: &PackageSpec,
    from: &Path,
    install_dir: &Path,
    declared: &Declared,
) -> Result<Installed> {
    let (name, origin, locked) = match &spec.source {
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
                declared.error_at(
                    spec,
                    e,
                    "a package is a dbt project: it needs a dbt_project.yml",
                )
            })?;
            let link = install_dir.join(&name);
            replace_with_link(&link, &folder).map_err(|e| {
                Diagnostic::error(format!(
                    "cannot install '{name}' at {}: {e}",
                    link.display()
                ))
            })?;
            (name, folder, spec.clone())
        }
        Source::Git {
            url,
            revision,
            subdirectory,
        } => {
            let staging = fetch::Staging::new(install_dir, "git")?;
            let clone = staging.0.join("repository");
            let what = format!("git package {url}");
            let commit = fetch::git(url, revision.as_deref(), &clone, &what)
                .map_err(|e| at_spec(e, declared, spec))?;
            let folder = match subdirectory {
                Some(sub) => clone.join(sub),
                None => clone.clone(),
            };
            let name = place_package(&folder, install_dir, declared, spec, &what)?;
            let mut locked = spec.clone();
            locked
                .entry
                .insert("revision".into(), commit.clone().into());
            locked.entry.remove("warn-unpinned");
            (name, PathBuf::from(format!("{url}@{commit}")), locked)
        }
        Source::Tarball { url, .. } => {
            let staging = fetch::Staging::new(install_dir, "tarball")?;
            let what = format!("tarball package {url}");
            let folder =
                fetch::tarball(url, &staging.0, &what).map_err(|e| at_spec(e, declared, spec))?;
            let name = place_package(&folder, install_dir, declared, spec, &what)?;
            (name, PathBuf::from(url), spec.clone())
        }
        Source::Hub { .. } => unreachable!("hub packages are installed by install_hub"),
    };
    Ok(Installed {
        dir: PathBuf::from(&name),
        name,
        spec: locked,
        origin,
    })
}

/// Moves a fetched package to `install_dir/<its project name>`.
fn place_package(
    folder: &Path,
    install_dir: &Path,
    declared: &Declared,
    spec: &PackageSpec,
    what: &str,
) -> Result<String> {
    let name = package_name(folder).map_err(|e| {
        declared.error_at(
            spec,
            format!("{what}: {e}"),
            "a package is a dbt project: it needs a dbt_project.yml (for a git repository holding it in a folder, set `subdirectory:`)",
        )
    })?;
    fetch::place(folder, &install_dir.join(&name))?;
    Ok(name)
}

/// Places errors about a package at its entry in the declaration.
fn at_spec(errors: Errors, declared: &Declared, spec: &PackageSpec) -> Errors {
    Errors(
        errors
            .0
            .into_iter()
            .map(|d| match d.location {
                Some(_) => d,
                None => d.at_source(&declared.file, &declared.source, spec.line, 1),
            })
            .collect(),
    )
}

/// The `name:` of the project file in `folder`.
fn package_name(folder: &Path) -> std::result::Result<String, String> {
    let (config, _) = ProjectConfig::load(folder).map_err(|e| e.to_string())?;
    Ok(config.name)
}

/// Makes `link` point at `target`, replacing whatever was installed there.
fn replace_with_link(link: &Path, target: &Path) -> std::io::Result<()> {
    fetch::clear(link)?;
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
