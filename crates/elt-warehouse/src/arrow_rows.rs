//! Rows of text values as an Arrow batch for DuckDB: each column typed as its table column
//! is when every value is in the canonical text of that type (what the loaders write), so
//! DuckDB takes the values as they are; otherwise text, which DuckDB casts itself (and
//! refuses in its own words). Casting text was most of DuckDB's share of a load.

use std::sync::Arc;

use chrono::NaiveDate;
use duckdb::arrow::array::{
    ArrayRef, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int64Builder,
    RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use duckdb::arrow::datatypes::{DataType, Field, Schema, TimeUnit};

use crate::TextRows;
use crate::canonical::{boolean, date, float, timestamp};

/// The Arrow type a DuckDB column takes its values as, by its type's name (`DECIMAL(12,2)`);
/// text for the types not read here.
pub fn arrow_type(duckdb_type: &str) -> DataType {
    let decimal = duckdb_type
        .strip_prefix("DECIMAL(")
        .and_then(|rest| rest.strip_suffix(')'))
        .and_then(|args| args.split_once(','))
        .and_then(|(p, s)| Some((p.trim().parse::<u8>().ok()?, s.trim().parse::<u8>().ok()?)));
    match duckdb_type {
        "BIGINT" | "INTEGER" | "SMALLINT" | "TINYINT" => DataType::Int64,
        "DOUBLE" | "FLOAT" => DataType::Float64,
        "BOOLEAN" => DataType::Boolean,
        "DATE" => DataType::Date32,
        "TIMESTAMP" => DataType::Timestamp(TimeUnit::Microsecond, None),
        _ => match decimal {
            Some((precision, scale)) if precision <= 38 && scale <= precision => {
                DataType::Decimal128(precision, scale as i8)
            }
            _ => DataType::Utf8,
        },
    }
}

/// `rows` as a batch of the columns `names`, each of the type in `types` (from
/// [`arrow_type`]) if all its values read as that type, else of text.
pub fn batch(names: &[&str], types: &[DataType], rows: &TextRows) -> RecordBatch {
    let (fields, columns): (Vec<Field>, Vec<ArrayRef>) = names
        .iter()
        .zip(types)
        .enumerate()
        .map(|(index, (name, data_type))| {
            let array = typed(data_type, rows, index).unwrap_or_else(|| text(rows, index));
            (Field::new(*name, array.data_type().clone(), true), array)
        })
        .unzip();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).expect("one array per column")
}

/// Column `index` as text. Sized once: an array grown by doubling is copied at each step.
fn text(rows: &TextRows, index: usize) -> ArrayRef {
    let column = rows.column(index);
    let bytes = column.clone().map(|v| v.map_or(0, str::len)).sum();
    let mut array = StringBuilder::with_capacity(rows.len(), bytes);
    array.extend(column);
    Arc::new(array.finish())
}

/// Column `index` as `data_type`, or `None` when a value is not in that type's canonical
/// text.
fn typed(data_type: &DataType, rows: &TextRows, index: usize) -> Option<ArrayRef> {
    let values = rows.column(index);
    let len = rows.len();
    // Fills a builder with each value as `read` reads it, or gives up on the column.
    macro_rules! read_all {
        ($builder:expr, $read:expr) => {{
            let mut array = $builder;
            for value in values {
                array.append_option(match value {
                    Some(text) => Some($read(text)?),
                    None => None,
                });
            }
            array.finish()
        }};
    }
    Some(match data_type {
        DataType::Int64 => Arc::new(read_all!(Int64Builder::with_capacity(len), integer)),
        DataType::Float64 => Arc::new(read_all!(Float64Builder::with_capacity(len), float)),
        DataType::Boolean => Arc::new(read_all!(BooleanBuilder::with_capacity(len), boolean)),
        DataType::Date32 => {
            Arc::new(read_all!(Date32Builder::with_capacity(len), |v| date(v).map(days)))
        }
        DataType::Timestamp(TimeUnit::Microsecond, None) => Arc::new(read_all!(
            TimestampMicrosecondBuilder::with_capacity(len),
            |v| timestamp(v).map(|t| t.and_utc().timestamp_micros())
        )),
        DataType::Decimal128(precision, scale) => {
            let read = |v| decimal(v, *precision, *scale as u8);
            let array = read_all!(Decimal128Builder::with_capacity(len), read);
            Arc::new(array.with_precision_and_scale(*precision, *scale).ok()?)
        }
        _ => return None,
    })
}

