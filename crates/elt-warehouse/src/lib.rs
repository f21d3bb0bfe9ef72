//! The warehouses' connections behind two traits, [`Warehouse`] and [`Session`], so that the
//! executor never knows which warehouse it talks to: DuckDB (embedded, the default, `duck.rs`),
//! PostgreSQL (`postgres.rs`) and ClickHouse (`clickhouse.rs`), one file each. Their errors
//! carry an [`ErrorKind`] read from the warehouse's own codes.
//!
//! What the warehouses' SQL looks like (quoting, DDL, types, capabilities) is each one's
//! [`elt_core::adapter::Adapter`]; the materializations, seeds and snapshots here write their
//! statements through it.

mod arrow_rows;
mod canonical;
mod clickhouse;
pub mod crash_point;
pub mod data_test;
mod duck;
pub mod introspect;
pub mod materialize;
mod pg_binary;
mod postgres;
pub mod rows;
pub mod seed;
pub mod snapshot;

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use elt_core::adapter::{Dialect, Relation};
use elt_core::project::Target;

pub use rows::TextRows;
pub use seed::{Seed, SeedType, load_seed};

pub use elt_core::diagnostics::ErrorKind;

/// An error from the warehouse, with the statement that failed.
#[derive(Debug, Clone, PartialEq)]
pub struct WarehouseError {
    pub kind: ErrorKind,
    pub message: String,
    pub sql: Option<String>,
    /// What to do about it, when the warehouse's words do not say.
    pub hint: Option<String>,
}

impl WarehouseError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            kind: ErrorKind::Other,
            message: message.into(),
            sql: None,
            hint: None,
        }
    }

    pub fn of_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn in_sql(mut self, sql: &str) -> Self {
        self.sql = Some(sql.to_string());
        self
    }
}

impl fmt::Display for WarehouseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for WarehouseError {}

pub type Result<T, E = WarehouseError> = std::result::Result<T, E>;

/// A query's result: column names, their types as the warehouse names them (when it says),
/// and rows, values as text (NULL is `None`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Table {
    pub columns: Vec<String>,
    pub types: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

impl Table {
    /// The first column of the first row, when there is one and it is not NULL.
    pub fn first_value(&self) -> Option<&str> {
        self.rows.first().and_then(|row| row.first()?.as_deref())
    }
}

/// What kind of object a relation is in the warehouse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationKind {
    Table,
    View,
}

/// A column of a relation in the warehouse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnInfo {
    pub name: String,
    pub data_type: String,
}

/// A column of a table or view, as the docs catalog lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogColumn {
    pub table: String,
    pub kind: RelationKind,
    pub column: String,
    pub data_type: String,
    pub comment: Option<String>,
}

/// A warehouse a project runs against.
pub trait Warehouse: Send + Sync {
    fn dialect(&self) -> Dialect;

    /// The server or engine version, for `elt debug`.
    fn version(&self) -> Result<String>;

    /// Where it is, for messages (a file path, or host and port). Never contains secrets.
    fn location(&self) -> String;

    /// A session for one thread of work.
    fn session(&self) -> Result<Box<dyn Session>>;
}

/// One connection's worth of work.
pub trait Session: Send {
    fn dialect(&self) -> Dialect;

    /// Runs one or more statements.
    fn execute(&mut self, sql: &str) -> Result<()>;

    /// Runs a query and returns its rows.
    fn query(&mut self, sql: &str) -> Result<Table>;

    /// Runs one statement and returns the number of rows it changed.
    fn execute_counting(&mut self, sql: &str) -> Result<usize>;

    /// The tables and views in a schema, by name.
    fn relations_in(
        &mut self,
        database: Option<&str>,
        schema: &str,
    ) -> Result<Vec<(String, RelationKind)>>;

    /// Whether `relation` exists, and as what.
    fn relation_kind(&mut self, relation: &Relation) -> Result<Option<RelationKind>> {
        Ok(self
            .relations_in(relation.database.as_deref(), &relation.schema)?
            .into_iter()
            .find(|(name, _)| *name == relation.identifier)
            .map(|(_, kind)| kind))
    }

    /// The columns of an existing relation, in order.
    fn columns(&mut self, relation: &Relation) -> Result<Vec<ColumnInfo>>;

    /// The columns a query returns, with their types as SQL can name them in a cast
    /// (dbt's `get_columns_in_query`). The query reads no rows.
    fn query_columns(&mut self, sql: &str) -> Result<Vec<ColumnInfo>> {
        let table = self.query(&format!(
            "select * from (\n{}\n) elt_query_columns limit 0",
            materialize::body(sql)
        ))?;
        Ok(table
            .columns
            .into_iter()
            .zip(table.types)
            .map(|(name, data_type)| ColumnInfo { name, data_type })
            .collect())
    }

    /// Every column of every table and view in a schema, by table and then position: the
    /// docs catalog reads a schema in one query (one per relation would be 10,000 queries).
    fn schema_columns(
        &mut self,
        database: Option<&str>,
        schema: &str,
    ) -> Result<Vec<CatalogColumn>>;

