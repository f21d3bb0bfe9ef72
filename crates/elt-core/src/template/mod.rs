//! Stage 2: render Jinja. One minijinja environment per compile holds every macro (built-ins
//! first, then the project's, which override them) and the global functions; each node renders
//! against its own [`NodeContext`].

pub mod arithmetic;
pub mod blocks;
pub mod context;
pub mod formats;
pub mod functions;
pub mod introspect;
mod macro_defaults;
pub mod macros;
pub mod modules;
pub mod python;
mod walk;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::{Environment, Error, ErrorKind, Value};

pub use context::{
    NodeContext, Pass, RefCall, RelationValue, RenderRecord, Resolver, UnitTestScope,
};
pub use macros::{BUILTIN_PACKAGE, MacroTable};

use crate::diagnostics::{Diagnostic, line_col};
use crate::project::files::ProjectFile;

/// The template that calls the generic test macro `macro_name` (e.g. `test_unique`) of
/// `package` with the context variables `__elt_attached` (the tested relation) and
/// `_dbt_generic_test_kwargs`.
pub fn test_call_template(package: &str, macro_name: &str) -> String {
    format!("<elt>/call/{package}.{macro_name}")
}

/// A template value from anything serializable (JSON configs, vars, ...): lists and dicts are
/// Python's, mutable, as dbt's are (see [`python`]).
pub fn json_value<T: serde::Serialize>(value: T) -> Value {
    match serde_json::to_value(value) {
        Ok(json) => python::from_json(&json),
        Err(_) => Value::UNDEFINED,
    }
}

/// Whether a text holds Jinja (`{{ ... }}` or `{% ... %}`); other text renders as itself.
pub fn is_templated(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// A template's text as the environment compiles it: date arithmetic and list and dict
/// literals made what dbt's Jinja has (see [`arithmetic`] and [`python`]).
fn prepare(source: &str) -> std::borrow::Cow<'_, str> {
    match arithmetic::date_arithmetic(source) {
        std::borrow::Cow::Borrowed(source) => python::mutable_literals(source),
        std::borrow::Cow::Owned(rewritten) => {
            std::borrow::Cow::Owned(python::mutable_literals(&rewritten).into_owned())
        }
    }
}

/// The file the built-in macros are reported under.
pub const BUILTIN_MACROS_PATH: &str = "<elt>/builtins.sql";
const BUILTIN_MACROS: &str = include_str!("builtins.sql");

/// A macro known to the environment, for the manifest and for dispatch.
#[derive(Debug, Clone)]
pub struct MacroDef {
    pub name: String,
    /// `elt` for built-ins, else the name of the project or package that defines it.
    pub package: String,
    pub path: PathBuf,
    pub line: u32,
    /// The macro's source, as written.
    pub source: String,
}

/// The template environment of one compile.
pub struct Renderer {
    pub env: Environment<'static>,
    pub macros: Vec<MacroDef>,
    /// The same macros as callables, by package and name.
    pub table: MacroTable,
    /// Macro template name -> the file and text it came from (for error locations).
    template_files: HashMap<String, (PathBuf, Arc<str>)>,
}

