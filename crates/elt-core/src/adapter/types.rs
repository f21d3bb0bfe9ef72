//! The words adapters answer in: kinds of values, seed types, incremental strategies, table
//! storage, and how a loader fences and sifts a table.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};

use super::{Adapter, Relation};

/// A column type inferred from a seed's values (dbt's agate type tester).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeedType {
    Integer,
    Decimal,
    Date,
    Timestamp,
    Boolean,
    Text,
}

impl SeedType {
    /// In the order a seed column is tried as: the first that accepts every value wins.
    pub const ALL: [SeedType; 6] = [
        SeedType::Integer,
        SeedType::Decimal,
        SeedType::Date,
        SeedType::Timestamp,
        SeedType::Boolean,
        SeedType::Text,
    ];
}

/// How an incremental model adds its new rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Append,
    DeleteInsert,
    Merge,
    /// ClickHouse: the partitions the new rows fall in replace the table's.
    InsertOverwrite,
}

impl Strategy {
    pub const NAMES: [&str; 4] = ["append", "delete+insert", "merge", "insert_overwrite"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "append" => Some(Strategy::Append),
            "delete+insert" | "delete_insert" => Some(Strategy::DeleteInsert),
            "merge" => Some(Strategy::Merge),
            "insert_overwrite" => Some(Strategy::InsertOverwrite),
            _ => None,
        }
    }
}

/// How a table is stored, where the warehouse lets a model choose: ClickHouse's engine and
/// the clauses of MergeTree engines (dbt-clickhouse's configs `engine`, `order_by`,
/// `partition_by`, `primary_key`, `settings`). Other warehouses ignore it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Storage {
    pub engine: Option<String>,
    pub order_by: Vec<String>,
    pub partition_by: Vec<String>,
    pub primary_key: Vec<String>,
    pub settings: Vec<(String, String)>,
}

/// The parts of an incremental strategy's statements: the target, the staged new rows, the
/// (quoted) columns to write, and how rows match (dbt's aliases `DBT_INTERNAL_DEST` and
/// `DBT_INTERNAL_SOURCE`).
#[derive(Debug, Clone)]
pub struct IncrementalSql<'a> {
    pub relation: &'a Relation,
    pub staged: &'a Relation,
    /// Quoted column names, in insert order.
    pub columns: &'a [String],
    pub unique_key: &'a [String],
    /// `incremental_predicates`, over the two aliases.
    pub predicates: &'a [String],
    /// `column = DBT_INTERNAL_SOURCE.column` for each column a match updates.
    pub assignments: Vec<String>,
}

impl IncrementalSql<'_> {
    pub fn target_alias(&self) -> String {
        format!("{} as DBT_INTERNAL_DEST", self.relation)
    }

    pub fn source_alias(&self) -> String {
        format!("{} as DBT_INTERNAL_SOURCE", self.staged)
    }

    /// The keys' match and the predicates, over the two aliases.
    pub fn matches(&self) -> String {
        self.unique_key
            .iter()
            .map(|k| format!("DBT_INTERNAL_DEST.{k} = DBT_INTERNAL_SOURCE.{k}"))
            .chain(self.predicates.iter().map(|p| format!("({p})")))
            .collect::<Vec<_>>()
            .join(" and ")
    }

    /// The columns read from the source alias.
    pub fn source_columns(&self) -> String {
        self.columns
            .iter()
            .map(|c| format!("DBT_INTERNAL_SOURCE.{c}"))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Inserts every staged row.
    pub fn insert_all(&self) -> String {
        let list = self.columns.join(", ");
        format!(
            "insert into {} ({list}) select {list} from {}",
            self.relation, self.staged
        )
    }
}

/// Where a target's relations go when its profile names no database or schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetLocation {
    /// Empty where relations have no database part.
    pub database: String,
    pub schema: String,
}

