//! Materializations: the statements that turn a model's select into a view, a table, or new
//! rows of an incremental table. The executor says what to build; how is decided here.
//!
//! Tables are never rebuilt in place: the new version is built beside the old one under a
//! `__dbt_tmp` name and swapped in by one transaction (on ClickHouse, which has none, by one
//! `EXCHANGE TABLES`), so a failure (or a kill) leaves the previous version intact and
//! queryable.

use elt_core::adapter::{IncrementalSql, PartitionSql, Relation};
pub use elt_core::adapter::{Storage, Strategy};

use crate::{ColumnInfo, ErrorKind, RelationKind, Result, Session, WarehouseError};

/// How a model is built.
#[derive(Debug, Clone, PartialEq)]
pub enum Materialization {
    View,
    Table,
    Incremental(Incremental),
}

/// The configs of an incremental model.
#[derive(Debug, Clone, PartialEq)]
pub struct Incremental {
    pub strategy: Strategy,
    /// Columns (or expressions) that identify a row; empty for append-only models.
    pub unique_key: Vec<String>,
    pub on_schema_change: OnSchemaChange,
    /// `incremental_predicates`: SQL conditions added to the match of merge and
    /// delete+insert, over the aliases `DBT_INTERNAL_DEST` and `DBT_INTERNAL_SOURCE` (dbt's).
    pub predicates: Vec<String>,
    /// Which columns a merge updates on a match (`merge_update_columns`, or every column but
    /// `merge_exclude_columns`).
    pub merge_columns: MergeColumns,
}

impl Incremental {
    /// Whether applying the same increment twice gives the same table: true of the strategies
    /// that replace what they write (delete+insert and merge by a unique key,
    /// insert_overwrite), not of appends.
    pub fn reapplies(&self) -> bool {
        match self.strategy {
            Strategy::InsertOverwrite => true,
            Strategy::DeleteInsert | Strategy::Merge => !self.unique_key.is_empty(),
            Strategy::Append => false,
        }
    }
}

/// The columns a merge updates on a match.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum MergeColumns {
    #[default]
    All,
    Only(Vec<String>),
    Except(Vec<String>),
}

impl MergeColumns {
    fn updates(&self, quoted_column: &str, relation: &Relation) -> bool {
        let named = |names: &[String]| {
            names.iter().any(|n| {
                relation
                    .dialect
                    .quote(n)
                    .eq_ignore_ascii_case(quoted_column)
            })
        };
        match self {
            MergeColumns::All => true,
            MergeColumns::Only(names) => named(names),
            MergeColumns::Except(names) => !named(names),
        }
    }
}

/// `create table ... as (select)`, with the table's storage clauses.
pub(crate) fn create_table_as(relation: &Relation, sql: &str, storage: &Storage) -> String {
    create_table_as_with(relation, sql, storage, "create table")
}

fn create_table_as_with(relation: &Relation, sql: &str, storage: &Storage, create: &str) -> String {
    format!(
        "{create} {relation}{} as (\n{}\n)",
        relation.dialect.table_clauses(storage),
        body(sql)
    )
}

/// `create table` with the given column definitions, with the table's storage clauses.
pub fn create_table_with(relation: &Relation, columns: &[String], storage: &Storage) -> String {
    format!(
        "create table {relation} ({}){}",
        columns.join(", "),
        relation.dialect.table_clauses(storage)
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnSchemaChange {
    Ignore,
    Fail,
    AppendNewColumns,
    SyncAllColumns,
}

impl OnSchemaChange {
    pub const NAMES: [&str; 4] = ["ignore", "fail", "append_new_columns", "sync_all_columns"];

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "ignore" => Some(OnSchemaChange::Ignore),
            "fail" => Some(OnSchemaChange::Fail),
            "append_new_columns" => Some(OnSchemaChange::AppendNewColumns),
            "sync_all_columns" => Some(OnSchemaChange::SyncAllColumns),
            _ => None,
        }
    }
}

/// What a build did, for status lines and `run_results.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct Built {
    /// e.g. `CREATE VIEW`, `CREATE TABLE`, `INSERT`.
    pub code: &'static str,
    /// Rows written, where the warehouse tells.
    pub rows: Option<usize>,
}

