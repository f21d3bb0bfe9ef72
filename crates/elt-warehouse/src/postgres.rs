//! PostgreSQL, through sqlx: a pool of connections sized by the target's threads, one held by
//! each session. Statements go through the simple query protocol, so a model's SQL may hold
//! several statements and every value comes back as PostgreSQL's text.

use std::time::Duration;

use elt_core::adapter::{Dialect, Relation};
use elt_core::project::Target;
use serde_json::Value as Json;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{
    PgConnectOptions, PgDatabaseError, PgErrorPosition, PgPool, PgPoolOptions, PgRow, PgSeverity,
    PgSslMode,
};
use sqlx::{Column, Executor, Row, Statement, TypeInfo, ValueRef};
use tokio::runtime::Runtime;

use crate::pg_binary::{self, Encoder};
use crate::{
    CatalogColumn, ColumnInfo, ErrorKind, RelationKind, Result, Session, Table, TextRows,
    Warehouse, WarehouseError, columns_from_query, relations_from_information_schema, timed,
};

pub struct Postgres {
    runtime: Runtime,
    pool: PgPool,
    /// `host:port/dbname`, for messages.
    location: String,
}

impl Postgres {
    /// Connects to the target's server; fails at once (with the host and port) when it cannot.
    pub fn connect(target: &Target) -> Result<Self> {
        let settings = Settings::read(target)?;
        let location = format!("{}:{}/{}", settings.host, settings.port, target.database);
        let mut options = PgConnectOptions::new()
            .host(&settings.host)
            .port(settings.port)
            .username(&settings.user)
            .database(&target.database)
            .ssl_mode(settings.sslmode)
            .application_name("elt");
        if let Some(password) = &settings.password {
            options = options.password(password);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| WarehouseError::new(format!("cannot start the I/O runtime: {e}")))?;
        let pool = runtime
            .block_on(
                PgPoolOptions::new()
                    // One connection per thread, and one for the executor's own queries.
                    .max_connections(target.threads as u32 + 1)
                    .acquire_timeout(settings.connect_timeout)
                    .connect_with(options),
            )
            .map_err(|e| connection_error(&location, &e))?;
        Ok(Postgres {
            runtime,
            pool,
            location,
        })
    }
}

/// The target's connection settings (dbt-postgres's names).
struct Settings {
    host: String,
    port: u16,
    user: String,
    password: Option<String>,
    sslmode: PgSslMode,
    connect_timeout: Duration,
}

impl Settings {
    fn read(target: &Target) -> Result<Self> {
        let get = |key: &str| target.settings.get(key);
        let text = |key: &str| {
            get(key).and_then(|v| match v {
                Json::String(s) => Some(s.clone()),
                Json::Number(n) => Some(n.to_string()),
                _ => None,
            })
        };
        let number = |key: &str, default: u64| -> Result<u64> {
            match text(key) {
                None => Ok(default),
                Some(value) => value.parse().map_err(|_| {
                    WarehouseError::new(format!("'{key}' must be a number, not '{value}'"))
                }),
            }
        };
        let sslmode = match text("sslmode").as_deref().unwrap_or("prefer") {
            "disable" => PgSslMode::Disable,
            "allow" => PgSslMode::Allow,
            "prefer" => PgSslMode::Prefer,
            "require" => PgSslMode::Require,
            "verify-ca" => PgSslMode::VerifyCa,
            "verify-full" => PgSslMode::VerifyFull,
            other => {
                return Err(WarehouseError::new(format!(
                    "unknown sslmode '{other}': use disable, allow, prefer, require, verify-ca or verify-full"
                )));
            }
        };
        let port = number("port", 5432)?;
        Ok(Settings {
            host: text("host").unwrap_or_else(|| "localhost".into()),
            port: u16::try_from(port)
                .map_err(|_| WarehouseError::new(format!("port {port} is not a TCP port")))?,
            user: text("user")
                .or_else(|| text("username"))
                .ok_or_else(|| WarehouseError::new("the target has no 'user'"))?,
            password: text("password").or_else(|| text("pass")),
            sslmode,
            connect_timeout: Duration::from_secs(number("connect_timeout", 10)?),
        })
    }
}

fn connection_error(location: &str, error: &sqlx::Error) -> WarehouseError {
    let (cause, kind) = match error {
        sqlx::Error::Database(e) => (
            e.message().to_string(),
            e.code()
                .map_or(ErrorKind::ConnectionLost, |code| match error_kind(&code) {
                    ErrorKind::PermissionDenied => ErrorKind::PermissionDenied,
                    _ => ErrorKind::ConnectionLost,
                }),
        ),
        sqlx::Error::PoolTimedOut => (
            "timed out waiting for a connection".to_string(),
            ErrorKind::ConnectionLost,
        ),
        other => (other.to_string(), ErrorKind::ConnectionLost),
    };
    WarehouseError::new(format!(
        "cannot connect to PostgreSQL at {location}: {cause} (is the server running and are the \
         host, port, user and password in the profile right?)"
    ))
    .of_kind(kind)
}

