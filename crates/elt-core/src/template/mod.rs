//! Stage 2: render Jinja. One minijinja environment per compile holds every macro (built-ins
//! first, then the project's, which override them) and the global functions; each node renders
//! against its own [`NodeContext`].

pub mod blocks;
pub mod context;
pub mod functions;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use minijinja::{Environment, Error, ErrorKind, Value};

pub use context::{NodeContext, Pass, RefCall, RelationValue, RenderRecord, Resolver};

use crate::diagnostics::{Diagnostic, line_col};
use crate::project::files::ProjectFile;

/// The template that calls the generic test macro `macro_name` (e.g. `test_unique`) with the
/// context variables `__elt_attached` (the tested relation) and `_dbt_generic_test_kwargs`.
pub fn test_call_template(macro_name: &str) -> String {
    format!("<elt>/call/{macro_name}")
}

/// A template value from anything serializable (JSON configs, vars, ...).
pub fn json_value<T: serde::Serialize>(value: T) -> Value {
    Value::from(minijinja::value::Serde(value))
}

/// The file the built-in macros are reported under.
pub const BUILTIN_MACROS_PATH: &str = "<elt>/builtins.sql";
const BUILTIN_MACROS: &str = include_str!("builtins.sql");

/// A macro known to the environment, for the manifest and for dispatch.
#[derive(Debug, Clone)]
pub struct MacroDef {
    pub name: String,
    /// `elt` for built-ins, the project name for the project's macros.
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
    /// Macro template name -> the file and text it came from (for error locations).
    template_files: HashMap<String, (PathBuf, Arc<str>)>,
}

impl Renderer {
    /// Builds the environment with the built-in macros and the project's macro files.
    pub fn new(project_name: &str, macro_files: &[ProjectFile]) -> Result<Self, Vec<Diagnostic>> {
        let mut env = Environment::new();
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
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
        env.add_function("tojson", functions::tojson);
        env.add_function("fromjson", functions::fromjson);
        env.add_function("local_md5", functions::local_md5);
        env.add_function("zip", functions::zip_fn);
        env.add_function("set", functions::set_fn);
        env.add_filter("as_text", |v: Value| v.to_string());
        env.add_filter("as_bool", |v: Value| v.is_true());
        env.add_filter("as_number", |v: Value| v);
        env.add_filter("as_native", |v: Value| v);

        let mut renderer = Renderer {
            env,
            macros: Vec::new(),
            template_files: HashMap::new(),
        };
        let mut errors = Vec::new();
        let builtins = ProjectFile {
            path: BUILTIN_MACROS_PATH.into(),
            resource_relative: BUILTIN_MACROS_PATH.into(),
            contents: BUILTIN_MACROS.into(),
            checksum: String::new(),
        };
        if let Err(mut e) = renderer.add_macro_file(&builtins, "elt") {
            errors.append(&mut e);
        }
        for file in macro_files {
            if let Err(mut e) = renderer.add_macro_file(file, project_name) {
                errors.append(&mut e);
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
            let padded = blocks::at_line(&source, block.line);
            if let Err(e) = self.env.add_template_owned(template_name.clone(), padded) {
                errors.push(self.diagnostic(&e, &file.path, &text, &format!("macro '{name}'")));
                continue;
            }
            if block.kind == "test" {
                // How a generic test node calls its macro; compiled once, rendered per test.
                let call = format!(
                    "{{{{ {name}(model=get_where_subquery(__elt_attached), **_dbt_generic_test_kwargs) }}}}"
                );
                if let Err(e) = self.env.add_template_owned(test_call_template(&name), call) {
                    errors.push(self.diagnostic(&e, &file.path, &text, &format!("test '{name}'")));
                }
            }
            self.env.add_global(
                name.clone(),
                Value::from_object(functions::MacroFunction {
                    template: template_name,
                    name: name.clone(),
                }),
            );
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

    /// Every macro as a callable value, by name (project macros override built-ins).
    pub fn macro_values(&self) -> HashMap<String, Value> {
        self.env
            .globals()
            .filter(|(_, v)| {
                v.downcast_object_ref::<functions::MacroFunction>()
                    .is_some()
            })
            .map(|(k, v)| (k.to_string(), v))
            .collect()
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
            .render_named_str(&name, source, Value::from_dyn_object(ctx.clone()))
            .map_err(|e| self.diagnostic(&e, file, source, what))
    }

    /// Renders a template registered in the environment (such as a test call).
    pub fn render_registered(&self, name: &str, ctx: &Arc<NodeContext>) -> Result<String, Error> {
        self.env
            .get_template(name)?
            .render(Value::from_dyn_object(ctx.clone()))
    }

    /// Evaluates an expression such as `ref('customers')` in a node's context.
    pub fn eval(&self, expression: &str, ctx: &Arc<NodeContext>) -> Result<Value, Error> {
        self.env
            .compile_expression_owned(expression.to_string())?
            .eval(Value::from_dyn_object(ctx.clone()))
    }

    /// Turns a template error into a diagnostic at the right file and line.
    pub fn diagnostic(&self, error: &Error, file: &Path, source: &str, what: &str) -> Diagnostic {
        let (path, text): (&Path, &str) =
            match error.name().and_then(|n| self.template_files.get(n)) {
                Some((path, text)) => (path, text),
                None => (file, source),
            };
        let (message, hint) = describe(error, what);
        let mut diagnostic = Diagnostic::error(message);
        let line = error.line().unwrap_or(0) as u32;
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
