//! The text the loaders write typed values in (and seeds often hold), read back by hand for
//! the warehouses' typed inserts (DuckDB's Arrow batches, PostgreSQL's binary COPY): chrono's
//! parsing of a format took most of the time of converting a batch. A text in any other form
//! is left to the warehouse to read.

use chrono::{NaiveDate, NaiveDateTime};

/// `true` or `false`.
pub(crate) fn boolean(text: &str) -> Option<bool> {
    match text {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// A finite number of plain digits, sign, point and exponent (not `inf`, not padded).
pub(crate) fn float(text: &str) -> Option<f64> {
    let plain = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'+' | b'.' | b'e' | b'E'));
    plain
        .then(|| text.parse::<f64>().ok())
        .flatten()
        .filter(|x| x.is_finite())
}

/// `YYYY-MM-DD`.
pub(crate) fn date(text: &str) -> Option<NaiveDate> {
    let b = text.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return None;
    }
    NaiveDate::from_ymd_opt(
        number(&b[..4])? as i32,
        number(&b[5..7])?,
        number(&b[8..10])?,
    )
}

/// `YYYY-MM-DD HH:MM:SS[.f{1,6}]`: a timestamp without zone.
pub(crate) fn timestamp(text: &str) -> Option<NaiveDateTime> {
    let b = text.as_bytes();
    if b.len() < 19 || b[10] != b' ' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    let micros = match &b[19..] {
        [] => 0,
        [b'.', fraction @ ..] if (1..=6).contains(&fraction.len()) => {
            number(fraction)? * 10u32.pow(6 - fraction.len() as u32)
        }
        _ => return None,
    };
    date(&text[..10])?.and_hms_micro_opt(
        number(&b[11..13])?,
        number(&b[14..16])?,
        number(&b[17..19])?,
        micros,
    )
}

/// ASCII digits as a number.
fn number(digits: &[u8]) -> Option<u32> {
    digits.iter().try_fold(0u32, |n, d| {
        d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
    })
}
