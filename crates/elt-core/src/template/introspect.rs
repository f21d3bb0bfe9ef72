//! Queries while compiling, as dbt's Jinja makes them: `run_query`, `{% call statement() %}`
//! with `load_result`, and the adapter's introspection (`get_columns_in_relation`,
//! `get_relation`, `list_relations_without_caching`, ...).
//!
//! dbt renders a node twice: while parsing, `execute` is false and these return nothing; when
//! the node is compiled to run, `execute` is true and they query the warehouse, whose tables
//! upstream of the node are built by then. elt does the same: the first pass renders with
//! `execute` false, and a node whose render read `execute` or asked the warehouse is rendered
//! again. Without a warehouse (the up-front compile of every node) such a node is marked
//! [`introspective`](crate::manifest::Node::introspective) and keeps its `execute`-false SQL;
//! the run renders it again with the warehouse just before running it.

use std::sync::Arc;

use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, Rest, from_args};
use minijinja::{Error, ErrorKind, State, Value};

use super::context::{NodeContext, RelationValue};
use super::python::{PyDict, PyList};
use crate::adapter::{Dialect, Relation, ValueKind};
use crate::diagnostics::Diagnostic;

/// The warehouse as templates query it while compiling. Implemented over a connection by
/// `elt-warehouse`; one per command, shared by the threads that render.
pub trait Introspect: Send + Sync {
    /// Runs SQL and returns its rows (none for a statement that returns none).
    fn query(&self, sql: &str) -> Result<QueryResult, Diagnostic>;
    /// The columns of a relation, in order; none when it does not exist.
    fn columns(&self, relation: &Relation) -> Result<Vec<ColumnDef>, Diagnostic>;
    /// The tables and views of a schema.
    fn relations_in(
        &self,
        database: Option<&str>,
        schema: &str,
    ) -> Result<Vec<(String, RelationType)>, Diagnostic>;
}

impl std::fmt::Debug for dyn Introspect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<warehouse>")
    }
}

/// Rows as the warehouse returned them: each column's type as the warehouse names it, values
/// as text (NULL is `None`).
#[derive(Debug, Clone, Default)]
pub struct QueryResult {
    pub columns: Vec<String>,
    pub types: Vec<String>,
    pub rows: Vec<Vec<Option<String>>>,
}

/// A column of a relation: its name and type as the warehouse names them.
#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub data_type: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RelationType {
    Table,
    View,
}

impl RelationType {
    /// `'table'` or `'view'`, as templates write a relation's `type`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "table" => Some(RelationType::Table),
            "view" => Some(RelationType::View),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RelationType::Table => "table",
            RelationType::View => "view",
        }
    }
}

/// The warehouse to query, when `execute` is true. Without one (the up-front compile), the
/// node is marked as needing it and the render stops; it is rendered with `execute` false.
fn warehouse(ctx: &NodeContext, what: &str) -> Result<Arc<dyn Introspect>, Error> {
    match &ctx.warehouse {
        Some(warehouse) => Ok(warehouse.clone()),
        None => {
            ctx.record().needs_warehouse = true;
            Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("{what} needs a warehouse connection, which this command does not open"),
            ))
        }
    }
}

fn failed(what: &str, error: Diagnostic) -> Error {
    Error::new(
        ErrorKind::InvalidOperation,
        format!("{what} failed: {}", error.message),
    )
}

/// Marks the error of a `{% call statement(name) %}` block: minijinja places it on the block's
/// last line, and the diagnostic moves it to the `call` (see [`statement_line`]).
#[derive(Debug)]
pub struct StatementFailed(String);

impl std::fmt::Display for StatementFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "statement({})", self.0)
    }
}

impl std::error::Error for StatementFailed {}

/// For the error of a statement block, the line of its `{% call statement(...) %}` at or
/// before `line` in `text`.
pub fn statement_line(error: &Error, text: &str, line: usize) -> Option<usize> {
    let source = std::error::Error::source(error)?;
    source.downcast_ref::<StatementFailed>()?;
    text.lines()
        .take(line)
        .enumerate()
        .filter(|(_, l)| l.contains("call") && l.contains("statement("))
        .last()
        .map(|(i, _)| i + 1)
}

