//! Seeds: CSV files read with the `csv` crate and typed the way dbt types them (agate's type
//! tester): integer, decimal, date, timestamp, boolean, else text. Empty cells and `null` are
//! NULL. `column_types` in the seed's config overrides a column's warehouse type.

use std::path::Path;

use elt_core::adapter::Relation;
pub use elt_core::adapter::SeedType;

use crate::materialize::{Storage, beside, build_table, create_table_with, drop_after};
use crate::{RelationKind, Result, Session, TextRows, WarehouseError};

/// Whether `value` (not null) can be read as `seed_type`.
fn accepts(seed_type: SeedType, value: &str) -> bool {
    match seed_type {
        SeedType::Integer => {
            let digits = value.strip_prefix(['-', '+']).unwrap_or(value);
            !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit())
                && value.parse::<i64>().is_ok()
        }
        SeedType::Decimal => {
            value.parse::<f64>().is_ok_and(f64::is_finite)
                && value
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
        }
        SeedType::Date => chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok(),
        SeedType::Timestamp => [
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%dT%H:%M:%S%.fZ",
        ]
        .iter()
        .any(|f| chrono::NaiveDateTime::parse_from_str(value, f).is_ok()),
        SeedType::Boolean => matches!(
            value,
            "true" | "false" | "True" | "False" | "TRUE" | "FALSE"
        ),
        SeedType::Text => true,
    }
}

/// Whether a cell is NULL (as dbt reads seeds).
pub fn is_null(value: &str) -> bool {
    value.is_empty() || value == "null"
}

/// A seed file, read and typed.
#[derive(Debug, Clone)]
pub struct Seed {
    pub columns: Vec<String>,
    pub types: Vec<SeedType>,
    /// Cells as text; NULL cells are `None`.
    pub rows: TextRows,
}

/// Replaces `relation` with the seed's rows in one step. The rows go as text into a table
/// beside it through the warehouse's bulk path, are cast into a typed table, and that is
/// swapped in: the previous table stays intact and queryable until the new one is complete.
/// `column_types` maps column names to warehouse types that override inferred ones;
/// `existing` is what `relation` is now (from the executor's catalog); `storage` how the table
/// is stored (ClickHouse); `quote_columns` whether the table's column names are quoted as
/// written in the header (dbt's default) or left to the warehouse's case rules. Returns the
/// number of rows loaded.
pub fn load_seed(
    session: &mut dyn Session,
    relation: &Relation,
    seed: &Seed,
    column_types: &[(String, String)],
    storage: &Storage,
    existing: Option<RelationKind>,
    quote_columns: bool,
) -> Result<usize> {
    let dialect = relation.dialect;
    let raw = beside(relation, "__elt_raw");
    let text_columns: Vec<String> = seed
        .columns
        .iter()
        .map(|c| format!("{} {}", dialect.quote(c), dialect.seed_type(SeedType::Text)))
        .collect();
    session.execute(&format!("drop table if exists {raw}"))?;
    session.execute(&create_table_with(&raw, &text_columns, &Storage::default()))?;
    let loaded = (|| {
        session
            .insert_text_rows(&raw, &seed.columns, &seed.rows)
            .map_err(|e| WarehouseError::new(format!("cannot load the seed's rows: {e}")))?;
        let types: Vec<&str> = seed
            .columns
            .iter()
            .zip(&seed.types)
            .map(|(name, inferred)| {
                column_types
                    .iter()
                    .find(|(column, _)| column == name)
                    .map_or(dialect.seed_type(*inferred), |(_, t)| t.as_str())
            })
            .collect();
        if dialect.casts_lose_bad_values() {
            check_casts(session, &raw, &seed.columns, &types)?;
        }
        let casts: Vec<String> = seed
            .columns
            .iter()
            .zip(&types)
            .map(|(name, sql_type)| {
                let quoted = dialect.quote(name);
                let alias = if quote_columns { &quoted } else { name };
                format!("cast({quoted} as {sql_type}) as {alias}")
            })
            .collect();
        let select = format!("select {} from {raw}", casts.join(", "));
        build_table(session, relation, &select, storage, existing)
    })();
    drop_after(session, &raw, loaded).map(|_| seed.rows.len())
}

