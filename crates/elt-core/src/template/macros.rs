//! Macros by package, and how a name finds its macro, as in dbt:
//!
//! - a plain call (`star(...)`) inside a package's macro finds that package's own macro first,
//!   then the root project's, then elt's built-ins (dbt's internal `dbt` package);
//! - a package's name is the namespace of its macros (`dbt_utils.star(...)`), the root
//!   project's name and `dbt` included;
//! - `adapter.dispatch('x', 'ns')` tries `<adapter>__x`, then `default__x`, in each package of
//!   the namespace's `dispatch:` search order, by default the root project then the namespace.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use indexmap::IndexMap;
use minijinja::value::{Kwargs, Object, ObjectRepr};
use minijinja::{Error, ErrorKind, State, Value};

use super::context::{CONTEXT_KEY, NodeContext};
use super::functions::RETURN_SIGNAL;
use super::python::{PyDict, PyList};
use crate::adapter::Dialect;

/// The package of elt's built-in macros (what dbt keeps in its internal `dbt` package).
pub const BUILTIN_PACKAGE: &str = "elt";

/// Names under which templates reach the built-in macros.
const BUILTIN_NAMESPACES: [&str; 2] = ["dbt", "elt"];

/// The package a namespace names: `dbt` and `elt` name the built-ins.
fn canonical(namespace: &str) -> &str {
    if BUILTIN_NAMESPACES.contains(&namespace) {
        BUILTIN_PACKAGE
    } else {
        namespace
    }
}

/// The state key that names the package whose macro is rendering (absent: the root project).
const PACKAGE_KEY: &str = "__elt_package";

/// Every macro, by package and name.
#[derive(Debug, Default, Clone)]
pub struct MacroTable {
    /// The root project's name.
    pub root: String,
    packages: HashMap<String, HashMap<String, Value>>,
    /// `dispatch:` search orders from the root project file, by macro namespace.
    dispatch: Vec<(String, Vec<String>)>,
}

impl MacroTable {
    pub fn new(root: &str, dispatch: Vec<(String, Vec<String>)>) -> Self {
        MacroTable {
            root: root.to_string(),
            packages: HashMap::new(),
            dispatch,
        }
    }

    /// Adds (or replaces) a macro of a package.
    pub fn insert(&mut self, package: &str, name: &str, value: Value) {
        self.packages
            .entry(package.to_string())
            .or_default()
            .insert(name.to_string(), value);
    }

    /// The macro `name` of `package` (`dbt` and `elt` name the built-ins).
    pub fn get(&self, package: &str, name: &str) -> Option<&Value> {
        self.packages.get(canonical(package))?.get(name)
    }

    /// Whether `name` is a macro namespace: an installed package, the root project or `dbt`.
    pub fn is_namespace(&self, name: &str) -> bool {
        BUILTIN_NAMESPACES.contains(&name) || self.packages.contains_key(name)
    }

    /// Whether the root project defines `name`.
    pub fn in_root(&self, name: &str) -> bool {
        self.get(&self.root, name).is_some()
    }

    /// Whether the root project overrides `name`, directly or for a dispatch (`default__name`,
    /// `<adapter>__name`).
    pub fn root_overrides(&self, name: &str, dialect: Dialect) -> bool {
        self.in_root(name)
            || self.in_root(&format!("default__{name}"))
            || self.in_root(&format!("{}__{name}", dialect.name()))
    }

    /// What a plain name calls from a macro of `package`: its own, the root's, a built-in.
    pub fn unqualified(&self, package: Option<&str>, name: &str) -> Option<&Value> {
        package
            .and_then(|p| self.get(p, name))
            .or_else(|| self.get(&self.root, name))
            .or_else(|| self.get(BUILTIN_PACKAGE, name))
    }

    /// A generic test's macro `test_<name>` for a test of package `from` (see [`Self::find`]).
    pub fn test_macro(
        &self,
        namespace: Option<&str>,
        name: &str,
        from: &str,
    ) -> Option<(String, &Value)> {
        self.find(namespace, &format!("test_{name}"), from)
    }

    /// A macro named from outside any template (a generic test, `elt run-operation`): the
    /// namespace's, or for a plain name the root project's, then `from`'s, then any
    /// package's (in name order), then the built-in. Returns its package too.
    pub fn find(
        &self,
        namespace: Option<&str>,
        name: &str,
        from: &str,
    ) -> Option<(String, &Value)> {
        if let Some(ns) = namespace {
            let package = canonical(ns);
            return self.get(package, name).map(|v| (package.to_string(), v));
        }
        let mut packages: Vec<&str> = self
            .packages
            .keys()
            .map(String::as_str)
            .filter(|p| *p != self.root && *p != BUILTIN_PACKAGE)
            .collect();
        packages.sort();
        [self.root.as_str(), from]
            .into_iter()
            .chain(packages)
            .chain([BUILTIN_PACKAGE])
            .find_map(|p| self.get(p, name).map(|v| (p.to_string(), v)))
    }