    /// Appends rows of text values (NULL is `None`) to `table` in the warehouse's bulk path
    /// (DuckDB's appender, PostgreSQL's COPY, ClickHouse's TabSeparated insert). Each value
    /// must be valid text for its column's type, which the warehouse reads it as.
    fn insert_text_rows(
        &mut self,
        table: &Relation,
        columns: &[String],
        rows: &TextRows,
    ) -> Result<()>;

    /// [`Session::insert_text_rows`], applied at most once per `token` on a warehouse without
    /// transactions (ClickHouse: `insert_deduplication_token`; the table needs the setting
    /// `non_replicated_deduplication_window`). Elsewhere the caller's transaction makes the
    /// insert and its bookkeeping atomic, and the token is not needed.
    fn insert_text_rows_once(
        &mut self,
        table: &Relation,
        columns: &[String],
        rows: &TextRows,
        _token: &str,
    ) -> Result<()> {
        self.insert_text_rows(table, columns, rows)
    }
}

/// Time spent inside warehouse calls by every session of this process, for `ELT_LOG=debug`
/// and the benchmarks: what is not in here is elt's own overhead.
static BUSY_NANOS: AtomicU64 = AtomicU64::new(0);

pub fn time_in_warehouse() -> Duration {
    Duration::from_nanos(BUSY_NANOS.load(Ordering::Relaxed))
}

/// Runs a warehouse call, adding its duration to [`time_in_warehouse`].
pub(crate) fn timed<T>(call: impl FnOnce() -> T) -> T {
    let start = Instant::now();
    let out = call();
    BUSY_NANOS.fetch_add(start.elapsed().as_nanos() as u64, Ordering::Relaxed);
    out
}

/// The `where` clause that finds a schema's rows in `information_schema.tables` or `.columns`,
/// and one table's when `identifier` is given (DuckDB and PostgreSQL).
pub(crate) fn information_schema_filter(
    dialect: Dialect,
    database: Option<&str>,
    schema: &str,
    identifier: Option<&str>,
) -> String {
    let literal = |v: &str| dialect.string_literal(v);
    let mut filter = format!("table_schema = {}", literal(schema));
    if let Some(identifier) = identifier {
        filter.push_str(&format!(" and table_name = {}", literal(identifier)));
    }
    if let Some(database) = database {
        filter.push_str(&format!(" and table_catalog = {}", literal(database)));
    }
    filter
}

/// Reads `(table, 'VIEW' or 'BASE TABLE', column, type, comment)` rows into catalog columns.
/// Each adapter's query names the kind: what a view is differs per warehouse.
pub(crate) fn catalog_columns_from_query(
    session: &mut dyn Session,
    sql: &str,
) -> Result<Vec<CatalogColumn>> {
    Ok(session
        .query(sql)?
        .rows
        .into_iter()
        .map(|mut row| {
            let mut take = |i: usize| row.get_mut(i).and_then(Option::take);
            CatalogColumn {
                table: take(0).unwrap_or_default(),
                kind: match take(1).as_deref() {
                    Some("VIEW") => RelationKind::View,
                    _ => RelationKind::Table,
                },
                column: take(2).unwrap_or_default(),
                data_type: take(3).unwrap_or_default(),
                comment: take(4).filter(|c| !c.is_empty()),
            }
        })
        .collect())
}

/// The tables and views of a schema, from `information_schema.tables` (DuckDB and PostgreSQL).
pub(crate) fn relations_from_information_schema(
    session: &mut dyn Session,
    dialect: Dialect,
    database: Option<&str>,
    schema: &str,
) -> Result<Vec<(String, RelationKind)>> {
    let sql = format!(
        "select table_name, table_type from information_schema.tables where {}",
        information_schema_filter(dialect, database, schema, None)
    );
    Ok(session
        .query(&sql)?
        .rows
        .into_iter()
        .map(|row| {
            let kind = match row[1].as_deref() {
                Some("VIEW") => RelationKind::View,
                _ => RelationKind::Table,
            };
            (row[0].clone().unwrap_or_default(), kind)
        })
        .collect())
}

/// Runs a query whose rows are (column name, data type) and reads them as columns.
pub(crate) fn columns_from_query(session: &mut dyn Session, sql: &str) -> Result<Vec<ColumnInfo>> {
    Ok(session
        .query(sql)?
        .rows
        .into_iter()
        .map(|row| ColumnInfo {
            name: row[0].clone().unwrap_or_default(),
            data_type: row[1].clone().unwrap_or_default(),
        })
        .collect())
}

/// Opens the warehouse of a target. Relative paths are relative to the project folder.
pub fn open(target: &Target, project_root: &Path) -> Result<Box<dyn Warehouse>> {
    match target.dialect {
        Dialect::DuckDb => Ok(Box::new(duck::DuckDb::open(target, project_root)?)),
        Dialect::Postgres => Ok(Box::new(postgres::Postgres::connect(target)?)),
        Dialect::ClickHouse => Ok(Box::new(clickhouse::ClickHouse::connect(target)?)),
    }
}