/// Fails on the first value that its column's type cannot hold, where a cast would turn such
/// a value into NULL instead of failing (ClickHouse's `Nullable` types), which would lose it.
fn check_casts(
    session: &mut dyn Session,
    raw: &Relation,
    columns: &[String],
    types: &[&str],
) -> Result<()> {
    for (name, sql_type) in columns.iter().zip(types) {
        let quoted = raw.dialect.quote(name);
        let lost = session.query(&format!(
            "select {quoted} from {raw} where {quoted} is not null and cast({quoted} as {sql_type}) is null limit 1"
        ))?;
        if let Some(value) = lost.first_value() {
            return Err(WarehouseError::new(format!(
                "column '{name}' is {sql_type}, but '{value}' is not a {sql_type} value"
            )));
        }
    }
    Ok(())
}

/// A seed file that cannot be loaded, with the 1-based line at fault.
#[derive(Debug, Clone, PartialEq)]
pub struct SeedError {
    pub message: String,
    pub line: u64,
}

/// Reads a CSV seed (header row first, UTF-8, an optional BOM) and infers its column types.
pub fn read(path: &Path, delimiter: u8) -> Result<Seed, SeedError> {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(false)
        .from_path(path)
        .map_err(|e| csv_error(&e))?;
    let columns: Vec<String> = reader
        .headers()
        .map_err(|e| csv_error(&e))?
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if i == 0 {
                h.trim_start_matches('\u{feff}')
            } else {
                h
            }
            .to_string()
        })
        .collect();
    if columns.is_empty() || columns.iter().any(|c| c.trim().is_empty()) {
        return Err(SeedError {
            message: "the header row has an empty column name".into(),
            line: 1,
        });
    }
    let mut rows = TextRows::new(columns.len());
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(&e))?;
        for cell in &record {
            rows.push((!is_null(cell)).then_some(cell));
        }
    }
    let types = (0..columns.len())
        .map(|i| infer(rows.column(i).flatten()))
        .collect();
    Ok(Seed {
        columns,
        types,
        rows,
    })
}

/// The first type in dbt's order that accepts every non-null value (integer when all are
/// null: every type accepts no values, as in agate).
pub fn infer<'a>(values: impl Iterator<Item = &'a str> + Clone) -> SeedType {
    SeedType::ALL
        .into_iter()
        .find(|t| values.clone().all(|v| accepts(*t, v)))
        .unwrap_or(SeedType::Text)
}

fn csv_error(error: &csv::Error) -> SeedError {
    let line = error.position().map_or(0, |p| p.line());
    let message = match error.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("this row has {len} fields, the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "the file is not valid UTF-8".to_string(),
        _ => error.to_string(),
    };
    SeedError { message, line }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infers_like_dbt() {
        let t = |values: &[&str]| infer(values.iter().copied());
        assert_eq!(t(&["1", "-2", "30"]), SeedType::Integer);
        assert_eq!(t(&["1", "2.5"]), SeedType::Decimal);
        assert_eq!(t(&["2024-01-31", "2023-12-01"]), SeedType::Date);
        assert_eq!(
            t(&["2024-01-31 10:00:00", "2024-01-31T10:00:00"]),
            SeedType::Timestamp
        );
        assert_eq!(t(&["true", "False"]), SeedType::Boolean);
        assert_eq!(t(&["1", "a"]), SeedType::Text);
        assert_eq!(t(&["2024-13-01"]), SeedType::Text);
        assert_eq!(t(&[]), SeedType::Integer);
    }

    #[test]
    fn reads_quotes_unicode_and_nulls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        std::fs::write(
            &path,
            "\u{feff}id,name,note\n1,\"Müller, Anna\",\n2,\"say \"\"hi\"\"\",null\n",
        )
        .unwrap();
        let seed = read(&path, b',').unwrap();
        assert_eq!(seed.columns, ["id", "name", "note"]);
        assert_eq!(
            seed.types,
            [SeedType::Integer, SeedType::Text, SeedType::Integer]
        );
        let cell = |row, column| seed.rows.row(row).nth(column).flatten();
        assert_eq!(cell(0, 1), Some("Müller, Anna"));
        assert_eq!(cell(1, 1), Some("say \"hi\""));
        assert_eq!(cell(1, 2), None);
    }

    #[test]
    fn ragged_rows_name_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.csv");
        std::fs::write(&path, "a,b\n1,2\n3\n").unwrap();
        let err = read(&path, b',').unwrap_err();
        assert_eq!(
            err,
            SeedError {
                message: "this row has 1 fields, the header has 2".into(),
                line: 3
            }
        );
    }
}
