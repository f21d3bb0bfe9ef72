//! Python's mutable lists and dicts, as dbt's Jinja has them.
//!
//! Packages build SQL with `{% set cols = [] %}{% do cols.append(c) %}` and
//! `{% do d.update({...}) %}`; minijinja's values are immutable. So every list and dict
//! literal of a template is compiled as a call that builds a [`PyList`] or [`PyDict`]
//! (see [`mutable_literals`]): shared by reference like Python's, with Python's methods.
//! Lists and dicts from the project (`var()`, configs, test arguments) are built the same way
//! ([`from_json`]). Those made by filters (`| map`, `| sort`, ...) are immutable; `| list` and
//! `.copy()` give a mutable copy.

use std::borrow::Cow;
use std::fmt::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use indexmap::IndexMap;
use minijinja::machinery::{Token, tokenize};
use minijinja::syntax::SyntaxConfig;
use minijinja::value::ValueKind;
use minijinja::value::{Enumerator, Kwargs, Object, ObjectRepr, from_args};
use minijinja::{Error, ErrorKind, State, Value};

/// The function a list literal `[a, b]` is compiled to call.
pub const LIST_FN: &str = "__elt_list";
/// The function a dict literal `{k: v}` is compiled to call.
pub const DICT_FN: &str = "__elt_dict";

/// Rewrites every list and dict literal in the template's expressions, `[a]` to
/// `__elt_list([a])` and `{k: v}` to `__elt_dict({k: v})`, using minijinja's own lexer so
/// that text, comments and `{% raw %}` are left alone. Lines are unchanged (error lines stay
/// right). A template that does not lex is returned as is, for minijinja to report.
pub fn mutable_literals(source: &str) -> Cow<'_, str> {
    rewrite_literals(source, false)
}

/// [`mutable_literals`] for a lone expression such as `ref('x')`.
pub fn mutable_literals_in_expression(expression: &str) -> Cow<'_, str> {
    rewrite_literals(expression, true)
}

fn rewrite_literals(source: &str, in_expr: bool) -> Cow<'_, str> {
    if !source.contains('[') && !source.contains('{') {
        return Cow::Borrowed(source);
    }
    // (byte offset, text to insert there)
    let mut inserts: Vec<(usize, &str)> = Vec::new();
    // For each open bracket: whether it opened a literal.
    let mut open: Vec<bool> = Vec::new();
    let mut previous: Option<Token> = None;
    for item in tokenize(source, in_expr, SyntaxConfig::default()) {
        let Ok((token, span)) = item else {
            return Cow::Borrowed(source);
        };
        let start = span.start_offset as usize;
        let end = span.end_offset as usize;
        match &token {
            Token::BracketOpen => {
                let literal = !previous.as_ref().is_some_and(ends_operand);
                if literal {
                    inserts.push((start, "__elt_list("));
                }
                open.push(literal);
            }
            Token::BraceOpen => {
                inserts.push((start, "__elt_dict("));
                open.push(true);
            }
            Token::BracketClose | Token::BraceClose if open.pop() == Some(true) => {
                inserts.push((end, ")"));
            }
            Token::VariableStart | Token::BlockStart => open.clear(),
            _ => {}
        }
        previous = Some(token);
    }
    if inserts.is_empty() {
        return Cow::Borrowed(source);
    }
    let mut out = String::with_capacity(source.len() + inserts.len() * 12);
    let mut at = 0;
    for (offset, text) in inserts {
        out.push_str(&source[at..offset]);
        out.push_str(text);
        at = offset;
    }
    out.push_str(&source[at..]);
    Cow::Owned(out)
}