impl Built {
    /// dbt's `adapter_response._message`: `OK`, or `INSERT 10`.
    pub fn message(&self) -> String {
        match (self.code, self.rows) {
            ("INSERT", Some(rows)) => format!("INSERT {rows}"),
            _ => "OK".to_string(),
        }
    }
}

/// Builds `relation` from `sql`, given what `relation` is now (`existing`, from the
/// executor's catalog). `full_refresh` rebuilds incremental models from scratch.
pub fn build(
    session: &mut dyn Session,
    relation: &Relation,
    sql: &str,
    materialization: &Materialization,
    storage: &Storage,
    full_refresh: bool,
    existing: Option<RelationKind>,
) -> Result<Built> {
    match materialization {
        Materialization::View => build_view(session, relation, sql, existing),
        Materialization::Table => build_table(session, relation, sql, storage, existing),
        Materialization::Incremental(config) => {
            if let Some(reason) = relation.dialect.strategy_unsupported(config.strategy) {
                return Err(WarehouseError::new(reason));
            }
            if existing == Some(RelationKind::Table) && !full_refresh {
                insert_incremental(session, relation, sql, config, storage)
            } else {
                build_table(session, relation, sql, storage, existing)
            }
        }
    }
}

/// Creates the schema of `relation` if it does not exist. The executor creates every schema
/// it will build in before starting (concurrent DDL on one schema can conflict).
pub fn ensure_schema(session: &mut dyn Session, relation: &Relation) -> Result<()> {
    session.execute(&relation.dialect.create_schema(relation))
}

/// Runs statements in one transaction, rolling back on failure. Where the warehouse has no
/// transactions (ClickHouse) they run one by one, and callers keep each step safe on its own.
/// One statement runs alone: it commits atomically by itself.
pub(crate) fn in_transaction(session: &mut dyn Session, statements: &[String]) -> Result<()> {
    if let [statement] = statements {
        return session.execute(statement);
    }
    atomically(session, |session| {
        statements.iter().try_for_each(|s| session.execute(s))
    })
}

/// Runs `work` in one transaction, committed when it succeeds and rolled back when it fails.
/// Where the warehouse has no transactions (ClickHouse), `work` just runs.
pub fn atomically<T>(
    session: &mut dyn Session,
    work: impl FnOnce(&mut dyn Session) -> Result<T>,
) -> Result<T> {
    if !session.dialect().has_transactions() {
        return work(session);
    }
    session.execute("begin transaction")?;
    let done = work(session).and_then(|out| session.execute("commit").map(|()| out));
    if done.is_err() {
        let _ = session.execute("rollback");
    }
    done
}

/// The model's select without trailing semicolons, ready to be wrapped in parentheses.
pub(crate) fn body(sql: &str) -> &str {
    sql.trim().trim_end_matches(';').trim_end()
}

/// The suffixes of the tables that a build makes beside a model and drops when it is done;
/// an interrupted one can leave them: staged (`__dbt_tmp`) and backup (`__dbt_backup`)
/// tables, a seed's raw text (`__elt_raw`), which the model's next build drops, and a
/// [`pending`] increment, which it completes.
pub const LEFTOVER_SUFFIXES: [&str; 4] =
    ["__dbt_tmp", "__dbt_backup", "__elt_raw", "__elt_pending"];

/// The name a table is built under before it is swapped in (dbt's `__dbt_tmp`).
pub fn staged(relation: &Relation) -> Relation {
    beside(relation, "__dbt_tmp")
}

/// Drops a staged table that an interrupted build left (see [`staged`]); callers that know the
/// schema's relations call it only when there is one.
pub fn drop_staged(session: &mut dyn Session, relation: &Relation) -> Result<()> {
    session.execute(&format!("drop table if exists {}", staged(relation)))
}

/// Drops `table`, which a build made beside the model, once the build is done (`built`). A
/// drop that fails fails a build that succeeded: reported as built, the model would not run
/// again (`elt retry`), and the table would stay.
pub(crate) fn drop_after<T>(
    session: &mut dyn Session,
    table: &Relation,
    built: Result<T>,
) -> Result<T> {
    let dropped = session.execute(&format!("drop table if exists {table}"));
    built.and_then(|out| dropped.map(|()| out))
}

