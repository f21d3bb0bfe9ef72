//! ClickHouse's SQL: no transactions (tables are swapped in by `EXCHANGE TABLES`, steps kept
//! safe one by one), databases as schemas, MergeTree storage clauses, lightweight deletes,
//! `Nullable` types, and narrower date ranges.

use chrono::NaiveDate;

use super::types::{day, day_range_as_timestamps};
use super::{
    Adapter, IncrementalSql, LeaseClaim, LeaseSql, LoadFence, PartitionSql, Relation, RowTrial,
    SeedType, Storage, Strategy, TargetLocation, ValueKind,
};

pub struct ClickHouse;

impl Adapter for ClickHouse {
    fn name(&self) -> &'static str {
        "clickhouse"
    }

    fn has_transactions(&self) -> bool {
        false
    }

    fn has_database(&self) -> bool {
        false
    }

    fn strategy_unsupported(&self, strategy: Strategy) -> Option<&'static str> {
        (strategy == Strategy::Merge).then_some(
            "ClickHouse has no merge: use incremental_strategy delete+insert (lightweight \
             DELETE, then insert) or insert_overwrite (by partition)",
        )
    }

    /// A `Nullable` cast turns what it cannot read into NULL.
    fn casts_lose_bad_values(&self) -> bool {
        true
    }

    fn load_fence(&self) -> LoadFence {
        LoadFence::Lease(&ClickHouse)
    }

    fn row_trial(&self) -> RowTrial {
        RowTrial::DiscardingCopy(|copy, table| {
            format!("create table {copy} as {table} engine = Null")
        })
    }

    fn partitions(&self) -> Option<&'static dyn PartitionSql> {
        Some(&ClickHouse)
    }

    fn quote_char(&self) -> char {
        '`'
    }

    /// Backslashes escape in ClickHouse's string literals.
    fn string_literal(&self, value: &str) -> String {
        format!("'{}'", value.replace('\'', "''").replace('\\', "\\\\"))
    }

    fn sql_dialect(&self) -> Box<dyn sqlparser::dialect::Dialect + Send + Sync> {
        Box::new(sqlparser::dialect::ClickHouseDialect {})
    }

    /// A schema is a database.
    fn target_location(&self, setting: &dyn Fn(&str) -> Option<String>) -> TargetLocation {
        TargetLocation {
            database: String::new(),
            schema: setting("schema")
                .or_else(|| setting("database"))
                .unwrap_or_else(|| "default".into()),
        }
    }

    fn create_schema(&self, relation: &Relation) -> String {
        format!(
            "create database if not exists {}",
            relation.render_parts(false, true, false)
        )
    }

    /// ` engine = MergeTree() order by tuple()` and the other MergeTree clauses.
    fn table_clauses(&self, storage: &Storage) -> String {
        let engine = storage.engine.as_deref().unwrap_or("MergeTree()");
        let mut out = format!(" engine = {engine}");
        if !engine.contains("MergeTree") {
            return out;
        }
        let expression = |items: &[String]| match items {
            [one] => one.clone(),
            many => format!("({})", many.join(", ")),
        };
        if !storage.partition_by.is_empty() {
            out.push_str(&format!(
                " partition by {}",
                expression(&storage.partition_by)
            ));
        }
        match storage.order_by.as_slice() {
            [] => out.push_str(" order by tuple()"),
            items => out.push_str(&format!(" order by {}", expression(items))),
        }
        if !storage.primary_key.is_empty() {
            out.push_str(&format!(
                " primary key {}",
                expression(&storage.primary_key)
            ));
        }
        if !storage.settings.is_empty() {
            let settings: Vec<String> = storage
                .settings
                .iter()
                .map(|(name, value)| format!("{name} = {value}"))
                .collect();
            out.push_str(&format!(" settings {}", settings.join(", ")));
        }
        out
    }

    /// Only `Nullable` types hold NULL; arrays, maps and tuples cannot be, and take their
    /// empty value instead.
    fn typed_null(&self, data_type: &str) -> String {
        let literal = self.string_literal(data_type);
        if data_type.starts_with("Nullable(") || data_type.starts_with("LowCardinality(Nullable(") {
            format!("cast(null, {literal})")
        } else if let Some(inner) = data_type
            .strip_prefix("LowCardinality(")
            .and_then(|t| t.strip_suffix(')'))
        {
            let nullable = self.string_literal(&format!("LowCardinality(Nullable({inner}))"));
            format!("cast(null, {nullable})")
        } else if ["Array(", "Map(", "Tuple("]
            .iter()
            .any(|p| data_type.starts_with(p))
        {
            format!("defaultValueOfTypeName({literal})")
        } else {
            let nullable = self.string_literal(&format!("Nullable({data_type})"));
            format!("cast(null, {nullable})")
        }
    }

    fn rename_table(&self, from: &Relation, to: &Relation) -> String {
        format!("rename table {from} to {to}")
    }

    fn rename_tables(&self, renames: &[(&Relation, &Relation)]) -> String {
        let pairs: Vec<String> = renames
            .iter()
            .map(|(from, to)| format!("{from} to {to}"))
            .collect();
        format!("rename table {}", pairs.join(", "))
    }

    fn exchange_tables(&self, staged: &Relation, relation: &Relation) -> Option<String> {
        Some(format!("exchange tables {staged} and {relation}"))
    }

    fn retype_column(&self, relation: &Relation, column: &str, data_type: &str) -> String {
        format!(
            "alter table {relation} modify column {} {data_type}",
            self.quote(column)
        )
    }

    fn set_column_default(&self, relation: &Relation, column: &str, default: &str) -> String {
        format!(
            "alter table {relation} modify column {} default {default}",
            self.quote(column)
        )
    }

    /// A lightweight DELETE of the keys being replaced, then the insert. There is no
    /// transaction around the two, no correlated subquery (the keys are a tuple) and no alias
    /// in DELETE: predicates name the target's columns directly.
    fn delete_insert(&self, sql: &IncrementalSql) -> Vec<String> {
        let keys = sql.unique_key.join(", ");
        let mut condition = format!("({keys}) in (select {keys} from {})", sql.staged);
        for predicate in sql.predicates {
            let predicate = predicate.replace("DBT_INTERNAL_DEST.", "");
            condition.push_str(&format!(" and ({predicate})"));
        }
        vec![
            format!("delete from {} where {condition}", sql.relation),
            sql.insert_all(),
        ]
    }

    fn current_timestamp(&self) -> &'static str {
        "cast(now64(6) as Nullable(DateTime64(6)))"
    }

    fn null_timestamp(&self) -> &'static str {
        "cast(null as Nullable(DateTime64(6)))"
    }

    fn current_utc_timestamp(&self) -> &'static str {
        "now64(6)"
    }

    fn md5(&self, text: &str) -> String {
        format!("lower(hex(MD5({text})))")
    }

    fn bool_or(&self, expression: &str) -> String {
        format!("max({expression})")
    }

    /// Columns are not nullable unless declared so; seed cells can be NULL.
    fn seed_type(&self, seed_type: SeedType) -> &'static str {
        match seed_type {
            SeedType::Integer => "Nullable(Int64)",
            SeedType::Decimal => "Nullable(Float64)",
            // Date32 holds 1900-2299; Date only 1970-2149.
            SeedType::Date => "Nullable(Date32)",
            SeedType::Timestamp => "Nullable(DateTime64(6))",
            SeedType::Boolean => "Nullable(Bool)",
            SeedType::Text => "Nullable(String)",
        }
    }

    /// dbt-clickhouse's type labels.
    fn translate_type(&self, label: &str) -> String {
        let name = match label.to_ascii_uppercase().as_str() {
            "STRING" => "String",
            "TIMESTAMP" => "DateTime",
            "FLOAT" => "Float32",
            "INTEGER" => "Int32",
            _ => label,
        };
        name.to_string()
    }

    /// Made `Nullable` (a record may lack any field). ClickHouse reads SQL type names
    /// (`bigint`, `timestamp`) as its own; timestamps are UTC (loaders write them so): in the
    /// server's time zone, the default, they would be read as its local time.
    fn loader_column_type(&self, declared: Option<&str>) -> String {
        let Some(declared) = declared else {
            return self.seed_type(SeedType::Text).into();
        };
        if declared.starts_with("Nullable(") || declared.starts_with("LowCardinality(") {
            return declared.to_string();
        }
        if ValueKind::of(declared, self).is_timestamp() {
            return "Nullable(DateTime64(6, 'UTC'))".into();
        }
        format!("Nullable({declared})")
    }

    /// `Int8` is 8 bits here (bytes elsewhere), up to `Int256` (checked as 128 bits); the
    /// decimals of fixed precision.
    fn value_kind(&self, base: &str, args: &[u32]) -> Option<ValueKind> {
        let decimal = |precision| ValueKind::Decimal {
            precision,
            scale: args.first().copied().unwrap_or(0),
        };
        match base {
            "decimal32" => return Some(decimal(9)),
            "decimal64" => return Some(decimal(18)),
            "decimal128" => return Some(decimal(38)),
            "decimal256" => return Some(decimal(76)),
            _ => {}
        }
        let (bits, signed) = match base.strip_prefix("uint") {
            Some(bits) => (bits, false),
            None => (base.strip_prefix("int")?, true),
        };
        let bits: u32 = bits
            .parse()
            .ok()
            .filter(|b| [8, 16, 32, 64, 128, 256].contains(b))?;
        Some(if signed {
            ValueKind::signed(bits.min(128))
        } else {
            ValueKind::unsigned(bits)
        })
    }

    fn date_range(&self, base: &str) -> (NaiveDate, NaiveDate) {
        match base {
            "date32" => (day(1900, 1, 1), day(2299, 12, 31)),
            _ => (day(1970, 1, 1), day(2149, 6, 6)),
        }
    }

    /// Loaded timestamps are DateTime64(6): 1900 to 2299.
    fn timestamp_range(&self) -> (chrono::NaiveDateTime, chrono::NaiveDateTime) {
        day_range_as_timestamps((day(1900, 1, 1), day(2299, 12, 31)))
    }

    /// `FixedString(n)` holds n bytes.
    fn text_limits(&self, base: &str, length: Option<usize>) -> (Option<usize>, Option<usize>) {
        match base {
            "fixedstring" => (None, length),
            _ => (None, None),
        }
    }
}