/// Whether a `[` after this token indexes a value (`x[0]`, `f()[0]`) rather than opening a list.
fn ends_operand(token: &Token) -> bool {
    const KEYWORDS: &[&str] = &[
        "in", "not", "and", "or", "if", "elif", "else", "is", "for", "set", "do", "with", "call",
        "filter", "return", "print", "import", "from", "as", "include", "extends", "macro",
    ];
    match token {
        Token::Ident(name) => !KEYWORDS.contains(name),
        Token::Str(_)
        | Token::String(_)
        | Token::Int(_)
        | Token::Int128(_)
        | Token::Float(_)
        | Token::ParenClose
        | Token::BracketClose
        | Token::BraceClose => true,
        _ => false,
    }
}

/// JSON as template values, its arrays and objects as mutable lists and dicts.
pub fn from_json(json: &serde_json::Value) -> Value {
    use serde_json::Value as Json;
    match json {
        Json::Null => Value::from(()),
        Json::Bool(b) => Value::from(*b),
        Json::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(u)) => Value::from(u),
            _ => Value::from(n.as_f64().unwrap_or_default()),
        },
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(items) => PyList::value(items.iter().map(from_json).collect()),
        Json::Object(map) => PyDict::value(
            map.iter()
                .map(|(k, v)| (Value::from(k.as_str()), from_json(v)))
                .collect(),
        ),
    }
}

/// `__elt_list([...])`: the literal as a mutable list.
pub fn list_fn(items: Value) -> Result<Value, Error> {
    Ok(PyList::value(items.try_iter()?.collect()))
}

/// `__elt_dict({...})`: the literal as a mutable dict.
pub fn dict_fn(items: Value) -> Result<Value, Error> {
    PyDict::from_mapping(&items)
}

/// `dict(a=1)`, `dict(mapping)`: a new mutable dict.
pub fn dict_global(args: minijinja::value::Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let mut map = IndexMap::new();
    for arg in args.iter() {
        map.extend(mapping_items(arg)?);
    }
    for key in kwargs.args() {
        map.insert(Value::from(key), kwargs.get::<Value>(key)?);
    }
    Ok(PyDict::value(map))
}

/// The `list` filter: a new mutable list of the items (of a string: its characters; of a
/// dict: its keys).
pub fn list_filter(value: Value) -> Result<Value, Error> {
    let items: Vec<Value> = match value.as_str() {
        Some(text) => text.chars().map(Value::from).collect(),
        None => value.try_iter()?.collect(),
    };
    Ok(PyList::value(items))
}

/// What a mutating method says on a list or dict elt cannot change (minijinja's own).
pub fn immutable_error(value: &Value, method: &str) -> Option<Error> {
    const LIST: &[&str] = &[
        "append", "extend", "insert", "pop", "remove", "clear", "reverse", "sort",
    ];
    const DICT: &[&str] = &["update", "setdefault", "pop", "popitem", "clear"];
    let mutating = match value.kind() {
        ValueKind::Seq => LIST.contains(&method),
        ValueKind::Map => DICT.contains(&method),
        _ => false,
    };
    mutating.then(|| {
        Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "cannot {method}() on this {}: it was made by a filter, and is read-only; make a \
                 copy first, e.g. {{% set x = x | list %}} or x.copy()",
                if value.kind() == ValueKind::Seq {
                    "list"
                } else {
                    "dict"
                }
            ),
        )
    })
}

/// A Python list: shared by reference, mutable in place.
#[derive(Debug, Default)]
pub struct PyList(Mutex<Vec<Value>>);

impl PyList {
    pub fn value(items: Vec<Value>) -> Value {
        Value::from_object(PyList(Mutex::new(items)))
    }

    fn items(&self) -> MutexGuard<'_, Vec<Value>> {
        self.0.lock().expect("list lock")
    }
}

/// `i` as a position in a list of `len` (negative counts from the end).
fn position(i: i64, len: usize) -> Option<usize> {
    let i = if i < 0 { i + len as i64 } else { i };
    (0..len as i64).contains(&i).then_some(i as usize)
}

