//! One load of a raw table at a time: two concurrent loads would read the same load state and
//! load the same records twice.
//!
//! The adapter says which fence its warehouse takes, and writes its SQL:
//! - a session advisory lock (PostgreSQL), which ends with its connection however the load ends;
//! - nothing (DuckDB): a database file admits one writing process;
//! - a lease (ClickHouse, which has no locks): each load writes a claim row to
//!   `_elt_load_leases` beside the raw table, renews it every few seconds from a thread of its
//!   own, and the earliest live claim holds the table. A claim is live until it is released,
//!   its heartbeats stop for [`LEASE_TTL`], or (on the same machine) its process is gone, so a
//!   load killed with SIGKILL does not block the next one. Before each commit the holder checks
//!   that it still holds the table. On one server, whose clock orders the claims, two loads
//!   never both hold it; across replicas that depends on the replication lag.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use elt_core::adapter::{AdvisoryLockSql, LeaseClaim, LeaseSql, LoadFence, Relation};
use elt_warehouse::{Result, Session, Warehouse, WarehouseError};

/// Where ClickHouse loads keep their leases.
pub const LEASE_TABLE: &str = "_elt_load_leases";
/// How long a lease lives without a heartbeat.
const LEASE_TTL: Duration = Duration::from_secs(30);
const HEARTBEAT: Duration = Duration::from_secs(5);

pub enum Fence {
    Unneeded,
    AdvisoryLock {
        sql: &'static dyn AdvisoryLockSql,
        key: String,
    },
    Lease(Box<Lease>),
}

impl Fence {
    /// Takes the table `raw` (named `name` in messages) for this load, or says who has it.
    pub fn take(
        warehouse: &dyn Warehouse,
        session: &mut dyn Session,
        raw: &Relation,
        name: &str,
    ) -> Result<Fence> {
        match raw.dialect.load_fence() {
            LoadFence::Unneeded => Ok(Fence::Unneeded),
            LoadFence::AdvisoryLock(sql) => take_advisory_lock(sql, session, raw, name),
            LoadFence::Lease(sql) => {
                Lease::take(sql, warehouse, session, raw, name).map(|l| Fence::Lease(Box::new(l)))
            }
        }
    }

    /// Before a commit: whether this load still holds the table.
    pub fn check(&mut self, session: &mut dyn Session) -> Result<()> {
        match self {
            Fence::Lease(lease) => lease.check(session),
            _ => Ok(()),
        }
    }

    /// Gives the table up. A lost connection has released an advisory lock already.
    pub fn release(&mut self, session: &mut dyn Session) {
        match std::mem::replace(self, Fence::Unneeded) {
            Fence::AdvisoryLock { sql, key } => {
                let _ = session.execute(&sql.release(&key));
            }
            Fence::Lease(lease) => drop(lease),
            Fence::Unneeded => {}
        }
    }
}

fn take_advisory_lock(
    sql: &'static dyn AdvisoryLockSql,
    session: &mut dyn Session,
    raw: &Relation,
    name: &str,
) -> Result<Fence> {
    let key = raw.dialect.string_literal(&format!("elt load {raw}"));
    let taken = session.query(&sql.try_take(&key))?;
    if matches!(taken.first_value(), Some("true" | "t")) {
        return Ok(Fence::AdvisoryLock { sql, key });
    }
    Err(held_by_another(name, raw, None))
}

fn held_by_another(name: &str, raw: &Relation, holder: Option<&Claim>) -> WarehouseError {
    let who = holder.map_or(String::new(), |c| {
        format!(
            " (process {} on {}, last heard from {:.1} s ago)",
            c.process.pid,
            c.host,
            c.idle_ms as f64 / 1000.0
        )
    });
    WarehouseError::new(format!(
        "another `elt load` is loading {name} into {raw} right now{who}"
    ))
    .with_hint("wait for it to end (or stop it), then load again")
}

/// A load's hold on its table, renewed until dropped.
pub struct Lease {
    sql: &'static dyn LeaseSql,
    table: Relation,
    name: String,
    raw: Relation,
    holder: String,
    /// Until when the last check vouches for the lease: no other load can take the table
    /// before this lease has gone [`LEASE_TTL`] without a heartbeat.
    held_until: Option<Instant>,
    /// Dropping it stops the heartbeat, which then releases the lease.
    stop: Option<mpsc::Sender<()>>,
    heartbeat: Option<JoinHandle<()>>,
}

impl Lease {
    fn take(
        sql: &'static dyn LeaseSql,
        warehouse: &dyn Warehouse,
        session: &mut dyn Session,
        raw: &Relation,
        name: &str,
    ) -> Result<Lease> {
        let table = Relation {
            identifier: LEASE_TABLE.to_string(),
            external: None,
            ..raw.clone()
        };
        session.execute(&sql.create_table(&table))?;
        let holder = uuid::Uuid::new_v4().to_string();
        let me = Process::current();
        session.execute(&claim_sql(
            sql,
            &table,
            name,
            &holder,
            &me,
            sql.now(),
            false,
        ))?;
        // Renewals keep the claim's time: merges keep only a holder's latest row.
        let claimed =
            session.query(&sql.claimed_at(&table, &table.dialect.string_literal(&holder)))?;
        let claimed_at = sql.claimed_at_value(
            &table
                .dialect
                .string_literal(claimed.first_value().unwrap_or_default()),
        );
        let renew = claim_sql(sql, &table, name, &holder, &me, &claimed_at, false);
        let release = claim_sql(sql, &table, name, &holder, &me, &claimed_at, true);
        let (stop, stopped) = mpsc::channel();
        let heartbeat_session = warehouse.session()?;
        let mut lease = Lease {
            sql,
            table,
            name: name.to_string(),
            raw: raw.clone(),
            holder,
            held_until: None,
            stop: Some(stop),
            heartbeat: Some(std::thread::spawn(move || {
                beat(heartbeat_session, stopped, &renew, &release)
            })),
        };
        lease.check(session)?;
        Ok(lease)
    }