fn integer(text: &str) -> Option<i64> {
    text.parse().ok()
}

/// `-12.5` into decimal(p, s) as its unscaled integer: only with at most `scale` digits
/// after the point and room for the digits before it (else DuckDB rounds, or refuses).
fn decimal(text: &str, precision: u8, scale: u8) -> Option<i128> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let whole_digits = whole.trim_start_matches('0').len();
    if whole.len() + fraction.len() == 0
        || !all_digits(whole)
        || !all_digits(fraction)
        || fraction.len() > scale.into()
        || whole_digits + usize::from(scale) > precision.into()
    {
        return None;
    }
    let mut unscaled: i128 = 0;
    let padding = usize::from(scale) - fraction.len();
    for digit in whole.bytes().chain(fraction.bytes()) {
        unscaled = unscaled * 10 + i128::from(digit - b'0');
    }
    unscaled *= 10i128.pow(padding as u32);
    Some(if negative { -unscaled } else { unscaled })
}

fn days(date: NaiveDate) -> i32 {
    (date - NaiveDate::from_ymd_opt(1970, 1, 1).expect("the epoch")).num_days() as i32
}

#[cfg(test)]
mod tests {
    use super::*;
    use duckdb::arrow::array::{Array, AsArray};
    use duckdb::arrow::datatypes::{Decimal128Type, Int64Type, TimestampMicrosecondType};

    fn column(data_type: DataType, values: &[Option<&str>]) -> ArrayRef {
        let rows: Vec<Vec<Option<&str>>> = values.iter().map(|v| vec![*v]).collect();
        batch(&["c"], &[data_type], &TextRows::from_rows(&rows))
            .column(0)
            .clone()
    }

    #[test]
    fn duckdb_type_names_map_to_arrow_types() {
        assert_eq!(arrow_type("INTEGER"), DataType::Int64);
        assert_eq!(arrow_type("DECIMAL(12,2)"), DataType::Decimal128(12, 2));
        assert_eq!(arrow_type("DECIMAL(40,2)"), DataType::Utf8);
        assert_eq!(arrow_type("TIMESTAMP WITH TIME ZONE"), DataType::Utf8);
        assert_eq!(arrow_type("VARCHAR"), DataType::Utf8);
    }

    #[test]
    fn canonical_values_are_typed() {
        let ints = column(DataType::Int64, &[Some("-7"), None, Some("42")]);
        let ints = ints.as_primitive::<Int64Type>();
        assert_eq!(
            (ints.value(0), ints.is_null(1), ints.value(2)),
            (-7, true, 42)
        );

        let amounts = column(
            DataType::Decimal128(12, 2),
            &[Some("12.5"), Some("-0.07"), Some("3")],
        );
        let amounts = amounts.as_primitive::<Decimal128Type>();
        assert_eq!(amounts.values().to_vec(), [1250, -7, 300]);

        let times = column(
            DataType::Timestamp(TimeUnit::Microsecond, None),
            &[
                Some("1970-01-02 00:00:01.5"),
                Some("2024-01-01 10:00:00.000001"),
            ],
        );
        let times = times.as_primitive::<TimestampMicrosecondType>();
        assert_eq!(times.value(0), 86_401_500_000);
        assert_eq!(times.value(1), 1_704_103_200_000_001);

        let days = column(DataType::Date32, &[Some("1969-12-31")]);
        assert_eq!(days.data_type(), &DataType::Date32);
    }

    #[test]
    fn anything_else_stays_text_for_duckdb_to_cast() {
        let not_typed = [
            (DataType::Int64, "1.5"),
            (DataType::Decimal128(12, 2), "1.255"),
            (DataType::Decimal128(4, 2), "123.4"),
            (DataType::Decimal128(12, 2), "1e3"),
            (DataType::Float64, "inf"),
            (DataType::Boolean, "t"),
            (DataType::Date32, "2024-1-01"),
            (
                DataType::Timestamp(TimeUnit::Microsecond, None),
                "2024-01-01T10:00:00",
            ),
            (
                DataType::Timestamp(TimeUnit::Microsecond, None),
                "2024-01-01 10:00:00.1234567",
            ),
        ];
        for (data_type, value) in not_typed {
            let array = column(data_type, &[Some("0"), Some(value)]);
            assert_eq!(array.data_type(), &DataType::Utf8, "{value}");
        }
    }
}
