//! Running a unit test as dbt's `unit` materialization does: the given rows become CTEs typed
//! as the inputs' columns, the model's SQL reads them, the expected rows are typed as the
//! model's output columns, and one query returns both sides; they must hold the same rows, in
//! any order. A failure shows the rows that differ.

use elt_core::adapter::{Dialect, Relation};
use elt_core::compile::{Rows, UnitInput, UnitTestRun};
use elt_core::diagnostics::Diagnostic;
use elt_core::manifest::Node;
use elt_warehouse::{ColumnInfo, Session};
use serde_json::{Map, Value as Json};

use crate::errors::warehouse_error;
use crate::nodes::Outcome;
use crate::{Plan, Status};

pub fn run(plan: &Plan, session: &mut dyn Session, node: &Node) -> Outcome {
    match judge(plan, session, node) {
        Ok(outcome) => outcome,
        Err(diagnostic) => Outcome::error(diagnostic),
    }
}

fn judge(plan: &Plan, session: &mut dyn Session, node: &Node) -> Result<Outcome, Diagnostic> {
    let nodes = &plan.compiled.manifest.nodes;
    let run = plan
        .compiled
        .runtime
        .unit_test_run(node, nodes, &plan.introspect)?;
    let at = |e: Diagnostic| e.at(&node.original_file_path, node.raw_line, 0);
    let failed = |e: &elt_warehouse::WarehouseError, sql: &str| {
        let mut diagnostic = warehouse_error(plan.project, node, e, Some(sql));
        diagnostic.message = format!("unit test '{}': {}", node.name, diagnostic.message);
        diagnostic
    };
    let mut ctes = Vec::new();
    for input in &run.spec.inputs {
        let sql = input_sql(session, &run, input).map_err(at)?;
        ctes.push((input.cte.clone(), sql));
    }
    let actual = run.with_ctes(&ctes);
    let output = session
        .query_columns(&actual)
        .map_err(|e| failed(&e, &actual))?;
    let dialect = session.dialect();
    let (expected, columns) = match &run.spec.expect {
        Rows::Sql(sql) => {
            let columns = session.query_columns(sql).map_err(|e| failed(&e, sql))?;
            (sql.clone(), columns)
        }
        Rows::Dicts(rows) => {
            let columns = expected_columns(rows, &output, &run.model.name).map_err(at)?;
            (rows_sql(dialect, &columns, rows), columns)
        }
    };
    let quoted: Vec<String> = columns.iter().map(|c| dialect.quote(&c.name)).collect();
    let list = quoted.join(", ");
    let query = format!(
        "select {list}, 'actual' as actual_or_expected from (\n{actual}\n) dbt_internal_unit_test_actual\nunion all\nselect {list}, 'expected' as actual_or_expected from (\n{expected}\n) dbt_internal_unit_test_expected"
    );
    let table = session.query(&query).map_err(|e| failed(&e, &query))?;
    let width = columns.len();
    let numeric: Vec<bool> = columns.iter().map(|c| is_numeric(&c.data_type)).collect();
    let (mut actual_rows, mut expected_rows) = (Vec::new(), Vec::new());
    for row in table.rows {
        let side = row[width].clone();
        let values: Vec<Option<String>> = row[..width]
            .iter()
            .zip(&numeric)
            .map(|(value, &numeric)| match value {
                Some(text) if numeric => Some(canonical_number(text)),
                other => other.clone(),
            })
            .collect();
        match side.as_deref() {
            Some("actual") => actual_rows.push(values),
            _ => expected_rows.push(values),
        }
    }
    let names: Vec<String> = columns.into_iter().map(|c| c.name).collect();
    Ok(verdict(node, &names, actual_rows, expected_rows, query))
}

/// Whether a column type holds numbers, whose values compare by value (`10` equals `10.0`,
/// as dbt's comparison of decimals does), not by text.
fn is_numeric(data_type: &str) -> bool {
    let t = data_type.to_ascii_lowercase();
    [
        "int", "numeric", "decimal", "float", "double", "real", "number",
    ]
    .iter()
    .any(|n| t.contains(n))
}

/// A decimal's text without trailing zeros after its point: `10.50` -> `10.5`, `10.0` -> `10`.
fn canonical_number(text: &str) -> String {
    match text.split_once('.') {
        Some((whole, fraction)) if fraction.bytes().all(|b| b.is_ascii_digit()) => {
            let fraction = fraction.trim_end_matches('0');
            if fraction.is_empty() {
                whole.to_string()
            } else {
                format!("{whole}.{fraction}")
            }
        }
        _ => text.to_string(),
    }
}

