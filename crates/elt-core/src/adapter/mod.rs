//! The warehouses' SQL: everything elt writes or reads that differs between warehouses.
//!
//! [`Adapter`] is the one place a warehouse's knowledge lives: its capabilities (transactions,
//! databases, incremental strategies) and its SQL (quoting, literals, DDL, types), each with the
//! standard SQL as the default. Each warehouse implements it in a file of its own
//! ([`duckdb`], [`postgres`], [`clickhouse`]); its connection lives in `elt-warehouse`, also in
//! one file per warehouse. Code elsewhere asks the adapter and never branches on which warehouse
//! it is: `docs/adding-a-warehouse.md` lists what a new one implements.
//!
//! [`Dialect`] names a warehouse (it is what a profile's `type:` says and what the manifest
//! records) and dereferences to its [`Adapter`], so `dialect.quote(name)` asks the warehouse.

mod clickhouse;
mod duckdb;
mod postgres;
mod relation;
mod types;

use std::fmt;
use std::ops::Deref;

pub use relation::Relation;
pub use types::{
    AdvisoryLockSql, IncrementalSql, LeaseClaim, LeaseSql, LoadFence, PartitionSql, RowTrial,
    SeedType, Storage, Strategy, TargetLocation, ValueKind,
};

/// A warehouse's SQL and capabilities. Defaults are standard SQL (what DuckDB and PostgreSQL
/// share); an implementation overrides what its warehouse does differently.
pub trait Adapter: Send + Sync {
    /// The profile `type:` name, also the `adapter.dispatch` prefix (`duckdb__my_macro`).
    fn name(&self) -> &'static str;

    // ----- Capabilities -----

    /// Whether statements can run in one transaction. Without transactions, materializations
    /// keep each step safe on its own (a staged table exchanged in; tokens for inserts).
    fn has_transactions(&self) -> bool {
        true
    }

    /// Whether relations carry a database part (ClickHouse has only database = schema).
    fn has_database(&self) -> bool {
        true
    }

