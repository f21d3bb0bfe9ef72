//! Relations: `database.schema.identifier`, quoted part by part as the warehouse quotes.

use std::fmt;

use super::Dialect;

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
        // A relation made for a schema (`api.Relation.create(schema=...)`) has no identifier.
        if identifier && !self.identifier.is_empty() {
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
        let schema_only = Relation::new(
            Dialect::Postgres,
            Some("db".into()),
            "raw".into(),
            String::new(),
        );
        assert_eq!(schema_only.to_string(), "\"db\".\"raw\"");
    }
}