/// How a loader keeps a second load of the same table out, with the SQL it takes.
#[derive(Clone, Copy)]
pub enum LoadFence {
    /// The warehouse lets one process write at a time (DuckDB's file lock).
    Unneeded,
    /// A session-level lock, released when the connection ends (PostgreSQL's advisory locks).
    AdvisoryLock(&'static dyn AdvisoryLockSql),
    /// A lease row in a table beside the raw table, renewed while loading (no locks:
    /// ClickHouse).
    Lease(&'static dyn LeaseSql),
}

/// The statements of a session-level lock named by a string literal `key`.
pub trait AdvisoryLockSql: Send + Sync {
    /// A query whose one value is true when it took the lock, false when another session has
    /// it.
    fn try_take(&self, key: &str) -> String;
    fn release(&self, key: &str) -> String;
}

/// The statements of a lease: claim rows `(source_table, holder, host, process, claimed_at,
/// heartbeat_at, released)` in a table, the earliest live claim holding the source table.
/// Text arguments are string literals already.
pub trait LeaseSql: Send + Sync {
    /// Creates the claims table if missing (old claims expire on their own).
    fn create_table(&self, table: &Relation) -> String;
    /// The current time, as a claim's `claimed_at`.
    fn now(&self) -> &'static str;
    /// Writes a claim row with `heartbeat_at` now: `claimed_at` is an expression.
    fn claim(&self, table: &Relation, claim: &LeaseClaim) -> String;
    /// A query of one value: the text of `holder`'s first `claimed_at`.
    fn claimed_at(&self, table: &Relation, holder: &str) -> String;
    /// The expression of a `claimed_at` read back as text by [`LeaseSql::claimed_at`].
    fn claimed_at_value(&self, text: &str) -> String;
    /// A query of the unreleased claims on `source_table`, earliest first: holder, host,
    /// process and the milliseconds since its last heartbeat.
    fn live_claims(&self, table: &Relation, source_table: &str) -> String;
}

/// A claim row's values, as string literals (`claimed_at` an expression).
pub struct LeaseClaim<'a> {
    pub source_table: &'a str,
    pub holder: &'a str,
    pub host: &'a str,
    pub process: &'a str,
    pub claimed_at: &'a str,
    pub released: bool,
}

/// How a loader tries inserts that the warehouse may refuse, to find the rows it refuses.
#[derive(Debug, Clone, Copy)]
pub enum RowTrial {
    /// Each try in a transaction rolled back.
    Transaction,
    /// One transaction, a savepoint per try (rows let in stay for later tries).
    Savepoint,
    /// Into a copy of the table that keeps nothing (ClickHouse's `Null` engine), made by the
    /// statement this writes for (copy, table).
    DiscardingCopy(fn(&Relation, &Relation) -> String),
}

/// The statements of replacing a table's partitions (incremental `insert_overwrite`).
pub trait PartitionSql: Send + Sync {
    /// Creates `new` with the structure, engine and partitioning of `like`.
    fn create_like(&self, new: &Relation, like: &Relation) -> String;
    /// A query of the ids of the partitions that `table`'s rows fall in.
    fn partition_ids(&self, table: &Relation) -> String;
    /// Replaces `table`'s partition `id` (a string literal) by `from`'s, atomically.
    fn replace_partition(&self, table: &Relation, id: &str, from: &Relation) -> String;
}

/// What a column holds, read from its declared type in a warehouse: what a loader checks a
/// value against before the warehouse sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueKind {
    /// Whole numbers from `min` to `max`.
    Integer {
        min: i128,
        max: i128,
    },
    /// Exact numbers with at most `precision` digits, `scale` of them after the point
    /// (rounded to it, half away from zero, as PostgreSQL does).
    Decimal {
        precision: u32,
        scale: u32,
    },
    /// Any finite number, kept as written (PostgreSQL's unconstrained `numeric`).
    Number,
    /// Floating point, finite and at most `max` in magnitude.
    Float {
        max: f64,
    },
    Boolean,
    Date {
        min: NaiveDate,
        max: NaiveDate,
    },
    /// A time of day.
    Time,
    /// A UUID, written in any of the forms warehouses read (hyphens anywhere, braces).
    Uuid,
    Timestamp {
        min: NaiveDateTime,
        max: NaiveDateTime,
    },
    /// JSON; `nul`: whether the warehouse stores the escape `\u0000` in it (PostgreSQL's
    /// `jsonb` does not).
    Json {
        nul: bool,
    },
    /// Text of at most `max_chars` characters and `max_bytes` bytes, when declared so;
    /// `nul`: whether the warehouse stores the character U+0000 (PostgreSQL does not).
    Text {
        max_chars: Option<usize>,
        max_bytes: Option<usize>,
        nul: bool,
    },
}

