//! What a template sees while it renders: the node's context (`this`, `model`, `config`, ...)
//! and the objects behind `ref()`, `adapter` and `exceptions`.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, Weak};

use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, from_args};
use minijinja::{Error, ErrorKind, State, Value};
use serde_json::{Map, Value as Json};

use super::introspect::{self, Introspect, RelationType};
use super::macros::{MacroNamespace, MacroTable, current_package};
use super::python::PyDict;
use crate::adapter::{Dialect, Relation};
use crate::project::node_config;
use indexmap::IndexMap;

/// The name under which the node context is reachable from every state (also macro states).
pub const CONTEXT_KEY: &str = "__elt_ctx";

/// Marks relation placeholders in first-pass output; never appears in SQL text.
pub const PLACEHOLDER: char = '\u{1}';

/// Something `ref()` can point at.
#[derive(Debug, Clone)]
pub struct RefTarget {
    pub unique_id: String,
    /// The package it belongs to (the root project's name for the root's).
    pub package: String,
    /// Known from the second pass on; `None` while configs are still being collected.
    pub relation: Option<Relation>,
}

/// A source table `source()` can point at.
#[derive(Debug, Clone)]
pub struct SourceTarget {
    pub unique_id: String,
    /// The package that declares it.
    pub package: String,
    pub relation: Relation,
}

/// Compile-wide facts every render can read. Built once per pass.
#[derive(Debug, Default, Clone)]
pub struct Resolver {
    pub project_name: String,
    pub dialect: Option<Dialect>,
    /// `target` as templates see it (secrets masked).
    pub target: Value,
    /// The root project's vars.
    pub vars: Map<String, Json>,
    /// The vars of each package's nodes.
    pub package_vars: HashMap<String, Map<String, Json>>,
    /// Models, seeds and snapshots by name; one per package that has the name.
    pub refable: HashMap<String, Vec<RefTarget>>,
    /// Source tables by (source name, table name); one per package that declares it.
    pub sources: HashMap<(String, String), Vec<SourceTarget>>,
    /// `{% docs %}` blocks by name.
    pub docs: HashMap<String, String>,
    /// Every macro, by package and name.
    pub macros: Arc<MacroTable>,
    pub invocation_id: String,
    pub run_started_at: String,
    /// `flags`: `WHICH`, `FULL_REFRESH`, `STORE_FAILURES`.
    pub flags: Value,
    /// dbt's `graph`: the project's nodes and sources (complete in the final pass).
    pub graph: Value,
    /// dbt's `selected_resources`: the unique ids a run selected, once it has (empty while
    /// the project compiles).
    pub selected_resources: Arc<std::sync::OnceLock<Value>>,
}

impl Resolver {
    pub fn dialect(&self) -> Dialect {
        self.dialect.unwrap_or(Dialect::DEFAULT)
    }

    /// What `ref(name)` or `ref(package, name)` in a node of package `from` points at, searched
    /// as dbt does: the named package only; else the root project, `from`, then any package.
    pub fn find_ref(&self, name: &str, package: Option<&str>, from: &str) -> Option<&RefTarget> {
        let candidates = self.refable.get(name)?;
        match package {
            Some(package) => candidates.iter().find(|t| t.package == package),
            None => self.in_search_order(candidates, |t| &t.package, from),
        }
    }

    /// What `source(s, t)` in a node of package `from` points at, in `ref`'s order.
    pub fn find_source(&self, key: &(String, String), from: &str) -> Option<&SourceTarget> {
        self.in_search_order(self.sources.get(key)?, |t| &t.package, from)
    }

    /// dbt's order among what several packages declare under one name: the root project's,
    /// the caller's package `from`'s, then any package's.
    fn in_search_order<'a, T>(
        &self,
        candidates: &'a [T],
        package_of: fn(&T) -> &String,
        from: &str,
    ) -> Option<&'a T> {
        let of = |p: &str| candidates.iter().find(|t| package_of(t) == p);
        of(&self.project_name)
            .or_else(|| of(from))
            .or_else(|| candidates.first())
    }

    /// The vars that templates of a package's nodes see.
    pub fn vars_of(&self, package: &str) -> &Map<String, Json> {
        self.package_vars.get(package).unwrap_or(&self.vars)
    }
}

