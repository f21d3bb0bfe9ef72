//! Helpers shared by the integration tests: fixture projects copied to a temporary folder, the
//! `elt` binary, and the compiler called as a library.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

// The compiler's test helpers and fixture projects, shared with elt-core's own tests.
#[path = "../../crates/elt-core/tests/support/mod.rs"]
mod compiler;
#[allow(unused_imports)] // each test uses some
pub use compiler::{compile_dir, copy_dir, fixture, fixtures, load_dir, project, sql, write};

/// A copy of the example warehouse at the repository root (not its data, warehouse or target
/// folder).
pub fn example_project() -> tempfile::TempDir {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().expect("temp dir");
    for folder in ["models", "macros", "seeds", "tests"] {
        copy_dir(&root.join(folder), &dir.path().join(folder));
    }
    for file in ["elt_project.yml", "profiles.yml"] {
        std::fs::copy(root.join(file), dir.path().join(file)).expect("copy the project file");
    }
    dir
}

/// A port on 127.0.0.1 that nothing listens on.
pub fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A process killed when it goes out of scope, however the test ends.
pub struct Running(pub std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `elt docs serve --port 0` in `dir`: the server and the site's URL.
pub fn serve_docs(dir: &Path) -> (Running, String) {
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_elt"))
        .args(["docs", "serve", "--port", "0"])
        .current_dir(dir)
        .env("HOME", dir)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start elt docs serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the server's first line");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_string();
    (Running(child), url)
}

/// Runs `elt` with `args` in `dir`.
pub fn elt(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_elt"))
        .args(args)
        .current_dir(dir)
        .env_remove("ELT_PROFILES_DIR")
        .env_remove("DBT_PROFILES_DIR")
        .env("HOME", dir)
        .output()
        .expect("run elt")
}

/// Runs `elt` and asserts that it succeeded; returns what it printed.
pub fn ok(dir: &Path, args: &[&str]) -> String {
    let output = elt(dir, args);
    assert!(
        output.status.success(),
        "elt {args:?} failed:\n{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    stdout(&output)
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Rows of a query on a DuckDB file, every value as text (NULL as `NULL`).
pub fn query(db: &Path, sql: &str) -> Vec<Vec<String>> {
    let connection = duckdb::Connection::open(db).expect("open the DuckDB file");
    duck_rows(&connection, sql).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn duck_rows(connection: &duckdb::Connection, sql: &str) -> duckdb::Result<Vec<Vec<String>>> {
    let mut statement = connection.prepare(sql)?;
    let mut rows = statement.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let count = row.as_ref().column_count();
        out.push(
            (0..count)
                .map(|i| row.get_ref(i).map(|v| text(v.to_owned())))
                .collect::<duckdb::Result<_>>()?,
        );
    }
    Ok(out)
}

fn text(value: duckdb::types::Value) -> String {
    use duckdb::types::Value;
    match value {
        Value::Null => "NULL".to_string(),
        Value::Text(s) => s,
        Value::Boolean(b) => b.to_string(),
        Value::TinyInt(v) => v.to_string(),
        Value::SmallInt(v) => v.to_string(),
        Value::Int(v) => v.to_string(),
        Value::BigInt(v) => v.to_string(),
        Value::HugeInt(v) => v.to_string(),
        Value::UBigInt(v) => v.to_string(),
        Value::Double(v) => v.to_string(),
        Value::Decimal(d) => d.to_string(),
        other => format!("{other:?}"),
    }
}

/// Runs `command` (elt with `ELT_CRASH_AT=...:pause`, or a crash point that kills it) to its
/// end. When elt says it reached the crash point and waits, `at_crash` runs (a test cuts the
/// connections then), and elt goes on. The output's stderr is all elt wrote to it.
pub fn run_past_crash_point(command: &mut Command, at_crash: impl FnOnce()) -> Output {
    use std::io::{BufRead, BufReader, Read, Write};
    let mut child = command
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start elt");
    let mut errors = BufReader::new(child.stderr.take().expect("stderr"));
    let mut said = String::new();
    while errors.read_line(&mut said).is_ok_and(|n| n > 0) {
        if said.contains("elt: crash point") {
            at_crash();
            break;
        }
    }
    // A paused elt goes on at a line; one that is not paused reads none.
    let _ = child.stdin.take().expect("stdin").write_all(b"\n");
    let mut output = child.wait_with_output().expect("elt ends");
    errors.read_to_string(&mut said).expect("read stderr");
    output.stderr = said.into_bytes();
    output
}

/// One warehouse call of a node's run (or a load's), as `ELT_CRASH_AT=<name>:list` prints it.
pub struct Step {
    pub call: String,
    pub writes: bool,
}

/// The steps of `name` that elt printed to `stderr` under `ELT_CRASH_AT=<name>:list`.
pub fn listed_steps(stderr: &str, name: &str) -> Vec<Step> {
    let prefix = format!("elt: step {name}:");
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .map(|line| {
            let (_, call) = line.split_once(' ').expect("a step and its call");
            let (kind, call) = call.split_once(": ").expect("reads or writes");
            Step {
                call: call.to_string(),
                writes: kind == "writes",
            }
        })
        .collect()
}

/// Whether a crash before step `index` (0-based) of `steps` leaves a warehouse that no crash
/// before an earlier step does: the first step, and each that follows a write (one that
/// follows a read leaves the warehouse as the crash before that read did).
pub fn new_state_before(steps: &[Step], index: usize) -> bool {
    index == 0 || steps[index - 1].writes
}

/// What `create` started, for a test that needs it: where it could not start, a failure under
/// CI, else `None` (the test says why and skips).
pub fn started_or_skipped<T>(what: &str, create: impl FnOnce() -> Result<T, String>) -> Option<T> {
    match create() {
        Ok(started) => Some(started),
        Err(reason) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("cannot start {what} under CI: {reason}")
        }
        Err(reason) => {
            eprintln!("skipped: {reason}");
            None
        }
    }
}

/// `target/run_results.json`: each result's unique id and status, in file order.
pub fn statuses(dir: &Path) -> Vec<(String, String)> {
    let text =
        std::fs::read_to_string(dir.join("target/run_results.json")).expect("run_results.json");
    let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    json["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| {
            (
                r["unique_id"].as_str().unwrap_or_default().to_string(),
                r["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The status of one node in the last `run_results.json`.
pub fn status_of(dir: &Path, unique_id: &str) -> String {
    statuses(dir)
        .into_iter()
        .find(|(id, _)| id == unique_id)
        .map(|(_, status)| status)
        .unwrap_or_else(|| panic!("{unique_id} is not in run_results.json"))
}

/// A warehouse the integration suite runs on. DuckDB is embedded; PostgreSQL 15 and the
/// ClickHouse 26.9 engine (chdb behind `scripts/clickhouse_front.py`, not clickhouse-server)
/// are what `scripts/services.sh start` runs on 127.0.0.1 (settings from `ELT_PG_*`,
/// `ELT_CH_URL`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wh {
    DuckDb,
    Postgres,
    ClickHouse,
}

/// A project on one warehouse, in a temporary folder. On PostgreSQL it has a database of
/// its own and builds into its schema `main`; on ClickHouse, whose schemas are databases, it
/// builds into a database of its own. Both are dropped with it.
pub struct WhProject {
    pub wh: Wh,
    dir: tempfile::TempDir,
    /// The ClickHouse server's URL.
    ch_url: String,
    /// The PostgreSQL database, or the ClickHouse database (= schema) of this project.
    database: Option<String>,
}

fn ch_url() -> String {
    std::env::var("ELT_CH_URL").unwrap_or_else(|_| "http://127.0.0.1:8123".to_string())
}

/// Runs a statement on the ClickHouse server with curl, with the settings elt's sessions use;
/// returns its output, or the error.
/// `settings` are more, as `name=value&...`.
fn clickhouse(database: Option<&str>, settings: &str, sql: &str) -> Result<String, String> {
    clickhouse_on(&ch_url(), database, settings, sql)
}

/// [`clickhouse`] on the server at `server`.
fn clickhouse_on(
    server: &str,
    database: Option<&str>,
    settings: &str,
    sql: &str,
) -> Result<String, String> {
    let mut url = format!(
        "{server}/?default_format=JSONCompactEachRow&output_format_json_quote_64bit_integers=1\
         &output_format_json_quote_decimals=1&join_use_nulls=1&cast_keep_nullable=1"
    );
    if let Some(database) = database {
        url.push_str(&format!("&database={database}"));
    }
    if !settings.is_empty() {
        url.push_str(&format!("&{settings}"));
    }
    let output = Command::new("curl")
        .args([
            "-sS",
            "--fail-with-body",
            "--max-time",
            "60",
            "--data-binary",
            sql,
            &url,
        ])
        .output()
        .map_err(|e| format!("cannot run curl: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        Ok(text)
    } else {
        Err(format!("{text}{}", String::from_utf8_lossy(&output.stderr)))
    }
}

/// Runs a statement on the ClickHouse server outside any database, with extra settings
/// (`name=value&...`); panics on an error.
pub fn clickhouse_admin(sql: &str, settings: &str) {
    clickhouse(None, settings, sql).unwrap_or_else(|e| panic!("{sql}: {e}"));
}

/// ClickHouse's JSONCompactEachRow rows as text (NULL as `NULL`).
fn clickhouse_rows(out: &str) -> Vec<Vec<String>> {
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|line| {
            let values: Vec<serde_json::Value> = serde_json::from_str(line).expect("a JSON row");
            values
                .into_iter()
                .map(|v| match v {
                    serde_json::Value::Null => "NULL".to_string(),
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                })
                .collect()
        })
        .collect()
}

fn pg_setting(name: &str, default: &str) -> String {
    std::env::var(format!("ELT_PG_{name}")).unwrap_or_else(|_| default.to_string())
}

/// Runs psql as the test user; returns its output, or the error text.
fn psql(database: &str, options: &str, sql: &str) -> Result<String, String> {
    let output = psql_command(database, sql)
        .env("PGOPTIONS", options)
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// psql running `sql` in `database` as the test user.
fn psql_command(database: &str, sql: &str) -> Command {
    let mut command = Command::new("psql");
    command
        // Fields and rows apart by control characters, so that values may hold newlines.
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-F",
            "\u{1f}",
            "-R",
            "\u{1e}",
            "-P",
            "null=NULL",
        ])
        .args(["-v", "ON_ERROR_STOP=1"])
        .args(["-h", &pg_setting("HOST", "127.0.0.1")])
        .args(["-p", &pg_setting("PORT", "5432")])
        .args(["-U", &pg_setting("USER", "elt")])
        .args(["-d", database, "-c", sql])
        .env("PGPASSWORD", pg_setting("PASSWORD", "elt"))
        .env("PGCONNECT_TIMEOUT", "5");
    command
}

impl Wh {
    /// Whether this warehouse can be used here. Missing services fail the test under CI and
    /// skip it (with the reason printed) on a developer machine.
    pub fn available(self) -> bool {
        let problem = match self {
            Wh::DuckDb => return true,
            Wh::Postgres => psql("elt", "", "select 1").err(),
            Wh::ClickHouse => clickhouse(None, "", "select 1").err(),
        };
        match problem {
            None => true,
            Some(reason) if std::env::var("CI").is_ok_and(|v| v == "true") => {
                panic!("{self:?} is not reachable under CI: {reason}")
            }
            Some(reason) => {
                eprintln!(
                    "skipped: {self:?} is not reachable ({}); run scripts/services.sh start",
                    reason.trim()
                );
                false
            }
        }
    }

    /// SQL for the integers 0..n as a relation `r(id)`.
    pub fn integers(&self, n: u64) -> String {
        match self {
            Wh::DuckDb => format!("range({n}) as r(id)"),
            Wh::Postgres => format!("generate_series(0, {}) as r(id)", n - 1),
            Wh::ClickHouse => format!("(select number as id from numbers({n})) as r"),
        }
    }

    /// A project of `files` (as for [`project`]) with a profile for this warehouse.
    pub fn project(self, files: &[(&str, &str)]) -> WhProject {
        self.profiled(project(files), "shop")
    }

    /// The jaffle_shop fixture on this warehouse. ClickHouse names a selected column that two
    /// joined tables share by its qualified name (`customers.customer_id`): there the model
    /// must alias it.
    pub fn jaffle_shop(self) -> WhProject {
        let project = self.fixture("jaffle_shop", "jaffle_shop");
        if self == Wh::ClickHouse {
            let model = project.path().join("models/customers.sql");
            let sql = std::fs::read_to_string(&model).expect("customers.sql");
            let aliased = sql.replace(
                "customers.customer_id,",
                "customers.customer_id as customer_id,",
            );
            assert_ne!(sql, aliased);
            std::fs::write(&model, aliased).expect("write customers.sql");
        }
        project
    }

    /// A copy of the fixture project `name` (elt-core's `tests/fixtures/`) whose profile
    /// `profile` points at this warehouse.
    pub fn fixture(self, name: &str, profile: &str) -> WhProject {
        self.profiled(fixture(name), profile)
    }

    /// Writes a profile for this warehouse (DuckDB file `warehouse.duckdb`; on PostgreSQL a
    /// new database) into the project folder `dir`.
    pub fn profiled(self, dir: tempfile::TempDir, profile: &str) -> WhProject {
        self.profiled_on(dir, profile, &ch_url())
    }

    /// A project of `files` on the ClickHouse server at `ch_url` (a [`PrivateClickHouse`]).
    pub fn project_on(self, ch_url: &str, files: &[(&str, &str)]) -> WhProject {
        self.profiled_on(project(files), "shop", ch_url)
    }

    fn profiled_on(self, dir: tempfile::TempDir, profile: &str, ch_url: &str) -> WhProject {
        let (output, database) = match self {
            Wh::DuckDb => (
                "type: duckdb\n      path: warehouse.duckdb".to_string(),
                None,
            ),
            Wh::Postgres => {
                let database = format!("elt_test_{}", uuid::Uuid::new_v4().simple());
                psql("elt", "", &format!("create database {database}"))
                    .unwrap_or_else(|e| panic!("create the test database: {e}"));
                (
                    format!(
                        "type: postgres\n      host: {}\n      port: {}\n      user: {}\n      password: \"{}\"\n      dbname: {database}\n      schema: main",
                        pg_setting("HOST", "127.0.0.1"),
                        pg_setting("PORT", "5432"),
                        pg_setting("USER", "elt"),
                        pg_setting("PASSWORD", "elt"),
                    ),
                    Some(database),
                )
            }
            Wh::ClickHouse => {
                // Created up front (as on PostgreSQL) so that it can be queried even when
                // every model builds into a custom schema.
                let database = format!("elt_test_{}", uuid::Uuid::new_v4().simple());
                clickhouse_on(ch_url, None, "", &format!("create database {database}"))
                    .unwrap_or_else(|e| panic!("create the test database: {e}"));
                (
                    format!("type: clickhouse\n      url: {ch_url}\n      schema: {database}"),
                    Some(database),
                )
            }
        };
        write(
            dir.path(),
            "profiles.yml",
            &format!(
                "{profile}:\n  target: dev\n  outputs:\n    dev:\n      {output}\n      threads: 2\n"
            ),
        );
        WhProject {
            wh: self,
            dir,
            ch_url: ch_url.to_string(),
            database,
        }
    }
}

impl WhProject {
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// The schema models build into: `main`, or on ClickHouse the project's database.
    pub fn schema(&self) -> &str {
        match self.wh {
            Wh::ClickHouse => self.database.as_deref().expect("a database"),
            _ => "main",
        }
    }

    /// `schema.name` of a relation in the project's schema, as elt prints it.
    pub fn rel(&self, name: &str) -> String {
        format!("{}.{name}", self.schema())
    }

    /// Rows of a query, every value as text (NULL as `NULL`); unqualified names are in the
    /// project's schema.
    pub fn query(&self, sql: &str) -> Vec<Vec<String>> {
        match self.wh {
            Wh::DuckDb => query(&self.path().join("warehouse.duckdb"), sql),
            Wh::ClickHouse => clickhouse_rows(
                &clickhouse_on(&self.ch_url, Some(self.schema()), "", sql)
                    .unwrap_or_else(|e| panic!("query {sql}: {e}")),
            ),
            Wh::Postgres => {
                let database = self.database.as_deref().expect("a database");
                let out = psql(database, "-c search_path=main", sql)
                    .unwrap_or_else(|e| panic!("query {sql}: {e}"));
                let out = out.strip_suffix('\n').unwrap_or(&out);
                if out.is_empty() {
                    return Vec::new();
                }
                out.split('\u{1e}')
                    .map(|row| row.split('\u{1f}').map(str::to_string).collect())
                    .collect()
            }
        }
    }

    /// Makes this project's warehouse a copy of `template`'s: DuckDB its file, PostgreSQL its
    /// database (`create database ... template`, so no session may be open on it). False
    /// where the warehouse cannot copy a database (ClickHouse).
    pub fn copy_warehouse_of(&self, template: &WhProject) -> bool {
        match (self.wh, &self.database, &template.database) {
            (Wh::DuckDb, _, _) => {
                std::fs::copy(
                    template.path().join("warehouse.duckdb"),
                    self.path().join("warehouse.duckdb"),
                )
                .expect("copy the DuckDB file");
                true
            }
            (Wh::Postgres, Some(database), Some(template)) => {
                let sql = format!(
                    "drop database {database}; create database {database} template {template}"
                );
                for statement in sql.split("; ") {
                    psql("elt", "", statement).unwrap_or_else(|e| panic!("{statement}: {e}"));
                }
                true
            }
            _ => false,
        }
    }

    /// The rows of each query, or its error: on DuckDB through one connection (opening the
    /// file is what takes the time).
    pub fn query_each(&self, queries: &[&str]) -> Vec<Result<Vec<Vec<String>>, String>> {
        if self.wh == Wh::DuckDb {
            let connection = duckdb::Connection::open(self.path().join("warehouse.duckdb"))
                .expect("open the DuckDB file");
            return queries
                .iter()
                .map(|sql| duck_rows(&connection, sql).map_err(|e| e.to_string()))
                .collect();
        }
        queries
            .iter()
            .map(|sql| {
                std::panic::catch_unwind(|| self.query(sql)).map_err(|e| {
                    e.downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| format!("{sql} failed"))
                })
            })
            .collect()
    }

    /// On PostgreSQL, cuts elt's connections to the project's database (the server ends
    /// their backends); returns how many were cut. Other warehouses: none.
    pub fn cut_connections(&self) -> usize {
        let Some(database) = self.database.as_deref().filter(|_| self.wh == Wh::Postgres) else {
            return 0;
        };
        let sql = format!(
            "with loaders as materialized (select pid from pg_stat_activity \
             where datname = '{database}' and application_name = 'elt') \
             select count(*) from loaders where pg_terminate_backend(pid)"
        );
        let out = psql("elt", "", &sql).unwrap_or_else(|e| panic!("cut connections: {e}"));
        out.trim().parse().unwrap_or(0)
    }

    /// The tables and views of a schema: (name, `BASE TABLE` or `VIEW`), by name. `main`
    /// is the project's schema.
    pub fn relations(&self, schema: &str) -> Vec<(String, String)> {
        let schema = if schema == "main" {
            self.schema()
        } else {
            schema
        };
        let schema = schema.replace('\'', "''");
        self.query(&format!(
            "select table_name, table_type from information_schema.tables where table_schema = '{schema}' order by table_name"
        ))
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect()
    }

    /// The columns of a table in the project's schema, in order.
    pub fn columns(&self, table: &str) -> Vec<String> {
        let table = table.replace('\'', "''");
        self.query(&format!(
            "select column_name from information_schema.columns where table_schema = '{}' and table_name = '{table}' order by ordinal_position",
            self.schema()
        ))
        .into_iter()
        .map(|r| r[0].clone())
        .collect()
    }
}
impl Drop for WhProject {
    fn drop(&mut self) {
        match (self.wh, &self.database) {
            (Wh::Postgres, Some(database)) => {
                let _ = psql(
                    "elt",
                    "",
                    &format!("drop database if exists {database} with (force)"),
                );
            }
            // The project's database and its custom schemas' (`<database>_<custom>`).
            (Wh::ClickHouse, Some(database)) => {
                let names = clickhouse_on(
                    &self.ch_url,
                    None,
                    "",
                    &format!(
                        "select name from system.databases where startsWith(name, '{database}')"
                    ),
                )
                .map(|out| clickhouse_rows(&out))
                .unwrap_or_default();
                for name in names.into_iter().flatten() {
                    let _ = clickhouse_on(
                        &self.ch_url,
                        None,
                        "",
                        &format!("drop database if exists `{name}`"),
                    );
                }
            }
            _ => {}
        }
    }
}

/// Instantiates test functions taking a [`Wh`] once per warehouse: `duckdb::name`,
/// `postgres::name`, `clickhouse::name`.
#[macro_export]
macro_rules! on_every_warehouse {
    ($($name:ident),* $(,)?) => {
        mod duckdb {
            $(#[test]
            fn $name() {
                super::$name($crate::support::Wh::DuckDb)
            })*
        }
        mod postgres {
            $(#[test]
            fn $name() {
                if $crate::support::Wh::Postgres.available() {
                    super::$name($crate::support::Wh::Postgres)
                }
            })*
        }
        mod clickhouse {
            $(#[test]
            fn $name() {
                if $crate::support::Wh::ClickHouse.available() {
                    super::$name($crate::support::Wh::ClickHouse)
                }
            })*
        }
    };
}

/// A ClickHouse engine of a test's own, which it may kill (the shared one must stay up for the
/// other tests):
/// `scripts/clickhouse_front.py` over a temporary data folder, on a free port, with the Python
/// that `scripts/services.sh start clickhouse` installed chdb into.
pub struct PrivateClickHouse {
    data: tempfile::TempDir,
    pub port: u16,
    process: Option<std::process::Child>,
}

impl PrivateClickHouse {
    fn python() -> PathBuf {
        let state = std::env::var("ELT_SERVICES_DIR")
            .unwrap_or_else(|_| "/var/cache/elt/services".to_string());
        Path::new(&state).join("venv/bin/python")
    }

    pub fn create() -> Result<Self, String> {
        if !Self::python().exists() {
            return Err("chdb is not installed (run scripts/services.sh start clickhouse)".into());
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let mut server = PrivateClickHouse {
            data: tempfile::tempdir().map_err(|e| e.to_string())?,
            port,
            process: None,
        };
        server.start()?;
        Ok(server)
    }

    pub fn start(&mut self) -> Result<(), String> {
        let front = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/clickhouse_front.py");
        let child = Command::new(Self::python())
            .arg(front)
            .args(["--port", &self.port.to_string(), "--data"])
            .arg(self.data.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .map_err(|e| e.to_string())?;
        self.process = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.query("select 1").is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Err("the private ClickHouse engine did not start within 60 s".into())
    }

    /// Kills the engine's process: requests in flight are cut, as in a crash.
    pub fn crash(&mut self) {
        if let Some(mut child) = self.process.take() {
            child.kill().expect("SIGKILL the engine");
            child.wait().expect("reap the engine");
        }
    }

    pub fn query(&self, sql: &str) -> Result<Vec<String>, String> {
        let output = Command::new("curl")
            .args([
                "-sS",
                "--fail-with-body",
                "--max-time",
                "30",
                "--data-binary",
                sql,
            ])
            .arg(format!("http://127.0.0.1:{}/", self.port))
            .output()
            .map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            return Err(text);
        }
        Ok(text.lines().map(str::to_string).collect())
    }
}

impl Drop for PrivateClickHouse {
    fn drop(&mut self) {
        self.crash();
    }
}

impl PrivateClickHouse {
    /// A started engine; where it cannot start, a failure under CI, else `None` (the test
    /// says why and skips).
    pub fn for_test() -> Option<Self> {
        started_or_skipped("a private ClickHouse engine", Self::create)
    }

    /// Its URL, for [`Wh::project_on`].
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
