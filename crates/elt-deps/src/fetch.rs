//! Bringing a package's files into the install folder: a tarball (downloaded, unpacked) or a
//! git repository (cloned by the `git` command, at a revision, maybe one subdirectory of it).

use std::path::{Path, PathBuf};
use std::process::Command;

use elt_core::diagnostics::{Diagnostic, Errors};

type Result<T> = std::result::Result<T, Errors>;

/// A folder under `install_dir` to unpack into, removed when dropped unless kept.
pub struct Staging(pub PathBuf);

impl Staging {
    pub fn new(install_dir: &Path, label: &str) -> Result<Self> {
        let dir = install_dir.join(format!(".elt-deps-{label}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| Diagnostic::error(format!("cannot create {}: {e}", dir.display())))?;
        Ok(Staging(dir))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Downloads a `.tar.gz` and unpacks it into `into`; returns the package's folder (the
/// archive's single top folder, as GitHub's and the hub's tarballs have).
pub fn tarball(url: &str, into: &Path, what: &str) -> Result<PathBuf> {
    let response = ureq::get(url).call().map_err(|e| {
        Diagnostic::error(format!("cannot download {what}: {e} ({url})")).with_help(
            "check the network and the URL; offline, place the package's release tree in dbt_packages/<name>/ or declare it as `local:`",
        )
    })?;
    let reader = response.into_body().into_reader();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(reader));
    archive.unpack(into).map_err(|e| {
        Diagnostic::error(format!("cannot unpack {what}: {e} ({url})"))
            .with_help("the URL must point at a .tar.gz of the package's files")
    })?;
    top_folder(into)
}

/// The folder holding the package: `dir` itself, or its one subfolder.
fn top_folder(dir: &Path) -> Result<PathBuf> {
    if dir.join("dbt_project.yml").is_file() {
        return Ok(dir.to_path_buf());
    }
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| Diagnostic::error(format!("cannot read {}: {e}", dir.display())))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    match entries.as_slice() {
        [only] if only.is_dir() => Ok(only.clone()),
        _ => Ok(dir.to_path_buf()),
    }
}

/// Clones `url` into `into` and checks out `revision` (a branch, tag or commit; the default
/// branch when `None`). Returns the commit checked out.
pub fn git(url: &str, revision: Option<&str>, into: &Path, what: &str) -> Result<String> {
    let run = |args: &[&str], dir: Option<&Path>| -> Result<String> {
        let mut command = Command::new("git");
        command.args(args).env("GIT_TERMINAL_PROMPT", "0");
        if let Some(dir) = dir {
            command.current_dir(dir);
        }
        let output = command.output().map_err(|e| {
            Diagnostic::error(format!("cannot run git for {what}: {e}"))
                .with_help("install git, or declare the package as `local:`")
        })?;
        if !output.status.success() {
            return Err(Diagnostic::error(format!(
                "git {} failed for {what}: {}",
                args.first().copied().unwrap_or_default(),
                String::from_utf8_lossy(&output.stderr).trim()
            ))
            .with_help("check the URL and the revision; offline, declare the package as `local:`")
            .into());
        }
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    };
    let target = into.to_string_lossy();
    run(&["clone", "--quiet", url, &target], None)?;
    if let Some(revision) = revision {
        run(&["checkout", "--quiet", revision], Some(into))?;
    }
    run(&["rev-parse", "HEAD"], Some(into))
}

/// Moves a fetched package folder to its place in the install folder, replacing what was there.
pub fn place(from: &Path, to: &Path) -> Result<()> {
    clear(to)
        .and_then(|()| std::fs::rename(from, to))
        .map_err(|e| Diagnostic::error(format!("cannot install {}: {e}", to.display())).into())
}

/// Removes what is installed at `path`: a link, a file or a folder.
pub fn clear(path: &Path) -> std::io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() || meta.is_file() => std::fs::remove_file(path),
        Ok(_) => std::fs::remove_dir_all(path),
        Err(_) => Ok(()),
    }
}