    /// Every macro's name, for "did you mean".
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.packages
            .values()
            .flat_map(|macros| macros.keys().map(String::as_str))
    }

    /// The names of every generic test, for "did you mean".
    pub fn test_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .packages
            .iter()
            .flat_map(|(package, macros)| {
                macros.keys().filter_map(move |m| {
                    let test = m.strip_prefix("test_")?;
                    Some(if package == BUILTIN_PACKAGE || *package == self.root {
                        test.to_string()
                    } else {
                        format!("{package}.{test}")
                    })
                })
            })
            .collect();
        names.sort();
        names.dedup();
        names
    }

    /// The packages `adapter.dispatch` searches for a namespace (`None`: a plain lookup).
    fn search_order(&self, namespace: Option<&str>) -> Vec<Option<String>> {
        let Some(ns) = namespace else {
            return vec![None];
        };
        if let Some((_, order)) = self.dispatch.iter().find(|(n, _)| n == ns) {
            return order.iter().cloned().map(Some).collect();
        }
        if self.is_namespace(ns) {
            vec![Some(self.root.clone()), Some(ns.to_string())]
        } else {
            vec![Some(ns.to_string())]
        }
    }

    /// The macro `adapter.dispatch(name, namespace)` resolves to, called from a macro of
    /// `package`, with the names it tried (for the error when none is found).
    pub fn dispatch(
        &self,
        dialect: Dialect,
        name: &str,
        namespace: Option<&str>,
        package: Option<&str>,
    ) -> Result<&Value, Vec<String>> {
        let mut tried = Vec::new();
        for searched in self.search_order(namespace) {
            for prefix in [dialect.name(), "default"] {
                let candidate = format!("{prefix}__{name}");
                let found = match &searched {
                    Some(p) => self.get(p, &candidate),
                    None => self.unqualified(package, &candidate),
                };
                if let Some(found) = found {
                    return Ok(found);
                }
                tried.push(match &searched {
                    Some(p) => format!("{p}.{candidate}"),
                    None => candidate,
                });
            }
        }
        Err(tried)
    }
}

/// An error from inside a macro called as a method (`dbt_utils.star(...)`). A missing method
/// in there must not read as this method missing, which minijinja would report instead: it
/// is wrapped, and [`innermost`] finds it again for its location.
fn shielded(error: Error) -> Error {
    if error.kind() != ErrorKind::UnknownMethod {
        return error;
    }
    let detail = error.detail().unwrap_or("unknown method").to_string();
    Error::new(ErrorKind::InvalidOperation, detail).with_source(error)
}

/// The innermost template error wrapped by [`shielded`], where the problem really is.
pub fn innermost(error: &Error) -> &Error {
    let mut found = error;
    let mut current: &dyn std::error::Error = error;
    while let Some(source) = current.source() {
        if let Some(inner) = source.downcast_ref::<Error>()
            && inner.line().is_some()
        {
            found = inner;
        }
        current = source;
    }
    found
}

/// The package whose macro the state is rendering; `None` for the root project (and for
/// nodes, which render in the root's scope).
pub fn current_package(state: &State) -> Option<String> {
    state
        .lookup(PACKAGE_KEY)
        .and_then(|v| v.as_str().map(str::to_string))
}

/// A macro callable from any template. Each call evaluates the macro's own template in a new
/// state that shares the caller's node context, so `return()` ends exactly this macro; a
/// package's macro renders in its package's scope.
#[derive(Debug)]
pub struct MacroFunction {
    /// The template holding only this macro.
    pub template: String,
    pub name: String,
    /// The arguments it declares, read on its first call; others are its `varargs` and
    /// `kwargs`.
    pub arguments: OnceLock<Vec<String>>,
    pub package: String,
    /// `macro.<package>.<name>`, recorded in the calling node's `depends_on.macros`.
    pub unique_id: String,
    /// Whether plain names inside it resolve in its package first (not the root or built-ins).
    pub scoped: bool,
}

impl Object for MacroFunction {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn call(self: &Arc<Self>, state: &mut State<'_, '_>, args: &[Value]) -> Result<Value, Error> {
        let ctx = NodeContext::of(state)?;
        ctx.record().macros.insert(self.unique_id.clone());
        let template = state.env().get_template(&self.template)?;
        let scope = if self.scoped {
            package_scope(ctx.clone(), self.package.clone())
        } else {
            Value::from_dyn_object(ctx.clone())
        };
        // Jinja binds `varargs` and `kwargs` when the macro is defined, so before rendering.
        let declared = self
            .arguments
            .get_or_init(|| declared_arguments(state.env(), &self.template, &self.name));
        let (args, extra) = split_extra_arguments(args, declared)?;
        let root = Value::from_object(CallScope { scope, extra });
        let mut captured = template.render_captured(root)?;
        let result =
            captured.with_state_mut(|macro_state| macro_state.call_macro(&self.name, &args));
        match result {
            Ok(output) => Ok(Value::from_safe_string(output)),
            Err(e) if e.detail() == Some(RETURN_SIGNAL) => {
                Ok(ctx.take_return().unwrap_or_default())
            }
            Err(e) => Err(e),
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "name" => Some(Value::from(self.name.clone())),
            "package_name" => Some(Value::from(self.package.clone())),
            _ => None,
        }
    }
}

