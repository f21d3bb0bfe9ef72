//! Crash points: elt stops on purpose at one step of one node's run (or of one table's load),
//! so that a test can crash it at every step of every materialization, one by one, instead of
//! killing it at a random moment (the crash-point sweep, `integration/crash_points.rs`).
//!
//! `ELT_CRASH_AT=<unique_id>:<step>[:pause]` names the node and the step: its `step`th
//! warehouse call (1-based, in the order the node's run makes them). A load of a source table
//! is named `load:<source>.<table>`, its steps counted over the whole load. Instead of making
//! that call, elt prints `elt: crash point <unique_id>:<step> before: <first line of the
//! call>` to stderr and kills itself with SIGKILL; with `pause` it prints the same line and
//! waits for a line on stdin (meanwhile the test cuts the warehouse's connection), then goes
//! on with the call. A node whose run makes fewer calls than `step` runs as usual.
//!
//! `ELT_CRASH_AT=<unique_id>:list` stops nowhere: it prints each of the node's calls as
//! `elt: step <unique_id>:<step> reads|writes: <first line of the call>`, so that a sweep
//! knows the steps there are, and which leave the warehouse as the step before did.

use std::borrow::BorrowMut;
use std::io::BufRead;
use std::sync::OnceLock;

use elt_core::adapter::{Dialect, Relation};

use crate::{CatalogColumn, ColumnInfo, RelationKind, Result, Session, Table, TextRows};

/// Where `ELT_CRASH_AT` says to stop.
#[derive(Debug, Clone, PartialEq)]
struct CrashAt {
    node: String,
    /// The step to stop at; `None` lists the steps.
    step: Option<usize>,
    pause: bool,
}

impl CrashAt {
    fn parse(value: &str) -> Option<Self> {
        if let Some(node) = value.strip_suffix(":list") {
            return Some(CrashAt {
                node: node.to_string(),
                step: None,
                pause: false,
            });
        }
        let (rest, pause) = match value.strip_suffix(":pause") {
            Some(rest) => (rest, true),
            None => (value, false),
        };
        let (node, step) = rest.rsplit_once(':')?;
        let step = step.parse().ok().filter(|&s| s > 0)?;
        Some(CrashAt {
            node: node.to_string(),
            step: Some(step),
            pause,
        })
    }
}

fn configured() -> Option<&'static CrashAt> {
    static AT: OnceLock<Option<CrashAt>> = OnceLock::new();
    AT.get_or_init(|| {
        let value = std::env::var("ELT_CRASH_AT").ok()?;
        let at = CrashAt::parse(&value);
        if at.is_none() {
            eprintln!(
                "warning: ELT_CRASH_AT={value} is not <unique_id>:<step>[:pause] or <unique_id>:list; no crash point is set"
            );
        }
        at
    })
    .as_ref()
}

/// Runs `work` on `session`, through the crash point when `ELT_CRASH_AT` names `node`.
pub fn around<T>(
    node: &str,
    session: &mut dyn Session,
    work: impl FnOnce(&mut dyn Session) -> T,
) -> T {
    match configured().filter(|at| at.node == node) {
        Some(at) => work(&mut Counting::new(session, at)),
        None => work(session),
    }
}

/// `session`, through the crash point when `ELT_CRASH_AT` names `name`: for a session that
/// outlives one call (a load's).
pub fn guard(name: &str, session: Box<dyn Session>) -> Box<dyn Session> {
    match configured().filter(|at| at.node == name) {
        Some(at) => Box::new(Counting::new(session, at)),
        None => session,
    }
}

/// A session that counts the calls made through it and stops before the configured one.
struct Counting<S> {
    inner: S,
    at: &'static CrashAt,
    calls: usize,
}

/// Whether a call changes the warehouse.
#[derive(Clone, Copy)]
enum Call {
    Reads,
    Writes,
}

impl<'a, S: BorrowMut<dyn Session + 'a>> Counting<S> {
    fn new(inner: S, at: &'static CrashAt) -> Self {
        Counting {
            inner,
            at,
            calls: 0,
        }
    }

    fn inner(&mut self) -> &mut (dyn Session + 'a) {
        self.inner.borrow_mut()
    }