/// Drops a relation being replaced.
fn drop_statement(relation: &Relation, kind: RelationKind) -> String {
    relation
        .dialect
        .drop_relation(relation, kind == RelationKind::View)
}

/// A relation beside `relation`, named with a suffix (dbt's `__dbt_tmp`); its name is cut to
/// leave room for the suffix where the warehouse limits identifiers (PostgreSQL's 63 bytes).
pub(crate) fn beside(relation: &Relation, suffix: &str) -> Relation {
    let mut base = relation.identifier.as_str();
    if let Some(max) = relation.dialect.max_identifier_length() {
        let mut keep = max.saturating_sub(suffix.len()).min(base.len());
        while !base.is_char_boundary(keep) {
            keep -= 1;
        }
        base = &base[..keep];
    }
    Relation {
        identifier: format!("{base}{suffix}"),
        ..relation.clone()
    }
}

fn build_view(
    session: &mut dyn Session,
    relation: &Relation,
    sql: &str,
    existing: Option<RelationKind>,
) -> Result<Built> {
    // Where `create or replace view` cannot change a view's columns, drop and create in one
    // transaction instead.
    let replace_view =
        existing == Some(RelationKind::View) && relation.dialect.replaces_views_in_place();
    let create = if replace_view {
        "create or replace view"
    } else {
        "create view"
    };
    let create = format!("{create} {relation} as (\n{}\n)", body(sql));
    match existing.filter(|_| !replace_view) {
        Some(kind) => atomically(session, |session| {
            replace_keeping_views(session, relation, kind, |session| session.execute(&create))
        })?,
        None => session.execute(&create)?,
    }
    Ok(Built {
        code: "CREATE VIEW",
        rows: None,
    })
}

/// Builds the new table beside the old one, then swaps it in. On DuckDB and PostgreSQL the
/// build and the swap are one transaction: one commit per table, and a crash never leaves the
/// staged table behind. Where one statement is enough (a new table, or a table the warehouse
/// replaces in place), that statement alone: it is atomic by itself.
pub(crate) fn build_table(
    session: &mut dyn Session,
    relation: &Relation,
    sql: &str,
    storage: &Storage,
    existing: Option<RelationKind>,
) -> Result<Built> {
    let staged = staged(relation);
    let dialect = relation.dialect;
    let one_statement = match existing {
        None => Some("create table"),
        Some(RelationKind::Table) if dialect.replaces_tables_in_place() => {
            Some("create or replace table")
        }
        Some(_) => None,
    }
    .filter(|_| dialect.has_transactions());
    let rows = if let Some(create) = one_statement {
        session.execute_counting(&create_table_as_with(relation, sql, storage, create))?
    } else if !dialect.has_transactions() {
        drop_staged(session, relation)?;
        let rows = session
            .execute_counting(&create_table_as(&staged, sql, storage))
            .inspect_err(|_| {
                let _ = drop_staged(session, relation);
            })?;
        swap_in(session, relation, &staged, existing)?;
        rows
    } else {
        atomically(session, |session| {
            create_and_swap(session, relation, &staged, sql, storage, existing)
        })?
    };
    Ok(Built {
        code: "CREATE TABLE",
        rows: Some(rows),
    })
}

/// The statements of a transactional table build: the new table under the staged name, then
/// the old one dropped and the new one renamed.
fn create_and_swap(
    session: &mut dyn Session,
    relation: &Relation,
    staged: &Relation,
    sql: &str,
    storage: &Storage,
    existing: Option<RelationKind>,
) -> Result<usize> {
    session.execute(&format!("drop table if exists {staged}"))?;
    let rows = session.execute_counting(&create_table_as(staged, sql, storage))?;
    let rename = relation.dialect.rename_table(staged, relation);
    match existing {
        Some(kind) => {
            replace_keeping_views(session, relation, kind, |session| session.execute(&rename))?
        }
        None => session.execute(&rename)?,
    }
    Ok(rows)
}

