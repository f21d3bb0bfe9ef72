//! Records: split out of an object's bytes (JSON lines, CSV or Parquet), then shaped into
//! the raw table's row, or refused with the reason (a dead letter).

use std::borrow::Cow;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike};
use elt_core::manifest::SourceNode;
use serde_json::Value as Json;

use crate::config::{Format, Shape};

/// One record as written, with where it was.
#[derive(Debug, Clone, PartialEq)]
pub struct RawRecord {
    /// 1-based line of the record in its object (CSV: the line it starts on; Parquet: the
    /// row number; Kafka: the offset).
    pub line: u64,
    pub payload: String,
    /// Why the record cannot be read at all (not UTF-8, an unreadable Parquet object).
    pub unreadable: Option<String>,
}

/// An object's records, its CSV header, and its last position (the number of its last line,
/// or of its last Parquet row).
pub struct Split {
    pub records: Vec<RawRecord>,
    pub header: Option<Vec<String>>,
    pub end: u64,
}

/// Splits an object into records: one per non-empty line of JSON lines; one per CSV record
/// after the header (quoted fields may span lines); one per Parquet row, as a JSON object.
pub fn split(bytes: &bytes::Bytes, format: Format) -> Split {
    match format {
        Format::JsonLines => Split {
            records: split_lines(bytes),
            header: None,
            end: lines(bytes),
        },
        Format::Csv => {
            let (records, header) = split_csv(bytes);
            Split {
                records,
                header,
                end: lines(bytes),
            }
        }
        Format::Parquet => split_parquet(bytes),
    }
}

/// The number of the object's last line (a final newline ends a line, it does not start one).
fn lines(bytes: &[u8]) -> u64 {
    let newlines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
    newlines + u64::from(!bytes.is_empty() && !bytes.ends_with(b"\n"))
}

pub(crate) fn record(line: u64, bytes: &[u8]) -> RawRecord {
    let text = String::from_utf8_lossy(bytes);
    RawRecord {
        line,
        unreadable: matches!(text, Cow::Owned(_)).then(|| "the record is not valid UTF-8".into()),
        payload: text.into_owned(),
    }
}

/// Parquet rows as JSON objects (Arrow's JSON writer: nulls left out, timestamps in RFC 3339,
/// decimals exact). An object that cannot be read is one unreadable record.
fn split_parquet(bytes: &bytes::Bytes) -> Split {
    let mut records = Vec::new();
    let read = (|| -> Result<(), String> {
        let reader =
            parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(bytes.clone())
                .and_then(|builder| builder.build())
                .map_err(|e| e.to_string())?;
        for batch in reader {
            let batch = batch.map_err(|e| e.to_string())?;
            let mut writer = arrow_json::LineDelimitedWriter::new(Vec::new());
            writer.write(&batch).map_err(|e| e.to_string())?;
            writer.finish().map_err(|e| e.to_string())?;
            let json = writer.into_inner();
            for line in json.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                let row = records.len() as u64 + 1;
                records.push(record(row, line));
            }
        }
        Ok(())
    })();
    match read {
        Ok(()) => Split {
            end: records.len() as u64,
            records,
            header: None,
        },
        Err(e) => Split {
            records: vec![RawRecord {
                line: 1,
                payload: String::new(),
                unreadable: Some(format!("not a readable Parquet object: {e}")),
            }],
            header: None,
            end: 1,
        },
    }
}

fn split_lines(bytes: &[u8]) -> Vec<RawRecord> {
    bytes
        .split(|b| *b == b'\n')
        .enumerate()
        .filter_map(|(i, line)| {
            let line_bytes = line.strip_suffix(b"\r").unwrap_or(line);
            (!line_bytes.iter().all(u8::is_ascii_whitespace))
                .then(|| record(i as u64 + 1, line_bytes))
        })
        .collect()
}

fn split_csv(bytes: &[u8]) -> (Vec<RawRecord>, Option<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(bytes);
    let header = reader.byte_headers().ok().map(|h| {
        h.iter()
            .map(|f| String::from_utf8_lossy(f).into_owned())
            .collect()
    });
    let mut records = Vec::new();
    let mut row = csv::ByteRecord::new();
    let mut start = reader.position().clone();
    loop {
        match reader.read_byte_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {
                let end = reader.position().byte() as usize;
                let text = &bytes[start.byte() as usize..end];
                let text = text.strip_suffix(b"\n").unwrap_or(text);
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                records.push(record(start.line(), text));
            }
            // A broken record (e.g. an unclosed quote runs to the end): the rest of the
            // object is one dead letter, never silently dropped.
            Err(_) => {
                records.push(record(start.line(), &bytes[start.byte() as usize..]));
                break;
            }
        }
        start = reader.position().clone();
    }
    (records, header)
}

/// What a column holds, read from its YAML `data_type`, to check values before they reach
/// the warehouse (so a bad value is a dead letter, not a failed batch).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Integer,
    Decimal,
    Boolean,
    Date,
    Timestamp,
    Json,
    Text,
}

