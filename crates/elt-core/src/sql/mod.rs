//! Stage 4: rendered SQL, parsed with sqlparser in the target's dialect.
//!
//! A syntax error is reported against the file the user wrote, not the compiled output: compiled
//! lines are aligned with source lines by a line diff (Jinja leaves most SQL lines untouched).

pub mod lineage;

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::path::Path;

use sqlparser::ast::Statement;
use sqlparser::parser::{Parser, ParserError};

use crate::adapter::Dialect;

/// A syntax error at a 1-based line and column of the compiled SQL.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub message: String,
    pub line: u32,
    pub col: u32,
}

/// What a node's compiled SQL must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// One query (models, tests, snapshots).
    Query,
    /// Any statements (analyses).
    Statements,
}

/// Parses compiled SQL and checks it has the expected shape.
pub fn validate(dialect: Dialect, sql: &str, expect: Expect) -> Result<(), SyntaxError> {
    let statements =
        Parser::parse_sql(&*dialect.sql_dialect(), sql).map_err(|e| from_parser_error(&e, sql))?;
    if expect == Expect::Statements {
        return Ok(());
    }
    match statements.as_slice() {
        [] => Err(SyntaxError {
            message: "the SQL is empty: a model or test must be a SELECT statement".into(),
            line: 1,
            col: 0,
        }),
        [Statement::Query(_)] => Ok(()),
        [_] => Err(SyntaxError {
            message: "expected a SELECT (or WITH ... SELECT) query; elt wraps it in the DDL itself"
                .into(),
            line: first_code_line(sql),
            col: 0,
        }),
        [_, ..] => Err(SyntaxError {
            message: format!(
                "expected one query, found {} statements; move extra statements to hooks",
                statements.len()
            ),
            line: first_code_line(sql),
            col: 0,
        }),
    }
}

fn first_code_line(sql: &str) -> u32 {
    sql.lines()
        .position(|l| !l.trim().is_empty())
        .map_or(1, |i| i as u32 + 1)
}

fn from_parser_error(error: &ParserError, sql: &str) -> SyntaxError {
    let text = match error {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.clone(),
        ParserError::RecursionLimitExceeded => "the query nests too deeply".to_string(),
    };
    // sqlparser appends " at Line: L, Column: C".
    if let Some((message, position)) = text.rsplit_once(" at Line: ")
        && let Some((line, col)) = position.split_once(", Column: ")
        && let (Ok(line), Ok(col)) = (line.trim().parse(), col.trim().parse())
    {
        return SyntaxError {
            message: message.to_string(),
            line,
            col,
        };
    }
    SyntaxError {
        message: text,
        line: sql.lines().count().max(1) as u32,
        col: 0,
    }
}

/// Hashes of SQL texts already known to parse, kept in the target folder between runs so that
/// unchanged nodes are not parsed again (like dbt's partial parsing). A miss only costs a parse.
#[derive(Debug, Default, Clone)]
pub struct ValidSqlCache {
    hashes: HashSet<u64>,
}

impl ValidSqlCache {
    /// The cache file of a dialect in `dir`; a missing, stale or unreadable file is empty.
    pub fn load(dir: &Path, dialect: Dialect) -> Self {
        let bytes = std::fs::read(Self::path(dir, dialect)).unwrap_or_default();
        let header = Self::header(dialect);
        let hashes = match bytes.strip_prefix(header.as_bytes()) {
            Some(body) => body
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                .collect(),
            None => HashSet::new(),
        };
        Self { hashes }
    }

    /// Writes the cache (atomically); failures are ignored, the cache is only an accelerator.
    pub fn save(&self, dir: &Path, dialect: Dialect) {
        let mut bytes = Self::header(dialect).into_bytes();
        for hash in &self.hashes {
            bytes.extend_from_slice(&hash.to_le_bytes());
        }
        let path = Self::path(dir, dialect);
        let tmp = path.with_extension("tmp");
        let _ = std::fs::create_dir_all(dir)
            .and_then(|_| std::fs::write(&tmp, bytes))
            .and_then(|_| std::fs::rename(&tmp, &path));
    }

