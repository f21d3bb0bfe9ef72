//! The warehouse side of a load: the raw table, the load state and the dead letters, and the
//! commit that writes a batch's rows with the positions it consumed, all or nothing.
//!
//! DuckDB and PostgreSQL: one transaction per commit, of one batch or of several together. ClickHouse has no transactions: a batch
//! first records its range (an uncommitted state row), then each insert carries a
//! deduplication token derived from that range, and the committed state row goes last. A
//! load that finds an uncommitted range retries exactly that range, so the retried inserts
//! carry the same tokens and whatever had landed is not applied twice.

use std::sync::mpsc::Receiver;

use elt_core::adapter::{Dialect, Relation};
use elt_warehouse::materialize::{Storage, atomically, create_table_with, ensure_schema};
use elt_warehouse::{ErrorKind, Result, Session, TextRows, Warehouse, WarehouseError, crash_point};

use rayon::prelude::*;

use crate::fence::Fence;
use crate::records::{RawRecord, Shaper};
use crate::values;

mod sift;

/// Where elt records what each source table has loaded: one row per committed batch.
pub const STATE_TABLE: &str = "_elt_load_state";
/// Records that could not be loaded, with why.
pub const DEAD_LETTER_TABLE: &str = "_elt_dead_letters";
/// How many shaped groups of batches may wait for a commit. Three rather than one: loads of
/// 1M rows into DuckDB took 0.95 s from Kafka and 0.63 s from files instead of 1.06 s and
/// 0.67 s (medians of ten), for 22-25 MiB more at their peak.
pub(crate) const QUEUED_GROUPS: usize = 3;
/// How many records one task of the shaping thread pool shapes.
const SHAPED_TOGETHER: usize = 4096;
/// The columns elt adds to every raw table, after the table's own, with their types.
const METADATA_COLUMNS: [(&str, &str); 3] = [
    ("_elt_source", "text"),
    ("_elt_position", "bigint"),
    (LOADED_AT, "timestamp"),
];
const LOADED_AT: &str = "_elt_loaded_at";
/// How many of the metadata columns the loader writes (not `_elt_loaded_at`).
const WRITTEN_METADATA: usize = METADATA_COLUMNS.len() - 1;
const STATE_COLUMNS: [(&str, &str); 9] = [
    ("source_table", "text"),
    ("stream", "text"),
    ("version", "text"),
    ("position", "bigint"),
    ("complete", "boolean"),
    ("committed", "boolean"),
    ("loaded_rows", "bigint"),
    ("dead_letters", "bigint"),
    ("committed_at", "timestamp"),
];
const DEAD_LETTER_COLUMNS: [(&str, &str); 6] = [
    ("source_table", "text"),
    ("stream", "text"),
    ("position", "bigint"),
    ("payload", "text"),
    ("error", "text"),
    ("failed_at", "timestamp"),
];

/// A batch that committed: the stream (object key, or topic and partition) and version
/// (ETag) it read, and how far: the position after its last record, and whether that is the
/// end of the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub stream: String,
    pub version: String,
    pub position: u64,
    pub complete: bool,
}

/// Where a stream's load stands: its last committed checkpoint (position 0 when none), and on
/// ClickHouse the end of a batch begun after it and maybe partly inserted, which the next
/// batch must end at exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct Resume {
    pub committed: Checkpoint,
    pub pending: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub stream: String,
    pub position: u64,
    pub payload: String,
    pub error: String,
}

/// What one commit writes.
#[derive(Debug, Default)]
pub struct Batch {
    /// Rows of the raw table's own columns followed by the metadata columns.
    pub rows: TextRows,
    pub dead_letters: Vec<DeadLetter>,
    /// Where the batch starts, for its deduplication token.
    pub start: u64,
    /// Whether rows the warehouse refused were taken out of it: its inserts then carry
    /// tokens of their own (see [`Sink::write_without_refused`]).
    pub sifted: bool,
}

pub struct Sink {
    session: Box<dyn Session>,
    dialect: Dialect,
    raw: Relation,
    state: Relation,
    dead: Relation,
    /// `source.table`, as the state and dead-letter tables name it.
    name: String,
    columns: Vec<String>,
    fence: Fence,
}

