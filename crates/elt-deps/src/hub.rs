//! The dbt package hub: its JSON API (`api/v1/<org>/<name>.json`, each version with its
//! tarball's URL and its own packages), at `DBT_PACKAGE_HUB_URL` (default
//! `https://hub.getdbt.com/`), and the choice of versions: the newest release that every
//! requirer's ranges admit.

use std::collections::BTreeMap;

use elt_core::diagnostics::{Diagnostic, Errors};
use semver::{Version, VersionReq};
use serde_json::Value as Json;

type Result<T> = std::result::Result<T, Errors>;

/// Where the hub is: `DBT_PACKAGE_HUB_URL`, as dbt reads it, or hub.getdbt.com.
pub fn hub_url_from_env() -> String {
    std::env::var("DBT_PACKAGE_HUB_URL").unwrap_or_else(|_| "https://hub.getdbt.com/".into())
}

/// A release of a hub package.
#[derive(Debug, Clone)]
pub struct Release {
    pub version: Version,
    pub tarball: String,
    /// Its own hub packages: (`org/name`, version ranges).
    pub packages: Vec<(String, Vec<String>)>,
}

/// Reads JSON over HTTP; the error names the URL and what to do offline.
pub fn get_json(url: &str, what: &str) -> Result<Json> {
    let response = ureq::get(url).call().map_err(|e| {
        Diagnostic::error(format!("cannot reach the package hub for {what}: {e} ({url})")).with_help(
            "check the network, or set DBT_PACKAGE_HUB_URL to a reachable hub; offline, place the package's release tree in dbt_packages/<name>/ or declare it as `local:`",
        )
    })?;
    response.into_body().read_json::<Json>().map_err(|e| {
        Diagnostic::error(format!(
            "the package hub's answer for {what} is not JSON: {e} ({url})"
        ))
        .into()
    })
}

/// Every release of `org/name` on the hub at `hub`.
pub fn releases(hub: &str, package: &str) -> Result<Vec<Release>> {
    let url = format!("{}/api/v1/{package}.json", hub.trim_end_matches('/'));
    let json = get_json(&url, package)?;
    let Some(versions) = json.get("versions").and_then(Json::as_object) else {
        return Err(Diagnostic::error(format!(
            "the package hub lists no versions of {package} ({url})"
        ))
        .with_help("check the package's name: `package: <org>/<name>`, as on hub.getdbt.com")
        .into());
    };
    let mut out = Vec::new();
    for (text, release) in versions {
        let Ok(version) = Version::parse(text) else {
            continue;
        };
        let tarball = release
            .pointer("/downloads/tarball")
            .and_then(Json::as_str)
            .unwrap_or_default()
            .to_string();
        let packages = release
            .get("packages")
            .and_then(Json::as_array)
            .map(|list| {
                list.iter()
                    .filter_map(|p| {
                        let name = p.get("package")?.as_str()?.to_string();
                        let ranges = match p.get("version") {
                            Some(Json::Array(items)) => items
                                .iter()
                                .filter_map(|v| v.as_str().map(str::to_string))
                                .collect(),
                            Some(Json::String(v)) => vec![v.clone()],
                            _ => Vec::new(),
                        };
                        Some((name, ranges))
                    })
                    .collect()
            })
            .unwrap_or_default();
        out.push(Release {
            version,
            tarball,
            packages,
        });
    }
    out.sort_by(|a, b| a.version.cmp(&b.version));
    Ok(out)
}

/// A version range as dbt writes it: `>=1.0.0`, `<2.0.0`, or an exact `1.3.0`.
pub fn range(text: &str) -> std::result::Result<VersionReq, String> {
    let text = text.trim();
    let exact = text.starts_with(|c: char| c.is_ascii_digit());
    let spec = if exact {
        format!("={text}")
    } else {
        text.to_string()
    };
    VersionReq::parse(&spec).map_err(|e| format!("'{text}' is not a version range: {e}"))
}

/// Who asked for a hub package, and with which ranges.
#[derive(Debug, Default, Clone)]
pub struct Requirements {
    /// `org/name` -> (requirer, range text) pairs.
    pub by_package: BTreeMap<String, Vec<(String, String)>>,
    /// `org/name` whose prereleases may be chosen.
    pub prerelease: Vec<String>,
}

impl Requirements {
    pub fn add(&mut self, package: &str, requirer: &str, ranges: &[String]) {
        let entry = self.by_package.entry(package.to_string()).or_default();
        if ranges.is_empty() {
            entry.push((requirer.to_string(), "*".to_string()));
        }
        for r in ranges {
            entry.push((requirer.to_string(), r.clone()));
        }
    }

    /// The newest release of `package` that every range admits.
    pub fn choose(&self, package: &str, releases: &[Release]) -> Result<Release> {
        let wanted = &self.by_package[package];
        let mut reqs = Vec::new();
        for (requirer, text) in wanted {
            let req = range(text).map_err(|e| {
                Diagnostic::error(format!("{requirer} asks for {package} {text}: {e}")).with_help(
                    "write ranges as dbt does: \">=1.0.0\", \"<2.0.0\" or an exact \"1.3.0\"",
                )
            })?;
            reqs.push(req);
        }
        let prerelease = self.prerelease.iter().any(|p| p == package);
        releases
            .iter()
            .rev()
            .filter(|r| prerelease || r.version.pre.is_empty())
            .find(|r| {
                reqs.iter().all(|req| {
                    req.matches(&r.version)
                        || (prerelease
                            && req.matches(&Version::new(
                                r.version.major,
                                r.version.minor,
                                r.version.patch,
                            )))
                })
            })
            .cloned()
            .ok_or_else(|| {
                let asked: Vec<String> = wanted
                    .iter()
                    .map(|(who, text)| format!("{who} asks for {text}"))
                    .collect();
                Diagnostic::error(format!(
                    "no release of {package} satisfies every requirement: {}",
                    asked.join("; ")
                ))
                .with_help("change the version ranges in packages.yml so that they overlap")
                .into()
            })
    }
}