/// `run_query(sql)`: the rows as an agate-like table; `none` while `execute` is false.
pub fn run_query(state: &State, sql: String) -> Result<Value, Error> {
    let ctx = NodeContext::of(state)?;
    if !ctx.execute() {
        return Ok(Value::from(()));
    }
    let result = warehouse(&ctx, "run_query()")?
        .query(&sql)
        .map_err(|e| failed("run_query()", e))?;
    Ok(AgateTable::value(result, ctx.resolver.dialect()))
}

/// `{% call statement(name, fetch_result=True) %}SQL{% endcall %}`: runs the block's SQL when
/// `execute` is true and keeps the result for `load_result(name)`.
#[derive(Debug)]
pub struct Statement;

impl Object for Statement {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let (args, kwargs): (Rest<Value>, Kwargs) = from_args(args)?;
        statement(state, &args, kwargs)
    }
}

fn statement(state: &mut State, args: &[Value], kwargs: Kwargs) -> Result<Value, Error> {
    let ctx = NodeContext::of(state)?;
    let name = match args.first() {
        Some(name) => name.clone(),
        None => kwargs.get::<Option<Value>>("name")?.unwrap_or_default(),
    };
    let fetch = kwargs.get::<Option<bool>>("fetch_result")?.unwrap_or(false);
    for unused in ["auto_begin", "language"] {
        let _: Option<Value> = kwargs.get(unused)?;
    }
    let caller: Value = kwargs.get("caller")?;
    kwargs.assert_all_used()?;
    if !ctx.execute() {
        return Ok(Value::from(""));
    }
    let sql = caller.call(state, &[])?.to_string();
    let result = warehouse(&ctx, "statement()")?.query(&sql).map_err(|e| {
        failed(&format!("statement({name})"), e).with_source(StatementFailed(name.to_string()))
    })?;
    let table = AgateTable::fetched(result, fetch, ctx.resolver.dialect());
    let data = table.get_attr("rows")?;
    let mut entry = indexmap::IndexMap::new();
    entry.insert(Value::from("response"), Value::from("OK"));
    entry.insert(Value::from("data"), data);
    entry.insert(Value::from("table"), table);
    if !name.is_none() {
        ctx.set_statement(name.to_string(), PyDict::value(entry));
    }
    Ok(Value::from(""))
}

/// `store_result(name, response, agate_table=None)`: keeps a result for `load_result(name)`,
/// as a materialization does with its main statement's.
pub fn store_result(
    state: &State,
    name: String,
    response: Value,
    agate_table: Option<Value>,
) -> Result<Value, Error> {
    let table = agate_table.unwrap_or_default();
    let data = match table.is_none() {
        true => PyList::value(Vec::new()),
        false => table.get_attr("rows")?,
    };
    let mut entry = indexmap::IndexMap::new();
    entry.insert(Value::from("response"), response);
    entry.insert(Value::from("data"), data);
    entry.insert(Value::from("table"), table);
    NodeContext::of(state)?.set_statement(name, PyDict::value(entry));
    Ok(Value::from(""))
}

/// `store_raw_result(name, message=None, code=None, rows_affected=None, agate_table=None)`:
/// `store_result` with a response made of its parts.
pub fn store_raw_result(state: &State, name: String, kwargs: Kwargs) -> Result<Value, Error> {
    let mut response = indexmap::IndexMap::new();
    for (field, key) in [
        ("_message", "message"),
        ("code", "code"),
        ("rows_affected", "rows_affected"),
    ] {
        let value: Option<Value> = kwargs.get(key)?;
        response.insert(Value::from(field), value.unwrap_or_default());
    }
    let table: Option<Value> = kwargs.get("agate_table")?;
    kwargs.assert_all_used()?;
    store_result(state, name, PyDict::value(response), table)
}

/// `load_result(name)`: what `statement(name)` kept; `none` when it has not run.
pub fn load_result(state: &State, name: String) -> Result<Value, Error> {
    Ok(NodeContext::of(state)?
        .statement(&name)
        .unwrap_or(Value::from(())))
}

/// `adapter.get_columns_in_relation(relation)`: [`ColumnValue`]s; none while `execute` is
/// false.
pub fn get_columns_in_relation(ctx: &NodeContext, relation: &Value) -> Result<Value, Error> {
    if !ctx.execute() {
        return Ok(PyList::value(Vec::new()));
    }
    let relation = relation_arg(relation, "get_columns_in_relation")?;
    let columns = warehouse(ctx, "adapter.get_columns_in_relation()")?
        .columns(&relation)
        .map_err(|e| failed("adapter.get_columns_in_relation()", e))?;
    let dialect = ctx.resolver.dialect();
    Ok(PyList::value(
        columns
            .into_iter()
            .map(|c| ColumnValue::value(c.name, c.data_type, dialect))
            .collect(),
    ))
}