    fn step(&mut self, call: Call, what: &str) {
        self.calls += 1;
        let (node, step) = (&self.at.node, self.calls);
        let first_line = what.trim().lines().next().unwrap_or_default();
        let Some(at) = self.at.step else {
            let call = match call {
                Call::Reads => "reads",
                Call::Writes => "writes",
            };
            eprintln!("elt: step {node}:{step} {call}: {first_line}");
            return;
        };
        if step != at {
            return;
        }
        eprintln!("elt: crash point {node}:{step} before: {first_line}");
        if self.at.pause {
            let _ = std::io::stdin().lock().read_line(&mut String::new());
        } else {
            // SAFETY: kill(2) on this process; it does not return.
            unsafe { libc::kill(libc::getpid(), libc::SIGKILL) };
        }
    }
}

impl<'a, S: BorrowMut<dyn Session + 'a> + Send> Session for Counting<S> {
    fn dialect(&self) -> Dialect {
        self.inner.borrow().dialect()
    }

    fn execute(&mut self, sql: &str) -> Result<()> {
        self.step(Call::Writes, sql);
        self.inner().execute(sql)
    }

    fn query(&mut self, sql: &str) -> Result<Table> {
        self.step(Call::Reads, sql);
        self.inner().query(sql)
    }

    fn execute_counting(&mut self, sql: &str) -> Result<usize> {
        self.step(Call::Writes, sql);
        self.inner().execute_counting(sql)
    }

    fn relations_in(
        &mut self,
        database: Option<&str>,
        schema: &str,
    ) -> Result<Vec<(String, RelationKind)>> {
        self.step(Call::Reads, &format!("list the relations of {schema}"));
        self.inner().relations_in(database, schema)
    }

    fn relation_kind(&mut self, relation: &Relation) -> Result<Option<RelationKind>> {
        self.step(Call::Reads, &format!("look up {relation}"));
        self.inner().relation_kind(relation)
    }

    fn columns(&mut self, relation: &Relation) -> Result<Vec<ColumnInfo>> {
        self.step(Call::Reads, &format!("read the columns of {relation}"));
        self.inner().columns(relation)
    }

    fn query_columns(&mut self, sql: &str) -> Result<Vec<ColumnInfo>> {
        self.step(Call::Reads, &format!("read the columns of a query: {sql}"));
        self.inner().query_columns(sql)
    }

    fn schema_columns(
        &mut self,
        database: Option<&str>,
        schema: &str,
    ) -> Result<Vec<CatalogColumn>> {
        self.step(Call::Reads, &format!("read the columns of {schema}"));
        self.inner().schema_columns(database, schema)
    }

    fn insert_text_rows(
        &mut self,
        table: &Relation,
        columns: &[String],
        rows: &TextRows,
    ) -> Result<()> {
        self.step(
            Call::Writes,
            &format!("insert {} rows into {table}", rows.len()),
        );
        self.inner().insert_text_rows(table, columns, rows)
    }

    fn insert_text_rows_once(
        &mut self,
        table: &Relation,
        columns: &[String],
        rows: &TextRows,
        token: &str,
    ) -> Result<()> {
        self.step(
            Call::Writes,
            &format!("insert {} rows into {table} once", rows.len()),
        );
        self.inner()
            .insert_text_rows_once(table, columns, rows, token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crash_points_are_read_from_their_setting() {
        assert_eq!(
            CrashAt::parse("model.shop.orders:3"),
            Some(CrashAt {
                node: "model.shop.orders".into(),
                step: Some(3),
                pause: false
            })
        );
        assert_eq!(
            CrashAt::parse("seed.shop.items:12:pause"),
            Some(CrashAt {
                node: "seed.shop.items".into(),
                step: Some(12),
                pause: true
            })
        );
        assert_eq!(
            CrashAt::parse("snapshot.shop.items:list"),
            Some(CrashAt {
                node: "snapshot.shop.items".into(),
                step: None,
                pause: false
            })
        );
        for bad in ["model.shop.orders", "model.shop.orders:0", "x:y", ""] {
            assert_eq!(CrashAt::parse(bad), None, "{bad}");
        }
    }
}
