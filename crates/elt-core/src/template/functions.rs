//! The global functions of the template language: `ref`, `source`, `var`, `env_var`,
//! `is_incremental`, `doc`, `log`, `return`, and the callable wrapper around every macro.

use std::sync::Arc;

use minijinja::value::{Kwargs, Rest};
use minijinja::{Error, ErrorKind, State, Value};

use super::context::{NodeContext, Pass, RefCall, RelationValue, Resolver};
use crate::diagnostics::closest;

/// The error detail that unwinds a macro after `return()`; caught by [`super::macros::MacroFunction`].
pub(super) const RETURN_SIGNAL: &str = "\u{1}return";

/// Separates an error's message from the hint shown as its help (see [`split_hint`]).
const HINT: char = '\u{0}';

/// An error whose diagnostic shows `hint` as help.
fn hinted(kind: ErrorKind, message: String, hint: String) -> Error {
    Error::new(kind, format!("{message}{HINT}{hint}"))
}

/// Splits an error detail into its message and hint.
pub fn split_hint(detail: &str) -> (&str, Option<&str>) {
    match detail.split_once(HINT) {
        Some((message, hint)) => (message, Some(hint)),
        None => (detail, None),
    }
}

fn did_you_mean<'a>(
    wanted: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    otherwise: &str,
) -> String {
    closest(wanted, candidates)
        .map(|c| format!("did you mean '{c}'?"))
        .unwrap_or_else(|| otherwise.to_string())
}

pub fn ref_fn(state: &State, args: Rest<Value>) -> Result<Value, Error> {
    let ctx = NodeContext::of(state)?;
    let (positional, kwargs) = split_kwargs(&args);
    let version = kwargs
        .as_ref()
        .map(|k| {
            k.get::<Option<Value>>("version")
                .or_else(|_| k.get::<Option<Value>>("v"))
        })
        .transpose()?
        .flatten()
        .map(|v| v.to_string());
    let (package, name) = match positional.as_slice() {
        [name] => (None, name.to_string()),
        [package, name] => (Some(package.to_string()), name.to_string()),
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                "ref() takes a model name, or a package and a model name",
            ));
        }
    };
    resolve_ref(&ctx, name, package, version)
}

/// What `ref(name)` returns in a node's context, recording the dependency. Used by `ref()`
/// and directly for generic tests' `ref('x')` arguments.
pub fn resolve_ref(
    ctx: &Arc<NodeContext>,
    name: String,
    package: Option<String>,
    version: Option<String>,
) -> Result<Value, Error> {
    let resolver = &ctx.resolver;
    let Some(target) = resolver.find_ref(&name, package.as_deref(), &ctx.package) else {
        return Err(unresolved_ref(resolver, &name, package.as_deref()));
    };
    let index = {
        let mut record = ctx.record();
        let call = RefCall {
            name,
            package,
            version,
        };
        match record.refs.iter().position(|r| r == &call) {
            Some(i) => i,
            None => {
                record.refs.push(call);
                record.refs.len() - 1
            }
        }
    };
    if let Some(scope) = &ctx.unit_test {
        let name = &ctx.record().refs[index].name.clone();
        return scope.input(&format!("ref:{name}"), &format!("ref('{name}')"));
    }
    Ok(match (&target.relation, ctx.pass) {
        (Some(relation), Pass::Final) => RelationValue::resolved(relation.clone()),
        _ => RelationValue::placeholder(ctx, format!("R{index}")),
    })
}

/// The error for a `ref()` that points at nothing: a package that is not installed, or a name
/// no package has.
fn unresolved_ref(resolver: &Resolver, name: &str, package: Option<&str>) -> Error {
    let names = || resolver.refable.keys().map(String::as_str);
    let (message, hint) = match package {
        Some(package) if !is_installed(resolver, package) => (
            format!("ref('{package}', '{name}'): package '{package}' is not installed"),
            format!(
                "add it to packages.yml and run `elt deps`, or use ref('{name}') for a model of this project"
            ),
        ),
        Some(package) => {
            let in_package = resolver
                .refable
                .iter()
                .filter(|(_, targets)| targets.iter().any(|t| t.package == package))
                .map(|(n, _)| n.as_str());
            (
                format!(
                    "ref('{package}', '{name}'): package '{package}' has no model, seed or snapshot named '{name}'"
                ),
                did_you_mean(name, in_package, "check the name, or the package it is in"),
            )
        }
        None => (
            format!("ref('{name}') points at no model, seed or snapshot"),
            did_you_mean(name, names(), "create the model, or check the name"),
        ),
    };
    hinted(ErrorKind::InvalidOperation, message, hint)
}

