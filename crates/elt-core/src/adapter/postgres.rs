//! PostgreSQL's SQL: schemas named without their database, `merge into`, views dropped with
//! what depends on them (and found, to be created again), and text that cannot hold U+0000.

use super::{
    Adapter, AdvisoryLockSql, IncrementalSql, LoadFence, Relation, RowTrial, SeedType,
    TargetLocation, ValueKind,
};

pub struct Postgres;

impl Adapter for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }

    /// NAMEDATALEN - 1.
    fn max_identifier_length(&self) -> Option<usize> {
        Some(63)
    }

    /// `create or replace view` cannot change a PostgreSQL view's columns.
    fn replaces_views_in_place(&self) -> bool {
        false
    }

    fn load_fence(&self) -> LoadFence {
        LoadFence::AdvisoryLock(&Postgres)
    }

    fn row_trial(&self) -> RowTrial {
        RowTrial::Savepoint
    }

    fn sql_dialect(&self) -> Box<dyn sqlparser::dialect::Dialect + Send + Sync> {
        Box::new(sqlparser::dialect::PostgreSqlDialect {})
    }

    fn target_location(&self, setting: &dyn Fn(&str) -> Option<String>) -> TargetLocation {
        TargetLocation {
            database: setting("dbname")
                .or_else(|| setting("database"))
                .unwrap_or_else(|| "postgres".into()),
            schema: setting("schema").unwrap_or_else(|| "public".into()),
        }
    }

    /// A schema is named without its database, which must be the connected one.
    fn create_schema(&self, relation: &Relation) -> String {
        format!(
            "create schema if not exists {}",
            relation.render_parts(false, true, false)
        )
    }

    /// Views that select from the relation go with it (`cascade`), as dbt-postgres does: they
    /// are bound to the old relation and would block the drop; a run rebuilds them after it.
    fn drop_relation(&self, relation: &Relation, view: bool) -> String {
        let kind = if view { "view" } else { "table" };
        format!("drop {kind} if exists {relation} cascade")
    }

    /// Views bound to the relation through `pg_rewrite` rules, and the views bound to those;
    /// each at its longest distance from the relation, so that a view comes after the views
    /// it reads.
    fn dependent_views(&self, relation: &Relation) -> Option<String> {
        let schema = self.string_literal(&relation.schema);
        let name = self.string_literal(&relation.identifier);
        Some(format!(
            "with recursive dependents(oid, depth) as (\
             select r.ev_class, 1 from pg_depend d join pg_rewrite r on r.oid = d.objid \
             where d.classid = 'pg_rewrite'::regclass and r.ev_class <> d.refobjid \
             and d.refobjid = (select c.oid from pg_class c join pg_namespace n on n.oid = c.relnamespace \
             where n.nspname = {schema} and c.relname = {name}) \
             union all \
             select r.ev_class, dependents.depth + 1 from dependents \
             join pg_depend d on d.refobjid = dependents.oid join pg_rewrite r on r.oid = d.objid \
             where d.classid = 'pg_rewrite'::regclass and r.ev_class <> d.refobjid) \
             select n.nspname, c.relname, pg_get_viewdef(c.oid) from dependents \
             join pg_class c on c.oid = dependents.oid join pg_namespace n on n.oid = c.relnamespace \
             where c.relkind = 'v' group by n.nspname, c.relname, c.oid order by max(dependents.depth), 1, 2"
        ))
    }

    fn merge(&self, sql: &IncrementalSql) -> Vec<String> {
        let update = if sql.assignments.is_empty() {
            String::new()
        } else {
            format!(
                "\nwhen matched then update set {}",
                sql.assignments.join(", ")
            )
        };
        vec![format!(
            "merge into {} using {} on {}{update}\nwhen not matched then insert ({}) values ({})",
            sql.target_alias(),
            sql.source_alias(),
            sql.matches(),
            sql.columns.join(", "),
            sql.source_columns()
        )]
    }

    fn current_utc_timestamp(&self) -> &'static str {
        "(now() at time zone 'utc')"
    }

    fn seed_type(&self, seed_type: SeedType) -> &'static str {
        match seed_type {
            SeedType::Integer => "integer",
            SeedType::Decimal => "float8",
            SeedType::Date => "date",
            SeedType::Timestamp => "timestamp without time zone",
            SeedType::Boolean => "boolean",
            SeedType::Text => "text",
        }
    }

    fn value_kind(&self, base: &str, _args: &[u32]) -> Option<ValueKind> {
        Some(match base {
            "int2" | "smallserial" | "serial2" => ValueKind::signed(16),
            "int4" | "serial" | "serial4" => ValueKind::signed(32),
            "int8" | "bigserial" | "serial8" => ValueKind::signed(64),
            _ => return None,
        })
    }

    /// `float` is double precision unless `float(p)` with p <= 24.
    fn float_is_single(&self, precision: Option<u32>) -> bool {
        precision.is_some_and(|p| p <= 24)
    }

    /// Only `json` keeps the escape `\u0000` (as text); `jsonb` and text refuse U+0000.
    fn stores_nul(&self, base: &str) -> bool {
        base == "json"
    }

    /// `varchar(n)` and `char(n)` hold n characters; `char` alone one.
    fn text_limits(&self, base: &str, length: Option<usize>) -> (Option<usize>, Option<usize>) {
        match base {
            "varchar" | "character varying" | "bpchar" => (length, None),
            "char" | "character" => (length.or(Some(1)), None),
            _ => (None, None),
        }
    }
}

/// Session advisory locks, keyed by the hash of their name.
impl AdvisoryLockSql for Postgres {
    fn try_take(&self, key: &str) -> String {
        format!("select pg_try_advisory_lock(hashtext({key}))")
    }

    fn release(&self, key: &str) -> String {
        format!("select pg_advisory_unlock(hashtext({key}))")
    }
}