/// Claims in a ReplacingMergeTree that keeps a holder's latest row (merges may lag: readers
/// aggregate per holder), expiring a week after their last heartbeat.
impl LeaseSql for ClickHouse {
    fn create_table(&self, table: &Relation) -> String {
        format!(
            "create table if not exists {table} (source_table String, holder String, \
             host String, process String, claimed_at DateTime64(6), heartbeat_at DateTime64(6), \
             released Bool) engine = ReplacingMergeTree(heartbeat_at) \
             order by (source_table, holder) ttl toDateTime(heartbeat_at) + interval 7 day"
        )
    }

    fn now(&self) -> &'static str {
        "now64(6)"
    }

    fn claim(&self, table: &Relation, claim: &LeaseClaim) -> String {
        format!(
            "insert into {table} (source_table, holder, host, process, claimed_at, heartbeat_at, \
             released) select {}, {}, {}, {}, {}, now64(6), {}",
            claim.source_table,
            claim.holder,
            claim.host,
            claim.process,
            claim.claimed_at,
            claim.released
        )
    }

    fn claimed_at(&self, table: &Relation, holder: &str) -> String {
        format!("select toString(min(claimed_at)) from {table} where holder = {holder}")
    }

    fn claimed_at_value(&self, text: &str) -> String {
        format!("toDateTime64({text}, 6)")
    }

    fn live_claims(&self, table: &Relation, source_table: &str) -> String {
        format!(
            "select holder, any(host), any(process), \
             dateDiff('millisecond', max(heartbeat_at), now64(6)) from {table} \
             where source_table = {source_table} group by holder having not max(released) \
             order by min(claimed_at), holder"
        )
    }
}

/// Partitions by the table's `partition by`, each replaced atomically.
impl PartitionSql for ClickHouse {
    fn create_like(&self, new: &Relation, like: &Relation) -> String {
        format!("create table {new} as {like}")
    }

    fn partition_ids(&self, table: &Relation) -> String {
        format!("select distinct _partition_id from {table}")
    }

    fn replace_partition(&self, table: &Relation, id: &str, from: &Relation) -> String {
        format!("alter table {table} replace partition id {id} from {from}")
    }
}
