//! The package declaration (`packages.yml`, `dependencies.yml`) and the lock file.

use std::path::{Path, PathBuf};

use elt_core::diagnostics::{Diagnostic, Errors};
use elt_core::project::packages::PACKAGE_FILES;
use elt_core::project::yaml::{self, YNode};
use serde_json::{Map, Value as Json};
use sha1::{Digest, Sha1};

use crate::LOCK_FILE;

type Result<T> = std::result::Result<T, Errors>;

/// Where a package comes from.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// `local: ../path`, relative to the project that declares it.
    Local(String),
    /// `git: <url>`, with `revision:` and `subdirectory:`.
    Git {
        url: String,
        revision: Option<String>,
        subdirectory: Option<String>,
    },
    /// `tarball: <url>` with its `name:`.
    Tarball { url: String, name: Option<String> },
    /// `package: org/name` from the package hub, with `version:` ranges.
    Hub {
        package: String,
        versions: Vec<String>,
    },
}

impl Source {
    /// The key that names the kind in a declaration.
    pub fn kind(&self) -> &'static str {
        match self {
            Source::Local(_) => "local",
            Source::Git { .. } => "git",
            Source::Tarball { .. } => "tarball",
            Source::Hub { .. } => "hub",
        }
    }
}

/// One declared (or locked) package.
#[derive(Debug, Clone)]
pub struct PackageSpec {
    pub source: Source,
    /// The entry as written (its keys and values), for the lock's hash and the lock file.
    pub entry: Map<String, Json>,
    /// Its line in the declaring file.
    pub line: u32,
}

impl PartialEq for PackageSpec {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl PackageSpec {
    /// `local: ../` as it reads in the declaration.
    pub fn describe(&self) -> String {
        self.entry
            .iter()
            .next()
            .map(|(k, v)| format!("{k}: {}", v.as_str().map_or(v.to_string(), str::to_string)))
            .unwrap_or_default()
    }

    fn parse(node: &YNode, file: &Path, source: &str) -> Result<Self> {
        let bad = |message: String| -> Errors {
            Diagnostic::error(message)
                .at_source(file, source, node.line, node.col)
                .with_help("each package is one of `local: <path>`, `git: <url>`, `tarball: <url>` or `package: <org>/<name>` with `version:`")
                .into()
        };
        let Json::Object(entry) = node.to_json() else {
            return Err(bad("a package entry must be a mapping".into()));
        };
        let text = |key: &str| entry.get(key).and_then(Json::as_str).map(str::to_string);
        let source = if let Some(path) = text("local") {
            Source::Local(path)
        } else if let Some(url) = text("git") {
            Source::Git {
                url,
                revision: entry.get("revision").map(json_text),
                subdirectory: text("subdirectory"),
            }
        } else if let Some(url) = text("tarball") {
            Source::Tarball {
                url,
                name: text("name"),
            }
        } else if let Some(package) = text("package") {
            let versions = match entry.get("version") {
                Some(Json::Array(items)) => items.iter().map(json_text).collect(),
                Some(v) => vec![json_text(v)],
                None => Vec::new(),
            };
            Source::Hub { package, versions }
        } else {
            let keys: Vec<&str> = entry.keys().map(String::as_str).collect();
            return Err(bad(format!(
                "a package entry with keys {} says nowhere to install it from",
                keys.join(", ")
            )));
        };
        Ok(PackageSpec {
            source,
            entry,
            line: node.line,
        })
    }
}

fn json_text(value: &Json) -> String {
    value.as_str().map_or(value.to_string(), str::to_string)
}

/// A project's package declaration.
#[derive(Debug, Clone)]
pub struct Declared {
    pub file: PathBuf,
    pub source: String,
    pub packages: Vec<PackageSpec>,
    /// `projects:` of dependencies.yml (dbt Mesh's cross-project dependencies), by name and
    /// line.
    pub projects: Vec<(String, u32)>,
}

impl Declared {
    /// Cross-project dependencies need the other project's published manifest (dbt Cloud, or
    /// a plugin such as dbt-loom); elt resolves none, so a `ref()` into one fails. Said once
    /// each, at its line.
    pub fn project_warnings(&self) -> Vec<Diagnostic> {
        self.projects
            .iter()
            .map(|(name, line)| {
                Diagnostic::warning(format!(
                    "project '{name}' is a cross-project dependency, which elt does not resolve: a ref('{name}', ...) will fail"
                ))
                .at_source(&self.file, &self.source, *line, 1)
                .with_help("install it as a package instead (packages: with local:, git: or a hub name), or remove it")
            })
            .collect()
    }

    /// dbt's `warn-unpinned`: a git package without a `revision` (or pinned to `HEAD`, `main`
    /// or `master`) installs whatever its branch holds that day. A warning each, unless the
    /// entry says `warn-unpinned: false`.
    pub fn unpinned_warnings(&self) -> Vec<Diagnostic> {
        self.packages
            .iter()
            .filter(|p| p.entry.get("warn-unpinned") != Some(&Json::Bool(false)))
            .filter_map(|p| {
                let Source::Git { url, revision, .. } = &p.source else {
                    return None;
                };
                let what = match revision.as_deref() {
                    None | Some("HEAD") => "is not pinned: it installs the default branch's latest commit".to_string(),
                    Some(branch @ ("main" | "master")) => {
                        format!("is pinned to the branch '{branch}', whose latest commit changes")
                    }
                    Some(_) => return None,
                };
                Some(
                    Diagnostic::warning(format!("git package {url} {what}"))
                        .at_source(&self.file, &self.source, p.line, 1)
                        .with_help("pin it with `revision:` (a tag or a commit), or set `warn-unpinned: false`"),
                )
            })
            .collect()
    }

