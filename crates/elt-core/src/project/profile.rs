//! `profiles.yml`: where a project's warehouse is, per target.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};

use super::yaml::{self, YNode};
use crate::adapter::{Dialect, TargetLocation};
use crate::diagnostics::{Diagnostic, Result, closest};

/// Keys whose values are never printed.
const SECRET_KEYS: &[&str] = &["password", "pass", "token", "secret", "private_key"];

/// The warehouse target a command runs against.
#[derive(Clone)]
pub struct Target {
    pub profile_name: String,
    pub name: String,
    pub dialect: Dialect,
    /// The database (catalog); empty where the warehouse has none (ClickHouse).
    pub database: String,
    pub schema: String,
    pub threads: usize,
    /// Every field of the target as written (rendered), for the adapter.
    pub settings: Map<String, Json>,
    /// The profiles.yml it came from.
    pub file: PathBuf,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Target")
            .field("profile_name", &self.profile_name)
            .field("name", &self.name)
            .field("dialect", &self.dialect)
            .field("database", &self.database)
            .field("schema", &self.schema)
            .field("threads", &self.threads)
            .field("settings", &self.redacted_settings())
            .finish()
    }
}

impl Target {
    /// The settings with secrets masked, safe to print or write into artifacts.
    pub fn redacted_settings(&self) -> Map<String, Json> {
        self.settings
            .iter()
            .map(|(k, v)| {
                let secret = SECRET_KEYS.iter().any(|s| k.to_lowercase().contains(s));
                (
                    k.clone(),
                    if secret {
                        Json::from("********")
                    } else {
                        v.clone()
                    },
                )
            })
            .collect()
    }

    /// A target for tests and tools that need no profiles.yml: the embedded DuckDB, in memory.
    pub fn in_memory_duckdb() -> Self {
        Target {
            profile_name: "default".into(),
            name: "dev".into(),
            dialect: Dialect::DEFAULT,
            database: "memory".into(),
            schema: "main".into(),
            threads: 1,
            settings: Map::new(),
            file: PathBuf::new(),
        }
    }
}

/// Where profiles.yml is looked for, in order: `--profiles-dir`, `ELT_PROFILES_DIR`,
/// `DBT_PROFILES_DIR`, the project folder, `~/.elt`, `~/.dbt`.
pub fn profile_dirs(explicit: Option<&Path>, project_root: &Path) -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = explicit {
        dirs.push(dir.to_path_buf());
        return dirs;
    }
    for var in ["ELT_PROFILES_DIR", "DBT_PROFILES_DIR"] {
        if let Some(dir) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            dirs.push(PathBuf::from(dir));
        }
    }
    dirs.push(project_root.to_path_buf());
    if let Some(home) = std::env::var_os("HOME") {
        dirs.push(Path::new(&home).join(".elt"));
        dirs.push(Path::new(&home).join(".dbt"));
    }
    dirs
}

/// What the project asks for: a profile name (from the project file) and an optional target.
pub struct ProfileRequest<'a> {
    pub profile: Option<&'a str>,
    pub target: Option<&'a str>,
    /// Where the project file names the profile, for errors.
    pub project_file: &'a Path,
    pub project_source: &'a str,
    pub profile_line: u32,
    pub vars: &'a Map<String, Json>,
}

/// Finds profiles.yml in `dirs` and resolves the requested profile and target.
pub fn load_target(dirs: &[PathBuf], request: &ProfileRequest) -> Result<Target> {
    let Some(profile_name) = request.profile else {
        return Err(Diagnostic::error("the project file names no 'profile'")
            .at(request.project_file, 1, 1)
            .with_help("add `profile: <name>` naming a profile in profiles.yml")
            .into());
    };
    let Some(path) = dirs
        .iter()
        .map(|d| match d.to_str() {
            Some(".") => PathBuf::from("profiles.yml"),
            _ => d.join("profiles.yml"),
        })
        .find(|p| p.is_file())
    else {
        let searched: Vec<_> = dirs.iter().map(|d| d.display().to_string()).collect();
        return Err(Diagnostic::error(format!(
            "no profiles.yml found for profile '{profile_name}'"
        ))
        .at_source(request.project_file, request.project_source, request.profile_line, 0)
        .with_note(format!("searched: {}", searched.join(", ")))
        .with_help("create profiles.yml in the project folder, or pass --profiles-dir / set ELT_PROFILES_DIR")
        .into());
    };
    let source = std::fs::read_to_string(&path)
        .map_err(|e| Diagnostic::error(format!("cannot read {}: {e}", path.display())))?;
    parse_target(&path, &source, profile_name, request)
}

