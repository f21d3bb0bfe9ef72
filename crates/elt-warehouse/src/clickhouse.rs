//! ClickHouse, through the `clickhouse` crate over HTTP. HTTP is stateless: every session is
//! a clone of one client (sharing its connection pool), every statement one request. Results
//! come back as `JSONCompactEachRowWithNames` with 64-bit numbers and decimals quoted, so
//! every value reaches elt as ClickHouse printed it.

use std::time::Duration;

use bytes::Bytes;
use clickhouse::Client;
use clickhouse::error::Error as ChError;
use elt_core::adapter::{Dialect, Relation};
use elt_core::project::Target;
use serde_json::Value as Json;
use tokio::runtime::Runtime;

use crate::{
    CatalogColumn, ColumnInfo, ErrorKind, RelationKind, Result, Session, Table, TextRows,
    Warehouse, WarehouseError, timed,
};

pub struct ClickHouse {
    runtime: Runtime,
    client: Client,
    /// The server's URL without credentials, for messages.
    url: String,
}

/// Settings every query runs with: standard SQL's NULLs for outer joins' missing rows (dbt's
/// relationships test and snapshots rely on them) and for casts of NULL, and exact text for
/// numbers.
const SESSION_SETTINGS: [(&str, &str); 6] = [
    ("join_use_nulls", "1"),
    ("cast_keep_nullable", "1"),
    ("output_format_json_quote_64bit_integers", "1"),
    ("output_format_json_quote_64bit_floats", "1"),
    ("output_format_json_quote_decimals", "1"),
    ("output_format_json_quote_denormals", "1"),
];

impl ClickHouse {
    /// Connects to the target's server and asks its version, so that a wrong URL or
    /// password fails here, with the URL, rather than in the middle of a run.
    pub fn connect(target: &Target) -> Result<Self> {
        let settings = Settings::read(target)?;
        let mut client = Client::default()
            .with_url(&settings.url)
            .with_user(&settings.user);
        if let Some(password) = &settings.password {
            client = client.with_password(password);
        }
        for (name, value) in SESSION_SETTINGS {
            client = client.with_setting(name, value);
        }
        for (name, value) in &settings.custom {
            client = client.with_setting(name, value);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| WarehouseError::new(format!("cannot start the I/O runtime: {e}")))?;
        let warehouse = ClickHouse {
            runtime,
            client,
            url: settings.url,
        };
        let probe = warehouse.runtime.block_on(async {
            tokio::time::timeout(
                settings.connect_timeout,
                warehouse.client.query_raw("select 1").execute(),
            )
            .await
        });
        match probe {
            Ok(Ok(())) => Ok(warehouse),
            Ok(Err(e)) => Err(warehouse.connection_error(&e.to_string())),
            Err(_) => Err(warehouse.connection_error("timed out")),
        }
    }

    fn connection_error(&self, cause: &str) -> WarehouseError {
        WarehouseError::new(format!(
            "cannot connect to ClickHouse at {}: {} (is the server running and are the url \
             (or host and port), user and password in the profile right?)",
            self.url,
            cause.trim()
        ))
        .of_kind(ErrorKind::ConnectionLost)
    }
}

/// The target's connection settings (dbt-clickhouse's names, or one `url`).
struct Settings {
    url: String,
    user: String,
    password: Option<String>,
    /// `custom_settings`: ClickHouse settings for every query.
    custom: Vec<(String, String)>,
    connect_timeout: Duration,
}