/// Whether a render collects configs (first pass) or produces final SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Relations of refs and `this` render as placeholders, resolved once every config is known.
    Collect,
    /// Relations are known and render as SQL.
    Final,
}

/// A `ref()` call as recorded for the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefCall {
    pub name: String,
    pub package: Option<String>,
    pub version: Option<String>,
}

/// What a render found out about its node.
#[derive(Debug, Default, Clone)]
pub struct RenderRecord {
    /// The node's config: project and YAML levels, then each `config()` call.
    pub config: Map<String, Json>,
    pub refs: Vec<RefCall>,
    pub sources: Vec<(String, String)>,
    pub macros: BTreeSet<String>,
    /// The template inspected a relation it could not know in the first pass.
    pub needs_final_pass: bool,
    /// Warnings raised by `exceptions.warn`.
    pub warnings: Vec<String>,
    /// The template asked the warehouse (`run_query`, ...) while none was open.
    pub needs_warehouse: bool,
}

/// The per-node context object: the root of every render of one node.
#[derive(Debug)]
pub struct NodeContext {
    pub resolver: Arc<Resolver>,
    pub pass: Pass,
    /// The node's package: its plain macro names find that package's macros first, and its
    /// `var()`s read that package's vars.
    pub package: String,
    /// This node's own relation (`this`), known in the final pass.
    pub this: Option<Relation>,
    pub is_incremental: bool,
    /// The `model` variable (the node as a mapping).
    pub model: Value,
    /// Extra variables (e.g. a generic test's arguments).
    pub extra: Mutex<HashMap<String, Value>>,
    pub record: Mutex<RenderRecord>,
    return_slot: Mutex<Option<Value>>,
    /// dbt's `execute`: false while configs are collected, true when the node compiles to run.
    pub execute: bool,
    /// The warehouse that `run_query` and the adapter's introspection ask, when open.
    pub warehouse: Option<Arc<dyn Introspect>>,
    /// Results of `{% call statement(name) %}`, for `load_result(name)`.
    statements: Mutex<HashMap<String, Value>>,
    /// Set when a unit test renders its model: inputs read from CTEs, vars and env vars
    /// overridden.
    pub unit_test: Option<UnitTestScope>,
}

/// A unit test's changes to its model's render.
#[derive(Debug, Default)]
pub struct UnitTestScope {
    /// The CTE standing for each input, by key: `ref:<name>` or `source:<source>.<table>`.
    pub inputs: HashMap<String, Relation>,
    pub vars: Map<String, Json>,
    pub env_vars: Map<String, Json>,
    /// Overridden macros' values, by name as written: `name` or `package.name`.
    pub macros: HashMap<String, Value>,
}

impl UnitTestScope {
    /// The value that replaces macro `name` of `package` when called through the package's
    /// name (`dbt.x` and a plain `x` override each other, as in dbt).
    pub fn macro_override(&self, package: &str, name: &str) -> Option<Value> {
        let found = self.macros.get(&format!("{package}.{name}"));
        found
            .or_else(|| (package == "dbt").then(|| self.macros.get(name)).flatten())
            .cloned()
    }

    /// What `ref()` or `source()` returns for input `key` (`written` is the call, for the
    /// error when the test gives no rows for it).
    pub fn input(&self, key: &str, written: &str) -> Result<Value, Error> {
        match self.inputs.get(key) {
            Some(cte) => Ok(RelationValue::resolved(cte.clone())),
            None => Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("the unit test gives no rows for {written}, which the model reads"),
            )),
        }
    }
}

impl NodeContext {
    pub fn new(
        resolver: Arc<Resolver>,
        pass: Pass,
        model: Value,
        config: Map<String, Json>,
    ) -> Self {
        NodeContext {
            package: resolver.project_name.clone(),
            resolver,
            pass,
            this: None,
            is_incremental: false,
            model,
            extra: Mutex::new(HashMap::new()),
            record: Mutex::new(RenderRecord {
                config,
                ..Default::default()
            }),
            return_slot: Mutex::new(None),
            execute: pass == Pass::Final,
            warehouse: None,
            statements: Mutex::new(HashMap::new()),
            unit_test: None,
        }
    }

    /// Whether the node belongs to the root project (not to a package).
    pub fn in_root(&self) -> bool {
        self.package == self.resolver.project_name
    }

