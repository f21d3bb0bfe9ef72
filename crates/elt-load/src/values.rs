//! Values: what a raw table's declared column type accepts, checked before a row reaches the
//! warehouse, and the text every warehouse reads it as.
//!
//! A value the column cannot hold must become a dead letter here: in the warehouse it would
//! fail its whole batch again on every retry (DuckDB, PostgreSQL, ClickHouse's decimals), or
//! worse be changed silently (ClickHouse wraps integers, clamps dates, rounds floats to
//! infinity). So each type is read with its range in the table's dialect.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use elt_warehouse::TextRows;
use serde::de::IgnoredAny;
use serde_json::Value as Json;
use serde_json::value::RawValue;

/// What a column holds: the adapter reads it from the column's declared type.
pub use elt_core::adapter::ValueKind as Kind;

/// Appends the value as the warehouse should read it to `out`, or says why a column of `kind`
/// cannot hold it (then `out` may hold part of it: the caller drops the row).
pub(crate) fn write(kind: Kind, value: Field<'_>, out: &mut TextRows) -> Result<(), String> {
    let is_text = matches!(kind, Kind::Text { .. });
    let text = match value {
        Field::Text(s) if !s.is_empty() || is_text => s,
        Field::Null | Field::Text(_) => {
            out.push(None);
            return Ok(());
        }
        Field::Nested(raw) if is_text || matches!(kind, Kind::Json { .. }) => {
            // Written compact, whatever the record's spacing.
            let value: Json =
                serde_json::from_str(raw).map_err(|e| format!("invalid JSON: {e}"))?;
            let compact = value.to_string();
            check_text(kind, &compact)?;
            out.push(Some(&compact));
            return Ok(());
        }
        Field::Nested(raw) => return Err(format!("expected {kind}, found {raw}")),
        Field::Scalar(raw) => Cow::Borrowed(raw),
    };
    let bad = || format!("'{text}' is not a valid {kind}");
    match kind {
        Kind::Text { .. } => {
            check_text(kind, &text)?;
            out.push(Some(&text));
        }
        Kind::Integer { min, max } => {
            let n: i128 = text.parse().map_err(|_| bad())?;
            if n < min || n > max {
                return Err(out_of_range(&text, min, max));
            }
            // As written unless that has a `+` or leading zeros.
            let digits = text.strip_prefix('-').unwrap_or(&text);
            if matches!(digits.as_bytes()[0], b'1'..=b'9') || text == "0" {
                out.push(Some(&text));
            } else {
                out.push_integer(n);
            }
        }
        Kind::Decimal { precision, scale } => {
            let exact = Exact::parse(&text).ok_or_else(bad)?;
            if exact.fits_as_written(precision, scale) {
                out.push(Some(&text));
            } else {
                let rounded = exact
                    .rounded(precision, scale)
                    .ok_or_else(|| format!("{text} does not fit {kind}"))?;
                out.push(Some(&rounded));
            }
        }
        Kind::Number if Exact::parse(&text).is_some() => out.push(Some(&text)),
        Kind::Number => return Err(bad()),
        Kind::Float { max } => {
            let x: f64 = text.parse().map_err(|_| bad())?;
            if !x.is_finite() || x.abs() > max {
                return Err(out_of_range(
                    &text,
                    format!("{:e}", -max),
                    format!("{max:e}"),
                ));
            }
            out.push(Some(&text));
        }
        Kind::Boolean => out.push(Some(match text.to_ascii_lowercase().as_str() {
            "true" | "t" | "1" => "true",
            "false" | "f" | "0" => "false",
            _ => return Err(bad()),
        })),
        Kind::Date { min, max } => {
            let date = NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| bad())?;
            if date < min || date > max {
                return Err(out_of_range(&text, min, max));
            }
            out.push_display(date);
        }
        Kind::Time => {
            let time = ["%H:%M:%S%.f", "%H:%M"]
                .iter()
                .find_map(|f| NaiveTime::parse_from_str(&text, f).ok())
                .ok_or_else(bad)?;
            out.push_display(time.format("%H:%M:%S%.6f"));
        }
        Kind::Uuid => out.push(Some(&uuid(&text).ok_or_else(bad)?)),
        Kind::Timestamp { min, max } => {
            let t = timestamp(&text).ok_or_else(bad)?;
            if t < min || t > max {
                return Err(out_of_range(&text, min, max));
            }
            out.push_display(Micros(t));
        }
        Kind::Json { .. } => match serde_json::from_str::<IgnoredAny>(&text) {
            Ok(_) => {
                check_text(kind, &text)?;
                out.push(Some(&text));
            }
            Err(e) => return Err(format!("invalid JSON: {e}")),
        },
    }
    Ok(())
}