/// `adapter.get_missing_columns(from, to)`: the columns of `from` that `to` lacks (names
/// compared without case).
pub fn get_missing_columns(ctx: &NodeContext, from: &Value, to: &Value) -> Result<Value, Error> {
    let name = |column: &Value| {
        column
            .get_attr("name")
            .ok()
            .map(|n| n.to_string().to_lowercase())
    };
    let present: Vec<String> = get_columns_in_relation(ctx, to)?
        .try_iter()?
        .filter_map(|c| name(&c))
        .collect();
    let missing: Vec<Value> = get_columns_in_relation(ctx, from)?
        .try_iter()?
        .filter(|c| name(c).is_some_and(|n| !present.contains(&n)))
        .collect();
    Ok(Value::from(missing))
}

/// `adapter.get_relation(database, schema, identifier)`: the relation, typed, or none.
pub fn get_relation(ctx: &NodeContext, args: &[Value]) -> Result<Value, Error> {
    let (database, schema, identifier, kwargs): (
        Option<Value>,
        Option<String>,
        Option<String>,
        Kwargs,
    ) = from_args(args)?;
    let database = database
        .or(kwargs.get::<Option<Value>>("database")?)
        .filter(|d| !d.is_none())
        .map(|d| d.to_string());
    let schema = schema.or(kwargs.get("schema")?).unwrap_or_default();
    let identifier = identifier.or(kwargs.get("identifier")?).unwrap_or_default();
    kwargs.assert_all_used()?;
    if !ctx.execute() {
        return Ok(Value::from(()));
    }
    let dialect = ctx.resolver.dialect();
    let at = Relation::new(dialect, database, schema, identifier);
    let found = relations_in(ctx, "adapter.get_relation()", &at)?
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(&at.identifier));
    Ok(match found {
        Some((name, kind)) => RelationValue::typed(
            Relation {
                identifier: name,
                ..at
            },
            kind,
        ),
        None => Value::from(()),
    })
}

/// `load_relation(relation)`: the relation as the warehouse has it (typed), or none.
pub fn load_relation(ctx: &NodeContext, relation: &Value) -> Result<Value, Error> {
    let Some(relation) = RelationValue::relation(relation) else {
        return Ok(Value::from(()));
    };
    let parts = [
        Value::from(relation.database),
        Value::from(relation.schema),
        Value::from(relation.identifier),
    ];
    get_relation(ctx, &parts)
}

/// The global `load_relation(relation)`, as `adapter.load_relation`.
pub fn load_relation_fn(state: &State, relation: Value) -> Result<Value, Error> {
    load_relation(&*NodeContext::of(state)?, &relation)
}

/// `adapter.list_relations_without_caching(schema_relation)`: every table and view of its
/// schema.
pub fn list_relations(ctx: &NodeContext, schema_relation: &Value) -> Result<Value, Error> {
    if !ctx.execute() {
        return Ok(PyList::value(Vec::new()));
    }
    let at = relation_arg(schema_relation, "list_relations_without_caching")?;
    let relations = relations_in(ctx, "adapter.list_relations_without_caching()", &at)?;
    let dialect = ctx.resolver.dialect();
    Ok(PyList::value(
        relations
            .into_iter()
            .map(|(name, kind)| {
                let relation = Relation::new(dialect, at.database.clone(), at.schema.clone(), name);
                RelationValue::typed(relation, kind)
            })
            .collect(),
    ))
}

/// The tables and views of the schema (and database) of `at`.
fn relations_in(
    ctx: &NodeContext,
    what: &str,
    at: &Relation,
) -> Result<Vec<(String, RelationType)>, Error> {
    warehouse(ctx, what)?
        .relations_in(at.database.as_deref(), &at.schema)
        .map_err(|e| failed(what, e))
}

