//! The warehouse server goes away in the middle of a build: elt fails clearly, leaves no table
//! half-built, and `elt retry` finishes the build once the server is back. The server goes at
//! a crash point (`ELT_CRASH_AT`, see `crates/elt-warehouse/src/crash_point.rs`): in the middle
//! of the third model's build, always the same step.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::{
    PrivateClickHouse, ok, project, run_past_crash_point, started_or_skipped, status_of, stderr,
    stdout,
};

const PG_BIN: &str = "/usr/lib/postgresql/15/bin";

/// A PostgreSQL server of the test's own (the shared one must stay up for the other tests),
/// in a temporary folder on a free port, run as the `postgres` user with trust authentication.
struct PrivateServer {
    data: PathBuf,
    port: u16,
    _dir: tempfile::TempDir,
}

impl PrivateServer {
    /// `None` (with the reason) where it cannot run: not root, or no PostgreSQL 15.
    fn create() -> Result<Self, String> {
        if !Path::new(PG_BIN).join("initdb").exists() {
            return Err("PostgreSQL 15 is not installed".into());
        }
        let whoami = Command::new("id")
            .arg("-u")
            .output()
            .map_err(|e| e.to_string())?;
        if String::from_utf8_lossy(&whoami.stdout).trim() != "0" {
            return Err("starting a private PostgreSQL server needs root (su postgres)".into());
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        as_postgres(&format!("chown postgres {}", dir.path().display()), true)?;
        as_postgres(
            &format!(
                "{PG_BIN}/initdb -A trust -U postgres -D {} >/dev/null",
                data.display()
            ),
            false,
        )?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let server = PrivateServer {
            data,
            port,
            _dir: dir,
        };
        server.start()?;
        Ok(server)
    }

    fn start(&self) -> Result<(), String> {
        as_postgres(
            &format!(
                "{PG_BIN}/pg_ctl -D {} -w -l {}/log -o \"-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories=''\" start >/dev/null",
                self.data.display(),
                self.data.display(),
                self.port
            ),
            false,
        )
    }

    /// Stops the server the way a crash does: connections cut, no clean shutdown.
    fn crash(&self) {
        as_postgres(
            &format!(
                "{PG_BIN}/pg_ctl -D {} -m immediate stop >/dev/null",
                self.data.display()
            ),
            false,
        )
        .expect("stop the private server");
    }

    fn query(&self, sql: &str) -> Vec<String> {
        let output = Command::new("psql")
            .args(["-X", "-A", "-t", "-h", "127.0.0.1", "-U", "postgres"])
            .args(["-p", &self.port.to_string(), "-d", "postgres", "-c", sql])
            .output()
            .expect("run psql");
        assert!(
            output.status.success(),
            "{sql}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for PrivateServer {
    fn drop(&mut self) {
        let _ = as_postgres(
            &format!(
                "{PG_BIN}/pg_ctl -D {} -m immediate stop >/dev/null 2>&1",
                self.data.display()
            ),
            false,
        );
    }
}

/// Runs a shell command as the `postgres` user (or as root when `as_root`).
fn as_postgres(command: &str, as_root: bool) -> Result<(), String> {
    let output = if as_root {
        Command::new("sh").args(["-c", command]).output()
    } else {
        Command::new("su")
            .args(["postgres", "-s", "/bin/sh", "-c", command])
            .output()
    }
    .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command}: {}",
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

fn private_server() -> Option<PrivateServer> {
    started_or_skipped("a private PostgreSQL server", PrivateServer::create)
}

/// A chain of six tables with `configs`, the first selecting `id` from `first`, on the target
/// `output`; built once, as version 1.
fn chain_project(first: &str, configs: &str, output: &str) -> tempfile::TempDir {
    let models: Vec<(String, String)> = (0..6)
        .map(|i| {
            let from = if i == 0 {
                first.to_string()
            } else {
                format!("{{{{ ref('step_{}') }}}}", i - 1)
            };
            (
                format!("models/step_{i}.sql"),
                format!(
                    "{{{{ config(materialized='table', {configs}) }}}}\nselect {{{{ var('version', 1) }}}} as version, id from {from}"
                ),
            )
        })
        .collect();
    let mut files: Vec<(&str, &str)> = models
        .iter()
        .map(|(p, c)| (p.as_str(), c.as_str()))
        .collect();
    let profile =
        format!("shop:\n  target: dev\n  outputs:\n    dev:\n      {output}\n      threads: 2\n");
    files.push(("profiles.yml", &profile));
    let dir = project(&files);
    ok(dir.path(), &["run"]);
    dir
}

/// Runs `elt build` of version 2 and `crash`es the server when the third model's build is at
/// its third warehouse call (PostgreSQL: inside the transaction that builds and swaps it;
/// ClickHouse: the staged table built, not exchanged yet); returns what elt did and how long
/// it took to end after the crash.
fn build_crashed_midway(dir: &Path, crash: impl FnOnce()) -> (std::process::Output, Duration) {
    let mut crashed = None;
    let mut output = run_past_crash_point(
        Command::new(env!("CARGO_BIN_EXE_elt"))
            .args(["build", "--vars", "{version: 2}"])
            .current_dir(dir)
            .env("HOME", dir)
            .env("ELT_CRASH_AT", "model.shop.step_2:3:pause"),
        || {
            crash();
            crashed = Some(Instant::now());
        },
    );
    let crashed = crashed.expect("the crash point is reached");
    // What elt said after the crash.
    let said = stderr(&output);
    let (_, after) = said
        .split_once("elt: crash point")
        .and_then(|(_, rest)| rest.split_once('\n'))
        .expect("the crash point's line");
    output.stderr = after.as_bytes().to_vec();
    (output, crashed.elapsed())
}

#[test]
fn postgres_stopped_mid_build_then_retry_completes() {
    let Some(server) = private_server() else {
        return;
    };
    let dir = chain_project(
        "generate_series(1, 1000) as r(id)",
        "tags=['chain']",
        &format!(
            "type: postgres\n      host: 127.0.0.1\n      port: {}\n      user: postgres\n      dbname: postgres\n      schema: main",
            server.port
        ),
    );
    let (output, after_crash) = build_crashed_midway(dir.path(), || server.crash());
    assert!(
        after_crash < Duration::from_secs(60),
        "elt gave up on the lost server"
    );
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let errors = stderr(&output);
    assert!(
        errors.starts_with("error: ") && errors.contains("lost the PostgreSQL connection"),
        "{errors}"
    );
    assert!(
        !errors.contains("panicked") && !errors.contains("WARN"),
        "{errors}"
    );

    server.start().expect("restart the server");
    // Every table is whole: the two built before the crash new, the rest old.
    for i in 0..6 {
        let versions = server.query(&format!(
            "select version || ':' || count(*) from main.step_{i} group by version"
        ));
        let expected = if i < 2 { "2:1000" } else { "1:1000" };
        assert_eq!(versions, [expected], "step_{i}");
    }
    assert_eq!(status_of(dir.path(), "model.shop.step_2"), "error");
    assert_eq!(
        status_of(dir.path(), "model.shop.step_5"),
        "skipped",
        "{}",
        stdout(&output)
    );

    let printed = ok(dir.path(), &["retry"]);
    assert!(printed.contains("ERROR=0"), "{printed}");
    for i in 0..6 {
        assert_eq!(
            server.query(&format!(
                "select version || ':' || count(*) from main.step_{i} group by version"
            )),
            ["2:1000"]
        );
    }
    assert_eq!(
        server.query(
            "select count(*) from information_schema.tables where table_name like '%dbt_tmp%'"
        ),
        ["0"]
    );
}

#[test]
fn clickhouse_stopped_mid_build_then_retry_completes() {
    let Some(mut server) = PrivateClickHouse::for_test() else {
        return;
    };
    let dir = chain_project(
        "(select number as id from numbers(1000))",
        "order_by='id'",
        &format!(
            "type: clickhouse\n      host: 127.0.0.1\n      port: {}\n      schema: shop",
            server.port
        ),
    );
    let (output, _) = build_crashed_midway(dir.path(), || server.crash());
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let errors = stderr(&output);
    assert!(
        errors.starts_with("error: ") && errors.contains("lost the ClickHouse connection"),
        "{errors}"
    );
    assert!(
        !errors.contains("panicked") && !errors.contains("WARN"),
        "{errors}"
    );

    server.start().expect("restart the engine");
    let versions = |i: usize| {
        server
            .query(&format!(
                "select concat(toString(version), ':', toString(count())) from shop.step_{i} group by version"
            ))
            .expect("query the engine")
    };
    // Every table is whole: the two built before the crash new, the rest old.
    for i in 0..6 {
        let expected = if i < 2 { "2:1000" } else { "1:1000" };
        assert_eq!(versions(i), [expected], "step_{i}");
    }
    assert_eq!(status_of(dir.path(), "model.shop.step_2"), "error");
    assert_eq!(status_of(dir.path(), "model.shop.step_5"), "skipped");

    let printed = ok(dir.path(), &["retry"]);
    assert!(printed.contains("ERROR=0"), "{printed}");
    for i in 0..6 {
        assert_eq!(versions(i), ["2:1000"]);
    }
    assert_eq!(
        server
            .query("select count() from system.tables where database = 'shop' and name like '%dbt_tmp%'")
            .expect("query the engine"),
        ["0"]
    );
}