/// The arguments a macro template's macro declares (rendering the template only defines it).
fn declared_arguments(env: &minijinja::Environment, template: &str, name: &str) -> Vec<String> {
    let captured = env
        .get_template(template)
        .and_then(|t| t.render_captured(()));
    let Ok(captured) = captured else {
        return Vec::new();
    };
    captured
        .state()
        .lookup(name)
        .and_then(|m| m.get_attr("arguments").ok())
        .and_then(|a| {
            a.try_iter()
                .ok()
                .map(|it| it.map(|v| v.to_string()).collect())
        })
        .unwrap_or_default()
}

/// Arguments a macro does not declare, which Jinja gives it as `varargs` and `kwargs`.
type ExtraArguments = (Vec<Value>, IndexMap<Value, Value>);

/// Splits a call's arguments into those the macro declares and the rest, as Jinja does: extra
/// positional values are `varargs`, extra keywords `kwargs`.
fn split_extra_arguments(
    args: &[Value],
    names: &[String],
) -> Result<(Vec<Value>, ExtraArguments), Error> {
    let (positional, kwargs) = match args.split_last() {
        Some((last, rest)) if last.is_kwargs() => (rest, Some(Kwargs::try_from(last.clone())?)),
        _ => (args, None),
    };
    let mut kept: Vec<Value> = positional.iter().take(names.len()).cloned().collect();
    let varargs: Vec<Value> = positional.iter().skip(names.len()).cloned().collect();
    let mut extra_kwargs = IndexMap::new();
    if let Some(kwargs) = kwargs {
        let mut declared_kwargs = Vec::new();
        for key in kwargs.args() {
            let value: Value = kwargs.get(key)?;
            if names.iter().any(|n| n == key) || key == "caller" {
                declared_kwargs.push((key.to_string(), value));
            } else {
                extra_kwargs.insert(Value::from(key), value);
            }
        }
        if !declared_kwargs.is_empty() {
            kept.push(Kwargs::from_iter(declared_kwargs).into());
        }
    }
    Ok((kept, (varargs, extra_kwargs)))
}

/// The root of one macro call: `varargs` and `kwargs`, then the scope it renders in.
#[derive(Debug)]
struct CallScope {
    scope: Value,
    extra: ExtraArguments,
}

impl Object for CallScope {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "varargs" => Some(PyList::value(self.extra.0.clone())),
            "kwargs" => Some(PyDict::value(self.extra.1.clone())),
            _ => self.scope.get_item(key).ok().filter(|v| !v.is_undefined()),
        }
    }
}

/// The root of a render in a package's scope: the package's own macros, then the node context.
pub fn package_scope(ctx: Arc<NodeContext>, package: String) -> Value {
    Value::from_object(PackageScope { ctx, package })
}

/// The root of a package macro's render: the package's own macros, then the node context.
#[derive(Debug)]
struct PackageScope {
    ctx: Arc<NodeContext>,
    package: String,
}

impl Object for PackageScope {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let name = key.as_str()?;
        if name == PACKAGE_KEY {
            return Some(Value::from(self.package.clone()));
        }
        if name != CONTEXT_KEY
            && let Some(found) = self.ctx.resolver.macros.get(&self.package, name)
        {
            return Some(found.clone());
        }
        self.ctx.get_value(key)
    }
}

/// `dbt_utils.star(...)`, `dbt.concat(...)`, `my_project.my_macro()`: a macro called through
/// its package's name.
#[derive(Debug)]
pub struct MacroNamespace(pub String);

impl Object for MacroNamespace {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Plain
    }

    fn get_value(self: &Arc<Self>, _key: &Value) -> Option<Value> {
        None
    }

    fn call_method(
        self: &Arc<Self>,
        state: &mut State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        let ctx = NodeContext::of(state)?;
        if let Some(value) = ctx
            .unit_test
            .as_ref()
            .and_then(|s| s.macro_override(&self.0, method))
        {
            return Ok(value);
        }
        let found = ctx.resolver.macros.get(&self.0, method).cloned();
        match found {
            Some(found) => found.call(state, args).map_err(shielded),
            None => Err(Error::new(
                ErrorKind::UnknownFunction,
                format!("package '{}' has no macro named '{method}'", self.0),
            )),
        }
    }

    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