    /// Why this warehouse cannot run an incremental strategy, if it cannot.
    fn strategy_unsupported(&self, strategy: Strategy) -> Option<&'static str> {
        match strategy {
            Strategy::InsertOverwrite => Some(
                "insert_overwrite replaces ClickHouse partitions; on this warehouse use \
                 delete+insert with a unique_key",
            ),
            Strategy::Append | Strategy::DeleteInsert | Strategy::Merge => None,
        }
    }

    /// How a table's partitions are replaced, where the warehouse partitions tables.
    fn partitions(&self) -> Option<&'static dyn PartitionSql> {
        None
    }

    /// Whether `create or replace view` may replace a view whose columns change. Where it may
    /// not, the view is dropped and created in one transaction.
    fn replaces_views_in_place(&self) -> bool {
        true
    }

    /// A NULL of `data_type` (unit tests' rows that leave a column out).
    fn typed_null(&self, data_type: &str) -> String {
        format!("cast(null as {data_type})")
    }

    /// Whether `create or replace table ... as` replaces a table in one atomic statement (no
    /// staged table and rename needed).
    fn replaces_tables_in_place(&self) -> bool {
        false
    }

    /// Whether a source may be read from an `external_location` (a file or table function)
    /// instead of a table.
    fn reads_external_locations(&self) -> bool {
        false
    }

    /// Whether a cast to a nullable type turns a value it cannot hold into NULL instead of
    /// failing: seeds then check their casts first, so that no value is lost silently.
    fn casts_lose_bad_values(&self) -> bool {
        false
    }

    /// How a loader keeps a second load of the same table out.
    fn load_fence(&self) -> LoadFence {
        LoadFence::Unneeded
    }

    /// How a loader tries rows the warehouse may refuse, to find which it refuses.
    fn row_trial(&self) -> RowTrial {
        RowTrial::Transaction
    }

    // ----- SQL text -----

    /// The longest identifier the warehouse keeps, in bytes (longer ones are cut or refused).
    fn max_identifier_length(&self) -> Option<usize> {
        None
    }

    /// The character that quotes identifiers.
    fn quote_char(&self) -> char {
        '"'
    }

    /// Quotes an identifier, doubling the quote character inside it.
    fn quote(&self, identifier: &str) -> String {
        let q = self.quote_char();
        let mut out = String::with_capacity(identifier.len() + 2);
        out.push(q);
        for c in identifier.chars() {
            if c == q {
                out.push(q);
            }
            out.push(c);
        }
        out.push(q);
        out
    }

    /// Escapes a string literal's content and wraps it in single quotes.
    fn string_literal(&self, value: &str) -> String {
        format!("'{}'", value.replace('\'', "''"))
    }

    /// The sqlparser grammar used to validate compiled SQL.
    fn sql_dialect(&self) -> Box<dyn sqlparser::dialect::Dialect + Send + Sync>;

    /// The database and schema a target uses when its profile names none, from its settings.
    fn target_location(&self, setting: &dyn Fn(&str) -> Option<String>) -> TargetLocation;

    /// `create schema` for the schema of `relation`.
    fn create_schema(&self, relation: &Relation) -> String {
        format!(
            "create schema if not exists {}",
            relation.render_parts(true, true, false)
        )
    }

    /// Drops a table or view if it exists.
    fn drop_relation(&self, relation: &Relation, view: bool) -> String {
        let kind = if view { "view" } else { "table" };
        format!("drop {kind} if exists {relation}")
    }

    /// Where dropping a relation drops the views that select from it (PostgreSQL's
    /// `cascade`): a query of those views, directly or through other views, as rows of
    /// schema, name and definition, in an order they can be created in. A swap creates them
    /// again over the new version in the same transaction.
    fn dependent_views(&self, _relation: &Relation) -> Option<String> {
        None
    }

    /// What follows a table's name in `create table`: its engine and storage clauses.
    fn table_clauses(&self, _storage: &Storage) -> String {
        String::new()
    }

    /// Renames a table in its schema.
    fn rename_table(&self, from: &Relation, to: &Relation) -> String {
        format!(
            "alter table {from} rename to {}",
            self.quote(&to.identifier)
        )
    }

    /// Renames tables in one statement where the warehouse can (else one after another).
    fn rename_tables(&self, renames: &[(&Relation, &Relation)]) -> String {
        renames
            .iter()
            .map(|(from, to)| self.rename_table(from, to))
            .collect::<Vec<_>>()
            .join(";\n")
    }

    /// Replaces the table `relation` by the table `staged` atomically without a transaction,
    /// leaving the previous version under `staged`; `None` where only a transaction can.
    fn exchange_tables(&self, _staged: &Relation, _relation: &Relation) -> Option<String> {
        None
    }

    /// Changes a column's type.
    fn retype_column(&self, relation: &Relation, column: &str, data_type: &str) -> String {
        format!(
            "alter table {relation} alter column {} type {data_type}",
            self.quote(column)
        )
    }

    /// Sets a column's default value.
    fn set_column_default(&self, relation: &Relation, column: &str, default: &str) -> String {
        format!(
            "alter table {relation} alter column {} set default {default}",
            self.quote(column)
        )
    }

    /// The statements of incremental `delete+insert`: delete the rows whose keys come again,
    /// then insert the new rows (run in one transaction where there are transactions).
    fn delete_insert(&self, sql: &IncrementalSql) -> Vec<String> {
        vec![
            format!(
                "delete from {} where exists (select 1 from {} where {})",
                sql.target_alias(),
                sql.source_alias(),
                sql.matches()
            ),
            sql.insert_all(),
        ]
    }

    /// The statements of incremental `merge`: update the rows that match, then insert the
    /// others (run in one transaction).
    fn merge(&self, sql: &IncrementalSql) -> Vec<String> {
        let (target, source, matches) = (sql.target_alias(), sql.source_alias(), sql.matches());
        let mut statements = Vec::new();
        if !sql.assignments.is_empty() {
            statements.push(format!(
                "update {target} set {} from {source} where {matches}",
                sql.assignments.join(", ")
            ));
        }
        statements.push(format!(
            "insert into {} ({}) select {} from {source} where not exists (select 1 from {target} where {matches})",
            sql.relation,
            sql.columns.join(", "),
            sql.source_columns()
        ));
        statements
    }

    /// The current time, as a timestamp without time zone.
    fn current_timestamp(&self) -> &'static str {
        "cast(now() as timestamp)"
    }

    /// A NULL timestamp (a current snapshot version's `dbt_valid_to`).
    fn null_timestamp(&self) -> &'static str {
        "cast(null as timestamp)"
    }

    /// The current time in UTC, as a column default: when a loader's row went in.
    fn current_utc_timestamp(&self) -> &'static str;

    /// The MD5 of a text expression, as 32 lowercase hex digits.
    fn md5(&self, text: &str) -> String {
        format!("md5({text})")
    }

    /// Whether any of a boolean expression's values is true, as an aggregate.
    fn bool_or(&self, expression: &str) -> String {
        format!("bool_or({expression})")
    }

    // ----- Types -----

    /// The type dbt's adapter gives a seed column of an inferred type.
    fn seed_type(&self, seed_type: SeedType) -> &'static str {
        match seed_type {
            SeedType::Integer => "integer",
            SeedType::Decimal => "double",
            SeedType::Date => "date",
            SeedType::Timestamp => "timestamp",
            SeedType::Boolean => "boolean",
            SeedType::Text => "varchar",
        }
    }

    /// dbt's `Column.translate_type`: this warehouse's name for a generic type label
    /// (`integer`, `string`, ...); other names unchanged.
    fn translate_type(&self, label: &str) -> String {
        let name = match label.to_ascii_uppercase().as_str() {
            "STRING" => "TEXT",
            "TIMESTAMP" => "TIMESTAMP",
            "FLOAT" => "FLOAT",
            "INTEGER" => "INT",
            "BOOLEAN" => "BOOLEAN",
            _ => label,
        };
        name.to_string()
    }

    /// A loader's raw column of a declared type (text when none is declared).
    fn loader_column_type(&self, declared: Option<&str>) -> String {
        declared.map_or_else(|| self.seed_type(SeedType::Text).into(), str::to_string)
    }

    /// What a type of this warehouse holds, by its lowercase name without arguments (`int8`,
    /// `decimal32`) and the numbers of its arguments; `None` for standard names, which
    /// [`ValueKind::of`] knows.
    fn value_kind(&self, _base: &str, _args: &[u32]) -> Option<ValueKind> {
        None
    }

    /// `decimal` without a precision: DuckDB's default precision, or any number.
    fn unbounded_decimal(&self) -> ValueKind {
        ValueKind::Number
    }

    /// Whether `float` (or `float(p)`) is single precision.
    fn float_is_single(&self, _precision: Option<u32>) -> bool {
        true
    }

    /// The years a date or timestamp column holds, as (first, last) days.
    fn date_range(&self, _base: &str) -> (chrono::NaiveDate, chrono::NaiveDate) {
        types::four_digit_years()
    }

    /// The timestamps a loader's timestamp column holds.
    fn timestamp_range(&self) -> (chrono::NaiveDateTime, chrono::NaiveDateTime) {
        types::day_range_as_timestamps(types::four_digit_years())
    }

    /// Whether text of this type may hold the character U+0000 (as `\u0000` in JSON).
    fn stores_nul(&self, _base: &str) -> bool {
        true
    }

    /// The most characters and bytes text of this type holds, if limited.
    fn text_limits(&self, _base: &str, _length: Option<usize>) -> (Option<usize>, Option<usize>) {
        (None, None)
    }
}