/// Runs a statement that changes the warehouse (`adapter.drop_relation`, ...), when
/// `execute` is true.
fn change(
    ctx: &NodeContext,
    what: &str,
    sql: impl FnOnce() -> Option<String>,
) -> Result<Value, Error> {
    if !ctx.execute() {
        return Ok(Value::from(()));
    }
    let warehouse = warehouse(ctx, what)?;
    if let Some(sql) = sql() {
        warehouse.query(&sql).map_err(|e| failed(what, e))?;
    }
    Ok(Value::from(()))
}

/// `adapter.drop_relation(relation)`: drops the table or view, when it exists.
pub fn drop_relation(ctx: &NodeContext, relation: &Value) -> Result<Value, Error> {
    let target = relation_arg(relation, "drop_relation")?;
    let kind = match relation
        .get_attr("type")?
        .as_str()
        .and_then(RelationType::parse)
    {
        Some(kind) => Some(kind),
        None if ctx.execute() => relations_in(ctx, "adapter.drop_relation()", &target)?
            .into_iter()
            .find(|(name, _)| *name == target.identifier)
            .map(|(_, kind)| kind),
        None => None,
    };
    change(ctx, "adapter.drop_relation()", || {
        kind.map(|k| {
            target
                .dialect
                .drop_relation(&target, k == RelationType::View)
        })
    })
}

/// `adapter.create_schema(relation)`: its schema, when missing.
pub fn create_schema(ctx: &NodeContext, relation: &Value) -> Result<Value, Error> {
    let target = relation_arg(relation, "create_schema")?;
    change(ctx, "adapter.create_schema()", || {
        Some(target.dialect.create_schema(&target))
    })
}

/// `adapter.rename_relation(from, to)`.
pub fn rename_relation(ctx: &NodeContext, from: &Value, to: &Value) -> Result<Value, Error> {
    let (from, to) = (
        relation_arg(from, "rename_relation")?,
        relation_arg(to, "rename_relation")?,
    );
    change(ctx, "adapter.rename_relation()", || {
        Some(from.dialect.rename_table(&from, &to))
    })
}

/// `adapter.execute(sql, fetch=False)`: `(response, table)`.
pub fn execute_sql(ctx: &NodeContext, args: &[Value]) -> Result<Value, Error> {
    let (sql, fetch, kwargs): (String, Option<bool>, Kwargs) = from_args(args)?;
    let fetch = fetch.or(kwargs.get("fetch")?).unwrap_or(false);
    let _: Option<Value> = kwargs.get("auto_begin")?;
    kwargs.assert_all_used()?;
    if !ctx.execute() {
        return Ok(Value::from(vec![Value::from("OK"), Value::from(())]));
    }
    let result = warehouse(ctx, "adapter.execute()")?
        .query(&sql)
        .map_err(|e| failed("adapter.execute()", e))?;
    let table = AgateTable::fetched(result, fetch, ctx.resolver.dialect());
    Ok(Value::from(vec![Value::from("OK"), table]))
}

fn relation_arg(value: &Value, method: &str) -> Result<Relation, Error> {
    RelationValue::relation(value).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("adapter.{method}() takes a relation (ref(), source(), this or api.Relation.create())"),
        )
    })
}

/// A value of a query's result, typed from its column's type as the warehouse names it.
fn cell(text: Option<String>, kind: Option<ValueKind>) -> Value {
    let Some(text) = text else {
        return Value::from(());
    };
    match kind {
        Some(ValueKind::Integer { .. }) => text
            .parse::<i64>()
            .map_or(Value::from(text.clone()), Value::from),
        Some(ValueKind::Float { .. } | ValueKind::Decimal { .. } | ValueKind::Number) => {
            match text.parse::<i64>() {
                Ok(whole) if !text.contains('.') => Value::from(whole),
                _ => text
                    .parse::<f64>()
                    .map_or(Value::from(text.clone()), Value::from),
            }
        }
        Some(ValueKind::Boolean) => Value::from(matches!(
            text.as_str(),
            "true" | "t" | "1" | "True" | "TRUE"
        )),
        _ => Value::from(text),
    }
}

/// A query's result as dbt's agate table: iterates its rows; `.rows`, `.columns` (each with
/// `.name` and `.values()`), `.column_names`, `.column_types`.
#[derive(Debug)]
pub struct AgateTable {
    names: Arc<Vec<String>>,
    types: Vec<String>,
    rows: Vec<Value>,
}