fn parse_target(
    path: &Path,
    source: &str,
    profile_name: &str,
    request: &ProfileRequest,
) -> Result<Target> {
    let doc = yaml::parse(source).map_err(|e| {
        Diagnostic::error(format!("invalid YAML: {}", e.message))
            .at_source(path, source, e.line, e.col)
    })?;
    let Some(profile) = doc.get(profile_name) else {
        let names: Vec<String> = doc
            .as_map()
            .unwrap_or_default()
            .iter()
            .map(|(k, _)| k.key_text())
            .filter(|k| k != "config")
            .collect();
        let mut error = Diagnostic::error(format!(
            "profile '{profile_name}' is not in {}",
            path.display()
        ))
        .at_source(
            request.project_file,
            request.project_source,
            request.profile_line,
            0,
        );
        error = match closest(profile_name, names.iter().map(String::as_str)) {
            Some(best) => error.with_help(format!("did you mean '{best}'?")),
            None if names.is_empty() => error.with_help("add the profile to profiles.yml"),
            None => error.with_help(format!("profiles there: {}", names.join(", "))),
        };
        return Err(error.into());
    };
    let target_name = match request.target {
        Some(t) => t.to_string(),
        None => profile
            .get("target")
            .and_then(YNode::as_str)
            .map(|t| render(t, request.vars).map_err(|m| at(path, source, profile, m)))
            .transpose()?
            .unwrap_or_else(|| "dev".into()),
    };
    let outputs_key = profile
        .as_map()
        .unwrap_or_default()
        .iter()
        .find(|(k, _)| k.as_str() == Some("outputs"))
        .map(|(k, _)| k);
    let outputs = profile.get("outputs").ok_or_else(|| {
        at(
            path,
            source,
            profile,
            format!("profile '{profile_name}' has no 'outputs'"),
        )
    })?;
    let Some(output) = outputs.get(&target_name) else {
        let names: Vec<String> = outputs
            .as_map()
            .unwrap_or_default()
            .iter()
            .map(|(k, _)| k.key_text())
            .collect();
        let mut error = at(
            path,
            source,
            outputs_key.unwrap_or(outputs),
            format!("target '{target_name}' is not an output of profile '{profile_name}'"),
        );
        error = match closest(&target_name, names.iter().map(String::as_str)) {
            Some(best) => error.with_help(format!("did you mean '{best}'?")),
            None => error.with_help(format!("targets: {}", names.join(", "))),
        };
        return Err(error.into());
    };
    let mut settings = Map::new();
    for (key, value) in output.as_map().unwrap_or_default() {
        let rendered =
            render_json(value.to_json(), request.vars).map_err(|m| at(path, source, value, m))?;
        settings.insert(key.key_text(), rendered);
    }
    let type_node = output.get("type");
    let type_name = settings
        .get("type")
        .and_then(Json::as_str)
        .unwrap_or_default();
    let dialect = Dialect::from_type(type_name).ok_or_else(|| {
        at(
            path,
            source,
            type_node.unwrap_or(output),
            format!("unknown adapter type '{type_name}' in target '{target_name}'"),
        )
        .with_help("elt supports type: duckdb, postgres or clickhouse")
    })?;
    let text = |key: &str| settings.get(key).and_then(Json::as_str).map(str::to_string);
    let TargetLocation { database, schema } = dialect.target_location(&text);
    let threads = match settings.get("threads") {
        None => 1,
        Some(v) => v
            .as_u64()
            .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            .filter(|n| *n > 0)
            .ok_or_else(|| {
                at(
                    path,
                    source,
                    output.get("threads").unwrap_or(output),
                    "'threads' must be a positive integer",
                )
            })? as usize,
    };
    Ok(Target {
        profile_name: profile_name.to_string(),
        name: target_name,
        dialect,
        database,
        schema,
        threads,
        settings,
        file: path.to_path_buf(),
    })
}

fn at(path: &Path, source: &str, node: &YNode, message: impl Into<String>) -> Diagnostic {
    Diagnostic::error(message).at_source(path, source, node.line, node.col)
}

