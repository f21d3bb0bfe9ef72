//! Rows of text values in PostgreSQL's binary COPY format, for the column types whose text
//! elt can read exactly as PostgreSQL would: PostgreSQL then stores the values without
//! parsing their text, which was a third of a COPY's time (1M rows of the loader's raw
//! table: 0.82-0.89 s as text, 0.60 s as binary). Any other column type, or a value that does
//! not read as its column's type, makes the whole batch go as text: PostgreSQL then reads it,
//! or refuses it in its own words.

use chrono::{NaiveDate, NaiveDateTime};
use rayon::prelude::*;

use crate::TextRows;
use crate::canonical::{boolean, date, float, timestamp};

/// How one column's text values become binary ones.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Encoder {
    Int2,
    Int4,
    Int8,
    Float4,
    Float8,
    Bool,
    /// text, varchar, char, json: the text's bytes.
    Text,
    Jsonb,
    Uuid,
    Date,
    Timestamp,
    Numeric,
}

impl Encoder {
    /// The encoder of a column of this type (as `format_type` names it); `None` for a type
    /// whose values go as text. `timestamp with time zone` is one: its text without a zone
    /// is read in the session's time zone.
    pub(crate) fn of(pg_type: &str) -> Option<Encoder> {
        let base = pg_type.split('(').next().unwrap_or(pg_type).trim();
        Some(match base {
            "smallint" => Encoder::Int2,
            "integer" => Encoder::Int4,
            "bigint" => Encoder::Int8,
            "real" => Encoder::Float4,
            "double precision" => Encoder::Float8,
            "boolean" => Encoder::Bool,
            "text" | "character varying" | "character" | "json" => Encoder::Text,
            "jsonb" => Encoder::Jsonb,
            "uuid" => Encoder::Uuid,
            "date" => Encoder::Date,
            "timestamp" if pg_type.ends_with("without time zone") => Encoder::Timestamp,
            "timestamp without time zone" => Encoder::Timestamp,
            "numeric" => Encoder::Numeric,
            _ => return None,
        })
    }

    /// Appends `text` as this type's binary value, with its length; false if it does not
    /// read as one.
    fn encode(self, text: &str, out: &mut Vec<u8>) -> bool {
        let at = out.len();
        out.extend_from_slice(&[0; 4]);
        let encoded = match self {
            Encoder::Int2 => put(text.parse::<i16>().ok().map(i16::to_be_bytes), out),
            Encoder::Int4 => put(text.parse::<i32>().ok().map(i32::to_be_bytes), out),
            Encoder::Int8 => put(text.parse::<i64>().ok().map(i64::to_be_bytes), out),
            Encoder::Float4 => put(float(text).map(|x| (x as f32).to_be_bytes()), out),
            Encoder::Float8 => put(float(text).map(f64::to_be_bytes), out),
            Encoder::Bool => put(boolean(text).map(|b| [u8::from(b)]), out),
            Encoder::Text => put(Some(text.as_bytes()), out),
            Encoder::Jsonb => {
                out.push(1); // jsonb's binary format version
                out.extend_from_slice(text.as_bytes());
                true
            }
            Encoder::Uuid => put(uuid_bytes(text), out),
            Encoder::Date => put(date(text).map(|d| days(d).to_be_bytes()), out),
            Encoder::Timestamp => put(timestamp(text).map(|t| micros(t).to_be_bytes()), out),
            Encoder::Numeric => numeric(text, out),
        };
        let length = (out.len() - at - 4) as i32;
        out[at..at + 4].copy_from_slice(&length.to_be_bytes());
        encoded
    }
}

/// PostgreSQL's epoch for dates and timestamps: 2000-01-01.
fn epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .expect("a valid date")
}

/// Days since PostgreSQL's epoch.
fn days(date: NaiveDate) -> i32 {
    (date - epoch().date()).num_days() as i32
}

/// Microseconds since PostgreSQL's epoch (years 1-9999 fit).
fn micros(t: NaiveDateTime) -> i64 {
    (t - epoch())
        .num_microseconds()
        .expect("within 290,000 years")
}

fn put(bytes: Option<impl AsRef<[u8]>>, out: &mut Vec<u8>) -> bool {
    bytes.is_some_and(|bytes| {
        out.extend_from_slice(bytes.as_ref());
        true
    })
}