impl Object for PyList {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let items = self.items();
        let i = position(key.as_i64()?, items.len())?;
        Some(items[i].clone())
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.items().clone())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.items().len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let none = Value::from(());
        match method {
            "append" => {
                let (item,): (Value,) = from_args(args)?;
                self.items().push(item);
                Ok(none)
            }
            "extend" => {
                let (more,): (Value,) = from_args(args)?;
                let more: Vec<Value> = more.try_iter()?.collect();
                self.items().extend(more);
                Ok(none)
            }
            "insert" => {
                let (at, item): (i64, Value) = from_args(args)?;
                let mut items = self.items();
                let len = items.len() as i64;
                let at = if at < 0 {
                    (at + len).max(0)
                } else {
                    at.min(len)
                };
                items.insert(at as usize, item);
                Ok(none)
            }
            "pop" => {
                let (at,): (Option<i64>,) = from_args(args)?;
                let mut items = self.items();
                let len = items.len();
                match position(at.unwrap_or(-1), len) {
                    Some(i) => Ok(items.remove(i)),
                    None => Err(Error::new(
                        ErrorKind::InvalidOperation,
                        "pop from an empty list, or index out of range",
                    )),
                }
            }
            "remove" => {
                let (item,): (Value,) = from_args(args)?;
                let mut items = self.items();
                match items.iter().position(|v| v == &item) {
                    Some(i) => {
                        items.remove(i);
                        Ok(none)
                    }
                    None => Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("list.remove({item}): the item is not in the list"),
                    )),
                }
            }
            "index" => {
                let (item,): (Value,) = from_args(args)?;
                match self.items().iter().position(|v| v == &item) {
                    Some(i) => Ok(Value::from(i)),
                    None => Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("list.index({item}): the item is not in the list"),
                    )),
                }
            }
            "clear" => {
                self.items().clear();
                Ok(none)
            }
            "reverse" => {
                self.items().reverse();
                Ok(none)
            }
            "sort" => {
                let (kwargs,): (Kwargs,) = from_args(args)?;
                let reverse = kwargs.get::<Option<bool>>("reverse")?.unwrap_or(false);
                kwargs.assert_all_used()?;
                let mut items = self.items();
                items.sort();
                if reverse {
                    items.reverse();
                }
                Ok(none)
            }
            "copy" => Ok(PyList::value(self.items().clone())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        python_repr(&Value::from_dyn_object(self.clone()), f)
    }
}

/// A Python dict: shared by reference, mutable in place, in insertion order.
#[derive(Debug, Default)]
pub struct PyDict(Mutex<IndexMap<Value, Value>>);

impl PyDict {
    pub fn value(map: IndexMap<Value, Value>) -> Value {
        Value::from_object(PyDict(Mutex::new(map)))
    }

    fn from_mapping(value: &Value) -> Result<Value, Error> {
        Ok(PyDict::value(mapping_items(value)?.collect()))
    }

    fn map(&self) -> MutexGuard<'_, IndexMap<Value, Value>> {
        self.0.lock().expect("dict lock")
    }
}

/// The (key, value) pairs of a mapping.
fn mapping_items(value: &Value) -> Result<impl Iterator<Item = (Value, Value)>, Error> {
    if value.kind() != ValueKind::Map {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("expected a dict, got {}", value.kind()),
        ));
    }
    let pairs: Vec<(Value, Value)> = value
        .try_iter()?
        .map(|key| {
            let item = value.get_item(&key).unwrap_or_default();
            (key, item)
        })
        .collect();
    Ok(pairs.into_iter())
}