/// Inside the caller's transaction: drops `relation` and has `replace` put the new version in
/// its place. Views that the drop takes with it (PostgreSQL) are created again as they were;
/// one that no longer fits the new version (a column it reads is gone) stays dropped, as dbt
/// leaves it, until its own model is built.
fn replace_keeping_views(
    session: &mut dyn Session,
    relation: &Relation,
    kind: RelationKind,
    replace: impl FnOnce(&mut dyn Session) -> Result<()>,
) -> Result<()> {
    let views = match relation.dialect.dependent_views(relation) {
        Some(sql) => session.query(&sql)?.rows,
        None => Vec::new(),
    };
    session.execute(&drop_statement(relation, kind))?;
    replace(session)?;
    for view in views {
        let [Some(schema), Some(name), Some(definition)] = view.as_slice() else {
            continue;
        };
        let view = Relation {
            schema: schema.clone(),
            identifier: name.clone(),
            ..relation.clone()
        };
        session.execute("savepoint elt_view")?;
        let created = session.execute(&format!("create view {view} as {}", body(definition)));
        let end = match created {
            Ok(()) => "release savepoint elt_view",
            Err(_) => "rollback to savepoint elt_view",
        };
        session.execute(end)?;
    }
    Ok(())
}

/// Without transactions: replaces `relation` with the table `staged` (see [`exchange`]) and
/// drops what is left under the staged name.
pub(crate) fn swap_in(
    session: &mut dyn Session,
    relation: &Relation,
    staged: &Relation,
    existing: Option<RelationKind>,
) -> Result<()> {
    let swapped = exchange(session, relation, staged, existing);
    // After an exchange `staged` holds the previous version; after a failure, the new.
    drop_after(session, staged, swapped)
}

/// The swap without a transaction: the adapter's exchange of two tables (atomic), or where
/// the warehouse cannot (ClickHouse's `Ordinary` databases), one rename of both through a
/// backup. A view being replaced by a table is dropped first: no statement swaps the two.
fn exchange(
    session: &mut dyn Session,
    relation: &Relation,
    staged: &Relation,
    existing: Option<RelationKind>,
) -> Result<()> {
    let dialect = relation.dialect;
    match existing {
        Some(RelationKind::Table) => match dialect.exchange_tables(staged, relation) {
            Some(sql) => session.execute(&sql).or_else(|e| match e.kind {
                ErrorKind::Unsupported => rename_through_backup(session, relation, staged),
                _ => Err(e),
            }),
            None => rename_through_backup(session, relation, staged),
        },
        Some(RelationKind::View) => {
            session.execute(&drop_statement(relation, RelationKind::View))?;
            session.execute(&dialect.rename_table(staged, relation))
        }
        None => session.execute(&dialect.rename_table(staged, relation)),
    }
}

/// Replaces the table `relation` by `staged` with one rename of both (the old one to a
/// backup, dropped after).
fn rename_through_backup(
    session: &mut dyn Session,
    relation: &Relation,
    staged: &Relation,
) -> Result<()> {
    let backup = beside(relation, "__dbt_backup");
    session.execute(&format!("drop table if exists {backup}"))?;
    let renames = [(relation, &backup), (staged, relation)];
    session.execute(&relation.dialect.rename_tables(&renames))?;
    session.execute(&format!("drop table {backup}"))
}

/// Adds the model's new rows to an existing incremental table. The rows are staged first.
/// Where the warehouse has no transactions, an increment that can be applied twice (see
/// [`Incremental::reapplies`]) is renamed to [`pending`] before it is applied: a run
/// interrupted midway leaves it for the next to complete ([`complete_pending`]).
fn insert_incremental(
    session: &mut dyn Session,
    relation: &Relation,
    sql: &str,
    config: &Incremental,
    storage: &Storage,
) -> Result<Built> {
    let staged = staged(relation);
    drop_staged(session, relation)?;
    let via_pending = !relation.dialect.has_transactions() && config.reapplies();
    let source = if via_pending {
        pending(relation)
    } else {
        staged.clone()
    };
    let prepared = stage_increment(session, relation, &staged, sql, config, storage)
        .and_then(|()| match via_pending {
            true => session.execute(&relation.dialect.rename_table(&staged, &source)),
            false => Ok(()),
        })
        .and_then(|()| increment_statements(session, relation, &source, config));
    let (statements, rows) = match prepared {
        Ok(prepared) => prepared,
        Err(e) => {
            let _ = drop_staged(session, relation);
            if via_pending {
                let _ = session.execute(&format!("drop table if exists {source}"));
            }
            return Err(e);
        }
    };
    if via_pending {
        apply_pending(session, &source, &statements)?;
    } else {
        let applied = in_transaction(session, &statements);
        drop_after(session, &staged, applied)?;
    }
    Ok(Built {
        code: "INSERT",
        rows,
    })
}

