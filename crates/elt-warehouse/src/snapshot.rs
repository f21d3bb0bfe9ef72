//! Snapshots: type-2 slowly changing dimensions, as dbt builds them. Each row version carries
//! `dbt_scd_id`, `dbt_updated_at`, `dbt_valid_from` and `dbt_valid_to` (null while current).
//!
//! New versions are staged first. With transactions (DuckDB, PostgreSQL) the versions they
//! replace are closed and the new ones inserted in one transaction; without (ClickHouse, which
//! has no `update ... from` either) the snapshot's next state is built beside it and swapped in.

use elt_core::adapter::{Dialect, Relation};

use crate::materialize::{
    Built, Storage, add_column, beside, body, count_rows, create_table_as, drop_after,
    in_transaction, swap_in,
};
use crate::{ColumnInfo, RelationKind, Result, Session, WarehouseError};

/// How changes are detected.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeDetection {
    /// A row changed when its `updated_at` column is newer than the snapshotted version.
    Timestamp { updated_at: String },
    /// A row changed when any of these columns differ (`None`: all columns).
    Check { columns: Option<Vec<String>> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotConfig {
    /// Columns that identify a record.
    pub unique_key: Vec<String>,
    pub strategy: ChangeDetection,
    /// Close the current version of records that disappeared from the source.
    pub invalidate_hard_deletes: bool,
}

const META_COLUMNS: [&str; 4] = [
    "dbt_scd_id",
    "dbt_updated_at",
    "dbt_valid_from",
    "dbt_valid_to",
];

/// Takes a snapshot of `sql` into `relation`: creates it on the first run, then records new
/// and changed records as new versions and closes the versions they replace.
pub fn snapshot(
    session: &mut dyn Session,
    relation: &Relation,
    sql: &str,
    config: &SnapshotConfig,
    storage: &Storage,
) -> Result<Built> {
    if config.unique_key.is_empty() {
        return Err(WarehouseError::new(
            "a snapshot needs a unique_key config naming the column(s) that identify a record",
        ));
    }
    let dialect = relation.dialect;
    if session.relation_kind(relation)?.is_none() {
        let created = session.execute_counting(&create_table_as(
            relation,
            &versions_sql(dialect, sql, config),
            storage,
        ))?;
        return Ok(Built {
            code: "CREATE TABLE",
            rows: Some(created),
        });
    }
    let staged = beside(relation, "__dbt_tmp");
    session.execute(&format!("drop table if exists {staged}"))?;
    let changed = changed_condition(session, relation, config)?;
    let keys = keys_match(&config.unique_key, "snapshotted_data", "source_data");
    let new_versions = format!(
        "select source_data.* from (\n{versions}\n) as source_data\nleft join (select * from {relation} where dbt_valid_to is null) as snapshotted_data on {keys}\nwhere snapshotted_data.dbt_scd_id is null or ({changed})",
        versions = versions_sql(dialect, sql, config),
    );
    session.execute(&create_table_as(
        &staged,
        &new_versions,
        &Storage::default(),
    ))?;
    let result = (|| {
        let staged_columns = session.columns(&staged)?;
        let snapshotted = session.columns(relation)?;
        if !dialect.has_transactions() {
            let rows = count_rows(session, &staged)?;
            rebuild(
                session,
                relation,
                &staged,
                sql,
                config,
                storage,
                &staged_columns,
            )?;
            return Ok(rows);
        }
        let list = staged_columns
            .iter()
            .map(|c| relation.dialect.quote(&c.name))
            .collect::<Vec<_>>()
            .join(", ");
        // Columns new in the source are added, as dbt does; earlier versions have them null.
        let mut statements: Vec<String> = staged_columns
            .iter()
            .filter(|c| {
                !snapshotted
                    .iter()
                    .any(|s| s.name.eq_ignore_ascii_case(&c.name))
            })
            .map(|c| add_column(relation, c))
            .collect();
        let staged_keys = keys_match(&config.unique_key, "dbt_target", "dbt_source");
        statements.push(format!(
            "update {relation} as dbt_target set dbt_valid_to = dbt_source.dbt_valid_from from {staged} as dbt_source where dbt_target.dbt_valid_to is null and {staged_keys}"
        ));
        if config.invalidate_hard_deletes {
            let source_keys = keys_match(&config.unique_key, "dbt_target", "source_data");
            statements.push(format!(
                "update {relation} as dbt_target set dbt_valid_to = {} where dbt_target.dbt_valid_to is null and not exists (select 1 from (\n{}\n) as source_data where {source_keys})",
                dialect.current_timestamp(),
                body(sql)
            ));
        }
        statements.push(format!(
            "insert into {relation} ({list}) select {list} from {staged}"
        ));
        let rows = count_rows(session, &staged)?;
        in_transaction(session, &statements)?;
        Ok(rows)
    })();
    Ok(Built {
        code: "INSERT",
        rows: drop_after(session, &staged, result)?,
    })
}

/// The snapshot's update without transactions: its next state (every version, with the
/// replaced and deleted ones closed, plus the staged new versions) is built beside it and
/// swapped in (ClickHouse's `EXCHANGE TABLES`).
fn rebuild(
    session: &mut dyn Session,
    relation: &Relation,
    staged: &Relation,
    sql: &str,
    config: &SnapshotConfig,
    storage: &Storage,
    staged_columns: &[ColumnInfo],
) -> Result<()> {
    let dialect = relation.dialect;
    // Columns new in the source are added first, as dbt does; earlier versions have them
    // empty.
    let snapshotted = session.columns(relation)?;
    for column in staged_columns {
        if !snapshotted.iter().any(|s| s.name == column.name) {
            session.execute(&add_column(relation, column))?;
        }
    }
    let columns = session.columns(relation)?;
    // A current version is closed when a new version of its record was staged (the join
    // found one), or when its record left the source (hard deletes).
    let mut closed = "if(dbt_target.dbt_valid_to is null and dbt_source.dbt_scd_id is not null, \
         dbt_source.dbt_valid_from, dbt_target.dbt_valid_to)"
        .to_string();
    if config.invalidate_hard_deletes {
        let keys = config.unique_key.join(", ");
        let target_keys = config
            .unique_key
            .iter()
            .map(|k| format!("dbt_target.{k}"))
            .collect::<Vec<_>>()
            .join(", ");
        closed = format!(
            "if(dbt_target.dbt_valid_to is null and ({target_keys}) not in (select {keys} from (\n{}\n)), {}, {closed})",
            body(sql),
            dialect.current_timestamp()
        );
    }
    let old_versions = columns
        .iter()
        .map(|c| {
            let name = dialect.quote(&c.name);
            if c.name == "dbt_valid_to" {
                format!("{closed} as {name}")
            } else {
                format!("dbt_target.{name} as {name}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let new_versions = columns
        .iter()
        .map(|c| {
            let name = dialect.quote(&c.name);
            if staged_columns.iter().any(|s| s.name == c.name) {
                name
            } else {
                format!("null as {name}")
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    let source_keys = keys_match(&config.unique_key, "dbt_target", "dbt_source");
    let next = format!(
        "select {old_versions}\nfrom {relation} as dbt_target\nleft join (select * from {staged}) as dbt_source on {source_keys}\nunion all\nselect {new_versions} from {staged}"
    );
    let rebuilt = beside(relation, "__dbt_next");
    session.execute(&format!("drop table if exists {rebuilt}"))?;
    session.execute(&create_table_as(&rebuilt, &next, storage))?;
    swap_in(session, relation, &rebuilt, Some(RelationKind::Table))
}

/// The source rows with their version columns.
fn versions_sql(dialect: Dialect, sql: &str, config: &SnapshotConfig) -> String {
    let updated_at = match &config.strategy {
        ChangeDetection::Timestamp { updated_at } => format!("snapshot_query.{updated_at}"),
        ChangeDetection::Check { .. } => dialect.current_timestamp().to_string(),
    };
    let key = config
        .unique_key
        .iter()
        .map(|k| format!("coalesce(cast(snapshot_query.{k} as varchar), '')"))
        .collect::<Vec<_>>()
        .join(" || '|' || ");
    let scd_id = dialect.md5(&format!(
        "{key} || '|' || coalesce(cast({updated_at} as varchar), '')"
    ));
    format!(
        "select snapshot_query.*,\n  {scd_id} as dbt_scd_id,\n  {updated_at} as dbt_updated_at,\n  {updated_at} as dbt_valid_from,\n  {} as dbt_valid_to\nfrom (\n{}\n) as snapshot_query",
        dialect.null_timestamp(),
        body(sql)
    )
}

/// When a staged source row is a new version of the current row it joined.
fn changed_condition(
    session: &mut dyn Session,
    relation: &Relation,
    config: &SnapshotConfig,
) -> Result<String> {
    Ok(match &config.strategy {
        ChangeDetection::Timestamp { updated_at } => {
            format!("source_data.{updated_at} > snapshotted_data.dbt_valid_from")
        }
        ChangeDetection::Check { columns } => {
            let columns = match columns {
                Some(list) => list.clone(),
                None => session
                    .columns(relation)?
                    .into_iter()
                    .map(|c| c.name)
                    .filter(|c| !META_COLUMNS.contains(&c.as_str()))
                    .map(|c| relation.dialect.quote(&c))
                    .collect(),
            };
            if columns.is_empty() {
                return Err(WarehouseError::new(
                    "a check snapshot needs check_cols: a list of columns, or 'all'",
                ));
            }
            columns
                .iter()
                .map(|c| format!("source_data.{c} is distinct from snapshotted_data.{c}"))
                .collect::<Vec<_>>()
                .join(" or ")
        }
    })
}

fn keys_match(keys: &[String], left: &str, right: &str) -> String {
    keys.iter()
        .map(|k| format!("{left}.{k} = {right}.{k}"))
        .collect::<Vec<_>>()
        .join(" and ")
}
