//! Records: split out of an object's bytes (JSON lines, CSV or Parquet), then shaped into
//! the raw table's row, or refused with the reason (a dead letter).

use std::borrow::Cow;
use std::fmt;

use elt_core::manifest::SourceNode;
use elt_warehouse::TextRows;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::config::{Format, Shape};
use crate::values::{self, Field, Kind};

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

/// A JSON object's values as written, by key (the last of repeated keys wins).
struct ObjectFields<'c> {
    columns: &'c [(String, Kind)],
}

impl<'de> DeserializeSeed<'de> for ObjectFields<'_> {
    type Value = Vec<Option<&'de RawValue>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectFields<'_> {
    type Value = Vec<Option<&'de RawValue>>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut values = vec![None; self.columns.len()];
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let value: &'de RawValue = map.next_value()?;
            if let Some(i) = self.columns.iter().position(|(name, _)| *name == *key.0) {
                values[i] = Some(value);
            }
        }
        Ok(values)
    }
}

/// An object key, borrowed from the record unless it has escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
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
                    Kind::of(
                        c.data_type.as_deref().unwrap_or("text"),
                        source.relation.dialect.adapter(),
                    ),
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

    /// The number of the raw table's own columns.
    pub fn width(&self) -> usize {
        match &self.shape {
            Shape::Payload { .. } => 1,
            Shape::Columns => self.columns.len(),
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

    /// Appends the record's row to `out`, or says why it is a dead letter (then `out` is as
    /// it was).
    pub fn shape(&self, record: &RawRecord, out: &mut TextRows) -> Result<(), String> {
        let mark = out.mark();
        let shaped = self.write(record, out);
        if shaped.is_err() {
            out.truncate(mark);
        }
        shaped
    }

    fn write(&self, record: &RawRecord, out: &mut TextRows) -> Result<(), String> {
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
                serde_json::from_str::<IgnoredAny>(&record.payload)
                    .map_err(|e| format!("invalid JSON: {e}"))?;
                out.push(Some(&record.payload));
                Ok(())
            }
            (Shape::Payload { .. }, Format::Csv) => {
                out.push(Some(&record.payload));
                Ok(())
            }
            (Shape::Columns, Format::JsonLines | Format::Parquet) => {
                self.write_json(&record.payload, out)
            }
            (Shape::Columns, Format::Csv) => self.write_csv(&record.payload, out),
        }
    }

    fn write_json(&self, payload: &str, out: &mut TextRows) -> Result<(), String> {
        let mut reader = serde_json::Deserializer::from_str(payload);
        let fields = ObjectFields {
            columns: &self.columns,
        }
        .deserialize(&mut reader)
        .and_then(|fields| reader.end().map(|()| fields))
        .map_err(|e| match e.classify() {
            serde_json::error::Category::Data => "the record is not a JSON object".to_string(),
            _ => format!("invalid JSON: {e}"),
        })?;
        for ((name, kind), value) in self.columns.iter().zip(fields) {
            let field = value.map_or(Ok(Field::Null), Field::of)?;
            values::write(*kind, field, out).map_err(|e| format!("column {name}: {e}"))?;
        }
        Ok(())
    }

    fn write_csv(&self, payload: &str, out: &mut TextRows) -> Result<(), String> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(payload.as_bytes());
        let record = match reader.records().next() {
            Some(Ok(record)) => record,
            Some(Err(e)) => return Err(format!("invalid CSV: {e}")),
            None => csv::StringRecord::new(),
        };
        for ((name, kind), field) in self.columns.iter().zip(&self.fields) {
            let text = field.and_then(|i| record.get(i)).unwrap_or_default();
            let value = if text.is_empty() {
                Field::Null
            } else {
                Field::Text(Cow::Borrowed(text))
            };
            values::write(*kind, value, out).map_err(|e| format!("column {name}: {e}"))?;
        }
        Ok(())
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
}