impl Warehouse for Postgres {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn version(&self) -> Result<String> {
        let table = self.session()?.query("select version()")?;
        Ok(table.first_value().unwrap_or_default().to_string())
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn session(&self) -> Result<Box<dyn Session>> {
        let connection = self
            .runtime
            .block_on(self.pool.acquire())
            .map_err(|e| connection_error(&self.location, &e))?;
        Ok(Box::new(PgSession {
            runtime: self.runtime.handle().clone(),
            connection: Some(connection),
        }))
    }
}

struct PgSession {
    runtime: tokio::runtime::Handle,
    /// Always there until the session is dropped.
    connection: Option<PoolConnection<sqlx::Postgres>>,
}

impl PgSession {
    fn block_on<T>(&mut self, work: impl AsyncFnOnce(&mut sqlx::PgConnection) -> T) -> T {
        let connection = self.connection.as_mut().expect("the session's connection");
        timed(|| self.runtime.block_on(work(connection)))
    }

    /// How `columns` of `table` take binary values, if every one of them can.
    fn encoders(&mut self, table: &Relation, columns: &[String]) -> Result<Option<Vec<Encoder>>> {
        let types = self.query(&format!(
            "select attname, format_type(atttypid, atttypmod) from pg_catalog.pg_attribute \
             where attrelid = {}::regclass and attnum > 0 and not attisdropped",
            Dialect::Postgres.string_literal(&table.to_string())
        ))?;
        let type_of = |column: &String| {
            let row = types
                .rows
                .iter()
                .find(|row| row[0].as_ref() == Some(column))?;
            Encoder::of(row[1].as_deref()?)
        };
        Ok(columns.iter().map(type_of).collect())
    }
}

impl Drop for PgSession {
    fn drop(&mut self) {
        // Giving the connection back to the pool spawns a task: it needs the runtime.
        let _runtime = self.runtime.enter();
        drop(self.connection.take());
    }
}

/// A statement's error as psql shows it: the message, then `LINE n:` where the server points
/// (the executor maps that line back to the model's file), then detail and hint.
fn error(e: sqlx::Error, sql: &str) -> WarehouseError {
    let Some(db) = e.as_database_error() else {
        return WarehouseError::new(format!("lost the PostgreSQL connection: {e}"))
            .of_kind(ErrorKind::ConnectionLost)
            .in_sql(sql);
    };
    let Some(pg) = db.try_downcast_ref::<PgDatabaseError>() else {
        return WarehouseError::new(db.message().to_string()).in_sql(sql);
    };
    let fatal = matches!(pg.severity(), PgSeverity::Fatal | PgSeverity::Panic);
    let mut message = match pg.severity() {
        PgSeverity::Fatal => format!("lost the PostgreSQL connection: FATAL: {}", pg.message()),
        PgSeverity::Panic => format!("lost the PostgreSQL connection: PANIC: {}", pg.message()),
        _ => format!("ERROR: {}", pg.message()),
    };
    if let Some(PgErrorPosition::Original(position)) = pg.position() {
        let before: String = sql.chars().take(position.saturating_sub(1)).collect();
        let line = before.matches('\n').count() + 1;
        let text = sql.lines().nth(line - 1).unwrap_or_default();
        message.push_str(&format!("\nLINE {line}: {}", text.trim()));
    }
    if let Some(detail) = pg.detail() {
        message.push_str(&format!("\nDETAIL: {detail}"));
    }
    if let Some(hint) = pg.hint() {
        message.push_str(&format!("\nHINT: {hint}"));
    }
    let kind = if fatal {
        ErrorKind::ConnectionLost
    } else {
        error_kind(pg.code())
    };
    WarehouseError::new(message).of_kind(kind).in_sql(sql)
}

/// An error's kind by its SQLSTATE (PostgreSQL's appendix A, "Error Codes").
fn error_kind(sqlstate: &str) -> ErrorKind {
    match sqlstate {
        "42601" => ErrorKind::Syntax,
        // undefined_table, invalid_schema_name
        "42P01" | "3F000" => ErrorKind::MissingRelation,
        // insufficient_privilege; class 28, invalid authorization (a wrong password).
        "42501" => ErrorKind::PermissionDenied,
        code if code.starts_with("28") => ErrorKind::PermissionDenied,
        "0A000" => ErrorKind::Unsupported,
        // admin_shutdown, crash_shutdown, cannot_connect_now
        "57P01" | "57P02" | "57P03" => ErrorKind::ConnectionLost,
        // Classes 08 (connection exception), 22 (data exception) and 23 (integrity
        // constraint violation).
        code if code.starts_with("08") => ErrorKind::ConnectionLost,
        code if code.starts_with("22") || code.starts_with("23") => ErrorKind::RefusedRows,
        _ => ErrorKind::Other,
    }
}

/// A value as text, as `elt show` and the tests read it: PostgreSQL's text output, with
/// booleans spelled `true`/`false` as on the other warehouses.
/// Each column's name and its type as PostgreSQL names it (`INT8`, `NUMERIC`, `TEXT`, ...).
fn described(columns: &[sqlx::postgres::PgColumn]) -> Vec<(String, String)> {
    columns
        .iter()
        .map(|c| (c.name().to_string(), c.type_info().name().to_string()))
        .collect()
}

fn text(row: &PgRow, index: usize) -> std::result::Result<Option<String>, sqlx::Error> {
    let value = row.try_get_raw(index)?;
    if value.is_null() {
        return Ok(None);
    }
    let is_bool = value.type_info().name() == "BOOL";
    let text = value.as_str().map_err(sqlx::Error::Decode)?.to_string();
    Ok(Some(match (is_bool, text.as_str()) {
        (true, "t") => "true".into(),
        (true, "f") => "false".into(),
        _ => text,
    }))
}

impl Session for PgSession {
    fn dialect(&self) -> Dialect {
        Dialect::Postgres
    }

