//! Running a data test: its query returns failing rows; `fail_calc`, `warn_if` and `error_if`
//! turn them into a verdict, as dbt's `get_test_sql` does.

use elt_core::adapter::Relation;

use crate::materialize::{Storage, body, build_table, ensure_schema};
use crate::{Result, Session, WarehouseError};

/// A test's configs that decide its verdict.
#[derive(Debug, Clone, PartialEq)]
pub struct TestConfig {
    /// An aggregate over the failing rows, `count(*)` by default.
    pub fail_calc: String,
    /// Conditions on `fail_calc`, such as `!= 0` or `>10`.
    pub warn_if: String,
    pub error_if: String,
    /// Look at no more than this many failing rows.
    pub limit: Option<u64>,
}

impl Default for TestConfig {
    fn default() -> Self {
        TestConfig {
            fail_calc: "count(*)".into(),
            warn_if: "!= 0".into(),
            error_if: "!= 0".into(),
            limit: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestVerdict {
    pub failures: i64,
    pub should_warn: bool,
    pub should_error: bool,
}

/// The query that computes a test's verdict from its failing rows.
pub fn verdict_sql(sql: &str, config: &TestConfig) -> String {
    let limit = config
        .limit
        .map(|n| format!("\nlimit {n}"))
        .unwrap_or_default();
    let calc = &config.fail_calc;
    format!(
        "select\n  {calc} as failures,\n  case when {calc} {warn} then 'true' else 'false' end as should_warn,\n  case when {calc} {error} then 'true' else 'false' end as should_error\nfrom (\n{body}{limit}\n) dbt_internal_test",
        warn = config.warn_if,
        error = config.error_if,
        body = body(sql),
    )
}

/// Runs a test and returns its verdict.
pub fn run(session: &mut dyn Session, sql: &str, config: &TestConfig) -> Result<TestVerdict> {
    let query = verdict_sql(sql, config);
    let table = session.query(&query)?;
    let row = table.rows.first().ok_or_else(|| {
        WarehouseError::new("the test's verdict query returned no row").in_sql(&query)
    })?;
    verdict(row, &query)
}

/// Runs several tests in one query, their one-row verdicts joined side by side: a query
/// costs the warehouse more before it reads a row (0.3-0.7 ms on DuckDB) than most tests' own
/// work. Fails when any test's query does, or when one returns other than one row: callers
/// then run the tests one by one, which says which test and why.
pub fn run_together(
    session: &mut dyn Session,
    tests: &[(&str, &TestConfig)],
) -> Result<Vec<TestVerdict>> {
    let columns: Vec<String> = (0..tests.len())
        .map(|i| format!("t{i}.failures, t{i}.should_warn, t{i}.should_error"))
        .collect();
    let joined: Vec<String> = tests
        .iter()
        .enumerate()
        .map(|(i, (sql, config))| format!("(\n{}\n) t{i}", verdict_sql(sql, config)))
        .collect();
    let query = format!(
        "select {}\nfrom {}",
        columns.join(", "),
        joined.join("\ncross join ")
    );
    let table = session.query(&query)?;
    let [row] = table.rows.as_slice() else {
        return Err(WarehouseError::new(format!(
            "the tests' verdict query returned {} rows, not one",
            table.rows.len()
        ))
        .in_sql(&query));
    };
    row.chunks(3).map(|one| verdict(one, &query)).collect()
}

/// A verdict from its query's `failures, should_warn, should_error`.
fn verdict(row: &[Option<String>], query: &str) -> Result<TestVerdict> {
    let failures = row[0]
        .as_deref()
        .map(|v| {
            v.parse::<f64>().map(|f| f as i64).map_err(|_| {
                WarehouseError::new(format!("fail_calc returned '{v}', not a number")).in_sql(query)
            })
        })
        .transpose()?
        .unwrap_or(0);
    Ok(TestVerdict {
        failures,
        should_warn: row[1].as_deref() == Some("true"),
        should_error: row[2].as_deref() == Some("true"),
    })
}

/// Stores a test's failing rows in `relation` (`store_failures`), replacing earlier ones.
pub fn store_failures(session: &mut dyn Session, relation: &Relation, sql: &str) -> Result<()> {
    ensure_schema(session, relation)?;
    let existing = session.relation_kind(relation)?;
    build_table(session, relation, sql, &Storage::default(), existing).map(|_| ())
}