/// dbt-duckdb names the database after the file: `dev.duckdb` -> `dev`, `:memory:` -> `memory`.
/// Renders `{{ env_var(...) }}` and `{{ var(...) }}` inside every string of a JSON value.
fn render_json(value: Json, vars: &Map<String, Json>) -> std::result::Result<Json, String> {
    Ok(match value {
        Json::String(s) if crate::template::is_templated(&s) => Json::String(render(&s, vars)?),
        Json::Array(items) => Json::Array(
            items
                .into_iter()
                .map(|v| render_json(v, vars))
                .collect::<std::result::Result<_, _>>()?,
        ),
        Json::Object(map) => Json::Object(
            map.into_iter()
                .map(|(k, v)| Ok((k, render_json(v, vars)?)))
                .collect::<std::result::Result<_, String>>()?,
        ),
        other => other,
    })
}

/// Renders a config string with only `env_var()` and `var()` available.
pub fn render(text: &str, vars: &Map<String, Json>) -> std::result::Result<String, String> {
    render_with_target(text, vars, minijinja::Value::UNDEFINED)
}

/// Renders a config string with `env_var()`, `var()` and `target` (for sources' `database`
/// and `schema`, which dbt renders with the target known).
pub fn render_with_target(
    text: &str,
    vars: &Map<String, Json>,
    target: minijinja::Value,
) -> std::result::Result<String, String> {
    let mut env = minijinja::Environment::new();
    env.add_global("target", target);
    env.add_function("env_var", crate::template::functions::env_var);
    let vars = vars.clone();
    env.add_function(
        "var",
        move |name: String, default: Option<minijinja::Value>| match (vars.get(&name), default) {
            (Some(v), _) => Ok(crate::template::json_value(v)),
            (None, Some(d)) => Ok(d),
            (None, None) => Err(minijinja::Error::new(
                minijinja::ErrorKind::UndefinedError,
                format!("required var '{name}' not found"),
            )),
        },
    );
    env.render_str(text, ()).map_err(|e| {
        let detail = e
            .detail()
            .map(str::to_string)
            .unwrap_or_else(|| e.to_string());
        format!("cannot render '{text}': {detail}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(vars: &'a Map<String, Json>, target: Option<&'a str>) -> ProfileRequest<'a> {
        ProfileRequest {
            profile: Some("shop"),
            target,
            project_file: Path::new("elt_project.yml"),
            project_source: "name: x\nprofile: shop\n",
            profile_line: 2,
            vars,
        }
    }

    #[test]
    fn duckdb_target_with_env_var_and_masked_password() {
        // SAFETY: tests in this module are the only readers of this variable.
        unsafe { std::env::set_var("ELT_TEST_PROFILE_PATH", "warehouse/dev.duckdb") };
        let src = "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: \"{{ env_var('ELT_TEST_PROFILE_PATH') }}\"\n      threads: 4\n      password: hunter2\n";
        let vars = Map::new();
        let t = parse_target(
            Path::new("profiles.yml"),
            src,
            "shop",
            &request(&vars, None),
        )
        .unwrap();
        assert_eq!(
            (t.database.as_str(), t.schema.as_str(), t.threads),
            ("dev", "main", 4)
        );
        assert!(!format!("{t:?}").contains("hunter2"));
    }

    #[test]
    fn unknown_target_suggests() {
        let src = "shop:\n  outputs:\n    dev:\n      type: duckdb\n";
        let vars = Map::new();
        let err = parse_target(
            Path::new("profiles.yml"),
            src,
            "shop",
            &request(&vars, Some("deb")),
        )
        .unwrap_err();
        assert!(err.to_string().contains("did you mean 'dev'?"), "{err}");
    }

    #[test]
    fn missing_env_var_is_an_error() {
        let src = "shop:\n  outputs:\n    dev:\n      type: postgres\n      password: \"{{ env_var('ELT_SURELY_UNSET_VAR') }}\"\n";
        let vars = Map::new();
        let err = parse_target(
            Path::new("profiles.yml"),
            src,
            "shop",
            &request(&vars, None),
        )
        .unwrap_err();
        assert!(err.to_string().contains("ELT_SURELY_UNSET_VAR"), "{err}");
    }
}
