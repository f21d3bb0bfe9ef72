//! DuckDB, embedded: a file database (or `:memory:`) opened in-process.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use duckdb::Connection;
use duckdb::arrow::datatypes::DataType;
use duckdb::types::ValueRef;
use duckdb::vtab::arrow::{ArrowBatchRegistration, ArrowVTab};
use elt_core::adapter::{Dialect, Relation};
use elt_core::project::Target;

use crate::arrow_rows;
use crate::{
    CatalogColumn, ColumnInfo, ErrorKind, RelationKind, Result, Session, Table, TextRows,
    Warehouse, WarehouseError, columns_from_query, information_schema_filter,
    relations_from_information_schema, timed,
};

pub struct DuckDb {
    /// The database file, or `None` for `:memory:`.
    path: Option<PathBuf>,
    /// Sessions are clones of this connection: they share one database instance.
    base: Mutex<Connection>,
}

impl DuckDb {
    pub fn open(target: &Target, project_root: &Path) -> Result<Self> {
        let setting = target
            .settings
            .get("path")
            .and_then(|v| v.as_str())
            .unwrap_or(":memory:");
        // Time zones and calendars built in: DuckDB would download the extension otherwise.
        elt_duckdb_icu::register().map_err(|status| {
            WarehouseError::new(format!(
                "cannot set up DuckDB: its icu extension was refused (status {status})"
            ))
        })?;
        let (path, connection) = if setting == ":memory:" {
            (None, Connection::open_in_memory())
        } else {
            let path = project_root.join(setting);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| {
                    WarehouseError::new(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            let connection = Connection::open(&path);
            (Some(path), connection)
        };
        let connection = connection.map_err(|e| open_error(setting, path.as_deref(), &e))?;
        connection
            .register_table_function::<ArrowVTab>(ROWS_FUNCTION)
            .map_err(|e| WarehouseError::new(format!("cannot set up DuckDB: {e}")))?;
        Ok(DuckDb {
            path,
            base: Mutex::new(connection),
        })
    }
}

impl Warehouse for DuckDb {
    fn dialect(&self) -> Dialect {
        Dialect::DuckDb
    }

    fn version(&self) -> Result<String> {
        let table = self.session()?.query("select version()")?;
        Ok(format!(
            "DuckDB {}",
            table.first_value().unwrap_or_default()
        ))
    }

    fn location(&self) -> String {
        self.path
            .as_ref()
            .map_or(":memory:".into(), |p| p.display().to_string())
    }

    fn session(&self) -> Result<Box<dyn Session>> {
        let base = self.base.lock().expect("connection lock");
        let connection = base
            .try_clone()
            .map_err(|e| WarehouseError::new(format!("cannot open a DuckDB session: {e}")))?;
        Ok(Box::new(DuckSession { connection }))
    }
}

/// The table function that reads an Arrow batch of this process's memory (duckdb-rs's
/// `ArrowVTab`): rows go in by `insert ... select` from it, typed as their columns where
/// elt could read them (see [`arrow_rows`]), else as text that DuckDB casts a vector at a
/// time.
const ROWS_FUNCTION: &str = "elt_arrow_rows";

struct DuckSession {
    connection: Connection,
}

/// DuckDB lets one process write a database file at a time: when another holds the file's lock,
/// say which process and what to do.
fn open_error(setting: &str, path: Option<&Path>, e: &duckdb::Error) -> WarehouseError {
    let error = WarehouseError::new(format!("cannot open DuckDB database {setting}: {e}"))
        .of_kind(error_kind(e));
    let Some(pid) = path.and_then(lock_holder) else {
        return error;
    };
    error.with_hint(format!(
        "process {pid} has the database file open, and DuckDB lets one process write a file \
         at a time (`elt load --follow` keeps it until stopped): wait for that process to end \
         or stop it, then run again"
    ))
}

/// The process that holds the write lock on a database file, when another one does: DuckDB
/// takes a POSIX record lock on the whole file while it has it open.
#[cfg(unix)]
fn lock_holder(path: &Path) -> Option<i32> {
    use std::os::fd::AsRawFd;
    let file = std::fs::File::open(path).ok()?;
    // SAFETY: flock is plain data; zeroed it asks about the whole file (start 0, length 0).
    let mut lock: libc::flock = unsafe { std::mem::zeroed() };
    lock.l_type = libc::F_WRLCK as _;
    lock.l_whence = libc::SEEK_SET as _;
    // SAFETY: a valid descriptor and a valid flock for F_GETLK to fill in.
    let asked = unsafe { libc::fcntl(file.as_raw_fd(), libc::F_GETLK, &mut lock) };
    (asked == 0 && lock.l_type != libc::F_UNLCK as libc::c_short).then_some(lock.l_pid)
}

#[cfg(not(unix))]
fn lock_holder(_path: &Path) -> Option<i32> {
    None
}

fn error(e: duckdb::Error, sql: &str) -> WarehouseError {
    WarehouseError::new(e.to_string())
        .of_kind(error_kind(&e))
        .in_sql(sql)
}

impl DuckSession {
    fn query_rows(&mut self, sql: &str) -> Result<Table> {
        let mut statement = self.connection.prepare(sql).map_err(|e| error(e, sql))?;
        let mut rows = statement.query([]).map_err(|e| error(e, sql))?;
        let mut table = Table::default();
        while let Some(row) = rows.next().map_err(|e| error(e, sql))? {
            if table.columns.is_empty() {
                table.columns = row.as_ref().column_names();
            }
            let values = (0..table.columns.len())
                .map(|i| row.get_ref(i).map(text))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| error(e, sql))?;
            table.rows.push(values);
        }
        if table.columns.is_empty() {
            table.columns = statement.column_names();
        }
        table.types = (0..table.columns.len())
            .map(|i| type_name(&statement.column_type(i)))
            .collect();
        Ok(table)
    }
}

impl Session for DuckSession {
    fn dialect(&self) -> Dialect {
        Dialect::DuckDb
    }