impl Batch {
    /// `records` of `stream`, from position `start`, shaped into raw rows (the table's own
    /// columns, then `_elt_source` and `_elt_position`; the warehouse fills
    /// `_elt_loaded_at`) or dead letters. Shaping (JSON parsing, type checks) is most of a
    /// load's own work: it runs on every core.
    pub fn shaped(shaper: &Shaper, records: &[RawRecord], stream: &str, start: u64) -> Batch {
        let width = shaper.width() + WRITTEN_METADATA;
        // A row's text is about its record's, plus the metadata columns.
        let per_row = stream.len() + 20;
        let parts: Vec<(TextRows, Vec<DeadLetter>)> = records
            .par_chunks(SHAPED_TOGETHER)
            .map(|chunk| {
                let text: usize = chunk.iter().map(|r| r.payload.len() + per_row).sum();
                let mut rows = TextRows::with_capacity(width, chunk.len(), text);
                let mut dead_letters = Vec::new();
                for record in chunk {
                    match shaper.shape(record, &mut rows) {
                        Ok(()) => {
                            rows.push(Some(stream));
                            rows.push_integer(record.line);
                        }
                        Err(error) => dead_letters.push(DeadLetter {
                            stream: stream.to_string(),
                            position: record.line,
                            payload: record.payload.clone(),
                            error,
                        }),
                    }
                }
                (rows, dead_letters)
            })
            .collect();
        let rows: Vec<&TextRows> = parts.iter().map(|(rows, _)| rows).collect();
        let rows = TextRows::concat(width, &rows);
        Batch {
            rows,
            dead_letters: parts.into_iter().flat_map(|(_, dead)| dead).collect(),
            start,
            sifted: false,
        }
    }
}

/// A raw table's own column: its name and declared type (`None`: text).
pub struct RawColumn {
    pub name: String,
    pub data_type: Option<String>,
}

impl Sink {
    /// Opens the sink of one source table, creating its schema and tables if missing, and
    /// takes the table for this load ([`Fence`]). An existing raw table must have the columns
    /// the loader writes.
    pub fn open(
        warehouse: &dyn Warehouse,
        raw: &Relation,
        name: &str,
        own_columns: &[RawColumn],
    ) -> Result<Self> {
        let dialect = raw.dialect;
        let beside = |identifier: &str| Relation {
            identifier: identifier.to_string(),
            external: None,
            ..raw.clone()
        };
        let state = beside(STATE_TABLE);
        let dead = beside(DEAD_LETTER_TABLE);
        // The crash-point sweep stops a load at its steps by this name.
        let mut session = crash_point::guard(&format!("load:{name}"), warehouse.session()?);
        ensure_schema(session.as_mut(), raw)?;
        let fence = Fence::take(warehouse, session.as_mut(), raw, name)?;
        let existing = session.relations_in(raw.database.as_deref(), &raw.schema)?;
        let exists = |r: &Relation| existing.iter().any(|(name, _)| *name == r.identifier);

        let q = |c: &str| dialect.quote(c);
        let typed = |columns: &[(&str, &str)]| -> Vec<String> {
            columns
                .iter()
                .map(|(name, data_type)| {
                    format!(
                        "{} {}",
                        q(name),
                        dialect.loader_column_type(Some(data_type))
                    )
                })
                .collect()
        };
        let mut columns: Vec<String> = own_columns.iter().map(|c| c.name.clone()).collect();
        columns.extend(names(&METADATA_COLUMNS));
        if exists(raw) {
            check_columns(session.as_mut(), raw, &columns)?;
            stamp_by_default(session.as_mut(), raw)?;
        } else {
            let mut definitions: Vec<String> = own_columns
                .iter()
                .map(|c| {
                    format!(
                        "{} {}",
                        q(&c.name),
                        dialect.loader_column_type(c.data_type.as_deref())
                    )
                })
                .collect();
            definitions.extend(typed(&METADATA_COLUMNS));
            // The warehouse stamps each row with the batch's time in UTC (parsing the same
            // timestamp text in every row took a fifth of a load into PostgreSQL).
            let loaded_at = definitions.last_mut().expect("the metadata columns");
            loaded_at.push_str(&format!(" default {}", dialect.current_utc_timestamp()));
            create(session.as_mut(), raw, &definitions)?;
        }
        columns.retain(|c| c != LOADED_AT);
        if exists(&state) {
            check_columns(session.as_mut(), &state, &names(&STATE_COLUMNS))?;
        } else {
            create(session.as_mut(), &state, &typed(&STATE_COLUMNS))?;
        }
        if !exists(&dead) {
            create(session.as_mut(), &dead, &typed(&DEAD_LETTER_COLUMNS))?;
        }
        Ok(Sink {
            session,
            dialect,
            raw: raw.clone(),
            state,
            dead,
            name: name.to_string(),
            columns,
            fence,
        })
    }