    /// The root value of a render of this node: a package's node renders in its package's
    /// scope (see [`super::macros`]).
    pub fn render_root(self: &Arc<Self>) -> Value {
        if self.in_root() {
            Value::from_dyn_object(self.clone())
        } else {
            super::macros::package_scope(self.clone(), self.package.clone())
        }
    }

    /// `execute`, read by a template: in the first pass, the node is rendered again once its
    /// relations are known, with `execute` true.
    pub fn execute(&self) -> bool {
        if self.pass == Pass::Collect {
            self.record().needs_final_pass = true;
        }
        self.execute
    }

    pub fn set_statement(&self, name: String, result: Value) {
        self.statements
            .lock()
            .expect("statements lock")
            .insert(name, result);
    }

    pub fn statement(&self, name: &str) -> Option<Value> {
        self.statements
            .lock()
            .expect("statements lock")
            .get(name)
            .cloned()
    }

    /// The context object of the state's current render.
    pub fn of(state: &State) -> Result<Arc<NodeContext>, Error> {
        state
            .lookup(CONTEXT_KEY)
            .and_then(|v| v.downcast_object::<NodeContext>())
            .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "not rendering a node"))
    }

    pub fn record(&self) -> std::sync::MutexGuard<'_, RenderRecord> {
        self.record.lock().expect("render record lock")
    }

    /// Stores a `return()` value for the macro call that is unwinding.
    pub fn set_return(&self, value: Value) {
        *self.return_slot.lock().expect("return slot") = Some(value);
    }

    pub fn take_return(&self) -> Option<Value> {
        self.return_slot.lock().expect("return slot").take()
    }

    /// `this`: the final relation, or a placeholder in the first pass.
    fn this_value(self: &Arc<Self>) -> Value {
        match &self.this {
            Some(relation) => RelationValue::resolved(relation.clone()),
            None => RelationValue::placeholder(self, "T".into()),
        }
    }
}

impl Object for NodeContext {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let key = key.as_str()?;
        Some(match key {
            CONTEXT_KEY => Value::from_dyn_object(self.clone()),
            "this" => self.this_value(),
            "model" => self.model.clone(),
            "target" => self.resolver.target.clone(),
            "config" => Value::from_object(ConfigObject(self.clone())),
            "adapter" => Value::from_object(AdapterObject),
            "exceptions" => Value::from_object(ExceptionsObject),
            "elt" | "dbt" => Value::from_object(MacroNamespace(key.to_string())),
            "execute" => Value::from(self.execute()),
            "api" => Value::from_object(introspect::Api),
            "modules" => Value::from_object(super::modules::Modules),
            "project_name" => Value::from(self.resolver.project_name.clone()),
            "invocation_id" => Value::from(self.resolver.invocation_id.clone()),
            "run_started_at" => Value::from(self.resolver.run_started_at.clone()),
            "dbt_version" => Value::from(crate::DBT_VERSION),
            "elt_version" => Value::from(env!("CARGO_PKG_VERSION")),
            "flags" => self.resolver.flags.clone(),
            "graph" => {
                // Complete only once every node's config is known, as in dbt with `execute`.
                if self.pass == Pass::Collect {
                    self.record().needs_final_pass = true;
                }
                self.resolver.graph.clone()
            }
            "database" => self.resolver.target.get_attr("database").ok()?,
            "schema" => self.resolver.target.get_attr("schema").ok()?,
            // dbt's own `ref`, `source` and `config`, for a project macro that overrides one.
            "builtins" => PyDict::value(IndexMap::from([
                (
                    Value::from("ref"),
                    Value::from_function(super::functions::ref_fn),
                ),
                (
                    Value::from("source"),
                    Value::from_function(super::functions::source_fn),
                ),
                (
                    Value::from("config"),
                    Value::from_object(ConfigObject(self.clone())),
                ),
            ])),
            "thread_id" => Value::from("MainThread"),
            "selected_resources" => self
                .resolver
                .selected_resources
                .get()
                .cloned()
                .unwrap_or_else(|| Value::from(Vec::<Value>::new())),
            // Environment variables named DBT_ENV_CUSTOM_ENV_<KEY>, by key (dbt's).
            "dbt_metadata_envs" => PyDict::value(
                std::env::vars()
                    .filter_map(|(name, value)| {
                        let key = name.strip_prefix("DBT_ENV_CUSTOM_ENV_")?;
                        Some((Value::from(key), Value::from(value)))
                    })
                    .collect(),
            ),
            // dbt's command arguments as a dict: the ones elt's flags know.
            "invocation_args_dict" => {
                let flag = |name: &str| self.resolver.flags.get_attr(name).unwrap_or_default();
                let which = flag("WHICH");
                PyDict::value(IndexMap::from([
                    (Value::from("which"), which.clone()),
                    (
                        Value::from("invocation_command"),
                        Value::from(format!("elt {which}")),
                    ),
                    (Value::from("full_refresh"), flag("FULL_REFRESH")),
                    (Value::from("store_failures"), flag("STORE_FAILURES")),
                    (
                        Value::from("target"),
                        self.resolver.target.get_attr("name").unwrap_or_default(),
                    ),
                ]))
            }
            other => match self.extra.lock().expect("extra lock").get(other) {
                Some(value) => value.clone(),
                None if self.resolver.macros.is_namespace(other) => {
                    Value::from_object(MacroNamespace(other.to_string()))
                }
                None => return None,
            },
        })
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&[
            "this",
            "model",
            "target",
            "config",
            "adapter",
            "exceptions",
            "execute",
        ])
    }
}