impl ValueKind {
    /// What a column of `data_type` holds in the warehouse of `adapter`: its own type names
    /// first, then the standard ones.
    pub fn of(data_type: &str, adapter: &dyn Adapter) -> ValueKind {
        let declared = data_type.trim().to_ascii_lowercase();
        let mut t = declared.as_str();
        for wrapper in ["nullable(", "lowcardinality("] {
            if let Some(inner) = t.strip_prefix(wrapper) {
                t = inner.strip_suffix(')').unwrap_or(inner).trim();
            }
        }
        let (base, args) = match t.split_once('(') {
            Some((base, rest)) => (base.trim(), arguments(rest)),
            None => (t, Vec::new()),
        };
        if let Some(kind) = adapter.value_kind(base, &args) {
            return kind;
        }
        if let Some(kind) = standard_integer(base) {
            return kind;
        }
        if matches!(base, "decimal" | "numeric" | "dec") {
            return match args.first() {
                Some(precision) => ValueKind::Decimal {
                    precision: *precision,
                    scale: args.get(1).copied().unwrap_or(0),
                },
                None => adapter.unbounded_decimal(),
            };
        }
        let single = match base {
            "real" | "float4" | "float32" => Some(true),
            "double" | "double precision" | "float8" | "float64" => Some(false),
            "float" => Some(adapter.float_is_single(args.first().copied())),
            _ => None,
        };
        if let Some(single) = single {
            let max = if single { f32::MAX.into() } else { f64::MAX };
            return ValueKind::Float { max };
        }
        if base.contains("timestamp") || base.starts_with("datetime") {
            let (min, max) = adapter.timestamp_range();
            return ValueKind::Timestamp { min, max };
        }
        if base == "time" || base == "time without time zone" {
            return ValueKind::Time;
        }
        if base == "uuid" {
            return ValueKind::Uuid;
        }
        if base.starts_with("date") {
            let (min, max) = adapter.date_range(base);
            return ValueKind::Date { min, max };
        }
        if base.starts_with("bool") {
            return ValueKind::Boolean;
        }
        if base.starts_with("json") {
            return ValueKind::Json {
                nul: adapter.stores_nul(base),
            };
        }
        // Integer types not known by name: any whole number of 64 bits.
        if base.contains("int") && !base.contains("interval") && !base.contains("point") {
            return ValueKind::Integer {
                min: i64::MIN.into(),
                max: i64::MAX.into(),
            };
        }
        let length = args.first().copied().filter(|n| *n > 0).map(|n| n as usize);
        let (max_chars, max_bytes) = adapter.text_limits(base, length);
        ValueKind::Text {
            max_chars,
            max_bytes,
            nul: adapter.stores_nul(base),
        }
    }

    pub fn is_timestamp(self) -> bool {
        matches!(self, ValueKind::Timestamp { .. })
    }

    /// Whole numbers of `bits` binary digits, with a sign.
    pub fn signed(bits: u32) -> ValueKind {
        let max = largest(bits - 1);
        ValueKind::Integer { min: -max - 1, max }
    }

    /// Whole numbers of `bits` binary digits, without a sign.
    pub fn unsigned(bits: u32) -> ValueKind {
        ValueKind::Integer {
            min: 0,
            max: largest(bits),
        }
    }
}

impl fmt::Display for ValueKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueKind::Integer { .. } => f.write_str("integer"),
            ValueKind::Decimal { precision, scale } => write!(f, "decimal({precision},{scale})"),
            ValueKind::Number | ValueKind::Float { .. } => f.write_str("number"),
            ValueKind::Boolean => f.write_str("boolean"),
            ValueKind::Date { .. } => f.write_str("date (YYYY-MM-DD)"),
            ValueKind::Time => f.write_str("time (HH:MM:SS)"),
            ValueKind::Uuid => f.write_str("UUID"),
            ValueKind::Timestamp { .. } => f.write_str("timestamp"),
            ValueKind::Json { .. } => f.write_str("JSON value"),
            ValueKind::Text { .. } => f.write_str("text"),
        }
    }
}

/// The largest number of `bits` binary digits (2^bits - 1), at most i128::MAX.
fn largest(bits: u32) -> i128 {
    i128::MAX >> 127u32.saturating_sub(bits)
}

/// The integer types of the SQL standard, the same everywhere.
fn standard_integer(base: &str) -> Option<ValueKind> {
    let bits = match base {
        "tinyint" => 8,
        "smallint" => 16,
        "integer" | "int" => 32,
        "bigint" => 64,
        _ => return None,
    };
    Some(ValueKind::signed(bits))
}

/// The numbers between a type's parentheses: `(12, 2)` is `[12, 2]`.
fn arguments(rest: &str) -> Vec<u32> {
    rest.trim_end_matches(')')
        .split(',')
        .filter_map(|a| a.trim().parse().ok())
        .collect()
}

/// Dates with four-digit years: the text each warehouse reads writes others with an era.
pub(super) fn four_digit_years() -> (NaiveDate, NaiveDate) {
    (day(1, 1, 1), day(9999, 12, 31))
}

pub(super) fn day(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("a valid date")
}

/// From the first microsecond of the first day to the last of the last.
pub(super) fn day_range_as_timestamps(
    (first, last): (NaiveDate, NaiveDate),
) -> (NaiveDateTime, NaiveDateTime) {
    let at = |date: NaiveDate, (h, m, s, us)| date.and_hms_micro_opt(h, m, s, us).expect("a time");
    (at(first, (0, 0, 0, 0)), at(last, (23, 59, 59, 999_999)))
}