    fn execute(&mut self, sql: &str) -> Result<()> {
        self.block_on(async |c| sqlx::raw_sql(sql).execute(c).await)
            .map(|_| ())
            .map_err(|e| error(e, sql))
    }

    fn query(&mut self, sql: &str) -> Result<Table> {
        let rows = self
            .block_on(async |c| c.fetch_all(sqlx::raw_sql(sql)).await)
            .map_err(|e| error(e, sql))?;
        let described: Vec<(String, String)> = match rows.first() {
            Some(row) => described(row.columns()),
            // No rows: ask the server for the columns the query would have.
            None => self
                .block_on(async |c| c.prepare(sql).await.map(|s| s.columns().to_vec()))
                .map(|columns| described(&columns))
                .unwrap_or_default(),
        };
        let (columns, types) = described.into_iter().unzip();
        let rows = rows
            .iter()
            .map(|row| (0..row.len()).map(|i| text(row, i)).collect())
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| error(e, sql))?;
        Ok(Table {
            columns,
            types,
            rows,
        })
    }

    fn execute_counting(&mut self, sql: &str) -> Result<usize> {
        self.block_on(async |c| sqlx::raw_sql(sql).execute(c).await)
            .map(|done| done.rows_affected() as usize)
            .map_err(|e| error(e, sql))
    }

    fn relations_in(
        &mut self,
        database: Option<&str>,
        schema: &str,
    ) -> Result<Vec<(String, RelationKind)>> {
        relations_from_information_schema(self, Dialect::Postgres, database, schema)
    }

    /// Columns with their full types (`character varying(20)`, `numeric(10,2)`), which
    /// information_schema does not give.
    fn columns(&mut self, relation: &Relation) -> Result<Vec<ColumnInfo>> {
        let literal = |v: &str| Dialect::Postgres.string_literal(v);
        let sql = format!(
            "select a.attname, format_type(a.atttypid, a.atttypmod) \
             from pg_catalog.pg_attribute a \
             join pg_catalog.pg_class c on c.oid = a.attrelid \
             join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
             where n.nspname = {} and c.relname = {} and a.attnum > 0 and not a.attisdropped \
             order by a.attnum",
            literal(&relation.schema),
            literal(&relation.identifier)
        );
        columns_from_query(self, &sql)
    }

    fn schema_columns(
        &mut self,
        _database: Option<&str>,
        schema: &str,
    ) -> Result<Vec<CatalogColumn>> {
        let sql = format!(
            "select c.relname, case when c.relkind in ('v', 'm') then 'VIEW' else 'BASE TABLE' end, \
                    a.attname, format_type(a.atttypid, a.atttypmod), \
                    col_description(a.attrelid, a.attnum) \
             from pg_catalog.pg_attribute a \
             join pg_catalog.pg_class c on c.oid = a.attrelid \
             join pg_catalog.pg_namespace n on n.oid = c.relnamespace \
             where n.nspname = {} and c.relkind in ('r', 'v', 'm', 'p', 'f') \
               and a.attnum > 0 and not a.attisdropped \
             order by c.relname, a.attnum",
            Dialect::Postgres.string_literal(schema)
        );
        crate::catalog_columns_from_query(self, &sql)
    }

    fn insert_text_rows(
        &mut self,
        table: &Relation,
        columns: &[String],
        rows: &TextRows,
    ) -> Result<()> {
        let quoted: Vec<String> = columns.iter().map(|c| Dialect::Postgres.quote(c)).collect();
        let binary = self
            .encoders(table, columns)?
            .and_then(|encoders| pg_binary::copy_data(&encoders, rows));
        let (format, pieces) = match binary {
            Some(pieces) => (" with (format binary)", pieces),
            None => ("", vec![rows.tab_separated()]),
        };
        let statement = format!("copy {table} ({}) from stdin{format}", quoted.join(", "));
        self.block_on(async |c| {
            let mut copy = c.copy_in_raw(&statement).await?;
            let mut sent = Ok(());
            for piece in pieces {
                sent = copy.send(piece).await.map(|_| ());
                if sent.is_err() {
                    break;
                }
            }
            match sent {
                Ok(()) => copy.finish().await.map(|_| ()),
                Err(e) => {
                    let _ = copy.abort("elt could not send the rows").await;
                    Err(e)
                }
            }
        })
        .map_err(|e| error(e, &statement))
    }
}
