//! `elt watch` driven by real file edits: it re-runs what changed and what is downstream of
//! it, reports a bad edit and recovers on the next good one.

mod support;

use std::io::BufRead;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn watch_reruns_what_changed_and_survives_a_bad_edit() {
    let dir = support::project(&[
        (
            "models/a.sql",
            "{{ config(materialized='table') }}\nselect 1 as id",
        ),
        (
            "models/b.sql",
            "{{ config(materialized='table') }}\nselect id from {{ ref('a') }}",
        ),
        (
            "models/c.sql",
            "{{ config(materialized='table') }}\nselect 3 as id",
        ),
    ]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_elt"))
        .arg("watch")
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start elt watch");
    // Both streams, line by line, into one channel.
    let (lines, printed) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    for stream in [
        Box::new(stdout) as Box<dyn std::io::Read + Send>,
        Box::new(stderr),
    ] {
        let lines = lines.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stream)
                .lines()
                .map_while(Result::ok)
            {
                let _ = lines.send(line);
            }
        });
    }
    // The lines printed until one contains `end`.
    let until = |end: &str| -> String {
        let mut seen = String::new();
        loop {
            let line = printed
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no '{end}' in 30 s after:\n{seen}"));
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(end) {
                return seen;
            }
        }
    };

    let first = until("Watching");
    assert!(first.contains("model main.a"), "{first}");
    assert!(first.contains("model main.c"), "{first}");

    // An edit of a: a and its downstream b run, c does not.
    support::write(
        dir.path(),
        "models/a.sql",
        "{{ config(materialized='table') }}\nselect 2 as id",
    );
    let run = until("Done.");
    assert!(run.contains("Recompiled 3 nodes in"), "{run}");
    assert!(run.contains("model main.a"), "{run}");
    assert!(run.contains("model main.b"), "{run}");
    assert!(!run.contains("model main.c"), "{run}");

    // A broken edit is reported with its file; the watch goes on.
    support::write(
        dir.path(),
        "models/c.sql",
        "{{ config(materialized='table') }}\nselect {{ ref('a' }}",
    );
    let broken = until("Waiting for the next change.");
    assert!(broken.contains("models/c.sql"), "{broken}");
    assert!(child.try_wait().unwrap().is_none(), "elt watch exited");

    // The next good edit recovers: only c runs.
    support::write(
        dir.path(),
        "models/c.sql",
        "{{ config(materialized='table') }}\nselect 30 as id",
    );
    let fixed = until("Done.");
    assert!(fixed.contains("model main.c"), "{fixed}");
    assert!(!fixed.contains("model main.b"), "{fixed}");
    child.kill().ok();
    child.wait().ok();

    let db = dir.path().join("warehouse.duckdb");
    assert_eq!(support::query(&db, "select id from b"), [["2"]]);
    assert_eq!(support::query(&db, "select id from c"), [["30"]]);
}