/// Whether `package` is the root project or an installed package (with macros or nodes).
fn is_installed(resolver: &Resolver, package: &str) -> bool {
    package == resolver.project_name
        || resolver.macros.is_namespace(package)
        || resolver
            .refable
            .values()
            .flatten()
            .any(|t| t.package == package)
}

/// Splits trailing keyword arguments from positional ones.
fn split_kwargs(args: &[Value]) -> (Vec<Value>, Option<Kwargs>) {
    match args.split_last() {
        Some((last, rest)) if !last.is_undefined() => match Kwargs::try_from(last.clone()) {
            Ok(kwargs) => (rest.to_vec(), Some(kwargs)),
            Err(_) => (args.to_vec(), None),
        },
        _ => (args.to_vec(), None),
    }
}

pub fn source_fn(state: &State, source_name: String, table_name: String) -> Result<Value, Error> {
    resolve_source(&*NodeContext::of(state)?, source_name, table_name)
}

/// What `source(s, t)` returns in a node's context, recording the dependency.
pub fn resolve_source(
    ctx: &NodeContext,
    source_name: String,
    table_name: String,
) -> Result<Value, Error> {
    let key = (source_name.clone(), table_name.clone());
    let Some(target) = ctx.resolver.find_source(&key, &ctx.package) else {
        let known: Vec<String> = ctx
            .resolver
            .sources
            .keys()
            .map(|(s, t)| format!("{s}.{t}"))
            .collect();
        let wanted = format!("{source_name}.{table_name}");
        let hint = did_you_mean(
            &wanted,
            known.iter().map(String::as_str),
            "declare it under `sources:` in a properties YAML file",
        );
        return Err(hinted(
            ErrorKind::InvalidOperation,
            format!("source('{source_name}', '{table_name}') is not defined"),
            hint,
        ));
    };
    let mut record = ctx.record();
    if !record.sources.contains(&key) {
        record.sources.push(key);
    }
    if let Some(scope) = &ctx.unit_test {
        return scope.input(
            &format!("source:{source_name}.{table_name}"),
            &format!("source('{source_name}', '{table_name}')"),
        );
    }
    Ok(RelationValue::resolved(target.relation.clone()))
}

/// `var(name, default)`. A text value holding Jinja is rendered where it is read, as dbt
/// does (`max_depth: "{{ 4 if target.type == 'duckdb' else 9 }}"`).
pub fn var_fn(state: &State, name: String, default: Option<Value>) -> Result<Value, Error> {
    let ctx = NodeContext::of(state)?;
    let overridden = ctx
        .unit_test
        .as_ref()
        .and_then(|scope| scope.vars.get(&name));
    match (
        overridden.or(ctx.resolver.vars_of(&ctx.package).get(&name)),
        default,
    ) {
        (Some(serde_json::Value::String(text)), _) if super::is_templated(text) => {
            let rendered = state
                .env()
                .render_str(&super::prepare(text), ctx.render_root())?;
            Ok(Value::from(rendered))
        }
        (Some(value), _) => Ok(crate::template::json_value(value)),
        (None, Some(default)) => Ok(default),
        (None, None) => Err(hinted(
            ErrorKind::UndefinedError,
            format!("required var '{name}' is not set"),
            "define it under `vars:` in the project file, pass --vars, or give var() a default"
                .into(),
        )),
    }
}

pub fn env_var(state: &State, name: String, default: Option<Value>) -> Result<Value, Error> {
    let overridden = NodeContext::of(state).ok().and_then(|ctx| {
        let value = ctx.unit_test.as_ref()?.env_vars.get(&name)?.clone();
        Some(match value {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        })
    });
    match (
        overridden.ok_or(()).or_else(|()| std::env::var(&name)),
        default,
    ) {
        (Ok(value), _) => Ok(Value::from(value)),
        (Err(_), Some(default)) => Ok(default),
        (Err(_), None) => Err(hinted(
            ErrorKind::UndefinedError,
            format!("env var '{name}' is required but not set"),
            "set it, or give env_var() a default".into(),
        )),
    }
}

pub fn is_incremental(state: &State) -> Result<bool, Error> {
    Ok(NodeContext::of(state)?.is_incremental)
}

