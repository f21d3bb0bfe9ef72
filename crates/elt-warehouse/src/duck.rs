//! DuckDB, embedded: a file database (or `:memory:`) opened in-process.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use duckdb::Connection;
use duckdb::types::ValueRef;
use elt_core::adapter::{Dialect, Relation};
use elt_core::project::Target;

use crate::seed::{Seed, SeedType};
use crate::{
    ColumnInfo, RelationKind, Result, Session, Table, Warehouse, WarehouseError,
    information_schema_filter, timed,
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
        let connection = connection.map_err(|e| {
            WarehouseError::new(format!("cannot open DuckDB database {setting}: {e}"))
        })?;
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
            table
                .rows
                .first()
                .and_then(|r| r[0].clone())
                .unwrap_or_default()
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

struct DuckSession {
    connection: Connection,
}

fn error(e: duckdb::Error, sql: &str) -> WarehouseError {
    WarehouseError::new(e.to_string()).in_sql(sql)
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
        Ok(table)
    }
}

impl Session for DuckSession {
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
        let sql = format!(
            "select table_name, table_type from information_schema.tables where {}",
            information_schema_filter(Dialect::DuckDb, database, schema, None)
        );
        Ok(self
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

    fn columns(&mut self, relation: &Relation) -> Result<Vec<ColumnInfo>> {
        let sql = format!(
            "select column_name, data_type from information_schema.columns where {} order by ordinal_position",
            information_schema_filter(
                Dialect::DuckDb,
                relation.database.as_deref(),
                &relation.schema,
                Some(&relation.identifier),
            )
        );
        Ok(self
            .query(&sql)?
            .rows
            .into_iter()
            .map(|row| ColumnInfo {
                name: row[0].clone().unwrap_or_default(),
                data_type: row[1].clone().unwrap_or_default(),
            })
            .collect())
    }

    fn load_seed(
        &mut self,
        relation: &Relation,
        seed: &Seed,
        column_types: &[(String, String)],
    ) -> Result<usize> {
        let dialect = Dialect::DuckDb;
        let schema = relation.render_parts(true, true, false);
        let raw = staging_relation(relation, "__elt_raw");
        let typed = staging_relation(relation, "__elt_new");
        let columns: Vec<String> = seed.columns.iter().map(|c| dialect.quote(c)).collect();
        let raw_columns: Vec<String> = columns.iter().map(|c| format!("{c} varchar")).collect();
        let setup = format!(
            "create schema if not exists {schema};\ndrop table if exists {raw};\ndrop table if exists {typed};\ncreate table {raw} ({});",
            raw_columns.join(", ")
        );
        self.execute(&setup)?;
        // Rows go in as text through the appender, then one typed copy: DuckDB does the casts.
        let appended = (|| -> duckdb::Result<()> {
            let mut appender = self.connection.appender_to_catalog_and_db(
                &staging_name(relation, "__elt_raw"),
                relation.database.as_deref().unwrap_or_default(),
                &relation.schema,
            )?;
            for row in &seed.rows {
                appender.append_row(duckdb::appender_params_from_iter(row.iter()))?;
            }
            appender.flush()
        })();
        if let Err(e) = appended {
            let _ = self.execute(&format!("drop table if exists {raw}"));
            return Err(WarehouseError::new(format!(
                "cannot load the seed's rows: {e}"
            )));
        }
        let casts: Vec<String> = seed
            .columns
            .iter()
            .zip(&seed.types)
            .map(|(name, inferred)| {
                let quoted = dialect.quote(name);
                let sql_type = column_types
                    .iter()
                    .find(|(column, _)| column == name)
                    .map(|(_, t)| t.clone())
                    .unwrap_or_else(|| duckdb_type(*inferred).to_string());
                format!("cast({quoted} as {sql_type}) as {quoted}")
            })
            .collect();
        let build = format!(
            "create table {typed} as select {} from {raw}",
            casts.join(", ")
        );
        if let Err(e) = self.execute(&build) {
            let _ = self.execute(&format!(
                "drop table if exists {raw}; drop table if exists {typed}"
            ));
            return Err(e);
        }
        let swap = format!(
            "begin transaction;\ndrop table if exists {relation};\nalter table {typed} rename to {};\ncommit;\ndrop table if exists {raw};",
            dialect.quote(&relation.identifier)
        );
        if let Err(e) = self.execute(&swap) {
            let _ = self.execute("rollback");
            let _ = self.execute(&format!(
                "drop table if exists {raw}; drop table if exists {typed}"
            ));
            return Err(e);
        }
        Ok(seed.rows.len())
    }
}

/// The name of a staging table beside `relation`.
fn staging_name(relation: &Relation, suffix: &str) -> String {
    format!("{}{suffix}", relation.identifier)
}

fn staging_relation(relation: &Relation, suffix: &str) -> Relation {
    Relation {
        identifier: staging_name(relation, suffix),
        ..relation.clone()
    }
}

/// dbt-duckdb's types for seed columns.
fn duckdb_type(seed_type: SeedType) -> &'static str {
    match seed_type {
        SeedType::Integer => "integer",
        SeedType::Decimal => "double",
        SeedType::Date => "date",
        SeedType::Timestamp => "timestamp",
        SeedType::Boolean => "boolean",
        SeedType::Text => "varchar",
    }
}

/// A value as text, as `elt show` and tests read it: dates `YYYY-MM-DD`, timestamps
/// `YYYY-MM-DD HH:MM:SS[.ffffff]`, decimals exact.
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
