//! The warehouse layer. This is the only place that knows a dialect: identifier quoting,
//! how relations are written, and which SQL grammar validates a model.
//!
//! Execution (connections, materializations) builds on [`Dialect`] in later stages.

use std::fmt;

/// The warehouses elt runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    DuckDb,
    Postgres,
    ClickHouse,
}

impl Dialect {
    pub const ALL: [Dialect; 3] = [Dialect::DuckDb, Dialect::Postgres, Dialect::ClickHouse];

    /// Parses a profile's `type:` value.
    pub fn from_type(name: &str) -> Option<Self> {
        match name {
            "duckdb" => Some(Self::DuckDb),
            "postgres" | "postgresql" => Some(Self::Postgres),
            "clickhouse" => Some(Self::ClickHouse),
            _ => None,
        }
    }

    /// The profile `type:` name, also the `adapter.dispatch` prefix (`duckdb__my_macro`).
    pub fn name(self) -> &'static str {
        match self {
            Self::DuckDb => "duckdb",
            Self::Postgres => "postgres",
            Self::ClickHouse => "clickhouse",
        }
    }

    /// Quotes an identifier, doubling the quote character inside it.
    ///
    /// ```
    /// use elt_core::adapter::Dialect;
    /// assert_eq!(Dialect::Postgres.quote(r#"say "hi""#), r#""say ""hi""""#);
    /// assert_eq!(Dialect::ClickHouse.quote("order"), "`order`");
    /// ```
    pub fn quote(self, identifier: &str) -> String {
        let q = match self {
            Self::DuckDb | Self::Postgres => '"',
            Self::ClickHouse => '`',
        };
        let mut out = String::with_capacity(identifier.len() + 2);
        out.push(q);
        for c in identifier.chars() {
            if c == q {
                out.push(q);
            }
            out.push(c);
        }
        out.push(q);
        out
    }

    /// Whether relations carry a database part (ClickHouse has only database = schema).
    pub fn has_database(self) -> bool {
        !matches!(self, Self::ClickHouse)
    }

    /// The sqlparser grammar used to validate compiled SQL.
    pub fn sql_dialect(self) -> Box<dyn sqlparser::dialect::Dialect + Send + Sync> {
        match self {
            Self::DuckDb => Box::new(sqlparser::dialect::DuckDbDialect {}),
            Self::Postgres => Box::new(sqlparser::dialect::PostgreSqlDialect {}),
            Self::ClickHouse => Box::new(sqlparser::dialect::ClickHouseDialect {}),
        }
    }

    /// Escapes a string literal's content and wraps it in single quotes.
    pub fn string_literal(self, value: &str) -> String {
        let escaped = value.replace('\'', "''");
        match self {
            Self::ClickHouse => format!("'{}'", escaped.replace('\\', "\\\\")),
            _ => format!("'{escaped}'"),
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A table or view in the warehouse: `database.schema.identifier` with per-part quoting.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Relation {
    pub dialect: Dialect,
    pub database: Option<String>,
    pub schema: String,
    pub identifier: String,
    pub quote_database: bool,
    pub quote_schema: bool,
    pub quote_identifier: bool,
    /// What the relation is read from instead of a table, written verbatim: a DuckDB source's
    /// `external_location` (a file path, quoted, or a table function or subquery).
    pub external: Option<String>,
}

impl Relation {
    pub fn new(
        dialect: Dialect,
        database: Option<String>,
        schema: String,
        identifier: String,
    ) -> Self {
        Self {
            dialect,
            database: database.filter(|d| dialect.has_database() && !d.is_empty()),
            schema,
            identifier,
            quote_database: true,
            quote_schema: true,
            quote_identifier: true,
            external: None,
        }
    }

    /// A relation that is only an identifier, such as an ephemeral model's CTE name.
    pub fn bare(dialect: Dialect, identifier: String) -> Self {
        Self {
            database: None,
            schema: String::new(),
            quote_identifier: false,
            ..Self::new(dialect, None, String::new(), identifier)
        }
    }

    fn part(&self, value: &str, quoted: bool) -> String {
        if quoted {
            self.dialect.quote(value)
        } else {
            value.to_string()
        }
    }

    /// The SQL text for this relation, with the chosen parts.
    pub fn render_parts(&self, database: bool, schema: bool, identifier: bool) -> String {
        let mut parts = Vec::with_capacity(3);
        if database && let Some(db) = &self.database {
            parts.push(self.part(db, self.quote_database));
        }
        if schema && !self.schema.is_empty() {
            parts.push(self.part(&self.schema, self.quote_schema));
        }
        if identifier {
            parts.push(self.part(&self.identifier, self.quote_identifier));
        }
        parts.join(".")
    }
}

impl fmt::Display for Relation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.external {
            Some(external) => f.write_str(external),
            None => f.write_str(&self.render_parts(true, true, true)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_per_dialect() {
        assert_eq!(Dialect::DuckDb.quote("a\"b"), "\"a\"\"b\"");
        assert_eq!(Dialect::ClickHouse.quote("a`b"), "`a``b`");
        assert_eq!(Dialect::Postgres.string_literal("it's"), "'it''s'");
        assert_eq!(Dialect::ClickHouse.string_literal("a\\'"), "'a\\\\'''");
    }

    #[test]
    fn relations_render_per_dialect() {
        let duck = Relation::new(
            Dialect::DuckDb,
            Some("dev".into()),
            "main".into(),
            "orders".into(),
        );
        assert_eq!(duck.to_string(), "\"dev\".\"main\".\"orders\"");
        let ch = Relation::new(
            Dialect::ClickHouse,
            Some("x".into()),
            "analytics".into(),
            "orders".into(),
        );
        assert_eq!(ch.to_string(), "`analytics`.`orders`");
        assert_eq!(
            Relation::bare(Dialect::Postgres, "__dbt__cte__x".into()).to_string(),
            "__dbt__cte__x"
        );
    }
}