impl Kind {
    pub fn of(data_type: &str) -> Kind {
        let t = data_type.to_ascii_lowercase();
        let t = t.strip_prefix("nullable(").unwrap_or(&t);
        if t.contains("timestamp") || t.starts_with("datetime") {
            Kind::Timestamp
        } else if t.starts_with("date") {
            Kind::Date
        } else if (t.contains("int") && !t.contains("interval")) || t == "serial" {
            Kind::Integer
        } else if ["decimal", "numeric", "double", "float", "real"]
            .iter()
            .any(|k| t.starts_with(k))
        {
            Kind::Decimal
        } else if t.starts_with("bool") {
            Kind::Boolean
        } else if t.starts_with("json") {
            Kind::Json
        } else {
            Kind::Text
        }
    }

    /// The value as the warehouse should read it, or why it cannot be one.
    fn text(self, value: &Json) -> Result<Option<String>, String> {
        let text = match value {
            Json::Null => return Ok(None),
            Json::String(s) if s.is_empty() && self != Kind::Text => return Ok(None),
            Json::String(s) => Cow::Borrowed(s.as_str()),
            other if self == Kind::Json || self == Kind::Text => {
                return Ok(Some(other.to_string()));
            }
            Json::Number(n) => Cow::Owned(n.to_string()),
            Json::Bool(b) => Cow::Owned(b.to_string()),
            other => return Err(format!("expected {self:?}, found {other}")),
        };
        let bad = || format!("'{text}' is not a valid {}", self.name());
        Ok(Some(match self {
            Kind::Text => text.into_owned(),
            Kind::Integer => text.parse::<i64>().map_err(|_| bad())?.to_string(),
            Kind::Decimal if text.parse::<f64>().is_ok_and(f64::is_finite) => text.into_owned(),
            Kind::Decimal => return Err(bad()),
            Kind::Boolean => match text.to_ascii_lowercase().as_str() {
                "true" | "t" | "1" => "true".into(),
                "false" | "f" | "0" => "false".into(),
                _ => return Err(bad()),
            },
            Kind::Date => NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .map_err(|_| bad())?
                .to_string(),
            Kind::Timestamp => timestamp(&text).ok_or_else(bad)?,
            Kind::Json => match serde_json::from_str::<Json>(&text) {
                Ok(_) => text.into_owned(),
                Err(e) => return Err(format!("invalid JSON: {e}")),
            },
        }))
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Integer => "integer",
            Kind::Decimal => "number",
            Kind::Boolean => "boolean",
            Kind::Date => "date (YYYY-MM-DD)",
            Kind::Timestamp => "timestamp",
            Kind::Json => "JSON value",
            Kind::Text => "text",
        }
    }
}

/// A timestamp as `YYYY-MM-DD HH:MM:SS.ffffff` in UTC: one with a zone offset (RFC 3339) is
/// converted, one without is taken as UTC.
fn timestamp(text: &str) -> Option<String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(timestamp_text(t.naive_utc()));
    }
    [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.fZ",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .map(timestamp_text)
}

/// `YYYY-MM-DD HH:MM:SS.ffffff`, the text every warehouse reads as a timestamp (written by
/// hand: chrono's `format` parses its pattern on every call, a tenth of a load's time).
pub fn timestamp_text(t: NaiveDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond() % 1_000_000_000 / 1000
    )
}

/// The current time as [`timestamp_text`].
pub fn now_text() -> String {
    timestamp_text(chrono::Utc::now().naive_utc())
}

/// Turns records into rows of the raw table's own columns (without elt's metadata columns).
pub struct Shaper {
    shape: Shape,
    format: Format,
    /// The table's columns and kinds (for [`Shape::Columns`]).
    columns: Vec<(String, Kind)>,
    /// For CSV: each column's field index in the header.
    fields: Vec<Option<usize>>,
    max_bytes: usize,
}

impl Shaper {
    pub fn new(shape: &Shape, format: Format, source: &SourceNode, max_bytes: usize) -> Self {
        let columns = source
            .columns
            .values()
            .map(|c| {
                (
                    c.name.clone(),
                    Kind::of(c.data_type.as_deref().unwrap_or("text")),
                )
            })
            .collect();
        Shaper {
            shape: shape.clone(),
            format,
            columns,
            fields: Vec::new(),
            max_bytes,
        }
    }

    /// The raw table's own column names, in order.
    pub fn column_names(&self) -> Vec<String> {
        match &self.shape {
            Shape::Payload { column } => vec![column.clone()],
            Shape::Columns => self.columns.iter().map(|(name, _)| name.clone()).collect(),
        }
    }

    /// Reads a CSV object's header: which field each column comes from (a column missing
    /// from the header is NULL).
    pub fn set_header(&mut self, header: Option<&[String]>) {
        self.fields = self
            .columns
            .iter()
            .map(|(name, _)| header.and_then(|h| h.iter().position(|f| f == name)))
            .collect();
    }

