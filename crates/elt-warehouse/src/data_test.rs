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
    let failures = row[0]
        .as_deref()
        .map(|v| {
            v.parse::<f64>().map(|f| f as i64).map_err(|_| {
                WarehouseError::new(format!("fail_calc returned '{v}', not a number"))
                    .in_sql(&query)
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
