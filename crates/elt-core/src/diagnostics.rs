//! Errors and warnings that point at a file, line and column and say what to do.
//!
//! Every stage reports problems as [`Diagnostic`]s. They render like compiler messages:
//!
//! ```text
//! error: ref() to unknown model 'custmers'
//!  --> models/orders.sql:3:18
//!   |
//! 3 | select * from {{ ref('custmers') }}
//!   |                  ^
//!   = help: did you mean 'customers'?
//! ```

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Error,
    Warning,
}

/// Where a problem is: a project-relative file and a 1-based line and column (0 when unknown).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Location {
    pub file: PathBuf,
    pub line: u32,
    pub col: u32,
}

/// What kind of failure a warehouse error is. Each warehouse's connection sets it from what
/// its warehouse reports in a structured form (PostgreSQL's SQLSTATE, ClickHouse's error
/// codes, DuckDB's error types), never from the words of a message, so that callers act on
/// the kind. `docs/error-codes.md` lists them with their codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The connection is gone or cannot be made (a server stopped or restarted, the network
    /// cut): whether the statement ran is unknown.
    ConnectionLost,
    /// The warehouse could not parse the statement.
    Syntax,
    /// A table, view or schema the statement names does not exist.
    MissingRelation,
    /// The warehouse refused the rows' values (a failed cast, a broken constraint), not the
    /// statement or the connection: other rows may go in.
    RefusedRows,
    /// The warehouse cannot do this (a feature, or a database engine without it).
    Unsupported,
    /// The user lacks a privilege, or the credentials are wrong.
    PermissionDenied,
    Other,
}

impl ErrorKind {
    /// The stable code: `W001` to `W007`.
    pub fn code(self) -> &'static str {
        match self {
            Self::ConnectionLost => "W001",
            Self::Syntax => "W002",
            Self::MissingRelation => "W003",
            Self::RefusedRows => "W004",
            Self::Unsupported => "W005",
            Self::PermissionDenied => "W006",
            Self::Other => "W007",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub severity: Severity,
    /// Set when the problem is a warehouse's error.
    pub kind: Option<ErrorKind>,
    pub message: String,
    pub location: Option<Location>,
    /// The source line at `location`, shown with a caret under the column.
    pub source_line: Option<String>,
    /// Extra lines shown below the snippet (e.g. a cycle's path).
    pub notes: Vec<String>,
    /// What to do about it.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Error,
            kind: None,
            message: message.into(),
            location: None,
            source_line: None,
            notes: Vec::new(),
            help: None,
        }
    }

    pub fn warning(message: impl Into<String>) -> Self {
        Self {
            severity: Severity::Warning,
            ..Self::error(message)
        }
    }

    pub fn at(mut self, file: impl AsRef<Path>, line: u32, col: u32) -> Self {
        self.location = Some(Location {
            file: file.as_ref().to_path_buf(),
            line,
            col,
        });
        self
    }

    /// Like [`at`](Self::at), and shows the line of `source` it points at.
    pub fn at_source(self, file: impl AsRef<Path>, source: &str, line: u32, col: u32) -> Self {
        let mut this = self.at(file, line, col);
        this.source_line = source
            .lines()
            .nth(line.saturating_sub(1) as usize)
            .map(str::to_string);
        this
    }

    pub fn of_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = Some(kind);
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        writeln!(f, "{label}: {}", self.message)?;
        let gutter = match (&self.location, &self.source_line) {
            (Some(loc), Some(_)) => loc.line.to_string().len(),
            _ => 0,
        };
        let pad = " ".repeat(gutter);
        if let Some(loc) = &self.location {
            let file = loc.file.display();
            match (loc.line, loc.col) {
                (0, _) => writeln!(f, "{pad} --> {file}")?,
                (line, 0) => writeln!(f, "{pad} --> {file}:{line}")?,
                (line, col) => writeln!(f, "{pad} --> {file}:{line}:{col}")?,
            }
            if let Some(source_line) = &self.source_line {
                let text = source_line.replace('\t', " ");
                writeln!(f, "{pad} |")?;
                writeln!(f, "{} | {}", loc.line, text.trim_end())?;
                if loc.col > 0 {
                    let caret_at = " ".repeat(loc.col as usize - 1);
                    writeln!(f, "{pad} | {caret_at}^")?;
                }
            }
        }
        for note in &self.notes {
            writeln!(f, "{pad} = note: {note}")?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "{pad} = help: {help}")?;
        }
        Ok(())
    }
}

/// One or more errors, as returned by a stage that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Errors(pub Vec<Diagnostic>);

impl Errors {
    pub fn one(diagnostic: Diagnostic) -> Self {
        Self(vec![diagnostic])
    }

    /// Sorted by location so that output is stable whatever order parallel work finished in.
    pub fn sorted(mut self) -> Self {
        self.0.sort_by(|a, b| {
            a.location
                .cmp(&b.location)
                .then_with(|| a.message.cmp(&b.message))
        });
        self
    }
}

impl From<Diagnostic> for Errors {
    fn from(diagnostic: Diagnostic) -> Self {
        Self::one(diagnostic)
    }
}

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, diagnostic) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{diagnostic}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

pub type Result<T, E = Errors> = std::result::Result<T, E>;

/// The closest of `candidates` to `wanted`, if any is close enough to be a likely typo.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(wanted, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// The 1-based line and column of a byte offset in `text`.
pub fn line_col(text: &str, offset: usize) -> (u32, u32) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() as u32 + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = text[line_start..offset].chars().count() as u32 + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_snippet_with_caret_and_help() {
        let d = Diagnostic::error("ref() to unknown model 'custmers'")
            .at_source(
                "models/orders.sql",
                "-- x\nselect * from {{ ref('custmers') }}\n",
                2,
                18,
            )
            .with_help("did you mean 'customers'?");
        assert_eq!(
            d.to_string(),
            "error: ref() to unknown model 'custmers'\n  --> models/orders.sql:2:18\n  |\n2 | select * from {{ ref('custmers') }}\n  |                  ^\n  = help: did you mean 'customers'?\n"
        );
    }

    #[test]
    fn closest_finds_typos_only() {
        assert_eq!(
            closest("custmers", ["customers", "orders"]),
            Some("customers")
        );
        assert_eq!(closest("zzz", ["customers", "orders"]), None);
    }

    #[test]
    fn line_col_counts_chars() {
        assert_eq!(line_col("ab\ncé d", 7), (2, 4));
    }
}