/// Whether text (or JSON's text) fits a column of `kind`: its length, and U+0000.
fn check_text(kind: Kind, text: &str) -> Result<(), String> {
    let (max_chars, max_bytes, nul_fits) = match kind {
        Kind::Text {
            max_chars,
            max_bytes,
            nul,
        } => (max_chars, max_bytes, nul || !text.contains('\0')),
        Kind::Json { nul } => (None, None, nul || !text.contains("\\u0000")),
        _ => return Ok(()),
    };
    if !nul_fits {
        return Err("the value holds the character U+0000, which the column cannot".into());
    }
    if let Some(max) = max_chars.filter(|max| text.chars().nth(*max).is_some()) {
        return Err(format!("the value is over {max} characters"));
    }
    if let Some(max) = max_bytes.filter(|max| text.len() > *max) {
        return Err(format!("the value is over {max} bytes"));
    }
    Ok(())
}

/// Says that `text` is outside the column's range.
fn out_of_range(text: &str, min: impl fmt::Display, max: impl fmt::Display) -> String {
    format!("{text} is out of range ({min} to {max})")
}

/// A number as written (`-12.5e3`), exactly: its digits and the power of ten they are
/// multiplied by.
struct Exact<'a> {
    negative: bool,
    /// The digits before and after the point (either may be empty, not both).
    whole: &'a str,
    fraction: &'a str,
    /// The power of ten written after `e`, if any.
    exponent: Option<i64>,
    /// Written with a `+` sign.
    plus: bool,
}