impl AgateTable {
    pub fn value(result: QueryResult, dialect: Dialect) -> Value {
        let kinds: Vec<Option<ValueKind>> = (0..result.columns.len())
            .map(|i| {
                result
                    .types
                    .get(i)
                    .map(|t| ValueKind::of(t, dialect.adapter()))
            })
            .collect();
        let names = Arc::new(result.columns);
        let rows = result
            .rows
            .into_iter()
            .map(|row| {
                let values = row
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| cell(v, kinds.get(i).copied().flatten()))
                    .collect();
                Value::from_object(AgateRow {
                    names: names.clone(),
                    values,
                })
            })
            .collect();
        Value::from_object(AgateTable {
            names,
            types: result.types,
            rows,
        })
    }

    /// The result's table when `fetch` (as `fetch_result=True` asks), else an empty one.
    fn fetched(result: QueryResult, fetch: bool, dialect: Dialect) -> Value {
        AgateTable::value(
            if fetch {
                result
            } else {
                QueryResult::default()
            },
            dialect,
        )
    }

    fn column(&self, i: usize) -> Value {
        let values = self
            .rows
            .iter()
            .map(|row| row.get_item_by_index(i).unwrap_or_default())
            .collect();
        Value::from_object(AgateColumn {
            name: self.names[i].clone(),
            data_type: self.types.get(i).cloned().unwrap_or_default(),
            values,
        })
    }
}