    /// Whether this lease is still the earliest live claim on the table. Asked of the
    /// warehouse only once the last answer no longer vouches for it.
    fn check(&mut self, session: &mut dyn Session) -> Result<()> {
        let asked = Instant::now();
        if self.held_until.is_some_and(|until| asked < until) {
            return Ok(());
        }
        let source_table = self.table.dialect.string_literal(&self.name);
        let claims = session.query(&self.sql.live_claims(&self.table, &source_table))?;
        let holder = claims
            .rows
            .iter()
            .map(|row| Claim::of(row))
            .find(Claim::is_live);
        match holder {
            Some(claim) if claim.holder == self.holder => {
                // It lives until LEASE_TTL after its last heartbeat; a heartbeat's worth of
                // margin covers the time the answer took.
                let left = LEASE_TTL.saturating_sub(Duration::from_millis(claim.idle_ms));
                self.held_until = Some(asked + left.saturating_sub(HEARTBEAT));
                Ok(())
            }
            other => Err(held_by_another(&self.name, &self.raw, other.as_ref())),
        }
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(heartbeat) = self.heartbeat.take() {
            let _ = heartbeat.join();
        }
    }
}

/// Renews the lease until told to stop, then releases it. A failed renewal is retried at the
/// next beat; if they keep failing the lease expires and the holder's next check stops it.
fn beat(mut session: Box<dyn Session>, stop: mpsc::Receiver<()>, renew: &str, release: &str) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(HEARTBEAT) {
        if let Err(e) = session.execute(renew) {
            tracing::warn!("could not renew the load's lease: {e}");
        }
    }
    let _ = session.execute(release);
}

/// A claim row's statement, heartbeat now: the first claims (`claimed_at` now), later ones
/// renew or release (with the first's `claimed_at`).
fn claim_sql(
    sql: &dyn LeaseSql,
    table: &Relation,
    name: &str,
    holder: &str,
    me: &Process,
    claimed_at: &str,
    released: bool,
) -> String {
    let text = |v: &str| table.dialect.string_literal(v);
    sql.claim(
        table,
        &LeaseClaim {
            source_table: &text(name),
            holder: &text(holder),
            host: &text(&me.host),
            process: &text(&me.to_string()),
            claimed_at,
            released,
        },
    )
}

/// One holder's claims on a table, as [`Lease::check`] reads them.
struct Claim {
    holder: String,
    host: String,
    process: Process,
    /// Since its last heartbeat.
    idle_ms: u64,
}

impl Claim {
    fn of(row: &[Option<String>]) -> Claim {
        let text = |i: usize| row.get(i).cloned().flatten().unwrap_or_default();
        Claim {
            holder: text(0),
            host: text(1),
            process: Process::parse(&text(2)),
            idle_ms: text(3).parse().unwrap_or(u64::MAX),
        }
    }

    fn is_live(&self) -> bool {
        self.idle_ms < LEASE_TTL.as_millis() as u64 && !self.process.is_gone()
    }
}

/// A process, told apart from a later one with the same pid: the machine's boot and the
/// process's start time (Linux's `/proc`; elsewhere only the pid is known).
#[derive(Debug, Clone, PartialEq)]
struct Process {
    host: String,
    boot: String,
    pid: u32,
    started: String,
}

impl Process {
    fn current() -> Process {
        let pid = std::process::id();
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        Process {
            host: read("/proc/sys/kernel/hostname").trim().to_string(),
            boot: boot_id(),
            pid,
            started: start_time(pid).unwrap_or_default(),
        }
    }

    fn parse(text: &str) -> Process {
        let mut parts = text.splitn(3, '/');
        let boot = parts.next().unwrap_or_default().to_string();
        let pid = parts.next().and_then(|p| p.parse().ok()).unwrap_or(0);
        let started = parts.next().unwrap_or_default().to_string();
        Process {
            host: String::new(),
            boot,
            pid,
            started,
        }
    }

    /// Known to have ended: it ran on this machine since its last boot, and its pid is free or
    /// taken by a process started at another time.
    fn is_gone(&self) -> bool {
        !self.boot.is_empty()
            && self.boot == boot_id()
            && start_time(self.pid).is_none_or(|started| started != self.started)
    }
}

impl std::fmt::Display for Process {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.boot, self.pid, self.started)
    }
}

/// This machine's boot (Linux; empty elsewhere).
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A process's start time in clock ticks since boot (field 22 of `/proc/PID/stat`).
fn start_time(pid: u32) -> Option<String> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19).map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn this_process_is_not_gone_and_a_finished_one_is() {
        let me = Process::current();
        assert_eq!(Process::parse(&me.to_string()).pid, me.pid);
        assert!(!Process::parse(&me.to_string()).is_gone());
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("run true");
        let pid = child.id();
        child.wait().expect("true ends");
        let finished = Process {
            pid,
            started: "0".into(),
            ..me.clone()
        };
        assert!(finished.is_gone());
        let elsewhere = Process {
            boot: "another machine".into(),
            ..finished
        };
        assert!(
            !elsewhere.is_gone(),
            "only the TTL ends another machine's lease"
        );
    }
}