/// The select that stands for one input: its SQL as given, or its rows typed as the input
/// relation's columns (read from the warehouse, as dbt does).
fn input_sql(
    session: &mut dyn Session,
    run: &UnitTestRun,
    input: &UnitInput,
) -> Result<String, Diagnostic> {
    let rows = match &input.rows {
        Rows::Sql(sql) => return Ok(sql.clone()),
        Rows::Dicts(rows) => rows,
    };
    let relation: &Relation = match (&input.relation, &run.model.relation) {
        (Some(relation), _) | (None, Some(relation)) => relation,
        (None, None) => {
            return Err(Diagnostic::error(format!(
                "{} has no relation to read column types from",
                input.written
            )));
        }
    };
    let columns = session
        .columns(relation)
        .map_err(|e| Diagnostic::error(format!("cannot read the columns of {relation}: {e}")))?;
    if columns.is_empty() {
        return Err(Diagnostic::error(format!(
            "cannot type the rows given for {}: {relation} is not in the warehouse",
            input.written
        ))
        .with_help(format!(
            "build it first (`elt run --select {}`), or give the rows as a select with `format: sql`",
            relation.identifier
        )));
    }
    for row in rows {
        for key in row.keys() {
            if !columns.iter().any(|c| c.name.eq_ignore_ascii_case(key)) {
                return Err(Diagnostic::error(format!(
                    "a row given for {} has column '{key}', which {relation} does not have",
                    input.written
                ))
                .with_note(format!("its columns: {}", names(&columns))));
            }
        }
    }
    Ok(rows_sql(session.dialect(), &columns, rows))
}

/// The expected rows' columns, in the order they are first written, typed as the model's
/// output columns of the same name. No rows: every output column (there must be no rows).
fn expected_columns(
    rows: &[Map<String, Json>],
    output: &[ColumnInfo],
    model: &str,
) -> Result<Vec<ColumnInfo>, Diagnostic> {
    if rows.is_empty() {
        return Ok(output.to_vec());
    }
    let mut columns: Vec<ColumnInfo> = Vec::new();
    for key in rows.iter().flat_map(|row| row.keys()) {
        if columns.iter().any(|c| c.name.eq_ignore_ascii_case(key)) {
            continue;
        }
        let column = output
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(key))
            .ok_or_else(|| {
                Diagnostic::error(format!(
                    "the expected rows have column '{key}', which model '{model}' does not return"
                ))
                .with_note(format!("it returns: {}", names(output)))
            })?;
        columns.push(column.clone());
    }
    Ok(columns)
}