impl<'a> Exact<'a> {
    fn parse(text: &'a str) -> Option<Exact<'a>> {
        let (negative, plus, unsigned) = match text.as_bytes().first()? {
            b'-' => (true, false, &text[1..]),
            b'+' => (false, true, &text[1..]),
            _ => (false, false, text),
        };
        let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
            Some(at) => {
                let exponent = &unsigned[at + 1..];
                let digits = exponent.trim_start_matches(['+', '-']);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                // Past any precision a warehouse has: saturate rather than overflow.
                let saturated = if exponent.starts_with('-') {
                    -1 << 40
                } else {
                    1 << 40
                };
                (&unsigned[..at], Some(exponent.parse().unwrap_or(saturated)))
            }
            None => (unsigned, None),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        let digit_run = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.len() + fraction.len() == 0 || !digit_run(whole) || !digit_run(fraction) {
            return None;
        }
        Some(Exact {
            negative,
            whole,
            fraction,
            exponent,
            plus,
        })
    }

    /// Whether every warehouse reads the number as written into decimal(precision, scale)
    /// without rounding it: the common case, which costs no copy.
    fn fits_as_written(&self, precision: u32, scale: u32) -> bool {
        let whole = self.whole.trim_start_matches('0').len();
        self.exponent.is_none()
            && !self.plus
            && self.fraction.len() <= scale as usize
            && whole + scale as usize <= precision as usize
    }

    /// The number rounded to `scale` digits after the point, as text with exactly that
    /// many; `None` when it then has more than `precision` digits.
    fn rounded(&self, precision: u32, scale: u32) -> Option<String> {
        let digits = format!("{}{}", self.whole, self.fraction);
        let digits = digits.trim_start_matches('0');
        // The value times 10^scale is `digits` shifted by this many places.
        let exponent = self.exponent.unwrap_or(0) - self.fraction.len() as i64;
        let shift = exponent + i64::from(scale);
        let mut units: Vec<u8> = if shift >= 0 {
            if digits.is_empty() {
                Vec::new()
            } else if digits.len() as i64 + shift > i64::from(precision) {
                return None;
            } else {
                let mut units = digits.as_bytes().to_vec();
                units.resize(digits.len() + shift as usize, b'0');
                units
            }
        } else {
            let dropped = (-shift).min(digits.len() as i64 + 1) as usize;
            let keep = digits.len().saturating_sub(dropped);
            let round_up = dropped <= digits.len() && digits.as_bytes()[keep] >= b'5';
            let mut units = digits.as_bytes()[..keep].to_vec();
            if round_up {
                increment(&mut units);
            }
            units
        };
        while units.first() == Some(&b'0') {
            units.remove(0);
        }
        if units.len() > precision as usize {
            return None;
        }
        let scale = scale as usize;
        if units.len() <= scale {
            let mut padded = vec![b'0'; scale + 1 - units.len()];
            padded.extend(units);
            units = padded;
        }
        let point = units.len() - scale;
        let zero = units.iter().all(|d| *d == b'0');
        let mut text = String::with_capacity(units.len() + 2);
        if self.negative && !zero {
            text.push('-');
        }
        text.push_str(std::str::from_utf8(&units[..point]).expect("digits"));
        if scale > 0 {
            text.push('.');
            text.push_str(std::str::from_utf8(&units[point..]).expect("digits"));
        }
        Some(text)
    }
}

/// Adds one to a number written in decimal digits.
fn increment(units: &mut Vec<u8>) {
    for digit in units.iter_mut().rev() {
        if *digit == b'9' {
            *digit = b'0';
        } else {
            *digit += 1;
            return;
        }
    }
    units.insert(0, b'1');
}

/// A field of a record as written.
#[derive(Debug)]
pub(crate) enum Field<'a> {
    Null,
    /// A JSON string (unescaped) or a CSV field.
    Text(Cow<'a, str>),
    /// A JSON number, `true` or `false`, as written.
    Scalar(&'a str),
    /// A JSON object or array, as written.
    Nested(&'a str),
}

impl<'a> Field<'a> {
    pub(crate) fn of(raw: &'a RawValue) -> Result<Field<'a>, String> {
        let text = raw.get();
        Ok(match text.as_bytes().first() {
            Some(b'n') => Field::Null,
            // A string without escapes is its text between the quotes.
            Some(b'"') if !text.contains('\\') => {
                Field::Text(Cow::Borrowed(&text[1..text.len() - 1]))
            }
            Some(b'"') => Field::Text(Cow::Owned(
                serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?,
            )),
            Some(b'{' | b'[') => Field::Nested(text),
            _ => Field::Scalar(text),
        })
    }
}

/// A UUID in the form every warehouse reads: 32 lowercase hex digits, hyphenated 8-4-4-4-12.
fn uuid(text: &str) -> Option<String> {
    let text = text
        .strip_prefix('{')
        .and_then(|t| t.strip_suffix('}'))
        .unwrap_or(text);
    let hex: Vec<u8> = text.bytes().filter(|b| *b != b'-').collect();
    if hex.len() != 32 || !hex.iter().all(u8::is_ascii_hexdigit) || text.starts_with('-') {
        return None;
    }
    let hex = String::from_utf8(hex).ok()?.to_ascii_lowercase();
    Some(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

/// A timestamp as the UTC time it is: one with a zone offset (RFC 3339) is converted, one
/// without is taken as UTC.
fn timestamp(text: &str) -> Option<NaiveDateTime> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.naive_utc());
    }
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.fZ",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
}

/// A timestamp displayed as `YYYY-MM-DD HH:MM:SS.ffffff`, the text every warehouse reads as
/// a timestamp, its digits put by hand: chrono's `format` parses its pattern on every call (a
/// tenth of a load's time), and `write!` of seven padded numbers took a twentieth.
struct Micros(NaiveDateTime);

impl fmt::Display for Micros {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        let Ok(year @ 0..=9999) = u32::try_from(t.year()) else {
            // Not loaded (see `timestamp_range`), but displayed right all the same.
            return write!(f, "{}", t.format("%Y-%m-%d %H:%M:%S%.6f"));
        };
        let mut text = *b"0000-00-00 00:00:00.000000";
        let micros = t.nanosecond() % 1_000_000_000 / 1000;
        let fields = [
            (0, 4, year),
            (5, 2, t.month()),
            (8, 2, t.day()),
            (11, 2, t.hour()),
            (14, 2, t.minute()),
            (17, 2, t.second()),
            (20, 6, micros),
        ];
        for (at, width, mut n) in fields {
            for digit in text[at..at + width].iter_mut().rev() {
                *digit = b'0' + (n % 10) as u8;
                n /= 10;
            }
        }
        f.write_str(std::str::from_utf8(&text).expect("ASCII digits"))
    }
}

/// The current time as `YYYY-MM-DD HH:MM:SS.ffffff` in UTC.
pub fn now_text() -> String {
    Micros(chrono::Utc::now().naive_utc()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use elt_core::adapter::Dialect;

    /// The value a column of `data_type` makes of a JSON value, or its error.
    fn value(data_type: &str, dialect: Dialect, json: &str) -> Result<Option<String>, String> {
        let raw: &RawValue = serde_json::from_str(json).unwrap();
        let mut out = TextRows::new(1);
        write(
            Kind::of(data_type, dialect.adapter()),
            Field::of(raw)?,
            &mut out,
        )?;
        Ok(out.row(0).next().unwrap().map(str::to_string))
    }

    fn ok(data_type: &str, json: &str) -> Option<String> {
        value(data_type, Dialect::DuckDb, json).unwrap()
    }

    fn refused(data_type: &str, dialect: Dialect, json: &str) -> String {
        value(data_type, dialect, json).unwrap_err()
    }

    #[test]
    fn values_are_checked_and_normalized() {
        assert_eq!(ok("bigint", "42"), Some("42".into()));
        assert_eq!(ok("bigint", r#""+7""#), Some("7".into()));
        assert_eq!(ok("bigint", r#""-007""#), Some("-7".into()));
        assert_eq!(ok("bigint", "-0"), Some("0".into()));
        assert_eq!(ok("bigint", r#""""#), None);
        for bad in ["1.5", r#""12a""#, "[1]"] {
            assert!(value("bigint", Dialect::DuckDb, bad).is_err(), "{bad}");
        }
        assert_eq!(
            ok("timestamp", r#""2024-03-01T10:00:00+02:00""#),
            Some("2024-03-01 08:00:00.000000".into())
        );
        assert_eq!(ok("boolean", r#""T""#), Some("true".into()));
        assert_eq!(ok("text", r#"{"a": [1]}"#), Some("{\"a\":[1]}".into()));
        assert_eq!(
            ok("varchar", r#""tab\tand \"quote\"""#),
            Some("tab\tand \"quote\"".into())
        );
        assert_eq!(ok("double", "12.50"), Some("12.50".into()));
        assert_eq!(ok("json", "null"), None);
        assert!(value("date", Dialect::DuckDb, r#""2024-02-30""#).is_err());
        assert_eq!(ok("time", r#""7:05""#), Some("07:05:00.000000".into()));
        assert!(value("time", Dialect::DuckDb, r#""25:00:00""#).is_err());
        let id = Some("0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9".to_string());
        assert_eq!(ok("uuid", r#""{0A1B2C3D4E5F60718293A4B5C6D7E8F9}""#), id);
        assert_eq!(ok("UUID", r#""0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9""#), id);
        assert!(value("uuid", Dialect::DuckDb, r#""0a1b2c3d-4e5f-6071-8293""#).is_err());
    }

    #[test]
    fn timestamps_display_as_chrono_formats_them() {
        let at = |y, m, d, h, min, sec, micro| {
            NaiveDate::from_ymd_opt(y, m, d)
                .and_then(|date| date.and_hms_micro_opt(h, min, sec, micro))
                .unwrap()
        };
        for t in [
            at(2024, 1, 1, 10, 0, 0, 0),
            at(1, 2, 3, 4, 5, 6, 7),
            at(9999, 12, 31, 23, 59, 59, 999_999),
            at(1970, 1, 1, 0, 0, 0, 120_000),
            at(10_000, 1, 1, 0, 0, 0, 0),
            at(-1, 1, 1, 0, 0, 0, 0),
        ] {
            let expected = t.format("%Y-%m-%d %H:%M:%S%.6f").to_string();
            assert_eq!(Micros(t).to_string(), expected);
        }
        assert_eq!(
            Micros(at(1, 2, 3, 4, 5, 6, 7)).to_string(),
            "0001-02-03 04:05:06.000007"
        );
    }

    #[test]
    fn decimals_round_to_their_scale_exactly() {
        let cases = [
            ("12.5", "12.5"),
            (r#""+12.5""#, "12.50"),
            ("-0.004", "0.00"),
            ("0.005", "0.01"),
            ("-1.235", "-1.24"),
            ("1e3", "1000.00"),
            ("125E-3", "0.13"),
            (r#""9999999999.994""#, "9999999999.99"),
            ("0", "0"),
            ("-0.0", "-0.0"),
            ("-12", "-12"),
            ("-12e0", "-12.00"),
            (r#""0012.345""#, "12.35"),
            ("1e-900000000000000000000", "0.00"),
        ];
        for (json, text) in cases {
            assert_eq!(ok("decimal(12,2)", json).as_deref(), Some(text), "{json}");
        }
        assert_eq!(ok("numeric(5)", "12345.4"), Some("12345".into()));
        assert_eq!(ok("numeric(5)", r#""00012345""#), Some("00012345".into()));
        // DuckDB's decimal without arguments is decimal(18,3); PostgreSQL's keeps any number.
        assert_eq!(ok("decimal", "1.23456"), Some("1.235".into()));
        assert_eq!(
            value("numeric", Dialect::Postgres, "1.23456e40").unwrap(),
            Some("1.23456e40".into())
        );
        for too_big in [
            "1e20",
            "9999999999.995",
            "100000000000",
            "1e900000000000000000000",
        ] {
            let error = refused("decimal(12,2)", Dialect::DuckDb, too_big);
            assert_eq!(error, format!("{too_big} does not fit decimal(12,2)"));
        }
        for not_a_number in ["true", r#""1.2.3""#, r#""e5""#, r#""1e""#, r#""-""#] {
            let error = refused("decimal(12,2)", Dialect::DuckDb, not_a_number);
            assert!(error.ends_with("is not a valid decimal(12,2)"), "{error}");
        }
    }

    #[test]
    fn integers_fit_their_type_in_its_dialect() {
        assert_eq!(
            refused("integer", Dialect::Postgres, "5000000000"),
            "5000000000 is out of range (-2147483648 to 2147483647)"
        );
        assert!(value("smallint", Dialect::DuckDb, "32768").is_err());
        assert!(value("smallint", Dialect::DuckDb, "-32768").is_ok());
        // int8 is eight bytes in DuckDB and PostgreSQL, eight bits in ClickHouse.
        assert!(value("int8", Dialect::DuckDb, "5000000000").is_ok());
        assert!(value("Int8", Dialect::ClickHouse, "128").is_err());
        assert!(value("Nullable(UInt16)", Dialect::ClickHouse, "65535").is_ok());
        assert!(value("UInt64", Dialect::ClickHouse, "-1").is_err());
        assert!(value("ubigint", Dialect::DuckDb, "18446744073709551615").is_ok());
        assert!(
            value(
                "hugeint",
                Dialect::DuckDb,
                "170141183460469231731687303715884105727"
            )
            .is_ok()
        );
    }

    #[test]
    fn dates_times_floats_and_text_fit_their_warehouse() {
        // ClickHouse clamps dates and times out of range; the others read four-digit years.
        assert!(value("date", Dialect::ClickHouse, r#""1969-12-31""#).is_err());
        assert!(value("Date32", Dialect::ClickHouse, r#""1969-12-31""#).is_ok());
        assert!(value("timestamp", Dialect::ClickHouse, r#""2300-01-01 00:00:00""#).is_err());
        assert!(value("timestamp", Dialect::DuckDb, r#""2300-01-01 00:00:00""#).is_ok());
        assert!(value("timestamp", Dialect::Postgres, r#""0000-12-31T00:00:00Z""#).is_err());
        // `float` is single precision but in PostgreSQL.
        assert!(value("float", Dialect::DuckDb, "1e39").is_err());
        assert!(value("float", Dialect::Postgres, "1e39").is_ok());
        assert!(value("real", Dialect::Postgres, "1e39").is_err());
        assert!(value("double", Dialect::DuckDb, "1e309").is_err());
        // PostgreSQL enforces lengths and holds no U+0000 in text nor its escape in jsonb.
        assert_eq!(
            refused("varchar(3)", Dialect::Postgres, r#""abcd""#),
            "the value is over 3 characters"
        );
        assert!(value("varchar(3)", Dialect::Postgres, r#""äöü""#).is_ok());
        assert!(value("varchar(3)", Dialect::DuckDb, r#""abcd""#).is_ok());
        assert!(value("char", Dialect::Postgres, r#""ab""#).is_err());
        assert!(value("FixedString(2)", Dialect::ClickHouse, r#""äb""#).is_err());
        assert!(value("text", Dialect::Postgres, r#""a\u0000b""#).is_err());
        assert!(value("text", Dialect::DuckDb, r#""a\u0000b""#).is_ok());
        assert!(value("jsonb", Dialect::Postgres, r#"{"a": "\u0000"}"#).is_err());
        assert!(value("json", Dialect::Postgres, r#"{"a": "\u0000"}"#).is_ok());
    }
}