impl Settings {
    fn read(target: &Target) -> Result<Self> {
        let text = |key: &str| {
            target.settings.get(key).and_then(|v| match v {
                Json::String(s) => Some(s.clone()),
                Json::Number(n) => Some(n.to_string()),
                Json::Bool(b) => Some(b.to_string()),
                _ => None,
            })
        };
        let url = match text("url") {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => {
                let secure = text("secure").is_some_and(|s| s == "true");
                let port =
                    text("port").unwrap_or_else(|| if secure { "8443" } else { "8123" }.into());
                let scheme = if secure { "https" } else { "http" };
                let host = text("host").unwrap_or_else(|| "localhost".into());
                format!("{scheme}://{host}:{port}")
            }
        };
        let custom = match target.settings.get("custom_settings") {
            None | Some(Json::Null) => Vec::new(),
            Some(Json::Object(map)) => map
                .iter()
                .map(|(name, value)| {
                    let value = match value {
                        Json::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    (name.clone(), value)
                })
                .collect(),
            Some(_) => {
                return Err(WarehouseError::new(
                    "'custom_settings' must be a mapping of ClickHouse setting names to values",
                ));
            }
        };
        let timeout = text("connect_timeout").unwrap_or_else(|| "10".into());
        let connect_timeout = timeout.parse().map(Duration::from_secs).map_err(|_| {
            WarehouseError::new(format!(
                "'connect_timeout' must be a number, not '{timeout}'"
            ))
        })?;
        Ok(Settings {
            url,
            user: text("user")
                .or_else(|| text("username"))
                .unwrap_or_else(|| "default".into()),
            password: text("password").or_else(|| text("pass")),
            custom,
            connect_timeout,
        })
    }
}

impl Warehouse for ClickHouse {
    fn dialect(&self) -> Dialect {
        Dialect::ClickHouse
    }

    fn version(&self) -> Result<String> {
        let table = self.session()?.query("select version()")?;
        Ok(format!(
            "ClickHouse {}",
            table.first_value().unwrap_or_default()
        ))
    }

    fn location(&self) -> String {
        self.url.clone()
    }

    fn session(&self) -> Result<Box<dyn Session>> {
        Ok(Box::new(ChSession {
            runtime: self.runtime.handle().clone(),
            client: self.client.clone(),
            url: self.url.clone(),
        }))
    }
}

struct ChSession {
    runtime: tokio::runtime::Handle,
    client: Client,
    url: String,
}

impl ChSession {
    fn block_on<T>(&self, work: impl Future<Output = T>) -> T {
        timed(|| self.runtime.block_on(work))
    }

    /// Runs one statement; returns its output in `format` and the rows it wrote.
    fn run(&self, sql: &str, format: &str) -> Result<(Bytes, Option<u64>)> {
        self.block_on(async {
            let mut cursor = self.client.query_raw(sql).fetch_bytes(format)?;
            let output = cursor.collect().await?;
            let written = cursor.summary().and_then(|s| s.written_rows());
            Ok((output, written))
        })
        .map_err(|e| self.error(e, sql))
    }

    /// Inserts rows of text values as TabSeparated, which ClickHouse reads into each
    /// column's type; with a token, at most once (`insert_deduplication_token`).
    fn insert(
        &self,
        table: &Relation,
        columns: &[String],
        rows: &TextRows,
        token: Option<&str>,
    ) -> Result<()> {
        let quoted: Vec<String> = columns
            .iter()
            .map(|c| Dialect::ClickHouse.quote(c))
            .collect();
        let statement = format!(
            "insert into {table} ({}) format TabSeparated",
            quoted.join(", ")
        );
        let data = Bytes::from(rows.tab_separated());
        self.block_on(async {
            let mut insert = self.client.insert_formatted_with(statement.clone());
            if let Some(token) = token {
                insert = insert.with_setting("insert_deduplication_token", token);
            }
            insert.send(data).await?;
            insert.end().await
        })
        .map_err(|e| self.error(e, &statement))
    }