impl Renderer {
    /// Builds the environment with the built-in macros, each package's macro files and the
    /// root project's (`packages` holds the macro files of each installed package).
    pub fn new(
        project_name: &str,
        macro_files: &[ProjectFile],
        packages: &[(&str, &[ProjectFile])],
        dispatch: Vec<(String, Vec<String>)>,
    ) -> Result<Self, Vec<Diagnostic>> {
        let mut env = Environment::new();
        // SQL is never escaped; minijinja would escape as JSON in templates named `*.yml`
        // (a project file's hooks), quoting every value.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.set_unknown_method_callback(|state, value, method, args| {
            if value.is_undefined() {
                // Told apart by its kind: see `undefined_namespace`.
                return Err(Error::new(
                    ErrorKind::UndefinedError,
                    format!("a method ({method}) was called on an undefined value"),
                ));
            }
            if let Some(error) = python::immutable_error(value, method) {
                return Err(error);
            }
            minijinja_contrib::pycompat::unknown_method_callback(state, value, method, args)
        });
        env.add_function(python::LIST_FN, python::list_fn);
        env.add_function(arithmetic::ADD_FN, modules::date_add);
        env.add_function(arithmetic::SUB_FN, modules::date_sub);
        env.add_function(python::DICT_FN, python::dict_fn);
        env.add_function("dict", python::dict_global);
        env.add_filter("list", python::list_filter);
        env.add_filter("int", python::int_filter);
        env.add_filter("float", python::float_filter);
        env.set_recursion_limit(200);
        env.add_function("ref", functions::ref_fn);
        env.add_function("source", functions::source_fn);
        env.add_function("var", functions::var_fn);
        env.add_function("env_var", functions::env_var);
        env.add_function("is_incremental", functions::is_incremental);
        env.add_function("doc", functions::doc_fn);
        env.add_function("log", functions::log_fn);
        env.add_function("print", functions::print_fn);
        env.add_function("return", functions::return_fn);
        env.add_function("tojson", formats::tojson);
        env.add_function("fromjson", formats::fromjson);
        env.add_function("toyaml", formats::toyaml);
        env.add_function("fromyaml", formats::fromyaml);
        env.add_function("local_md5", functions::local_md5);
        env.add_function("zip", functions::zip_fn);
        env.add_function("zip_strict", functions::zip_strict);
        env.add_function("set", python::set_fn);
        env.add_function("set_strict", python::set_strict);
        env.add_function("diff_of_two_dicts", functions::diff_of_two_dicts);
        env.add_function("try_or_compiler_error", functions::try_or_compiler_error);
        env.add_function("store_result", introspect::store_result);
        env.add_function("store_raw_result", introspect::store_raw_result);
        env.add_function("run_query", introspect::run_query);
        env.add_global("statement", Value::from_object(introspect::Statement));
        env.add_function("load_result", introspect::load_result);
        env.add_function("load_relation", introspect::load_relation_fn);
        env.add_filter("as_text", |v: Value| v.to_string());
        env.add_filter("as_bool", |v: Value| v.is_true());
        env.add_filter("as_number", |v: Value| v);
        env.add_filter("as_native", |v: Value| v);

        let mut renderer = Renderer {
            env,
            macros: Vec::new(),
            table: MacroTable::new(project_name, dispatch),
            template_files: HashMap::new(),
        };
        let mut errors = Vec::new();
        let builtins = ProjectFile {
            path: BUILTIN_MACROS_PATH.into(),
            resource_relative: BUILTIN_MACROS_PATH.into(),
            contents: BUILTIN_MACROS.into(),
            checksum: String::new(),
        };
        let files = std::iter::once((BUILTIN_PACKAGE, std::slice::from_ref(&builtins)))
            .chain(packages.iter().copied())
            .chain(std::iter::once((project_name, macro_files)));
        for (package, files) in files {
            for file in files {
                if let Err(mut e) = renderer.add_macro_file(file, package) {
                    errors.append(&mut e);
                }
            }
        }
        if errors.is_empty() {
            Ok(renderer)
        } else {
            Err(errors)
        }
    }

    /// Registers every `{% macro %}` and `{% test %}` of a file, each as its own template.
    fn add_macro_file(&mut self, file: &ProjectFile, package: &str) -> Result<(), Vec<Diagnostic>> {
        let text: Arc<str> = Arc::from(file.contents.as_str());
        let blocks = blocks::find_blocks(&text, &["macro", "test"]).map_err(|e| {
            vec![
                Diagnostic::error(e.message)
                    .at_source(&file.path, &text, e.line, e.col)
                    .with_help(e.help),
            ]
        })?;
        let mut errors = Vec::new();
        for block in blocks {
            let (name, source) = if block.kind == "test" {
                (
                    format!("test_{}", block.name),
                    blocks::test_as_macro(&block),
                )
            } else {
                (block.name.clone(), block.full.clone())
            };
            let template_name = format!("{}#{name}", file.path.display());
            self.template_files
                .insert(template_name.clone(), (file.path.clone(), text.clone()));
            let source = macro_defaults::late_defaults(&source);
            let padded = prepare(&blocks::at_line(&source, block.line)).into_owned();
            if let Err(e) = self.env.add_template_owned(template_name.clone(), padded) {
                errors.push(self.diagnostic(&e, &file.path, &text, &format!("macro '{name}'")));
                continue;
            }
            let global = package == BUILTIN_PACKAGE || package == self.table.root;
            if name.starts_with("test_") {
                // How a generic test node calls its macro; compiled once, rendered per test.
                let callee = if global {
                    name.clone()
                } else {
                    format!("{package}.{name}")
                };
                let call = format!(
                    "{{{{ {callee}(model=get_where_subquery(__elt_attached), **_dbt_generic_test_kwargs) }}}}"
                );
                let call_name = test_call_template(package, &name);
                if let Err(e) = self.env.add_template_owned(call_name, call) {
                    errors.push(self.diagnostic(&e, &file.path, &text, &format!("test '{name}'")));
                }
            }
            let value = Value::from_object(macros::MacroFunction {
                template: template_name,
                name: name.clone(),
                arguments: Default::default(),
                package: package.to_string(),
                unique_id: format!("macro.{package}.{name}"),
                scoped: !global,
            });
            if global {
                // Plain names find the root project's macros, then the built-ins.
                self.env.add_global(name.clone(), value.clone());
            }
            self.table.insert(package, &name, value);
            self.macros
                .retain(|m| m.name != name || m.package != package);
            self.macros.push(MacroDef {
                name,
                package: package.to_string(),
                path: file.path.clone(),
                line: block.line,
                source: block.full,
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }

    /// Renders a node's SQL. `file` and `source` locate errors raised in the node's own text.
    pub fn render(
        &self,
        file: &Path,
        source: &str,
        ctx: &Arc<NodeContext>,
        what: &str,
    ) -> Result<String, Diagnostic> {
        let name = file.display().to_string();
        self.env
            .render_named_str(&name, &prepare(source), ctx.render_root())
            .map_err(|e| self.diagnostic(&e, file, source, what))
    }

    /// Renders a template text that is not a file (a config value, a description).
    pub fn render_str(&self, text: &str, ctx: &Arc<NodeContext>) -> Result<String, Error> {
        self.env.render_str(&prepare(text), ctx.render_root())
    }

    /// Renders a template registered in the environment (such as a test call).
    pub fn render_registered(&self, name: &str, ctx: &Arc<NodeContext>) -> Result<String, Error> {
        self.env.get_template(name)?.render(ctx.render_root())
    }

    /// Evaluates an expression such as `ref('customers')` in a node's context.
    pub fn eval(&self, expression: &str, ctx: &Arc<NodeContext>) -> Result<Value, Error> {
        self.env
            .compile_expression_owned(
                python::mutable_literals_in_expression(expression).into_owned(),
            )?
            .eval(ctx.render_root())
    }

    /// Turns a template error into a diagnostic at the right file and line.
    pub fn diagnostic(&self, error: &Error, file: &Path, source: &str, what: &str) -> Diagnostic {
        let error = macros::innermost(error);
        let (path, text): (&Path, &str) =
            match error.name().and_then(|n| self.template_files.get(n)) {
                Some((path, text)) => (path, text),
                None => (file, source),
            };
        let (message, hint) = match undefined_namespace(error, text) {
            Some(name) => (
                format!("'{name}' is not defined, so '{name}.…' calls nothing (in {what})"),
                Some(format!(
                    "if {name} is a package, add it to packages.yml and run `elt deps`; installed packages are in dbt_packages/"
                )),
            ),
            None => describe(error, what),
        };
        let mut diagnostic = Diagnostic::error(message);
        let line = error.line().unwrap_or(0);
        let line = introspect::statement_line(error, text, line).unwrap_or(line) as u32;
        if line > 0 {
            let col = error
                .range()
                .filter(|r| r.start <= text.len())
                .map(|r| line_col(text, r.start))
                .filter(|(l, _)| *l == line)
                .map_or(0, |(_, c)| c);
            diagnostic = diagnostic.at_source(path, text, line, col);
        } else {
            diagnostic = diagnostic.at(path, 0, 0);
        }
        if let Some(help) = hint.or_else(|| help_for(error)) {
            diagnostic = diagnostic.with_help(help);
        }
        if path != file {
            diagnostic =
                diagnostic.with_note(format!("while rendering {what} ({})", file.display()));
        }
        diagnostic
    }
}

/// The name before `.method(` when a method was called on an undefined name, such as a
/// package that is not installed (`dbt_date.get_date_dimension(...)`): the error's range
/// starts at the dot.
fn undefined_namespace<'a>(error: &Error, text: &'a str) -> Option<&'a str> {
    if error.kind() != ErrorKind::UndefinedError {
        return None;
    }
    let start = error.range()?.start;
    let before = text.get(..start)?;
    if !text.get(start..)?.starts_with('.') {
        return None;
    }
    let name_start = before
        .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .map_or(0, |i| i + 1);
    let name = &before[name_start..];
    (!name.is_empty() && !name.starts_with(|c: char| c.is_ascii_digit())).then_some(name)
}