/// A relation as templates see it. Renders as SQL; attributes like `.schema` and methods like
/// `.include()` work as in dbt.
#[derive(Debug)]
pub struct RelationValue {
    relation: Option<Relation>,
    /// Table or view, when the warehouse said (`adapter.get_relation`).
    kind: Option<RelationType>,
    /// First pass: the text standing in for the relation, and the node to flag on inspection.
    /// The node is held weakly: a relation value stored in the node's own context (a test's
    /// arguments) must not keep the context alive.
    placeholder: Option<(String, Weak<NodeContext>)>,
}

impl RelationValue {
    pub fn resolved(relation: Relation) -> Value {
        Value::from_object(RelationValue {
            relation: Some(relation),
            kind: None,
            placeholder: None,
        })
    }

    /// A relation the warehouse has, as a table or a view.
    pub fn typed(relation: Relation, kind: RelationType) -> Value {
        Value::from_object(RelationValue {
            relation: Some(relation),
            kind: Some(kind),
            placeholder: None,
        })
    }

    /// `key` identifies the relation in the node's record: `R<i>` for its i-th ref, `T` for this.
    pub fn placeholder(ctx: &Arc<NodeContext>, key: String) -> Value {
        Value::from_object(RelationValue {
            relation: None,
            kind: None,
            placeholder: Some((
                format!("{PLACEHOLDER}{key}{PLACEHOLDER}"),
                Arc::downgrade(ctx),
            )),
        })
    }

    /// The relation to inspect; in the first pass a guess, and the node is marked for a final pass.
    fn inspect(&self) -> Relation {
        if let Some(relation) = &self.relation {
            return relation.clone();
        }
        let ctx = self.placeholder.as_ref().and_then(|(_, ctx)| ctx.upgrade());
        let Some(ctx) = ctx else {
            return Relation::bare(Dialect::DEFAULT, "__unresolved__".into());
        };
        ctx.record().needs_final_pass = true;
        let target = &ctx.resolver.target;
        let part = |k: &str| {
            target
                .get_attr(k)
                .ok()
                .map(|v| v.to_string())
                .unwrap_or_default()
        };
        Relation::new(
            ctx.resolver.dialect(),
            Some(part("database")),
            part("schema"),
            "__unresolved__".into(),
        )
    }

    pub fn relation(value: &Value) -> Option<Relation> {
        value
            .downcast_object_ref::<RelationValue>()
            .map(RelationValue::inspect)
    }
}