    /// A server error as ClickHouse words it, with `LINE n:` where it points (the executor
    /// maps that back to the model's file); anything else means the connection is gone.
    fn error(&self, e: ChError, sql: &str) -> WarehouseError {
        let ChError::BadResponse(message) = e else {
            return WarehouseError::new(format!(
                "lost the ClickHouse connection at {}: {e}",
                self.url
            ))
            .of_kind(ErrorKind::ConnectionLost)
            .in_sql(sql);
        };
        let mut message = message.trim().to_string();
        if let Some(line) = error_line(&message, sql) {
            let text = sql.lines().nth(line - 1).unwrap_or_default();
            message.push_str(&format!("\nLINE {line}: {}", text.trim()));
        }
        let kind = error_code(&message).map_or(ErrorKind::Other, error_kind);
        WarehouseError::new(message).of_kind(kind).in_sql(sql)
    }
}

/// The code a ClickHouse server error starts with (`Code: 60. DB::Exception: ...`).
fn error_code(message: &str) -> Option<u32> {
    message
        .strip_prefix("Code: ")
        .and_then(|rest| rest.split('.').next())
        .and_then(|code| code.parse().ok())
}

/// The codes of errors in the rows' values: text ClickHouse cannot parse as the column's type,
/// a value out of its range, a broken constraint.
const REFUSING: [u32; 17] = [
    6,   // CANNOT_PARSE_TEXT
    25,  // CANNOT_PARSE_ESCAPE_SEQUENCE
    26,  // CANNOT_PARSE_QUOTED_STRING
    27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    38,  // CANNOT_PARSE_DATE
    41,  // CANNOT_PARSE_DATETIME
    53,  // TYPE_MISMATCH
    69,  // ARGUMENT_OUT_OF_BOUND
    70,  // CANNOT_CONVERT_TYPE
    72,  // CANNOT_PARSE_NUMBER
    117, // INCORRECT_DATA
    131, // TOO_LARGE_STRING_SIZE
    321, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
    349, // CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
    376, // CANNOT_PARSE_UUID
    469, // VIOLATED_CONSTRAINT
    691, // UNKNOWN_ELEMENT_OF_ENUM
];

/// An error's kind by its ClickHouse error code (ClickHouse's `ErrorCodes.cpp`).
fn error_kind(code: u32) -> ErrorKind {
    match code {
        // SYNTAX_ERROR
        62 => ErrorKind::Syntax,
        // UNKNOWN_TABLE, UNKNOWN_DATABASE
        60 | 81 => ErrorKind::MissingRelation,
        // NOT_IMPLEMENTED
        48 => ErrorKind::Unsupported,
        // ACCESS_DENIED, AUTHENTICATION_FAILED, REQUIRED_PASSWORD, READONLY
        497 | 516 | 194 | 164 => ErrorKind::PermissionDenied,
        code if REFUSING.contains(&code) => ErrorKind::RefusedRows,
        _ => ErrorKind::Other,
    }
}

/// The line of `sql` a ClickHouse error points at: where a syntax error says it failed
/// (`failed at position 12 (line 2, col 3)`), or the first line naming the unknown
/// identifier (`Unknown expression identifier `x``), which the server does not place.
fn error_line(message: &str, sql: &str) -> Option<usize> {
    if let Some(at) = message.find("(line ") {
        let digits: String = message[at + "(line ".len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        return digits.parse().ok().filter(|n| *n > 0);
    }
    let at = message.find("identifier `")? + "identifier `".len();
    let name = &message[at..at + message[at..].find('`')?];
    sql.lines()
        .position(|line| {
            line.match_indices(name).any(|(i, _)| {
                let word = |c: char| c.is_alphanumeric() || c == '_';
                !line[..i].ends_with(word) && !line[i + name.len()..].starts_with(word)
            })
        })
        .map(|index| index + 1)
}

/// A JSON value as the text the other warehouses give: strings as they are, numbers and
/// booleans printed, arrays and maps as compact JSON.
fn text_of(value: Json) -> Option<String> {
    match value {
        Json::Null => None,
        Json::String(s) => Some(s),
        other => Some(other.to_string()),
    }
}

fn read_rows(output: &[u8]) -> std::result::Result<Table, serde_json::Error> {
    let mut lines = output.split(|b| *b == b'\n').filter(|l| !l.is_empty());
    let columns = match lines.next() {
        Some(header) => serde_json::from_slice(header)?,
        None => Vec::new(),
    };
    let types = match lines.next() {
        Some(header) => serde_json::from_slice(header)?,
        None => Vec::new(),
    };
    let rows = lines
        .map(|line| {
            let values: Vec<Json> = serde_json::from_slice(line)?;
            Ok(values.into_iter().map(text_of).collect())
        })
        .collect::<std::result::Result<_, serde_json::Error>>()?;
    Ok(Table {
        columns,
        types,
        rows,
    })
}

impl Session for ChSession {
    fn dialect(&self) -> Dialect {
        Dialect::ClickHouse
    }

    fn execute(&mut self, sql: &str) -> Result<()> {
        self.run(sql, "TabSeparated").map(|_| ())
    }

    fn query(&mut self, sql: &str) -> Result<Table> {
        let (output, _) = self.run(sql, "JSONCompactEachRowWithNamesAndTypes")?;
        read_rows(&output).map_err(|e| {
            WarehouseError::new(format!("cannot read ClickHouse's answer: {e}")).in_sql(sql)
        })
    }

    fn execute_counting(&mut self, sql: &str) -> Result<usize> {
        let (_, written) = self.run(sql, "TabSeparated")?;
        Ok(written.unwrap_or_default() as usize)
    }

    fn relations_in(
        &mut self,
        _database: Option<&str>,
        schema: &str,
    ) -> Result<Vec<(String, RelationKind)>> {
        let sql = format!(
            "select name, engine from system.tables where database = {} and not is_temporary",
            Dialect::ClickHouse.string_literal(schema)
        );
        Ok(self
            .query(&sql)?
            .rows
            .into_iter()
            .map(|row| {
                let kind = match row[1].as_deref() {
                    Some("View" | "MaterializedView") => RelationKind::View,
                    _ => RelationKind::Table,
                };
                (row[0].clone().unwrap_or_default(), kind)
            })
            .collect())
    }

    fn columns(&mut self, relation: &Relation) -> Result<Vec<ColumnInfo>> {
        let literal = |v: &str| Dialect::ClickHouse.string_literal(v);
        let sql = format!(
            "select name, type from system.columns where database = {} and table = {} \
             order by position",
            literal(&relation.schema),
            literal(&relation.identifier)
        );
        crate::columns_from_query(self, &sql)
    }

    fn schema_columns(
        &mut self,
        _database: Option<&str>,
        schema: &str,
    ) -> Result<Vec<CatalogColumn>> {
        let sql = format!(
            "select c.table, \
                    if(t.engine in ('View', 'MaterializedView'), 'VIEW', 'BASE TABLE'), \
                    c.name, c.type, c.comment \
             from system.columns c \
             join system.tables t on t.database = c.database and t.name = c.table \
             where c.database = {} and not t.is_temporary \
             order by c.table, c.position",
            Dialect::ClickHouse.string_literal(schema)
        );
        crate::catalog_columns_from_query(self, &sql)
    }

    fn insert_text_rows(
        &mut self,
        table: &Relation,
        columns: &[String],
        rows: &TextRows,
    ) -> Result<()> {
        self.insert(table, columns, rows, None)
    }

    fn insert_text_rows_once(
        &mut self,
        table: &Relation,
        columns: &[String],
        rows: &TextRows,
        token: &str,
    ) -> Result<()> {
        self.insert(table, columns, rows, Some(token))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_text() {
        let output = b"[\"a\",\"b\",\"c\"]\n[\"String\",\"Nullable(Bool)\",\"Array(UInt8)\"]\n[\"1\",null,[1,2]]\n[2,true,\"x\\ty\"]\n";
        let table = read_rows(output).unwrap();
        assert_eq!(table.columns, ["a", "b", "c"]);
        assert_eq!(table.types, ["String", "Nullable(Bool)", "Array(UInt8)"]);
        assert_eq!(
            table.rows,
            [
                vec![Some("1".into()), None, Some("[1,2]".into())],
                vec![Some("2".into()), Some("true".into()), Some("x\ty".into())],
            ]
        );
    }

    #[test]
    fn syntax_errors_point_at_their_line() {
        let message = "Code: 62. DB::Exception: Syntax error: failed at position 14 (line 2, col 5): form t. Expected one of: ... (SYNTAX_ERROR)";
        assert_eq!(error_line(message, ""), Some(2));
        let unknown = "Code: 47. DB::Exception: Unknown expression identifier `id` in scope";
        assert_eq!(
            error_line(unknown, "select\n  grid,\n  id\nfrom t"),
            Some(3)
        );
        assert_eq!(
            error_line("Code: 60. DB::Exception: Unknown table", "select 1"),
            None
        );
    }
}