    /// Where every stream (and version) this table has loaded from stands.
    pub fn resumes(&mut self) -> Result<Vec<Resume>> {
        let name = self.dialect.string_literal(&self.name);
        let any_complete = self.dialect.bool_or("complete and committed");
        let sql = format!(
            "select stream, version, max(case when committed then position end), \
             max(case when not committed then position end), {any_complete} from {} \
             where source_table = {name} group by stream, version",
            self.state
        );
        let table = self.session.query(&sql)?;
        let number = |v: &Option<String>| v.as_deref().and_then(|p| p.parse::<u64>().ok());
        Ok(table
            .rows
            .into_iter()
            .map(|row| {
                let position = number(&row[2]).unwrap_or(0);
                Resume {
                    committed: Checkpoint {
                        stream: row[0].clone().unwrap_or_default(),
                        version: row[1].clone().unwrap_or_default(),
                        position,
                        complete: matches!(row[4].as_deref(), Some("true" | "1")),
                    },
                    pending: number(&row[3]).filter(|end| *end > position),
                }
            })
            .collect())
    }

    /// Writes batches' rows and dead letters and their checkpoints, all or nothing: in one
    /// transaction on DuckDB and PostgreSQL (many small objects cost one commit); on
    /// ClickHouse batch by batch, each idempotent by its tokens. A batch whose rows the
    /// warehouse refused is left as written: without them, and them among its dead letters.
    pub fn commit(&mut self, parts: &mut [(&mut Batch, &Checkpoint)]) -> Result<()> {
        let started = std::time::Instant::now();
        self.fence.check(self.session.as_mut())?;
        if !self.dialect.has_transactions() {
            for part in parts.iter_mut() {
                if let Err(error) = self.write(&shared(std::slice::from_ref(part))) {
                    if error.kind != ErrorKind::RefusedRows {
                        return Err(error);
                    }
                    self.write_without_refused(std::slice::from_mut(part), error)?;
                }
            }
        } else if let Err(error) = self.write(&shared(parts)) {
            if error.kind != ErrorKind::RefusedRows {
                return Err(error);
            }
            self.write_without_refused(parts, error)?;
        }
        if let [.., (_, last)] = &*parts {
            let rows: usize = parts.iter().map(|(batch, _)| batch.rows.len()).sum();
            tracing::debug!(
                "committed {rows} rows of {} batch(es), the last of {} up to {}, in {:?}",
                parts.len(),
                last.stream,
                last.position,
                started.elapsed()
            );
        }
        Ok(())
    }

    /// Writes `parts` together; on ClickHouse one part, whose range makes its tokens.
    fn write(&mut self, parts: &[(&Batch, &Checkpoint)]) -> Result<()> {
        let now = values::now_text();
        let mut dead_rows = TextRows::new(DEAD_LETTER_COLUMNS.len());
        let mut state_rows = TextRows::new(STATE_COLUMNS.len());
        let merged;
        let rows = match parts {
            [(batch, _)] => &batch.rows,
            _ => {
                let all: Vec<&TextRows> = parts.iter().map(|(batch, _)| &batch.rows).collect();
                merged = TextRows::concat(self.columns.len(), &all);
                &merged
            }
        };
        for (batch, checkpoint) in parts {
            for d in &batch.dead_letters {
                dead_rows.push(Some(&self.name));
                dead_rows.push(Some(&d.stream));
                dead_rows.push_display(d.position);
                // PostgreSQL stores no U+0000 in text: an unreadable record may hold one.
                dead_rows.push(Some(&d.payload.replace('\0', "\u{fffd}")));
                dead_rows.push(Some(&d.error.replace('\0', "\u{fffd}")));
                dead_rows.push(Some(&now));
            }
            push_state_row(&mut state_rows, &self.name, batch, checkpoint, true, &now);
        }
        let token = match parts {
            [(batch, checkpoint)] => format!(
                "elt:{}:{}:{}:{}-{}{}",
                self.name,
                checkpoint.stream,
                checkpoint.version,
                batch.start,
                checkpoint.position,
                if batch.sifted { ":sifted" } else { "" }
            ),
            _ => String::new(),
        };
        let state_names = names(&STATE_COLUMNS);
        if let (false, [(batch, checkpoint)]) = (self.dialect.has_transactions(), parts) {
            let mut intent = TextRows::new(STATE_COLUMNS.len());
            push_state_row(&mut intent, &self.name, batch, checkpoint, false, &now);
            self.session.insert_text_rows_once(
                &self.state,
                &state_names,
                &intent,
                &format!("{token}:intent"),
            )?;
        }
        let (raw, dead, state, columns) = (&self.raw, &self.dead, &self.state, &self.columns);
        atomically(self.session.as_mut(), |session| {
            if !rows.is_empty() {
                session.insert_text_rows_once(raw, columns, rows, &format!("{token}:rows"))?;
            }
            if !dead_rows.is_empty() {
                let names = names(&DEAD_LETTER_COLUMNS);
                session.insert_text_rows_once(
                    dead,
                    &names,
                    &dead_rows,
                    &format!("{token}:dead"),
                )?;
            }
            session.insert_text_rows_once(
                state,
                &state_names,
                &state_rows,
                &format!("{token}:state"),
            )
        })
    }
}