fn names(columns: &[ColumnInfo]) -> String {
    columns
        .iter()
        .map(|c| c.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Rows as a select of typed literals, one `union all` branch per row; a column a row leaves
/// out is NULL. No rows: one row of NULLs, filtered out, so the columns keep their types.
fn rows_sql(dialect: Dialect, columns: &[ColumnInfo], rows: &[Map<String, Json>]) -> String {
    let select = |row: Option<&Map<String, Json>>| {
        let values: Vec<String> = columns
            .iter()
            .map(|column| {
                let value = row.and_then(|row| {
                    row.iter()
                        .find(|(k, _)| k.eq_ignore_ascii_case(&column.name))
                        .map(|(_, v)| v)
                });
                let typed = match value {
                    None | Some(Json::Null) => dialect.typed_null(&column.data_type),
                    Some(value) => {
                        format!("cast({} as {})", literal(dialect, value), column.data_type)
                    }
                };
                format!("{typed} as {}", dialect.quote(&column.name))
            })
            .collect();
        format!("select {}", values.join(", "))
    };
    if rows.is_empty() {
        return format!("select * from ({}) elt_no_rows where 1 = 0", select(None));
    }
    rows.iter()
        .map(|row| select(Some(row)))
        .collect::<Vec<_>>()
        .join("\nunion all\n")
}

fn literal(dialect: Dialect, value: &Json) -> String {
    match value {
        Json::Number(n) => n.to_string(),
        Json::Bool(b) => b.to_string(),
        Json::String(s) => dialect.string_literal(s),
        other => dialect.string_literal(&other.to_string()),
    }
}

/// Pass when both sides hold the same rows (as multisets); else a failure showing the rows
/// only one side has.
fn verdict(
    node: &Node,
    columns: &[String],
    actual: Vec<Vec<Option<String>>>,
    expected: Vec<Vec<Option<String>>>,
    sql: String,
) -> Outcome {
    let mut only_expected = expected;
    let mut only_actual = Vec::new();
    for row in actual {
        match only_expected.iter().position(|e| *e == row) {
            Some(i) => {
                only_expected.remove(i);
            }
            None => only_actual.push(row),
        }
    }
    let mut outcome = Outcome {
        status: Status::Pass,
        message: "PASS".into(),
        failures: Some(0),
        built: None,
        sql: Some(sql),
        diagnostic: None,
    };
    if only_actual.is_empty() && only_expected.is_empty() {
        return outcome;
    }
    let diff = diff_table(columns, &only_expected, &only_actual);
    outcome.status = Status::Fail;
    outcome.failures = Some((only_actual.len() + only_expected.len()) as i64);
    outcome.message = format!("actual differs from expected:\n\n{diff}");
    outcome.diagnostic = Some(
        Diagnostic::error(format!(
            "unit test '{}' failed: actual differs from expected:\n\n{diff}",
            node.name
        ))
        .at(&node.original_file_path, node.raw_line, 0)
        .with_help(
            "rows marked - are expected but missing; rows marked + are returned but not expected",
        ),
    );
    outcome
}

/// The differing rows as an aligned table: `-` expected but missing, `+` returned but not
/// expected.
fn diff_table(
    columns: &[String],
    only_expected: &[Vec<Option<String>>],
    only_actual: &[Vec<Option<String>>],
) -> String {
    let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "null".into());
    let mut lines: Vec<(String, Vec<String>)> = vec![(" ".into(), columns.to_vec())];
    lines.extend(
        only_expected
            .iter()
            .map(|r| ("-".into(), r.iter().map(show).collect())),
    );
    lines.extend(
        only_actual
            .iter()
            .map(|r| ("+".into(), r.iter().map(show).collect())),
    );
    let widths: Vec<usize> = (0..columns.len())
        .map(|i| {
            lines
                .iter()
                .map(|(_, cells)| cells[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    lines
        .iter()
        .map(|(mark, cells)| {
            let cells: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            format!("{mark} | {}", cells.join(" | "))
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_become_typed_selects_with_nulls_for_missing_columns() {
        let columns = vec![
            ColumnInfo {
                name: "id".into(),
                data_type: "INTEGER".into(),
            },
            ColumnInfo {
                name: "name".into(),
                data_type: "VARCHAR".into(),
            },
        ];
        let rows: Vec<Map<String, Json>> = vec![
            serde_json::from_str(r#"{"id": 1, "name": "o'neil"}"#).unwrap(),
            serde_json::from_str(r#"{"ID": 2}"#).unwrap(),
        ];
        insta::assert_snapshot!(rows_sql(Dialect::DuckDb, &columns, &rows), @r#"
        select cast(1 as INTEGER) as "id", cast('o''neil' as VARCHAR) as "name"
        union all
        select cast(2 as INTEGER) as "id", cast(null as VARCHAR) as "name"
        "#);
        insta::assert_snapshot!(rows_sql(Dialect::DuckDb, &columns, &[]), @r#"select * from (select cast(null as INTEGER) as "id", cast(null as VARCHAR) as "name") elt_no_rows where 1 = 0"#);
    }

    #[test]
    fn numbers_compare_by_value() {
        assert_eq!(canonical_number("10.0"), "10");
        assert_eq!(canonical_number("10.50"), "10.5");
        assert_eq!(canonical_number("-3"), "-3");
        assert_eq!(canonical_number("1.5e3"), "1.5e3");
        assert!(is_numeric("NUMERIC(10,2)") && is_numeric("Nullable(Int64)"));
        assert!(!is_numeric("VARCHAR"));
    }

    #[test]
    fn the_diff_shows_missing_and_unexpected_rows() {
        let columns = vec!["id".to_string(), "name".to_string()];
        let table = diff_table(
            &columns,
            &[vec![Some("2".into()), Some("bob".into())]],
            &[vec![Some("2".into()), None]],
        );
        insta::assert_snapshot!(table, @r"
          | id | name
        - | 2  | bob
        + | 2  | null
        ");
    }
}
