//! Rows of text values bound for a warehouse's bulk path (loaders' batches, seeds), kept in
//! one buffer: a million rows are a few allocations, not one per value.

use std::fmt::{self, Write as _};

/// The bit of an end in [`TextRows`] that marks a NULL.
const NULL: u64 = 1 << 63;

/// Rows of a fixed number of columns whose values are text or NULL.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TextRows {
    width: usize,
    text: String,
    /// Where each value ends in `text`, row after row (it starts where the one before ends),
    /// with [`NULL`] set for a NULL: 8 bytes a value, a third of a range's.
    ends: Vec<u64>,
}

/// A point in [`TextRows`] to go back to.
#[derive(Debug, Clone, Copy)]
pub struct Mark {
    values: usize,
    text: usize,
}

impl TextRows {
    /// No rows yet, of `width` columns.
    pub fn new(width: usize) -> Self {
        TextRows {
            width,
            ..TextRows::default()
        }
    }

    /// No rows yet, with room for `rows` rows holding `text` bytes in all: a buffer that
    /// grows by doubling is copied on each step, and its fresh pages zeroed by the kernel.
    pub fn with_capacity(width: usize, rows: usize, text: usize) -> Self {
        TextRows {
            width,
            text: String::with_capacity(text),
            ends: Vec::with_capacity(rows * width),
        }
    }

    /// `parts`' rows one after another, of `width` columns, in a buffer sized once.
    pub fn concat(width: usize, parts: &[&TextRows]) -> Self {
        let rows = parts.iter().map(|p| p.len()).sum();
        let text = parts.iter().map(|p| p.text.len()).sum();
        let mut all = TextRows::with_capacity(width, rows, text);
        for part in parts {
            all.append(part);
        }
        all
    }

    /// Rows given as vectors of values (each as long as the first).
    pub fn from_rows<S: AsRef<str>>(rows: &[Vec<Option<S>>]) -> Self {
        let mut out = TextRows::new(rows.first().map_or(0, Vec::len));
        for row in rows {
            for value in row {
                out.push(value.as_ref().map(AsRef::as_ref));
            }
        }
        out
    }

    pub fn width(&self) -> usize {
        self.width
    }

    /// The number of complete rows.
    pub fn len(&self) -> usize {
        self.ends.len().checked_div(self.width).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Appends the next value (rows fill left to right, then the next row starts).
    pub fn push(&mut self, value: Option<&str>) {
        match value {
            Some(v) => {
                self.text.push_str(v);
                self.ends.push(self.text.len() as u64);
            }
            None => self.ends.push(self.text.len() as u64 | NULL),
        }
    }

    /// Appends an integer (as `push_display` does, without the formatting machinery: a
    /// loader writes one for every row).
    pub fn push_integer(&mut self, value: impl itoa::Integer) {
        self.text.push_str(itoa::Buffer::new().format(value));
        self.ends.push(self.text.len() as u64);
    }

    /// Appends the next value as `value` displays, without an intermediate string.
    pub fn push_display(&mut self, value: impl fmt::Display) {
        let _ = write!(self.text, "{value}");
        self.ends.push(self.text.len() as u64);
    }

    /// Where the values end now, to [`TextRows::truncate`] back to.
    pub fn mark(&self) -> Mark {
        Mark {
            values: self.ends.len(),
            text: self.text.len(),
        }
    }

    /// Drops the values pushed since `mark` (a row given up half way).
    pub fn truncate(&mut self, mark: Mark) {
        self.ends.truncate(mark.values);
        self.text.truncate(mark.text);
    }

    /// Appends all of `other`'s rows.
    pub fn append(&mut self, other: &TextRows) {
        // Below the NULL bit, so it keeps it.
        let offset = self.text.len() as u64;
        self.text.push_str(&other.text);
        self.ends.extend(other.ends.iter().map(|end| end + offset));
    }

    /// The rows at `indices`, in that order.
    pub fn select(&self, indices: impl IntoIterator<Item = usize>) -> TextRows {
        let mut out = TextRows::new(self.width);
        for index in indices {
            for value in self.row(index) {
                out.push(value);
            }
        }
        out
    }

    /// Row `index`'s values.
    pub fn row(&self, index: usize) -> impl ExactSizeIterator<Item = Option<&str>> + '_ {
        (index * self.width..(index + 1) * self.width).map(|i| self.value(i))
    }

    /// Column `index`'s values, row after row.
    pub fn column(&self, index: usize) -> impl Iterator<Item = Option<&str>> + Clone + '_ {
        (index.min(self.ends.len())..self.ends.len())
            .step_by(self.width.max(1))
            .map(|i| self.value(i))
    }

    /// The `i`th value of all.
    fn value(&self, i: usize) -> Option<&str> {
        let end = self.ends[i];
        if end & NULL != 0 {
            return None;
        }
        let start = i
            .checked_sub(1)
            .map_or(0, |before| self.ends[before] & !NULL);
        Some(&self.text[start as usize..end as usize])
    }

    /// Every row's values.
    pub fn rows(&self) -> impl Iterator<Item = impl ExactSizeIterator<Item = Option<&str>>> {
        (0..self.len()).map(|i| self.row(i))
    }

    /// The rows as PostgreSQL's COPY text format, which is also ClickHouse's TabSeparated:
    /// tab between values, a line per row, `\N` for NULL, backslash escapes.
    pub fn tab_separated(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.text.len() + self.ends.len() * 2);
        for row in self.rows() {
            for (i, value) in row.enumerate() {
                if i > 0 {
                    out.push(b'\t');
                }
                match value {
                    None => out.extend_from_slice(b"\\N"),
                    Some(text) => escape_into(text, &mut out),
                }
            }
            out.push(b'\n');
        }
        out
    }
}

fn escape_into(text: &str, out: &mut Vec<u8>) {
    let special = |b: &u8| matches!(b, b'\\' | b'\t' | b'\n' | b'\r');
    if !text.as_bytes().iter().any(special) {
        out.extend_from_slice(text.as_bytes());
        return;
    }
    for b in text.bytes() {
        match b {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b => out.push(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_separated_escapes_and_nulls() {
        let rows = TextRows::from_rows(&[
            vec![Some("a\tb"), None],
            vec![Some("back\\slash\nline"), Some("")],
        ]);
        assert_eq!(
            String::from_utf8(rows.tab_separated()).unwrap(),
            "a\\tb\t\\N\nback\\\\slash\\nline\t\n"
        );
    }

    #[test]
    fn a_row_given_up_half_way_leaves_no_trace() {
        let mut rows = TextRows::new(2);
        rows.push(Some("kept"));
        rows.push(None);
        let mark = rows.mark();
        rows.push(Some("dropped"));
        rows.truncate(mark);
        rows.push(Some("x"));
        rows.push_integer(42);
        let mut other = TextRows::new(2);
        other.push(None);
        other.push_display('y');
        rows.append(&other);
        let all: Vec<Vec<Option<&str>>> = rows.rows().map(Iterator::collect).collect();
        assert_eq!(
            all,
            [
                vec![Some("kept"), None],
                vec![Some("x"), Some("42")],
                vec![None, Some("y")]
            ]
        );
        let second: Vec<Option<&str>> = rows.column(1).collect();
        assert_eq!(second, [None, Some("42"), Some("y")]);
        let both = TextRows::concat(2, &[&rows, &other]);
        let first: Vec<Option<&str>> = both.column(0).collect();
        assert_eq!(first, [Some("kept"), Some("x"), None, None]);
    }
}