pub fn doc_fn(state: &State, name: String) -> Result<Value, Error> {
    let ctx = NodeContext::of(state)?;
    match ctx.resolver.docs.get(&name) {
        Some(text) => Ok(Value::from(text.clone())),
        None => {
            let hint = did_you_mean(
                &name,
                ctx.resolver.docs.keys().map(String::as_str),
                "define it in a .md file with {% docs name %}...{% enddocs %}",
            );
            Err(hinted(
                ErrorKind::InvalidOperation,
                format!("doc('{name}') is not defined"),
                hint,
            ))
        }
    }
}

/// `log(message, info=False)`: info messages are printed when the node runs (see
/// [`speaks`]); others go to the debug log.
pub fn log_fn(
    state: &State,
    message: Value,
    info: Option<bool>,
    kwargs: Kwargs,
) -> Result<String, Error> {
    let info = info.or(kwargs.get("info")?).unwrap_or(false);
    kwargs.assert_all_used()?;
    if info && speaks(state) {
        tracing::info!(target: "elt::log", "{message}");
    } else {
        tracing::debug!(target: "elt::log", "{message}");
    }
    Ok(String::new())
}

/// Whether a render prints what `print()` and `log(info=True)` say: when it runs against the
/// warehouse (a node run, a hook, `elt run-operation`), as dbt's do when its nodes run; not
/// while the whole project compiles, which every command does.
fn speaks(state: &State) -> bool {
    NodeContext::of(state).map_or(true, |ctx| ctx.warehouse.is_some())
}

/// `print(x)`: to standard output, as dbt's (so `elt run-operation ... > file` keeps it).
pub fn print_fn(state: &State, message: Value) -> String {
    if speaks(state) {
        println!("{message}");
    }
    String::new()
}

pub fn return_fn(state: &State, value: Option<Value>) -> Result<Value, Error> {
    NodeContext::of(state)?.set_return(value.unwrap_or(Value::from(())));
    Err(Error::new(ErrorKind::InvalidOperation, RETURN_SIGNAL))
}

pub fn local_md5(text: String) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(text.as_bytes()))
}

/// Whether an error is a `return()` that escaped every macro (used outside a macro).
pub fn is_stray_return(error: &Error) -> bool {
    error.detail() == Some(RETURN_SIGNAL)
}

/// `zip(a, b, ...)`: lists of the i-th items, as long as the shortest input; `default` (a
/// keyword argument) when an input is not iterable, as dbt's `zip`.
pub fn zip_fn(args: Rest<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let default: Option<Value> = kwargs.get("default")?;
    kwargs.assert_all_used()?;
    super::python::or_default(zip_strict(args), default)
}

/// `zip_strict(a, b, ...)`: as `zip`, but an error when an input is not iterable.
pub fn zip_strict(args: Rest<Value>) -> Result<Value, Error> {
    let lists: Vec<Vec<Value>> = args
        .iter()
        .map(|a| a.try_iter().map(|it| it.collect()))
        .collect::<Result<_, _>>()?;
    let len = lists.iter().map(Vec::len).min().unwrap_or(0);
    Ok(Value::from(
        (0..len)
            .map(|i| Value::from(lists.iter().map(|l| l[i].clone()).collect::<Vec<_>>()))
            .collect::<Vec<_>>(),
    ))
}

/// `diff_of_two_dicts(a, b)`: `a`'s lists without the items `b` has under the same key,
/// keys and items compared without case; keys left with nothing are dropped.
pub fn diff_of_two_dicts(a: Value, b: Value) -> Result<Value, Error> {
    let folded = |v: &Value| v.to_string().to_lowercase();
    let mut theirs = std::collections::HashMap::new();
    for key in b.try_iter()? {
        let items: Vec<String> = b.get_item(&key)?.try_iter()?.map(|v| folded(&v)).collect();
        theirs.insert(folded(&key), items);
    }
    let mut diff = indexmap::IndexMap::new();
    for key in a.try_iter()? {
        let items = a.get_item(&key)?;
        match theirs.get(&folded(&key)) {
            Some(other) => {
                let left: Vec<Value> = items
                    .try_iter()?
                    .filter(|v| !other.contains(&folded(v)))
                    .collect();
                if !left.is_empty() {
                    diff.insert(key, super::python::PyList::value(left));
                }
            }
            None => {
                diff.insert(key, items);
            }
        }
    }
    Ok(super::python::PyDict::value(diff))
}

/// `try_or_compiler_error(message, func, *args, **kwargs)`: `func`'s result, or a compiler
/// error saying `message` when it fails.
pub fn try_or_compiler_error(
    state: &mut State,
    message: String,
    func: Value,
    args: Rest<Value>,
) -> Result<Value, Error> {
    func.call(state, &args)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, message).with_source(e))
}