impl Object for PyDict {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.map().get(key).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.map().keys().cloned().collect())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.map().len())
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let none = Value::from(());
        match method {
            "update" => {
                let mut pairs = Vec::new();
                for arg in args {
                    if let Ok(kwargs) = Kwargs::try_from(arg.clone()) {
                        for key in kwargs.args() {
                            pairs.push((Value::from(key), kwargs.get::<Value>(key)?));
                        }
                    } else {
                        pairs.extend(mapping_items(arg)?);
                    }
                }
                self.map().extend(pairs);
                Ok(none)
            }
            "setdefault" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                let mut map = self.map();
                Ok(map.entry(key).or_insert(default.unwrap_or(none)).clone())
            }
            "pop" => {
                let (key, default): (Value, Option<Value>) = from_args(args)?;
                match (self.map().shift_remove(&key), default) {
                    (Some(value), _) => Ok(value),
                    (None, Some(default)) => Ok(default),
                    (None, None) => Err(Error::new(
                        ErrorKind::InvalidOperation,
                        format!("dict.pop({key}): no such key"),
                    )),
                }
            }
            "popitem" => match self.map().pop() {
                Some((k, v)) => Ok(Value::from(vec![k, v])),
                None => Err(Error::new(
                    ErrorKind::InvalidOperation,
                    "popitem(): dict is empty",
                )),
            },
            "clear" => {
                self.map().clear();
                Ok(none)
            }
            "copy" => Ok(PyDict::value(self.map().clone())),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        python_repr(&Value::from_dyn_object(self.clone()), f)
    }
}

/// Jinja2's `int` filter (dbt's): text or numbers to an integer, `"42.7"` to 42, and
/// `default` (0) for what is not a number, where minijinja's would fail.
pub fn int_filter(value: Value, default: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let default = default.or(kwargs.get("default")?).unwrap_or(Value::from(0));
    let base: u32 = kwargs.get::<Option<u32>>("base")?.unwrap_or(10);
    kwargs.assert_all_used()?;
    if !(2..=36).contains(&base) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "int: base must be 2 to 36",
        ));
    }
    if let Some(text) = value.as_str() {
        let text = text.trim().replace('_', "");
        if let Ok(i) = i64::from_str_radix(text.strip_prefix('+').unwrap_or(&text), base) {
            return Ok(Value::from(i));
        }
        return Ok(match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Value::from(f.trunc() as i64),
            _ => default,
        });
    }
    match value.kind() {
        ValueKind::Bool => Ok(Value::from(value.is_true() as i64)),
        ValueKind::Number => match i64::try_from(value.clone()) {
            Ok(i) => Ok(Value::from(i)),
            Err(_) => Ok(f64::try_from(value).map_or(default, |f| Value::from(f.trunc() as i64))),
        },
        _ => Ok(default),
    }
}

/// Jinja2's `float` filter: `default` (0.0) for what is not a number.
pub fn float_filter(value: Value, default: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let default = default
        .or(kwargs.get("default")?)
        .unwrap_or(Value::from(0.0));
    kwargs.assert_all_used()?;
    let number = match value.as_str() {
        Some(text) => text.trim().parse::<f64>().ok(),
        None if value.kind() == ValueKind::Bool => Some(value.is_true() as i64 as f64),
        None => f64::try_from(value).ok(),
    };
    Ok(number.map_or(default, Value::from))
}

/// `set(items, default=None)`: the distinct items, in first-seen order, compared as a set;
/// `default` when `items` is not iterable (dbt's `set`).
pub fn set_fn(
    items: Option<Value>,
    default: Option<Value>,
    kwargs: Kwargs,
) -> Result<Value, Error> {
    let default = default.or(kwargs.get("default")?);
    kwargs.assert_all_used()?;
    or_default(set_strict(items), default)
}

/// The forgiving form of a strict function's result (dbt's `set` and `zip`): `default`, else
/// `none`, where the strict one found its input not iterable.
pub(super) fn or_default(
    strict: Result<Value, Error>,
    default: Option<Value>,
) -> Result<Value, Error> {
    strict.or_else(|e| match e.kind() {
        ErrorKind::InvalidOperation => Ok(default.unwrap_or(Value::from(()))),
        _ => Err(e),
    })
}

/// `set_strict(items)`: as `set`, but an error when `items` is not iterable.
pub fn set_strict(items: Option<Value>) -> Result<Value, Error> {
    let mut set = Vec::new();
    if let Some(items) = items {
        for item in items.try_iter()? {
            if !set.contains(&item) {
                set.push(item);
            }
        }
    }
    Ok(Value::from_object(PySet(Mutex::new(set))))
}