/// The table an increment is applied from while it is being applied, where that takes several
/// statements that do not commit together (see [`insert_incremental`]).
pub fn pending(relation: &Relation) -> Relation {
    beside(relation, "__elt_pending")
}

/// Completes the increment that an interrupted run left under the [`pending`] name, before
/// the model's next build: each strategy's statements give the same table when run again
/// (delete+insert deletes what it inserted; a partition is replaced by the same one). Where
/// the next build is not an incremental one over the existing table, the pending rows are
/// only dropped.
pub fn complete_pending(
    session: &mut dyn Session,
    relation: &Relation,
    materialization: &Materialization,
    full_refresh: bool,
    existing: Option<RelationKind>,
) -> Result<()> {
    let pending = pending(relation);
    match materialization {
        Materialization::Incremental(config)
            if !full_refresh && existing == Some(RelationKind::Table) =>
        {
            let statements = increment_statements(session, relation, &pending, config)?.0;
            apply_pending(session, &pending, &statements)
        }
        _ => session.execute(&format!("drop table if exists {pending}")),
    }
}

/// Runs the statements that apply a pending increment, then drops it. A statement that fails
/// leaves it for the next run to complete.
fn apply_pending(
    session: &mut dyn Session,
    pending: &Relation,
    statements: &[String],
) -> Result<()> {
    for statement in statements {
        session.execute(statement)?;
    }
    session.execute(&format!("drop table if exists {pending}"))
}

/// Writes the model's new rows into `staged`: a table like the model's for insert_overwrite
/// (its partitions replace the model's), else one made by the select.
fn stage_increment(
    session: &mut dyn Session,
    relation: &Relation,
    staged: &Relation,
    sql: &str,
    config: &Incremental,
    storage: &Storage,
) -> Result<()> {
    if config.strategy != Strategy::InsertOverwrite {
        return session.execute(&create_table_as(staged, sql, &Storage::default()));
    }
    let partitions = partitions(relation)?;
    if storage.partition_by.is_empty() {
        return Err(WarehouseError::new(
            "insert_overwrite replaces partitions: set partition_by on this model",
        ));
    }
    session.execute(&partitions.create_like(staged, relation))?;
    let list = session
        .columns(relation)?
        .iter()
        .map(|c| relation.dialect.quote(&c.name))
        .collect::<Vec<_>>()
        .join(", ");
    session.execute(&format!(
        "insert into {staged} ({list}) select {list} from (\n{}\n)",
        body(sql)
    ))
}

/// insert_overwrite's partitions (ClickHouse): each partition that new rows fall in replaces
/// the model's, atomically per partition; partitions without new rows are kept.
fn partitions(relation: &Relation) -> Result<&'static dyn PartitionSql> {
    relation.dialect.partitions().ok_or_else(|| {
        WarehouseError::new("this warehouse has no partitions for insert_overwrite to replace")
            .of_kind(ErrorKind::Unsupported)
    })
}

/// The statements that apply the increment in `source` to `relation` (the schema changes
/// `on_schema_change` asks for, then the strategy's), and its number of rows.
fn increment_statements(
    session: &mut dyn Session,
    relation: &Relation,
    source: &Relation,
    config: &Incremental,
) -> Result<(Vec<String>, Option<usize>)> {
    let rows = count_rows(session, source)?;
    if config.strategy == Strategy::InsertOverwrite {
        let partitions = partitions(relation)?;
        let ids = session.query(&partitions.partition_ids(source))?;
        let statements = ids
            .rows
            .iter()
            .filter_map(|r| r[0].as_deref())
            .map(|id| {
                let id = relation.dialect.string_literal(id);
                partitions.replace_partition(relation, &id, source)
            })
            .collect();
        return Ok((statements, rows));
    }
    let source_columns = session.columns(source)?;
    let target = session.columns(relation)?;
    let (mut statements, columns) =
        schema_changes(relation, &source_columns, &target, config.on_schema_change)?;
    statements.extend(strategy_statements(relation, source, &columns, config));
    Ok((statements, rows))
}