/// The message for a template error, and the hint it carries.
fn describe(error: &Error, what: &str) -> (String, Option<String>) {
    if functions::is_stray_return(error) {
        return (format!("return() used outside a macro in {what}"), None);
    }
    let (detail, hint) = functions::split_hint(error.detail().unwrap_or(""));
    let hint = hint.map(str::to_string);
    if let Some(message) = detail.strip_prefix(context::COMPILER_ERROR) {
        return (format!("compilation error in {what}: {message}"), hint);
    }
    let message = match error.kind() {
        ErrorKind::SyntaxError => format!("Jinja syntax error in {what}: {detail}"),
        ErrorKind::UnknownFunction => format!("unknown macro or function in {what}: {detail}"),
        ErrorKind::UndefinedError if detail.is_empty() => format!("undefined value used in {what}"),
        ErrorKind::TemplateNotFound => {
            format!("{what} includes a template that does not exist: {detail}")
        }
        _ if detail.is_empty() => format!("{} in {what}", error.kind()),
        _ => format!("{detail} (in {what})"),
    };
    (message, hint)
}

fn help_for(error: &Error) -> Option<String> {
    match error.kind() {
        ErrorKind::SyntaxError => {
            Some("check that every {{ }}, {% %} and block tag is closed and matched".into())
        }
        ErrorKind::UnknownFunction => {
            Some("define the macro in a file under macros/, or check its spelling".into())
        }
        _ => None,
    }
}