/// The warehouses elt runs on, each a handle on its [`Adapter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    DuckDb,
    Postgres,
    ClickHouse,
}

impl Dialect {
    pub const ALL: [Dialect; 3] = [Dialect::DuckDb, Dialect::Postgres, Dialect::ClickHouse];

    /// The embedded warehouse, DuckDB: what runs without a profile naming another.
    pub const DEFAULT: Dialect = Dialect::DuckDb;

    /// Parses a profile's `type:` value.
    pub fn from_type(name: &str) -> Option<Self> {
        let name = if name == "postgresql" {
            "postgres"
        } else {
            name
        };
        Self::ALL.into_iter().find(|d| d.name() == name)
    }

    /// The warehouse's adapter.
    pub fn adapter(self) -> &'static dyn Adapter {
        match self {
            Self::DuckDb => &duckdb::DuckDb,
            Self::Postgres => &postgres::Postgres,
            Self::ClickHouse => &clickhouse::ClickHouse,
        }
    }
}

/// `dialect.quote(name)` asks the warehouse's adapter.
impl Deref for Dialect {
    type Target = dyn Adapter;

    fn deref(&self) -> &Self::Target {
        self.adapter()
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_per_dialect() {
        assert_eq!(Dialect::DuckDb.quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(Dialect::ClickHouse.quote("a`b"), "`a``b`");
        assert_eq!(Dialect::Postgres.string_literal("it's"), "'it''s'");
        assert_eq!(Dialect::ClickHouse.string_literal("a\\'"), "'a\\\\'''");
    }

    /// Every statement an adapter writes, for one warehouse, as text to snapshot.
    fn statements(dialect: Dialect) -> String {
        let relation = Relation::new(dialect, Some("dev".into()), "shop".into(), "orders".into());
        let staged = Relation::new(
            dialect,
            Some("dev".into()),
            "shop".into(),
            "orders__tmp".into(),
        );
        let storage = Storage {
            order_by: vec!["id".into()],
            partition_by: vec!["toYYYYMM(day)".into()],
            settings: vec![("index_granularity".into(), "8192".into())],
            ..Storage::default()
        };
        let columns = ["\"id\"".to_string(), "\"amount\"".to_string()];
        let incremental = IncrementalSql {
            relation: &relation,
            staged: &staged,
            columns: &columns,
            unique_key: &["id".to_string()],
            predicates: &["DBT_INTERNAL_DEST.day > '2024-01-01'".to_string()],
            assignments: vec!["\"amount\" = DBT_INTERNAL_SOURCE.\"amount\"".into()],
        };
        let seed_types = SeedType::ALL.map(|t| dialect.seed_type(t));
        [
            format!("create schema: {}", dialect.create_schema(&relation)),
            format!("drop view: {}", dialect.drop_relation(&relation, true)),
            format!("table clauses: {}", dialect.table_clauses(&storage)),
            format!("rename: {}", dialect.rename_table(&staged, &relation)),
            format!(
                "exchange: {:?}",
                dialect.exchange_tables(&staged, &relation)
            ),
            format!(
                "retype: {}",
                dialect.retype_column(&relation, "amount", "bigint")
            ),
            format!(
                "default: {}",
                dialect.set_column_default(&relation, "at", "now()")
            ),
            format!(
                "delete+insert:\n{}",
                dialect.delete_insert(&incremental).join(";\n")
            ),
            match dialect.strategy_unsupported(Strategy::Merge) {
                Some(reason) => format!("merge: unsupported: {reason}"),
                None => format!("merge:\n{}", dialect.merge(&incremental).join(";\n")),
            },
            format!(
                "now: {}, null: {}, utc: {}",
                dialect.current_timestamp(),
                dialect.null_timestamp(),
                dialect.current_utc_timestamp()
            ),
            format!(
                "md5: {}, bool_or: {}",
                dialect.md5("x"),
                dialect.bool_or("ok")
            ),
            format!("seed types: {}", seed_types.join(", ")),
            format!(
                "loader types: {} / {}",
                dialect.loader_column_type(None),
                dialect.loader_column_type(Some("timestamp"))
            ),
        ]
        .join("\n")
    }

    #[test]
    fn statements_per_warehouse() {
        for dialect in Dialect::ALL {
            insta::assert_snapshot!(dialect.name(), statements(dialect));
        }
    }

    #[test]
    fn value_kinds_per_warehouse() {
        let kind = |data_type: &str, dialect: Dialect| ValueKind::of(data_type, dialect.adapter());
        assert_eq!(kind("int8", Dialect::DuckDb), ValueKind::signed(64));
        assert_eq!(kind("Int8", Dialect::ClickHouse), ValueKind::signed(8));
        assert_eq!(
            kind("Nullable(UInt16)", Dialect::ClickHouse),
            ValueKind::unsigned(16)
        );
        assert_eq!(
            kind("decimal", Dialect::DuckDb),
            ValueKind::Decimal {
                precision: 18,
                scale: 3
            }
        );
        assert_eq!(kind("numeric", Dialect::Postgres), ValueKind::Number);
        assert_eq!(
            kind("Decimal64(4)", Dialect::ClickHouse),
            ValueKind::Decimal {
                precision: 18,
                scale: 4
            }
        );
        assert_eq!(
            kind("float", Dialect::Postgres),
            ValueKind::Float { max: f64::MAX }
        );
        assert_eq!(
            kind("float", Dialect::DuckDb),
            ValueKind::Float {
                max: f32::MAX.into()
            }
        );
        assert_eq!(
            kind("varchar(3)", Dialect::Postgres),
            ValueKind::Text {
                max_chars: Some(3),
                max_bytes: None,
                nul: false
            }
        );
        assert_eq!(
            kind("FixedString(2)", Dialect::ClickHouse),
            ValueKind::Text {
                max_chars: None,
                max_bytes: Some(2),
                nul: true
            }
        );
        assert_eq!(
            kind("jsonb", Dialect::Postgres),
            ValueKind::Json { nul: false }
        );
        assert_eq!(
            kind("json", Dialect::Postgres),
            ValueKind::Json { nul: true }
        );
    }

    #[test]
    fn profile_types_name_dialects() {
        for dialect in Dialect::ALL {
            assert_eq!(Dialect::from_type(dialect.name()), Some(dialect));
        }
        assert_eq!(Dialect::from_type("postgresql"), Some(Dialect::Postgres));
        assert_eq!(Dialect::from_type("snowflake"), None);
    }
}