    /// The sha1 the lock keeps of the declaration: each entry as Python's
    /// `json.dumps(entry, sort_keys=True)`, sorted, joined by newlines (dbt hashes its own
    /// parsed form of the entries, with defaults filled in, so its hash differs).
    pub fn sha1(&self) -> String {
        let mut entries: Vec<String> = self
            .packages
            .iter()
            .map(|p| python_json(&Json::Object(p.entry.clone())))
            .collect();
        entries.sort();
        hex::encode(Sha1::digest(entries.join("\n").as_bytes()))
    }

    /// An error at a package's entry in the declaration.
    pub fn error_at(&self, spec: &PackageSpec, message: String, help: &str) -> Diagnostic {
        Diagnostic::error(message)
            .at_source(&self.file, &self.source, spec.line, 1)
            .with_help(help)
    }
}

/// JSON as Python's `json.dumps(value, sort_keys=True)` writes it (", " and ": ").
fn python_json(value: &Json) -> String {
    match value {
        Json::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let items: Vec<String> = keys
                .into_iter()
                .map(|k| format!("{}: {}", Json::from(k.as_str()), python_json(&map[k])))
                .collect();
            format!("{{{}}}", items.join(", "))
        }
        Json::Array(items) => {
            let items: Vec<String> = items.iter().map(python_json).collect();
            format!("[{}]", items.join(", "))
        }
        other => other.to_string(),
    }
}

/// The root project's declaration: `packages.yml`, else the `packages:` of
/// `dependencies.yml`. `None` when it declares none.
pub fn read_declared(root: &Path) -> Result<Option<Declared>> {
    for name in PACKAGE_FILES {
        let Ok(source) = std::fs::read_to_string(root.join(name)) else {
            continue;
        };
        let file = PathBuf::from(name);
        let doc = parse(&file, &source)?;
        let list = |key: &str| -> Result<Option<&[YNode]>> {
            let Some(list) = doc.get(key).filter(|n| !n.is_null()) else {
                return Ok(None);
            };
            list.as_seq().map(Some).ok_or_else(|| {
                Diagnostic::error(format!("'{key}' must be a list"))
                    .at_source(&file, &source, list.line, list.col)
                    .into()
            })
        };
        let (packages, projects) = (list("packages")?, list("projects")?);
        if packages.is_none() && projects.is_none() {
            continue;
        }
        let packages = packages
            .unwrap_or_default()
            .iter()
            .map(|item| PackageSpec::parse(item, &file, &source))
            .collect::<Result<Vec<_>>>()?;
        let projects = projects
            .unwrap_or_default()
            .iter()
            .filter_map(|item| Some((item.get("name")?.as_str()?.to_string(), item.line)))
            .collect();
        return Ok(Some(Declared {
            file,
            source,
            packages,
            projects,
        }));
    }
    Ok(None)
}

fn parse(file: &Path, source: &str) -> Result<YNode> {
    yaml::parse(source).map_err(|e| {
        Diagnostic::error(format!("invalid YAML: {}", e.message))
            .at_source(file, source, e.line, e.col)
            .into()
    })
}

/// `package-lock.yml`: the packages as installed, and the hash of the declaration.
#[derive(Debug, Clone)]
pub struct Lock {
    pub packages: Vec<PackageSpec>,
    pub sha1_hash: String,
}

pub fn read_lock(root: &Path) -> Result<Option<Lock>> {
    let Ok(source) = std::fs::read_to_string(root.join(LOCK_FILE)) else {
        return Ok(None);
    };
    let file = PathBuf::from(LOCK_FILE);
    let doc = parse(&file, &source)?;
    let packages = doc
        .get("packages")
        .and_then(YNode::as_seq)
        .unwrap_or_default()
        .iter()
        .map(|item| {
            let mut spec = PackageSpec::parse(item, &file, &source)?;
            spec.entry.remove("name");
            Ok(spec)
        })
        .collect::<Result<Vec<_>>>()?;
    let sha1_hash = doc
        .get("sha1_hash")
        .and_then(YNode::as_str)
        .unwrap_or_default()
        .to_string();
    Ok(Some(Lock {
        packages,
        sha1_hash,
    }))
}

/// Writes the lock, each package with the name it installed as.
pub fn write_lock(root: &Path, lock: &Lock, names: &[&str]) -> Result<()> {
    let mut text = String::from("packages:\n");
    for (spec, name) in lock.packages.iter().zip(names) {
        let mut first = true;
        for (key, value) in &spec.entry {
            let marker = if first { "- " } else { "  " };
            first = false;
            text.push_str(&format!("{marker}{key}: {value}\n"));
        }
        text.push_str(&format!("  name: {name}\n"));
    }
    text.push_str(&format!("sha1_hash: {}\n", lock.sha1_hash));
    std::fs::write(root.join(LOCK_FILE), text).map_err(|e| {
        Diagnostic::error(format!("cannot write {LOCK_FILE}: {e}"))
            .with_help("check the project folder's permissions")
            .into()
    })
}