/// A relation is a mapping, as dbt's are: packages check `relation.get('metadata')`.
impl Object for RelationValue {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(&["database", "schema", "identifier", "type", "metadata"])
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        if key.as_str() == Some("metadata") {
            return Some(crate::template::json_value(
                serde_json::json!({"type": "BaseRelation"}),
            ));
        }
        let relation = self.inspect();
        Some(match key.as_str()? {
            "database" => Value::from(relation.database.clone()),
            "schema" => Value::from(relation.schema.clone()),
            "identifier" | "name" | "table" => Value::from(relation.identifier.clone()),
            "type" => Value::from(self.kind.map(RelationType::as_str)),
            "is_table" => Value::from(self.kind == Some(RelationType::Table)),
            "is_view" => Value::from(self.kind == Some(RelationType::View)),
            "is_cte" => Value::from(false),
            _ => return None,
        })
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "render" => Ok(Value::from(self.to_sql())),
            "incorporate" => self.incorporate(args),
            "information_schema" => {
                let (view,): (Option<String>,) = from_args(args)?;
                let relation = self.inspect();
                let mut parts: Vec<String> = relation
                    .database
                    .iter()
                    .map(|db| relation.dialect.quote(db))
                    .collect();
                parts.push("information_schema".into());
                parts.extend(view);
                Ok(Value::from(parts.join(".")))
            }
            "include" | "quote" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let mut relation = self.inspect();
                let flag =
                    |k: &str| -> Result<Option<bool>, Error> { kwargs.get::<Option<bool>>(k) };
                let (db, schema, ident) = (flag("database")?, flag("schema")?, flag("identifier")?);
                kwargs.assert_all_used()?;
                if method == "quote" {
                    relation.quote_database = db.unwrap_or(relation.quote_database);
                    relation.quote_schema = schema.unwrap_or(relation.quote_schema);
                    relation.quote_identifier = ident.unwrap_or(relation.quote_identifier);
                    return Ok(RelationValue::resolved(relation));
                }
                let text = relation.render_parts(
                    db.unwrap_or(true),
                    schema.unwrap_or(true),
                    ident.unwrap_or(true),
                );
                Ok(Value::from_safe_string(text))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_sql())
    }
}

impl RelationValue {
    /// `relation.incorporate(path={...}, type='table')`: a copy with other parts or a type.
    fn incorporate(&self, args: &[Value]) -> Result<Value, Error> {
        let (kwargs,): (Kwargs,) = from_args(args)?;
        let mut relation = self.inspect();
        if let Some(path) = kwargs.get::<Option<Value>>("path")? {
            let part = |k: &str| path.get_attr(k).ok().filter(|v| !v.is_undefined());
            if let Some(database) = part("database") {
                relation.database = database.as_str().map(str::to_string);
            }
            if let Some(schema) = part("schema") {
                relation.schema = schema.to_string();
            }
            if let Some(identifier) = part("identifier") {
                relation.identifier = identifier.to_string();
            }
        }
        let kind = kwargs
            .get::<Option<String>>("type")?
            .as_deref()
            .and_then(RelationType::parse)
            .or(self.kind);
        kwargs.assert_all_used()?;
        Ok(match kind {
            Some(kind) => RelationValue::typed(relation, kind),
            None => RelationValue::resolved(relation),
        })
    }

    fn to_sql(&self) -> String {
        match (&self.relation, &self.placeholder) {
            (Some(relation), _) => relation.to_string(),
            (None, Some((text, _))) => text.clone(),
            (None, None) => String::new(),
        }
    }
}

/// `config`: callable (`config(materialized='table')`) with `get` and `require` methods.
#[derive(Debug)]
pub struct ConfigObject(pub Arc<NodeContext>);

impl Object for ConfigObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, _state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let mut overlay = Map::new();
        for arg in args {
            if let Some(kwargs) = Kwargs::try_from(arg.clone())
                .ok()
                .filter(|_| !arg.is_undefined())
            {
                for key in kwargs.args() {
                    let value: Value = kwargs.get(key)?;
                    overlay.insert(key.to_string(), to_json(&value)?);
                }
            } else {
                match to_json(arg)? {
                    Json::Object(map) => overlay.extend(map),
                    _ => {
                        return Err(Error::new(
                            ErrorKind::InvalidOperation,
                            "config() takes keyword arguments or one mapping",
                        ));
                    }
                }
            }
        }
        node_config::merge(&mut self.0.record().config, &overlay);
        Ok(Value::from(""))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        match method {
            "get" => {
                let (key, default): (String, Option<Value>) = from_args(args)?;
                let value = self.0.record().config.get(&key).cloned();
                Ok(match value {
                    Some(Json::Null) | None => default.unwrap_or(Value::from(())),
                    Some(v) => crate::template::json_value(&v),
                })
            }
            "require" => {
                let (key,): (String,) = from_args(args)?;
                let value = self.0.record().config.get(&key).cloned();
                value
                    .filter(|v| !v.is_null())
                    .map(|v| crate::template::json_value(&v))
                    .ok_or_else(|| {
                        Error::new(
                            ErrorKind::InvalidOperation,
                            format!("required config '{key}' was not set"),
                        )
                    })
            }
            "set" => {
                let (key, value): (String, Value) = from_args(args)?;
                let mut overlay = Map::new();
                overlay.insert(key, to_json(&value)?);
                node_config::merge(&mut self.0.record().config, &overlay);
                Ok(Value::from(""))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("")
    }
}