/// The groups of batches `groups` brings, each with the groups queued behind it when it is
/// taken: a warehouse slower than the reading commits fewer, larger transactions instead of
/// falling behind (DuckDB commits 1M rows in 0.35 s in 100,000-row transactions and in 0.22 s
/// in 200,000-row ones: its row groups hold 122,880 rows).
///
/// How many groups may queue: [`QUEUED_GROUPS`].
pub(crate) fn with_queued<T>(groups: &Receiver<Vec<T>>) -> impl Iterator<Item = Vec<T>> + '_ {
    groups.iter().map(|mut group| {
        group.extend(groups.try_iter().flatten());
        group
    })
}

/// Commit's parts, to read.
fn shared<'a>(parts: &'a [(&mut Batch, &'a Checkpoint)]) -> Vec<(&'a Batch, &'a Checkpoint)> {
    parts
        .iter()
        .map(|(batch, checkpoint)| (&**batch, *checkpoint))
        .collect()
}

/// A load state row: where a batch's checkpoint stands, and whether it committed (on
/// ClickHouse a batch first writes its range uncommitted).
fn push_state_row(
    rows: &mut TextRows,
    name: &str,
    batch: &Batch,
    checkpoint: &Checkpoint,
    committed: bool,
    now: &str,
) {
    rows.push(Some(name));
    rows.push(Some(&checkpoint.stream));
    rows.push(Some(&checkpoint.version));
    rows.push_display(checkpoint.position);
    rows.push_display(checkpoint.complete);
    rows.push_display(committed);
    rows.push_display(batch.rows.len());
    rows.push_display(batch.dead_letters.len());
    rows.push(Some(now));
}

fn names(columns: &[(&str, &str)]) -> Vec<String> {
    columns.iter().map(|(name, _)| name.to_string()).collect()
}

/// Creates a loader table. On ClickHouse, a MergeTree that remembers recent insert tokens.
fn create(session: &mut dyn Session, relation: &Relation, columns: &[String]) -> Result<()> {
    let storage = Storage {
        settings: vec![(
            "non_replicated_deduplication_window".into(),
            "100000".into(),
        )],
        ..Storage::default()
    };
    session.execute(&create_table_with(relation, columns, &storage))
}

/// The table is given up with the sink: the connection returns to a pool that may live on
/// (`elt build --load`).
impl Drop for Sink {
    fn drop(&mut self) {
        self.fence.release(self.session.as_mut());
    }
}

/// Gives a raw table made before the warehouse stamped its rows the default that does it.
/// Only when missing: altering a table waits for every query reading it.
fn stamp_by_default(session: &mut dyn Session, raw: &Relation) -> Result<()> {
    let dialect = raw.dialect;
    let literal = |v: &str| dialect.string_literal(v);
    let found = session.query(&format!(
        "select column_default from information_schema.columns \
         where table_schema = {} and table_name = {} and column_name = {}",
        literal(&raw.schema),
        literal(&raw.identifier),
        literal(LOADED_AT)
    ))?;
    // ClickHouse says no default with ''.
    if found
        .rows
        .first()
        .is_some_and(|row| row[0].as_deref().is_some_and(|d| !d.is_empty()))
    {
        return Ok(());
    }
    session.execute(&dialect.set_column_default(raw, LOADED_AT, dialect.current_utc_timestamp()))
}

fn check_columns(session: &mut dyn Session, raw: &Relation, wanted: &[String]) -> Result<()> {
    let found: Vec<String> = session.columns(raw)?.into_iter().map(|c| c.name).collect();
    let missing: Vec<&String> = wanted.iter().filter(|c| !found.contains(c)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(WarehouseError::new(format!(
        "{raw} exists without the column(s) {} that its loader writes (it has {}); \
         rename or drop it, or change the source's columns",
        missing
            .iter()
            .map(|c| c.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        found.join(", ")
    )))
}
