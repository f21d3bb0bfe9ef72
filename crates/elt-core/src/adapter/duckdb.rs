//! DuckDB's SQL: the standard, with DuckDB's own integer names, decimals that default to
//! (18,3), and sources read from files (`external_location`).

use std::path::Path;

use super::{Adapter, TargetLocation, ValueKind};

pub struct DuckDb;

impl Adapter for DuckDb {
    fn name(&self) -> &'static str {
        "duckdb"
    }

    fn reads_external_locations(&self) -> bool {
        true
    }

    fn replaces_tables_in_place(&self) -> bool {
        true
    }

    fn sql_dialect(&self) -> Box<dyn sqlparser::dialect::Dialect + Send + Sync> {
        Box::new(sqlparser::dialect::DuckDbDialect {})
    }

    /// The database is the file's name without its extension (DuckDB's catalog name).
    fn target_location(&self, setting: &dyn Fn(&str) -> Option<String>) -> TargetLocation {
        let path = setting("path").unwrap_or_else(|| ":memory:".into());
        TargetLocation {
            database: setting("database").unwrap_or_else(|| database_name(&path)),
            schema: setting("schema").unwrap_or_else(|| "main".into()),
        }
    }

    fn current_utc_timestamp(&self) -> &'static str {
        "make_timestamp(epoch_us(get_current_timestamp()))"
    }

    fn value_kind(&self, base: &str, _args: &[u32]) -> Option<ValueKind> {
        Some(match base {
            "int1" => ValueKind::signed(8),
            "int2" | "short" => ValueKind::signed(16),
            "int4" | "signed" => ValueKind::signed(32),
            "int8" | "long" => ValueKind::signed(64),
            "hugeint" | "int128" => ValueKind::signed(128),
            "utinyint" | "uint8" => ValueKind::unsigned(8),
            "usmallint" | "uint16" => ValueKind::unsigned(16),
            "uinteger" | "uint32" => ValueKind::unsigned(32),
            "ubigint" | "uint64" => ValueKind::unsigned(64),
            "uhugeint" | "uint128" => ValueKind::unsigned(128),
            _ => return None,
        })
    }

    fn unbounded_decimal(&self) -> ValueKind {
        ValueKind::Decimal {
            precision: 18,
            scale: 3,
        }
    }
}

/// The catalog name DuckDB gives a database file: its stem (`memory` in memory).
fn database_name(path: &str) -> String {
    if path == ":memory:" || path.is_empty() {
        return "memory".into();
    }
    Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "memory".into())
}