/// `adapter`: dispatch, quoting and the adapter's type. Warehouse introspection needs a
/// connection, which the compiler does not have.
#[derive(Debug)]
pub struct AdapterObject;

impl Object for AdapterObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let ctx = NodeContext::of(state)?;
        let dialect = ctx.resolver.dialect();
        match method {
            "dispatch" => {
                let (name, namespace, kwargs): (String, Option<String>, Kwargs) = from_args(args)?;
                let namespace = namespace.or(kwargs.get::<Option<String>>("macro_namespace")?);
                kwargs.assert_all_used()?;
                let package = current_package(state);
                let table = &ctx.resolver.macros;
                match table.dispatch(dialect, &name, namespace.as_deref(), package.as_deref()) {
                    Ok(found) => Ok(found.clone()),
                    Err(tried) => Err(Error::new(
                        ErrorKind::UnknownFunction,
                        format!(
                            "adapter.dispatch('{name}') found no implementation for {dialect}: tried {}",
                            tried.join(", ")
                        ),
                    )),
                }
            }
            "quote" => {
                let (identifier,): (String,) = from_args(args)?;
                Ok(Value::from(dialect.quote(&identifier)))
            }
            "type" => Ok(Value::from(dialect.name())),
            "get_columns_in_relation" => {
                let (relation,): (Value,) = from_args(args)?;
                introspect::get_columns_in_relation(&ctx, &relation)
            }
            "get_relation" => introspect::get_relation(&ctx, args),
            "load_relation" | "load_cached_relation" => {
                let (relation,): (Value,) = from_args(args)?;
                introspect::load_relation(&ctx, &relation)
            }
            "list_relations_without_caching" => {
                let (schema_relation,): (Value,) = from_args(args)?;
                introspect::list_relations(&ctx, &schema_relation)
            }
            "execute" => introspect::execute_sql(&ctx, args),
            "drop_relation" => {
                let (relation,): (Value,) = from_args(args)?;
                introspect::drop_relation(&ctx, &relation)
            }
            "create_schema" => {
                let (relation,): (Value,) = from_args(args)?;
                introspect::create_schema(&ctx, &relation)
            }
            "rename_relation" => {
                let (from, to): (Value, Value) = from_args(args)?;
                introspect::rename_relation(&ctx, &from, &to)
            }
            "get_missing_columns" => {
                let (from, to): (Value, Value) = from_args(args)?;
                introspect::get_missing_columns(&ctx, &from, &to)
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// `exceptions.raise_compiler_error(msg)` and `exceptions.warn(msg)`.
#[derive(Debug)]
pub struct ExceptionsObject;

/// The error detail prefix that marks a user-raised compiler error.
pub const COMPILER_ERROR: &str = "compilation error: ";

impl Object for ExceptionsObject {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let (message,): (String,) = from_args(args)?;
        match method {
            "raise_compiler_error" | "raise_not_implemented" => Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("{COMPILER_ERROR}{message}"),
            )),
            "warn" => {
                NodeContext::of(state)?.record().warnings.push(message);
                Ok(Value::from(""))
            }
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }
}

/// Converts a template value to JSON (relations become their SQL text).
pub fn to_json(value: &Value) -> Result<Json, Error> {
    if let Some(relation) = value.downcast_object_ref::<RelationValue>() {
        return Ok(Json::String(relation.to_sql()));
    }
    if value.is_undefined() || value.is_none() {
        return Ok(Json::Null);
    }
    serde_json::to_value(value).map_err(|e| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!("value cannot be stored in a config: {e}"),
        )
    })
}