    fn execute(&mut self, sql: &str) -> Result<()> {
        timed(|| self.connection.execute_batch(sql)).map_err(|e| error(e, sql))
    }

    fn query(&mut self, sql: &str) -> Result<Table> {
        timed(|| self.query_rows(sql))
    }

    fn execute_counting(&mut self, sql: &str) -> Result<usize> {
        timed(|| self.connection.execute(sql, [])).map_err(|e| error(e, sql))
    }

    fn relations_in(
        &mut self,
        database: Option<&str>,
        schema: &str,
    ) -> Result<Vec<(String, RelationKind)>> {
        relations_from_information_schema(self, Dialect::DuckDb, database, schema)
    }

    fn columns(&mut self, relation: &Relation) -> Result<Vec<ColumnInfo>> {
        if relation.external.is_none() {
            // DESCRIBE looks one relation up, where information_schema.columns first lists
            // every column of the database (0.4 ms against 5-10 ms with a thousand tables:
            // packages' star() asks for hundreds).
            let sql = format!("select column_name, column_type from (describe {relation})");
            return match columns_from_query(self, &sql) {
                Err(e) if e.kind == ErrorKind::MissingRelation => Ok(Vec::new()),
                columns => columns,
            };
        }
        let sql = format!(
            "select column_name, data_type from information_schema.columns where {} order by ordinal_position",
            information_schema_filter(
                Dialect::DuckDb,
                relation.database.as_deref(),
                &relation.schema,
                Some(&relation.identifier),
            )
        );
        columns_from_query(self, &sql)
    }

    /// DESCRIBE names the query's column types in SQL (the rows' Arrow types would not).
    fn query_columns(&mut self, sql: &str) -> Result<Vec<ColumnInfo>> {
        let sql = format!(
            "select column_name, column_type from (describe (\n{}\n))",
            crate::materialize::body(sql)
        );
        columns_from_query(self, &sql)
    }

    fn schema_columns(
        &mut self,
        database: Option<&str>,
        schema: &str,
    ) -> Result<Vec<CatalogColumn>> {
        let literal = |v: &str| Dialect::DuckDb.string_literal(v);
        let mut filter = format!("c.schema_name = {}", literal(schema));
        if let Some(database) = database {
            filter.push_str(&format!(" and c.database_name = {}", literal(database)));
        }
        let sql = format!(
            "select c.table_name, case when v.view_name is null then 'BASE TABLE' else 'VIEW' end, \
                    c.column_name, c.data_type, c.comment \
             from duckdb_columns() c \
             left join duckdb_views() v on v.database_name = c.database_name \
                  and v.schema_name = c.schema_name and v.view_name = c.table_name \
             where {filter} order by c.table_name, c.column_index"
        );
        crate::catalog_columns_from_query(self, &sql)
    }