/// The `alter table` statements that `on_schema_change` asks for, and the columns to insert.
fn schema_changes(
    relation: &Relation,
    source: &[ColumnInfo],
    target: &[ColumnInfo],
    policy: OnSchemaChange,
) -> Result<(Vec<String>, Vec<String>)> {
    let find = |list: &[ColumnInfo], name: &str| {
        list.iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
            .cloned()
    };
    let added: Vec<&ColumnInfo> = source
        .iter()
        .filter(|c| find(target, &c.name).is_none())
        .collect();
    let removed: Vec<&ColumnInfo> = target
        .iter()
        .filter(|c| find(source, &c.name).is_none())
        .collect();
    let retyped: Vec<&ColumnInfo> = source
        .iter()
        .filter(|c| find(target, &c.name).is_some_and(|t| t.data_type != c.data_type))
        .collect();
    let names = |list: &[&ColumnInfo]| {
        list.iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let quote = |name: &str| relation.dialect.quote(name);
    let source_names = || source.iter().map(|c| quote(&c.name)).collect();
    let mut statements = Vec::new();
    let columns = match policy {
        OnSchemaChange::Ignore => target
            .iter()
            .filter(|c| find(source, &c.name).is_some())
            .map(|c| quote(&c.name))
            .collect(),
        OnSchemaChange::Fail => {
            if !added.is_empty() || !removed.is_empty() || !retyped.is_empty() {
                return Err(WarehouseError::new(format!(
                    "the source and target schemas of this incremental model are out of sync \
                     (new columns: [{}], removed columns: [{}], changed types: [{}]); set \
                     on_schema_change to append_new_columns or sync_all_columns, or run with \
                     --full-refresh",
                    names(&added),
                    names(&removed),
                    names(&retyped)
                )));
            }
            source_names()
        }
        OnSchemaChange::AppendNewColumns => {
            for column in &added {
                statements.push(add_column(relation, column));
            }
            source_names()
        }
        OnSchemaChange::SyncAllColumns => {
            for column in &added {
                statements.push(add_column(relation, column));
            }
            for column in &removed {
                statements.push(format!(
                    "alter table {relation} drop column {}",
                    quote(&column.name)
                ));
            }
            for column in &retyped {
                statements.push(retype_column(relation, column));
            }
            source_names()
        }
    };
    Ok((statements, columns))
}

fn retype_column(relation: &Relation, column: &ColumnInfo) -> String {
    relation
        .dialect
        .retype_column(relation, &column.name, &column.data_type)
}

pub(crate) fn add_column(relation: &Relation, column: &ColumnInfo) -> String {
    format!(
        "alter table {relation} add column {} {}",
        relation.dialect.quote(&column.name),
        column.data_type
    )
}

/// The rows of a table (the staged rows an incremental build or snapshot writes).
pub(crate) fn count_rows(session: &mut dyn Session, table: &Relation) -> Result<Option<usize>> {
    Ok(session
        .query(&format!("select count(*) from {table}"))?
        .first_value()
        .and_then(|n| n.parse().ok()))
}

/// The statements of an incremental strategy.
fn strategy_statements(
    relation: &Relation,
    staged: &Relation,
    columns: &[String],
    config: &Incremental,
) -> Vec<String> {
    let sql = IncrementalSql {
        relation,
        staged,
        columns,
        unique_key: &config.unique_key,
        predicates: &config.predicates,
        assignments: columns
            .iter()
            .filter(|c| config.merge_columns.updates(c, relation))
            .map(|c| format!("{c} = DBT_INTERNAL_SOURCE.{c}"))
            .collect(),
    };
    if config.unique_key.is_empty() {
        return vec![sql.insert_all()];
    }
    match config.strategy {
        Strategy::Append | Strategy::InsertOverwrite => vec![sql.insert_all()],
        Strategy::DeleteInsert => relation.dialect.delete_insert(&sql),
        Strategy::Merge => relation.dialect.merge(&sql),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use elt_core::adapter::Dialect;

    fn relation(name: &str) -> Relation {
        Relation::new(
            Dialect::DuckDb,
            Some("dev".into()),
            "main".into(),
            name.into(),
        )
    }

    fn column(name: &str, data_type: &str) -> ColumnInfo {
        ColumnInfo {
            name: name.into(),
            data_type: data_type.into(),
        }
    }

    /// Records statements and fails the one that starts with `fail_on`, the `nth` time.
    struct Scripted {
        statements: Vec<String>,
        fail_on: &'static str,
        nth: usize,
    }

    impl Session for Scripted {
        fn dialect(&self) -> Dialect {
            Dialect::ClickHouse
        }
        fn execute(&mut self, sql: &str) -> Result<()> {
            self.statements.push(sql.to_string());
            let seen = self
                .statements
                .iter()
                .filter(|s| s.starts_with(self.fail_on))
                .count();
            if sql.starts_with(self.fail_on) && seen == self.nth {
                return Err(WarehouseError::new("lost the connection"));
            }
            Ok(())
        }
        fn query(&mut self, _sql: &str) -> Result<crate::Table> {
            Ok(crate::Table::default())
        }
        fn execute_counting(&mut self, sql: &str) -> Result<usize> {
            self.execute(sql).map(|()| 0)
        }
        fn relations_in(
            &mut self,
            _: Option<&str>,
            _: &str,
        ) -> Result<Vec<(String, RelationKind)>> {
            Ok(Vec::new())
        }
        fn columns(&mut self, _relation: &Relation) -> Result<Vec<ColumnInfo>> {
            Ok(Vec::new())
        }
        fn schema_columns(
            &mut self,
            _: Option<&str>,
            _: &str,
        ) -> Result<Vec<crate::CatalogColumn>> {
            Ok(Vec::new())
        }
        fn insert_text_rows(
            &mut self,
            _: &Relation,
            _: &[String],
            _: &crate::TextRows,
        ) -> Result<()> {
            Ok(())
        }
    }

    /// The ClickHouse leftover of issue 28: killed after the exchange, before the previous
    /// version (now under the staged name) is dropped, the model was reported built, so that
    /// `elt retry` did not run it again and the `__dbt_tmp` table stayed.
    #[test]
    fn a_swap_whose_leftover_is_not_dropped_fails() {
        let table = Relation::new(Dialect::ClickHouse, None, "shop".into(), "orders".into());
        let mut session = Scripted {
            statements: Vec::new(),
            fail_on: "drop table if exists",
            nth: 2,
        };
        let built = build_table(
            &mut session,
            &table,
            "select 1 as id",
            &Storage::default(),
            Some(RelationKind::Table),
        );
        assert!(built.is_err(), "{:?}", session.statements);
        assert!(
            session.statements[2].starts_with("exchange tables"),
            "{:?}",
            session.statements
        );
    }

    #[test]
    fn merge_updates_matches_and_inserts_the_rest() {
        let config = Incremental {
            strategy: Strategy::Merge,
            unique_key: vec!["id".into(), "day".into()],
            on_schema_change: OnSchemaChange::Ignore,
            predicates: vec![],
            merge_columns: MergeColumns::All,
        };
        let columns = vec!["\"id\"".to_string(), "\"day\"".into(), "\"v\"".into()];
        let statements =
            strategy_statements(&relation("t"), &relation("t__dbt_tmp"), &columns, &config);
        assert_eq!(
            statements,
            [
                "update \"dev\".\"main\".\"t\" as DBT_INTERNAL_DEST set \"id\" = DBT_INTERNAL_SOURCE.\"id\", \"day\" = DBT_INTERNAL_SOURCE.\"day\", \"v\" = DBT_INTERNAL_SOURCE.\"v\" from \"dev\".\"main\".\"t__dbt_tmp\" as DBT_INTERNAL_SOURCE where DBT_INTERNAL_DEST.id = DBT_INTERNAL_SOURCE.id and DBT_INTERNAL_DEST.day = DBT_INTERNAL_SOURCE.day",
                "insert into \"dev\".\"main\".\"t\" (\"id\", \"day\", \"v\") select DBT_INTERNAL_SOURCE.\"id\", DBT_INTERNAL_SOURCE.\"day\", DBT_INTERNAL_SOURCE.\"v\" from \"dev\".\"main\".\"t__dbt_tmp\" as DBT_INTERNAL_SOURCE where not exists (select 1 from \"dev\".\"main\".\"t\" as DBT_INTERNAL_DEST where DBT_INTERNAL_DEST.id = DBT_INTERNAL_SOURCE.id and DBT_INTERNAL_DEST.day = DBT_INTERNAL_SOURCE.day)",
            ]
        );
    }

    #[test]
    fn postgres_merges_the_configured_columns_with_predicates() {
        let config = Incremental {
            strategy: Strategy::Merge,
            unique_key: vec!["id".into()],
            on_schema_change: OnSchemaChange::Ignore,
            predicates: vec!["DBT_INTERNAL_DEST.day > '2024-01-01'".into()],
            merge_columns: MergeColumns::Except(vec!["id".into(), "day".into()]),
        };
        let pg = |name: &str| {
            Relation::new(
                Dialect::Postgres,
                Some("dev".into()),
                "public".into(),
                name.into(),
            )
        };
        let columns = vec!["\"id\"".to_string(), "\"day\"".into(), "\"v\"".into()];
        assert_eq!(
            strategy_statements(&pg("t"), &pg("t__dbt_tmp"), &columns, &config),
            [
                "merge into \"dev\".\"public\".\"t\" as DBT_INTERNAL_DEST using \"dev\".\"public\".\"t__dbt_tmp\" as DBT_INTERNAL_SOURCE on DBT_INTERNAL_DEST.id = DBT_INTERNAL_SOURCE.id and (DBT_INTERNAL_DEST.day > '2024-01-01')\nwhen matched then update set \"v\" = DBT_INTERNAL_SOURCE.\"v\"\nwhen not matched then insert (\"id\", \"day\", \"v\") values (DBT_INTERNAL_SOURCE.\"id\", DBT_INTERNAL_SOURCE.\"day\", DBT_INTERNAL_SOURCE.\"v\")"
            ]
        );
    }

    #[test]
    fn strategies_without_a_unique_key_append() {
        let config = Incremental {
            strategy: Strategy::DeleteInsert,
            unique_key: vec![],
            on_schema_change: OnSchemaChange::Ignore,
            predicates: vec![],
            merge_columns: MergeColumns::All,
        };
        let statements = strategy_statements(
            &relation("t"),
            &relation("t__dbt_tmp"),
            &["\"a\"".to_string()],
            &config,
        );
        assert_eq!(
            statements,
            [
                "insert into \"dev\".\"main\".\"t\" (\"a\") select \"a\" from \"dev\".\"main\".\"t__dbt_tmp\""
            ]
        );
    }

    #[test]
    fn schema_changes_per_policy() {
        let source = [
            column("id", "INTEGER"),
            column("v", "BIGINT"),
            column("new", "VARCHAR"),
        ];
        let target = [
            column("id", "INTEGER"),
            column("v", "INTEGER"),
            column("old", "DATE"),
        ];
        let t = relation("t");
        let (statements, columns) =
            schema_changes(&t, &source, &target, OnSchemaChange::SyncAllColumns).unwrap();
        assert_eq!(
            statements,
            [
                "alter table \"dev\".\"main\".\"t\" add column \"new\" VARCHAR",
                "alter table \"dev\".\"main\".\"t\" drop column \"old\"",
                "alter table \"dev\".\"main\".\"t\" alter column \"v\" type BIGINT",
            ]
        );
        assert_eq!(columns, ["\"id\"", "\"v\"", "\"new\""]);
        let (statements, columns) =
            schema_changes(&t, &source, &target, OnSchemaChange::Ignore).unwrap();
        assert!(statements.is_empty());
        assert_eq!(columns, ["\"id\"", "\"v\""]);
        let error = schema_changes(&t, &source, &target, OnSchemaChange::Fail).unwrap_err();
        assert!(
            error
                .message
                .contains("(new columns: [new], removed columns: [old], changed types: [v])"),
            "{}",
            error.message
        );
    }
}