    fn path(dir: &Path, dialect: Dialect) -> std::path::PathBuf {
        dir.join(format!("valid-sql-{dialect}"))
    }

    fn header(dialect: Dialect) -> String {
        format!("elt {} valid sql {dialect}\n", env!("CARGO_PKG_VERSION"))
    }

    pub fn key(sql: &str, expect: Expect) -> u64 {
        let mut hasher = std::hash::DefaultHasher::new();
        sql.hash(&mut hasher);
        (expect == Expect::Query).hash(&mut hasher);
        hasher.finish()
    }

    pub fn contains(&self, key: u64) -> bool {
        self.hashes.contains(&key)
    }

    pub fn from_keys(keys: impl IntoIterator<Item = u64>) -> Self {
        Self {
            hashes: keys.into_iter().collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }
}

/// Maps a 1-based line of `compiled` to the line of `raw` it came from, and whether the line
/// is unchanged (so the column can be trusted).
pub fn source_line(raw: &str, compiled: &str, compiled_line: u32) -> (u32, bool) {
    let target = compiled_line.saturating_sub(1) as usize;
    let diff = similar::TextDiff::from_lines(raw, compiled);
    let mut best = (0usize, false);
    for op in diff.ops() {
        let old = op.old_range();
        let new = op.new_range();
        if new.contains(&target) {
            let offset = target - new.start;
            return match op.tag() {
                similar::DiffTag::Equal => (old.start as u32 + offset as u32 + 1, true),
                _ => {
                    let line = if old.is_empty() {
                        old.start.saturating_sub(1)
                    } else {
                        old.start + offset.min(old.len() - 1)
                    };
                    (line as u32 + 1, false)
                }
            };
        }
        if new.start <= target {
            best = (old.end.saturating_sub(1), false);
        }
    }
    (best.0 as u32 + 1, best.1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_line_and_column() {
        let err = validate(Dialect::DuckDb, "select a,\n  b\nform t", Expect::Query).unwrap_err();
        assert_eq!((err.line, err.col), (3, 6), "{err:?}");
        assert!(err.message.contains("found: t"), "{err:?}");
    }

    #[test]
    fn accepts_queries_in_each_dialect() {
        for d in Dialect::ALL {
            validate(
                d,
                "with x as (select 1 as a) select a from x",
                Expect::Query,
            )
            .unwrap();
        }
        validate(
            Dialect::DuckDb,
            "select * exclude (a) from t qualify row_number() over () = 1",
            Expect::Query,
        )
        .unwrap();
    }

    #[test]
    fn rejects_ddl_and_many_statements() {
        assert!(validate(Dialect::Postgres, "create table t (a int)", Expect::Query).is_err());
        assert!(validate(Dialect::Postgres, "select 1; select 2", Expect::Query).is_err());
        assert!(
            validate(
                Dialect::Postgres,
                "create table t (a int)",
                Expect::Statements
            )
            .is_ok()
        );
    }

    #[test]
    fn cache_round_trips_and_ignores_other_dialects() {
        let dir = tempfile::tempdir().unwrap();
        let key = ValidSqlCache::key("select 1", Expect::Query);
        ValidSqlCache::from_keys([key]).save(dir.path(), Dialect::DuckDb);
        assert!(ValidSqlCache::load(dir.path(), Dialect::DuckDb).contains(key));
        assert!(ValidSqlCache::load(dir.path(), Dialect::Postgres).is_empty());
        assert_ne!(key, ValidSqlCache::key("select 1", Expect::Statements));
    }

    #[test]
    fn maps_compiled_lines_back_to_source() {
        let raw = "{% set x = 1 %}\nselect\n{% for c in cols %}{{ c }},{% endfor %}\n  b\nform t\n";
        let compiled = "\nselect\na,b,c,\n  b\nform t\n";
        assert_eq!(source_line(raw, compiled, 5), (5, true));
        assert_eq!(source_line(raw, compiled, 3).0, 3);
    }
}