    /// The row for a record, or why it is a dead letter.
    pub fn row(&self, record: &RawRecord) -> Result<Vec<Option<String>>, String> {
        if record.payload.len() > self.max_bytes {
            return Err(format!(
                "the record is {} bytes, over the limit of {} (max_record_bytes)",
                record.payload.len(),
                self.max_bytes
            ));
        }
        if let Some(problem) = &record.unreadable {
            return Err(problem.clone());
        }
        match (&self.shape, self.format) {
            (Shape::Payload { .. }, Format::JsonLines | Format::Parquet) => {
                serde_json::from_str::<Json>(&record.payload)
                    .map_err(|e| format!("invalid JSON: {e}"))?;
                Ok(vec![Some(record.payload.clone())])
            }
            (Shape::Payload { .. }, Format::Csv) => Ok(vec![Some(record.payload.clone())]),
            (Shape::Columns, Format::JsonLines | Format::Parquet) => self.json_row(&record.payload),
            (Shape::Columns, Format::Csv) => self.csv_row(&record.payload),
        }
    }

    fn json_row(&self, payload: &str) -> Result<Vec<Option<String>>, String> {
        let value: Json =
            serde_json::from_str(payload).map_err(|e| format!("invalid JSON: {e}"))?;
        let Json::Object(object) = value else {
            return Err("the record is not a JSON object".into());
        };
        self.columns
            .iter()
            .map(|(name, kind)| {
                let value = object.get(name).unwrap_or(&Json::Null);
                kind.text(value).map_err(|e| format!("column {name}: {e}"))
            })
            .collect()
    }

    fn csv_row(&self, payload: &str) -> Result<Vec<Option<String>>, String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(payload.as_bytes());
        let record = match reader.records().next() {
            Some(Ok(record)) => record,
            Some(Err(e)) => return Err(format!("invalid CSV: {e}")),
            None => csv::StringRecord::new(),
        };
        self.columns
            .iter()
            .zip(&self.fields)
            .map(|((name, kind), field)| {
                let text = field.and_then(|i| record.get(i)).unwrap_or_default();
                let value = if text.is_empty() {
                    Json::Null
                } else {
                    Json::String(text.to_string())
                };
                kind.text(&value).map_err(|e| format!("column {name}: {e}"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(b: &'static [u8]) -> bytes::Bytes {
        bytes::Bytes::from_static(b)
    }

    #[test]
    fn an_unreadable_parquet_object_is_one_dead_record() {
        let split = split(&bytes(b"PAR1 not really"), Format::Parquet);
        assert_eq!(split.records.len(), 1);
        let problem = split.records[0].unreadable.as_deref().unwrap();
        assert!(
            problem.starts_with("not a readable Parquet object"),
            "{problem}"
        );
    }

    #[test]
    fn lines_keep_their_numbers_and_skip_blank_ones() {
        let records = split(
            &bytes(b"{\"a\":1}\n\n{\"a\":2}\r\n{broken\n"),
            Format::JsonLines,
        )
        .records;
        let lines: Vec<(u64, &str)> = records
            .iter()
            .map(|r| (r.line, r.payload.as_str()))
            .collect();
        assert_eq!(lines, [(1, "{\"a\":1}"), (3, "{\"a\":2}"), (4, "{broken")]);
    }

    #[test]
    fn csv_records_span_quoted_newlines_and_keep_their_text() {
        let split = split(&bytes(b"id,note\n1,\"two\nlines\"\n2,plain\n"), Format::Csv);
        let records = split.records;
        assert_eq!(split.header.unwrap(), ["id", "note"]);
        assert_eq!(split.end, 4);
        let lines: Vec<(u64, &str)> = records
            .iter()
            .map(|r| (r.line, r.payload.as_str()))
            .collect();
        assert_eq!(lines, [(2, "1,\"two\nlines\""), (4, "2,plain")]);
    }

    #[test]
    fn an_unclosed_quote_makes_the_rest_one_record() {
        let records = split(
            &bytes(b"id,note\n1,ok\n2,\"never closed\n3,x\n"),
            Format::Csv,
        )
        .records;
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].payload, "2,\"never closed\n3,x");
    }

    #[test]
    fn kinds_check_and_normalize_values() {
        let ok = |kind: Kind, v: Json| kind.text(&v).unwrap();
        assert_eq!(ok(Kind::Integer, Json::from(42)), Some("42".into()));
        assert_eq!(ok(Kind::Integer, Json::from("")), None);
        assert!(Kind::Integer.text(&Json::from(1.5)).is_err());
        assert!(Kind::Integer.text(&Json::from("12a")).is_err());
        assert_eq!(
            ok(Kind::Timestamp, Json::from("2024-03-01T10:00:00+02:00")),
            Some("2024-03-01 08:00:00.000000".into())
        );
        assert_eq!(ok(Kind::Boolean, Json::from("T")), Some("true".into()));
        assert_eq!(
            ok(Kind::Text, serde_json::json!({"a": [1]})),
            Some("{\"a\":[1]}".into())
        );
        assert!(Kind::Date.text(&Json::from("2024-02-30")).is_err());
        assert_eq!(Kind::of("Nullable(Int64)"), Kind::Integer);
        assert_eq!(Kind::of("timestamp with time zone"), Kind::Timestamp);
        assert_eq!(Kind::of("decimal(12,2)"), Kind::Decimal);
        assert_eq!(Kind::of("varchar"), Kind::Text);
    }
}