impl Object for AgateTable {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return self.rows.get(i).cloned();
        }
        Some(match key.as_str()? {
            "rows" => Value::from(self.rows.clone()),
            "columns" => Value::from_object(AgateColumns {
                names: self.names.clone(),
                columns: (0..self.names.len()).map(|i| self.column(i)).collect(),
            }),
            "column_names" => Value::from(self.names.iter().map(Value::from).collect::<Vec<_>>()),
            "column_types" => Value::from(self.types.iter().map(Value::from).collect::<Vec<_>>()),
            _ => return None,
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.rows.clone())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.rows.len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "print_table" => Ok(Value::from("")),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// A table's columns, as agate's mapped sequence: iterates the columns; `columns[0]`,
/// `columns['id']`, `.keys()`, `.values()`, `.items()`.
#[derive(Debug)]
struct AgateColumns {
    names: Arc<Vec<String>>,
    columns: Vec<Value>,
}

impl Object for AgateColumns {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.columns.get(column_index(&self.names, key)?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.columns.clone())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        let names = || self.names.iter().map(|n| Value::from(n.as_str()));
        match method {
            "keys" => Ok(PyList::value(names().collect())),
            "values" => Ok(PyList::value(self.columns.clone())),
            "items" => Ok(PyList::value(
                names()
                    .zip(self.columns.iter().cloned())
                    .map(|(name, column)| Value::from(vec![name, column]))
                    .collect(),
            )),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// The column a key names: by position (`[0]`) or by name (`['id']`).
fn column_index(names: &[String], key: &Value) -> Option<usize> {
    match key.as_usize() {
        Some(i) => Some(i),
        None => names.iter().position(|n| Some(n.as_str()) == key.as_str()),
    }
}

/// A row: its values by position (`row[0]`) or by column name (`row['id']`).
#[derive(Debug)]
struct AgateRow {
    names: Arc<Vec<String>>,
    values: Vec<Value>,
}

impl Object for AgateRow {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.values.get(column_index(&self.names, key)?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.values.clone())
    }
}

/// A column of a result: its values, `.name`, `.values()`.
#[derive(Debug)]
struct AgateColumn {
    name: String,
    data_type: String,
    values: Vec<Value>,
}

impl Object for AgateColumn {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if let Some(i) = key.as_usize() {
            return self.values.get(i).cloned();
        }
        match key.as_str()? {
            "name" => Some(Value::from(self.name.clone())),
            "data_type" => Some(Value::from(self.data_type.clone())),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.values.clone())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        _args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "values" => Ok(PyList::value(self.values.clone())),
            "values_distinct" => {
                let mut distinct: Vec<Value> = Vec::new();
                for v in &self.values {
                    if !distinct.contains(v) {
                        distinct.push(v.clone());
                    }
                }
                Ok(PyList::value(distinct))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// dbt's `Column`: `.name`, `.quoted`, `.data_type`, `.dtype`, `.is_string()`,
/// `.is_number()`, ...
#[derive(Debug)]
pub struct ColumnValue {
    name: String,
    data_type: String,
    kind: ValueKind,
    dialect: Dialect,
}

impl ColumnValue {
    pub fn value(name: String, data_type: String, dialect: Dialect) -> Value {
        let kind = ValueKind::of(&data_type, dialect.adapter());
        Value::from_object(ColumnValue {
            name,
            data_type,
            kind,
            dialect,
        })
    }
}

impl Object for ColumnValue {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        Some(match key.as_str()? {
            "name" | "column" => Value::from(self.name.clone()),
            "quoted" => Value::from(self.dialect.quote(&self.name)),
            "data_type" | "dtype" => Value::from(self.data_type.clone()),
            "char_size" => match self.kind {
                ValueKind::Text { max_chars, .. } => Value::from(max_chars),
                _ => Value::from(()),
            },
            "numeric_precision" | "numeric_scale" => match self.kind {
                ValueKind::Decimal { precision, scale } => {
                    Value::from(if key.as_str() == Some("numeric_scale") {
                        scale
                    } else {
                        precision
                    })
                }
                _ => Value::from(()),
            },
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let kind = self.kind;
        let yes = |b: bool| Ok(Value::from(b));
        match method {
            "is_string" => yes(matches!(kind, ValueKind::Text { .. })),
            "is_integer" => yes(matches!(kind, ValueKind::Integer { .. })),
            "is_float" => yes(matches!(kind, ValueKind::Float { .. })),
            "is_numeric" => yes(matches!(
                kind,
                ValueKind::Decimal { .. } | ValueKind::Number
            )),
            "is_number" => yes(matches!(
                kind,
                ValueKind::Integer { .. }
                    | ValueKind::Float { .. }
                    | ValueKind::Decimal { .. }
                    | ValueKind::Number
            )),
            "string_size" => match kind {
                ValueKind::Text { max_chars, .. } => Ok(Value::from(max_chars.unwrap_or(256))),
                _ => Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!(
                        "string_size() of column '{}', which is not a string",
                        self.name
                    ),
                )),
            },
            "literal" => {
                let (value,): (Value,) = from_args(args)?;
                Ok(Value::from(format!("cast({value} as {})", self.data_type)))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "<Column {} ({})>", self.name, self.data_type)
    }
}

/// `api`: `api.Relation.create(...)` and `api.Column(name, dtype)`.
#[derive(Debug)]
pub struct Api;

impl Object for Api {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "Relation" => Some(Value::from_object(ApiRelation)),
            "Column" => Some(Value::from_object(ApiColumn)),
            _ => None,
        }
    }
}

#[derive(Debug)]
struct ApiRelation;

impl Object for ApiRelation {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if method != "create" {
            return Err(Error::from(ErrorKind::UnknownMethod));
        }
        let (kwargs,): (Kwargs,) = from_args(args)?;
        let text = |k: &str| -> Result<Option<String>, Error> {
            Ok(kwargs
                .get::<Option<Value>>(k)?
                .filter(|v| !v.is_none())
                .map(|v| v.to_string()))
        };
        let (database, schema, identifier) =
            (text("database")?, text("schema")?, text("identifier")?);
        let kind = text("type")?.as_deref().and_then(RelationType::parse);
        let _: Option<Value> = kwargs.get("quote_policy")?;
        kwargs.assert_all_used()?;
        let dialect = NodeContext::of(state)?.resolver.dialect();
        let relation = Relation::new(
            dialect,
            database,
            schema.unwrap_or_default(),
            identifier.unwrap_or_default(),
        );
        Ok(match kind {
            Some(kind) => RelationValue::typed(relation, kind),
            None => RelationValue::resolved(relation),
        })
    }
}

#[derive(Debug)]
struct ApiColumn;

impl ApiColumn {
    fn create(state: &State, args: &[Value]) -> Result<Value, Error> {
        let (name, dtype): (String, String) = from_args(args)?;
        Ok(ColumnValue::value(
            name,
            dtype,
            NodeContext::of(state)?.resolver.dialect(),
        ))
    }
}

impl Object for ApiColumn {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        ApiColumn::create(state, args)
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "create" => ApiColumn::create(state, args),
            "translate_type" => {
                let (label,): (String,) = from_args(args)?;
                let dialect = NodeContext::of(state)?.resolver.dialect();
                Ok(Value::from(dialect.translate_type(&label)))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}