/// A plain decimal (`-12.3400`, no exponent) as PostgreSQL's numeric: base-10000 digits,
/// the weight of the first, the sign and the number of decimal digits shown.
fn numeric(text: &str, out: &mut Vec<u8>) -> bool {
    let (negative, unsigned) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if integer.len() + fraction.len() == 0 || !digits(integer) || !digits(fraction) {
        return false;
    }
    let Ok(scale) = u16::try_from(fraction.len()) else {
        return false;
    };
    let integer = integer.trim_start_matches('0');
    // Groups of four digits aligned on the decimal point, with the weight of the first.
    let lead = (4 - integer.len() % 4) % 4;
    let padded = std::iter::repeat_n(b'0', lead)
        .chain(integer.bytes())
        .chain(fraction.bytes())
        .chain(std::iter::repeat_n(b'0', (4 - fraction.len() % 4) % 4));
    let mut groups = [0i16; MAX_GROUPS];
    let mut count = 0;
    for (digit, d) in padded.enumerate() {
        if digit % 4 == 0 {
            if count == MAX_GROUPS {
                return false;
            }
            count += 1;
        }
        groups[count - 1] = groups[count - 1] * 10 + i16::from(d - b'0');
    }
    let mut weight = ((lead + integer.len()) / 4) as i32 - 1;
    let leading_zeros = groups[..count].iter().take_while(|g| **g == 0).count();
    weight -= leading_zeros as i32;
    let mut groups = &groups[leading_zeros..count];
    while let [rest @ .., 0] = groups {
        groups = rest;
    }
    let (Ok(count), Ok(weight)) = (i16::try_from(groups.len()), i16::try_from(weight)) else {
        return false;
    };
    let sign: u16 = if negative && !groups.is_empty() {
        0x4000
    } else {
        0
    };
    let weight = if groups.is_empty() { 0 } else { weight };
    out.extend_from_slice(&count.to_be_bytes());
    out.extend_from_slice(&weight.to_be_bytes());
    out.extend_from_slice(&sign.to_be_bytes());
    out.extend_from_slice(&scale.to_be_bytes());
    for group in groups {
        out.extend_from_slice(&group.to_be_bytes());
    }
    true
}

/// The most base-10000 digits a numeric is sent with in binary (256 decimal digits); longer
/// ones go as text.
const MAX_GROUPS: usize = 64;

/// Rows encoded by one task: enough to spread a batch over every core.
const ROWS_PER_TASK: usize = 8192;

