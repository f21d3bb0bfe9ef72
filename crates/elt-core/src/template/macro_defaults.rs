//! Macro argument defaults that name earlier arguments: `{% macro f(schema_name,
//! name=schema_name) %}`. Jinja2 evaluates each default once the arguments before it are
//! bound; minijinja evaluates them before binding any, so `name` would be undefined. Such a
//! default moves into the macro's body, where the earlier arguments are known, leaving a name
//! nothing defines (so undefined) in its place:
//! `{% macro f(schema_name, name=__elt_unset) %}{% set name = (schema_name) if name is
//! undefined else name %}`. Lines are unchanged.

use std::borrow::Cow;

use minijinja::machinery::ast::{Expr, Stmt};
use minijinja::machinery::parse;
use minijinja::syntax::SyntaxConfig;

use super::walk::walk_expr;

/// Never defined: an argument's default that is undefined.
const UNSET: &str = "__elt_unset";

/// Rewrites a `{% macro %}` block whose defaults name earlier arguments; other text is
/// returned as is.
pub fn late_defaults(source: &str) -> Cow<'_, str> {
    let Ok(Stmt::Template(template)) = parse(source, "<macro>", SyntaxConfig::default()) else {
        return Cow::Borrowed(source);
    };
    let Some(Stmt::Macro(decl)) = template
        .children
        .iter()
        .find(|s| matches!(s, Stmt::Macro(_)))
    else {
        return Cow::Borrowed(source);
    };
    let names: Vec<&str> = decl
        .args
        .iter()
        .filter_map(|arg| match arg {
            Expr::Var(var) => Some(var.id),
            _ => None,
        })
        .collect();
    if names.len() != decl.args.len() {
        return Cow::Borrowed(source);
    }
    let first_default = names.len() - decl.defaults.len();
    // (where the default starts, where it ends, the argument, the default's text)
    let mut moved: Vec<(usize, usize, &str, &str)> = Vec::new();
    for (i, default) in decl.defaults.iter().enumerate() {
        let index = first_default + i;
        let earlier = &names[..index];
        let mut names_earlier = false;
        walk_expr(default, &mut |e| {
            if let Expr::Var(var) = e {
                names_earlier |= earlier.contains(&var.id);
            }
        });
        if !names_earlier {
            continue;
        }
        let arg_end = decl.args[index].span().end_offset as usize;
        let Some((start, end, text)) = default_text(source, arg_end) else {
            return Cow::Borrowed(source);
        };
        moved.push((start, end, names[index], text));
    }
    let Some(&(_, last_end, _, _)) = moved.last() else {
        return Cow::Borrowed(source);
    };
    let Some(tag_end) = source[last_end..].find("%}").map(|i| last_end + i + 2) else {
        return Cow::Borrowed(source);
    };
    let mut out = String::with_capacity(source.len() + 64 * moved.len());
    let mut at = 0;
    for (start, end, _, _) in &moved {
        out.push_str(&source[at..*start]);
        out.push_str(UNSET);
        at = *end;
    }
    out.push_str(&source[at..tag_end]);
    for (_, _, name, text) in &moved {
        let text = text.replace('\n', " ");
        out.push_str(&format!(
            "{{% set {name} = ({text}) if {name} is undefined else {name} %}}"
        ));
    }
    out.push_str(&source[tag_end..]);
    Cow::Owned(out)
}

/// After an argument's name: the span of its default (after `=`) and its text, which ends at
/// the next `,` or `)` outside brackets and strings.
fn default_text(source: &str, arg_end: usize) -> Option<(usize, usize, &str)> {
    let rest = &source[arg_end..];
    let equals = arg_end + rest.find(|c: char| !c.is_whitespace())?;
    if source[equals..].chars().next()? != '=' {
        return None;
    }
    let mut depth = 0i32;
    let mut quote: Option<char> = None;
    for (offset, c) in source[equals + 1..].char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(' | '[' | '{') => depth += 1,
            (None, ',' | ')') if depth == 0 => {
                let end = equals + 1 + offset;
                return Some((equals + 1, end, source[equals + 1..end].trim()));
            }
            (None, ')' | ']' | '}') => depth -= 1,
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::late_defaults;

    #[test]
    fn defaults_naming_earlier_arguments_move_into_the_body() {
        assert_eq!(
            late_defaults("{% macro f(a, b=a, c=b | upper, d='x,)') -%}\n{{ b }}{% endmacro %}"),
            "{% macro f(a, b=__elt_unset, c=__elt_unset, d='x,)') -%}{% set b = (a) if b is undefined else b %}{% set c = (b | upper) if c is undefined else c %}\n{{ b }}{% endmacro %}"
        );
    }

    #[test]
    fn other_macros_are_unchanged() {
        let plain = "{% macro f(a, b=[1, 2], c=target.name) %}{{ a }}{% endmacro %}";
        assert_eq!(late_defaults(plain), plain);
        assert_eq!(late_defaults("{% macro broken( %}"), "{% macro broken( %}");
    }
}