    fn insert_text_rows(
        &mut self,
        table: &Relation,
        columns: &[String],
        rows: &TextRows,
    ) -> Result<()> {
        let appended = timed(|| -> duckdb::Result<()> {
            // Columns left out take their defaults.
            let names: Vec<&str> = columns.iter().map(String::as_str).collect();
            let quoted: Vec<String> = names.iter().map(|c| Dialect::DuckDb.quote(c)).collect();
            let types = self.arrow_types(table, &names)?;
            let rows = ArrowBatchRegistration::new(arrow_rows::batch(&names, &types, rows));
            self.connection.execute(
                &format!(
                    "insert into {table} ({}) select * from {ROWS_FUNCTION}(?)",
                    quoted.join(", ")
                ),
                [&rows],
            )?;
            Ok(())
        });
        appended.map_err(|e| {
            WarehouseError::new(format!("cannot append rows to {table}: {e}"))
                .of_kind(error_kind(&e))
        })
    }
}

impl DuckSession {
    /// The Arrow types `table`'s columns `names` take their values as (text for a name it
    /// does not have: DuckDB then says so).
    fn arrow_types(&self, table: &Relation, names: &[&str]) -> duckdb::Result<Vec<DataType>> {
        let mut statement = self.connection.prepare(
            "select column_name, data_type from duckdb_columns() \
             where database_name = coalesce(?, current_database()) \
               and schema_name = ? and table_name = ?",
        )?;
        let found = statement
            .query_map(
                duckdb::params![table.database, table.schema, table.identifier],
                |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
            )?
            .collect::<duckdb::Result<HashMap<String, String>>>()?;
        Ok(names
            .iter()
            .map(|name| {
                found
                    .get(*name)
                    .map_or(DataType::Utf8, |t| arrow_rows::arrow_type(t))
            })
            .collect())
    }
}

/// An error's kind by DuckDB's error type (its `ExceptionType`). duckdb-rs reports the type
/// only as the message's first words, `Catalog Error: ...` (DuckDB's `ErrorData` prefixes
/// every message with it), so that prefix, and nothing after it, is read.
fn error_kind(e: &duckdb::Error) -> ErrorKind {
    let duckdb::Error::DuckDBFailure(_, Some(message)) = e else {
        return ErrorKind::Other;
    };
    let Some((error_type, _)) = message.split_once(" Error: ") else {
        return ErrorKind::Other;
    };
    match error_type {
        "Parser" => ErrorKind::Syntax,
        "Catalog" => ErrorKind::MissingRelation,
        "Conversion" | "Constraint" | "Out of Range" | "Invalid Input" => ErrorKind::RefusedRows,
        "Not implemented" => ErrorKind::Unsupported,
        "Permission" => ErrorKind::PermissionDenied,
        "Connection" | "Interrupt" => ErrorKind::ConnectionLost,
        _ => ErrorKind::Other,
    }
}

/// A value as text, as `elt show` and tests read it: dates `YYYY-MM-DD`, timestamps
/// `YYYY-MM-DD HH:MM:SS[.ffffff]`, decimals exact.
/// DuckDB's name of a result column's type, from the Arrow type the query reports.
fn type_name(data_type: &DataType) -> String {
    use DataType as T;
    match data_type {
        T::Boolean => "BOOLEAN".into(),
        T::Int8 => "TINYINT".into(),
        T::Int16 => "SMALLINT".into(),
        T::Int32 => "INTEGER".into(),
        T::Int64 => "BIGINT".into(),
        T::UInt8 => "UTINYINT".into(),
        T::UInt16 => "USMALLINT".into(),
        T::UInt32 => "UINTEGER".into(),
        T::UInt64 => "UBIGINT".into(),
        T::Float32 => "FLOAT".into(),
        T::Float64 => "DOUBLE".into(),
        T::Decimal128(precision, scale) => format!("DECIMAL({precision},{scale})"),
        T::Date32 | T::Date64 => "DATE".into(),
        T::Timestamp(..) => "TIMESTAMP".into(),
        _ => "VARCHAR".into(),
    }
}

fn text(value: ValueRef<'_>) -> Option<String> {
    use duckdb::types::Value;
    Some(match value.to_owned() {
        Value::Null => return None,
        Value::Boolean(b) => b.to_string(),
        Value::TinyInt(v) => v.to_string(),
        Value::SmallInt(v) => v.to_string(),
        Value::Int(v) => v.to_string(),
        Value::BigInt(v) => v.to_string(),
        Value::HugeInt(v) => v.to_string(),
        Value::UTinyInt(v) => v.to_string(),
        Value::USmallInt(v) => v.to_string(),
        Value::UInt(v) => v.to_string(),
        Value::UBigInt(v) => v.to_string(),
        Value::Float(v) => v.to_string(),
        Value::Double(v) => v.to_string(),
        Value::Decimal(d) => d.to_string(),
        Value::Text(s) | Value::Enum(s) => s,
        Value::Date32(days) => (chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")
            + chrono::Duration::days(days.into()))
        .format("%Y-%m-%d")
        .to_string(),
        Value::Timestamp(unit, v) => {
            let micros = unit.to_micros(v);
            chrono::DateTime::from_timestamp_micros(micros)
                .map(|t| t.naive_utc().format("%Y-%m-%d %H:%M:%S%.f").to_string())
                .unwrap_or_else(|| micros.to_string())
        }
        other => format!("{other:?}"),
    })
}