/// A Python set: equal to another with the same items in any order; `add`, `update`,
/// `union`, `intersection`, `difference`, `issubset`, `issuperset`.
#[derive(Debug, Default)]
pub struct PySet(Mutex<Vec<Value>>);

impl PySet {
    fn items(&self) -> MutexGuard<'_, Vec<Value>> {
        self.0.lock().expect("set lock")
    }

    fn sorted(&self) -> Vec<Value> {
        let mut items = self.items().clone();
        items.sort();
        items
    }
}

impl Object for PySet {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Seq
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        self.items().get(key.as_usize()?).cloned()
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.items().clone())
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(self.items().len())
    }

    fn custom_cmp(
        self: &Arc<Self>,
        other: &minijinja::value::DynObject,
    ) -> Option<std::cmp::Ordering> {
        let other = other.downcast_ref::<PySet>()?;
        Some(self.sorted().cmp(&other.sorted()))
    }

    fn call_method(
        self: &Arc<Self>,
        _state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let other = || -> Result<Vec<Value>, Error> {
            let (items,): (Value,) = from_args(args)?;
            Ok(items.try_iter()?.collect())
        };
        let mine = self.items().clone();
        let set = |items: Vec<Value>| set_strict(Some(Value::from(items)));
        match method {
            "add" => {
                let (item,): (Value,) = from_args(args)?;
                let mut items = self.items();
                if !items.contains(&item) {
                    items.push(item);
                }
                Ok(Value::from(()))
            }
            "update" => {
                let more = other()?;
                let mut items = self.items();
                for item in more {
                    if !items.contains(&item) {
                        items.push(item);
                    }
                }
                Ok(Value::from(()))
            }
            "union" => set(mine.into_iter().chain(other()?).collect()),
            "intersection" => {
                let other = other()?;
                set(mine.into_iter().filter(|v| other.contains(v)).collect())
            }
            "difference" => {
                let other = other()?;
                set(mine.into_iter().filter(|v| !other.contains(v)).collect())
            }
            "issubset" => {
                let other = other()?;
                Ok(Value::from(mine.iter().all(|v| other.contains(v))))
            }
            "issuperset" => {
                let other = other()?;
                Ok(Value::from(other.iter().all(|v| mine.contains(v))))
            }
            "copy" => set(mine),
            _ => Err(Error::from(ErrorKind::UnknownMethod)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let items = self.items().clone();
        if items.is_empty() {
            return f.write_str("set()");
        }
        f.write_char('{')?;
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            python_repr(item, f)?;
        }
        f.write_char('}')
    }
}

/// A value as Python's `repr` writes it: `['a', 1, None]`, `{'k': True}`.
fn python_repr(value: &Value, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match value.kind() {
        ValueKind::Undefined | ValueKind::None => f.write_str("None"),
        ValueKind::Bool => f.write_str(if value.is_true() { "True" } else { "False" }),
        ValueKind::String => {
            let text = value.as_str().unwrap_or_default();
            f.write_char('\'')?;
            for c in text.chars() {
                match c {
                    '\'' => f.write_str("\\'")?,
                    '\\' => f.write_str("\\\\")?,
                    '\n' => f.write_str("\\n")?,
                    c => f.write_char(c)?,
                }
            }
            f.write_char('\'')
        }
        ValueKind::Seq => {
            f.write_char('[')?;
            for (i, item) in value.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                python_repr(&item, f)?;
            }
            f.write_char(']')
        }
        ValueKind::Map => {
            f.write_char('{')?;
            for (i, key) in value.try_iter().into_iter().flatten().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                python_repr(&key, f)?;
                f.write_str(": ")?;
                python_repr(&value.get_item(&key).unwrap_or_default(), f)?;
            }
            f.write_char('}')
        }
        _ => write!(f, "{value}"),
    }
}