/// `rows` as a binary COPY stream, in pieces to send one after another (encoded on every
/// core: a commit waits for them), column `i` encoded by `encoders[i]`; `None` if a value does
/// not read as its column's type.
pub(crate) fn copy_data(encoders: &[Encoder], rows: &TextRows) -> Option<Vec<Vec<u8>>> {
    let fields = i16::try_from(encoders.len()).ok()?.to_be_bytes();
    let encode = |task: usize| {
        let range = task * ROWS_PER_TASK..rows.len().min((task + 1) * ROWS_PER_TASK);
        let mut out = Vec::with_capacity(range.len() * (2 + 12 * encoders.len()));
        for index in range {
            out.extend_from_slice(&fields);
            for (value, encoder) in rows.row(index).zip(encoders) {
                match value {
                    None => out.extend_from_slice(&(-1i32).to_be_bytes()),
                    Some(text) if encoder.encode(text, &mut out) => {}
                    Some(_) => return None,
                }
            }
        }
        Some(out)
    };
    let mut pieces = vec![b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0".to_vec()]; // signature, flags, extension
    pieces.extend(
        (0..rows.len().div_ceil(ROWS_PER_TASK))
            .into_par_iter()
            .map(encode)
            .collect::<Option<Vec<_>>>()?,
    );
    pieces.push((-1i16).to_be_bytes().to_vec());
    Some(pieces)
}

/// A UUID's 16 bytes from its canonical text (`8-4-4-4-12` hex digits).
fn uuid_bytes(text: &str) -> Option<[u8; 16]> {
    let t = text.as_bytes();
    if t.len() != 36 || [8, 13, 18, 23].iter().any(|&i| t[i] != b'-') {
        return None;
    }
    let hex: Vec<u8> = t.iter().copied().filter(|b| *b != b'-').collect();
    let mut bytes = [0u8; 16];
    for (byte, pair) in bytes.iter_mut().zip(hex.chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric_parts(text: &str) -> Option<(i16, i16, u16, u16, Vec<i16>)> {
        let mut out = Vec::new();
        if !numeric(text, &mut out) {
            return None;
        }
        let word = |i: usize| i16::from_be_bytes([out[2 * i], out[2 * i + 1]]);
        let count = word(0);
        let digits = (0..count as usize).map(|i| word(4 + i)).collect();
        Some((count, word(1), word(2) as u16, word(3) as u16, digits))
    }

    /// Numeric digits as PostgreSQL's `numeric_send` gives them for the same text.
    #[test]
    fn decimals_become_base_10000_digits() {
        assert_eq!(numeric_parts("0"), Some((0, 0, 0, 0, vec![])));
        assert_eq!(numeric_parts("-0.00"), Some((0, 0, 0, 2, vec![])));
        assert_eq!(numeric_parts("1"), Some((1, 0, 0, 0, vec![1])));
        assert_eq!(numeric_parts("10000"), Some((1, 1, 0, 0, vec![1])));
        assert_eq!(
            numeric_parts("12345.678"),
            Some((3, 1, 0, 3, vec![1, 2345, 6780]))
        );
        assert_eq!(numeric_parts("-0.0005"), Some((1, -1, 0x4000, 4, vec![5])));
        assert_eq!(numeric_parts("0.00000001"), Some((1, -2, 0, 8, vec![1])));
        assert_eq!(numeric_parts("999.25"), Some((2, 0, 0, 2, vec![999, 2500])));
        assert_eq!(numeric_parts("+7.5"), Some((2, 0, 0, 1, vec![7, 5000])));
        assert_eq!(numeric_parts("1e5"), None);
        assert_eq!(numeric_parts("."), None);
        assert_eq!(numeric_parts("NaN"), None);
    }

    #[test]
    fn types_with_a_binary_form_are_known_by_name() {
        assert_eq!(Encoder::of("numeric(12,2)"), Some(Encoder::Numeric));
        assert_eq!(Encoder::of("character varying(20)"), Some(Encoder::Text));
        assert_eq!(
            Encoder::of("timestamp(3) without time zone"),
            Some(Encoder::Timestamp)
        );
        assert_eq!(Encoder::of("timestamp with time zone"), None);
        assert_eq!(Encoder::of("interval"), None);
        assert_eq!(Encoder::of("mood"), None);
    }

    #[test]
    fn values_that_do_not_read_send_the_batch_as_text() {
        let rows = TextRows::from_rows(&[vec![Some("1"), Some("2024-01-01 10:00:00")]]);
        let encoders = [Encoder::Int4, Encoder::Timestamp];
        let pieces = copy_data(&encoders, &rows).unwrap();
        // Signature, flags and extension length; a row of two fields; the trailer.
        assert_eq!(pieces[0].len(), 19);
        assert_eq!(pieces[1].len(), 2 + 4 + 4 + 4 + 8);
        assert_eq!(pieces[2], [0xff, 0xff]);
        let rows = TextRows::from_rows(&[vec![Some("5000000000"), None]]);
        assert!(copy_data(&encoders, &rows).is_none());
    }

    /// Dates and timestamps count from 2000-01-01, as PostgreSQL's do.
    #[test]
    fn dates_and_timestamps_count_from_postgres_epoch() {
        let day = |text| date(text).map(days);
        assert_eq!(day("2000-01-01"), Some(0));
        assert_eq!(day("1999-12-31"), Some(-1));
        assert_eq!(day("2024-01-01"), Some(8766));
        assert_eq!(day("2023-02-29"), None);
        let at = |text| timestamp(text).map(micros);
        assert_eq!(at("2000-01-01 00:00:00"), Some(0));
        let ten_am = (8766 * 86_400 + 36_000) * 1_000_000;
        assert_eq!(at("2024-01-01 10:00:00"), Some(ten_am));
        assert_eq!(at("2024-01-01 10:00:00.5"), Some(ten_am + 500_000));
        assert_eq!(at("2024-01-01 10:00:00.000001"), Some(ten_am + 1));
        assert_eq!(at("2024-01-01 10:00:00.0000001"), None);
        assert_eq!(at("2024-01-01 24:00:00"), None);
        assert_eq!(at("2024-01-01 10:00"), None);
    }

    #[test]
    fn uuids_read_from_their_canonical_text() {
        let bytes = uuid_bytes("0189f7e2-5b1c-7d3e-8f00-0123456789ab").unwrap();
        assert_eq!(bytes[0], 0x01);
        assert_eq!(bytes[15], 0xab);
        assert_eq!(uuid_bytes("0189f7e25b1c7d3e8f000123456789ab"), None);
    }
}
