//! Snapshots: type-2 slowly changing dimensions, as dbt builds them. Each row version carries
//! `dbt_scd_id`, `dbt_updated_at`, `dbt_valid_from` and `dbt_valid_to` (null while current).

use elt_core::adapter::Relation;

use crate::materialize::{Built, add_column, beside, body, count_rows, in_transaction};
use crate::{Result, Session, WarehouseError};

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

/// The time a snapshot run is taken at, as a timestamp without time zone.
const NOW: &str = "cast(now() as timestamp)";

/// Takes a snapshot of `sql` into `relation`: creates it on the first run, then records new
/// and changed records as new versions and closes the versions they replace.
pub fn snapshot(
    session: &mut dyn Session,
    relation: &Relation,
    sql: &str,
    config: &SnapshotConfig,
) -> Result<Built> {
    if config.unique_key.is_empty() {
        return Err(WarehouseError::new(
            "a snapshot needs a unique_key config naming the column(s) that identify a record",
        ));
    }
    if session.relation_kind(relation)?.is_none() {
        let created = session.execute_counting(&format!(
            "create table {relation} as (\n{}\n)",
            versions_sql(sql, config)
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
        "create table {staged} as (\nselect source_data.* from (\n{versions}\n) as source_data\nleft join (select * from {relation} where dbt_valid_to is null) as snapshotted_data on {keys}\nwhere snapshotted_data.dbt_scd_id is null or ({changed})\n)",
        versions = versions_sql(sql, config),
    );
    session.execute(&new_versions)?;
    let result = (|| {
        let staged_columns = session.columns(&staged)?;
        let snapshotted = session.columns(relation)?;
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
                "update {relation} as dbt_target set dbt_valid_to = {NOW} where dbt_target.dbt_valid_to is null and not exists (select 1 from (\n{}\n) as source_data where {source_keys})",
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
    let _ = session.execute(&format!("drop table if exists {staged}"));
    Ok(Built {
        code: "INSERT",
        rows: result?,
    })
}

/// The source rows with their version columns.
fn versions_sql(sql: &str, config: &SnapshotConfig) -> String {
    let updated_at = match &config.strategy {
        ChangeDetection::Timestamp { updated_at } => format!("snapshot_query.{updated_at}"),
        ChangeDetection::Check { .. } => NOW.to_string(),
    };
    let key = config
        .unique_key
        .iter()
        .map(|k| format!("coalesce(cast(snapshot_query.{k} as varchar), '')"))
        .collect::<Vec<_>>()
        .join(" || '|' || ");
    format!(
        "select snapshot_query.*,\n  md5({key} || '|' || coalesce(cast({updated_at} as varchar), '')) as dbt_scd_id,\n  {updated_at} as dbt_updated_at,\n  {updated_at} as dbt_valid_from,\n  cast(null as timestamp) as dbt_valid_to\nfrom (\n{}\n) as snapshot_query",
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
