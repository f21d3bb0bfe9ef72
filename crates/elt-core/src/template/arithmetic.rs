//! Date arithmetic in templates: `modules.datetime.date.today() - modules.datetime.timedelta(7)`,
//! `(end - start).days`, `run_started_at + lag` with `lag` a timedelta.
//!
//! minijinja's `+` and `-` cannot be given to objects, so in a template that names
//! `timedelta`, `datetime` or `run_started_at`, a `+` or `-` is compiled as a call of
//! [`ADD_FN`] or [`SUB_FN`] (see [`modules`](super::modules)), found with minijinja's own
//! parser; those do minijinja's arithmetic for anything but dates. Left alone: `+` and `-` of
//! two constants, and those with a parenthesis between their operands (`(a) - (b)`), whose
//! text this cannot rewrite, unless the right one is a `timedelta(...)` call.

use std::borrow::Cow;

use minijinja::machinery::ast::{BinOpKind, Expr};
use minijinja::machinery::parse;
use minijinja::syntax::SyntaxConfig;

use super::walk::walk_stmt;

pub const ADD_FN: &str = "__elt_date_add";
pub const SUB_FN: &str = "__elt_date_sub";

/// Words that say a template may do date arithmetic.
const DATE_WORDS: [&str; 3] = ["timedelta", "datetime", "run_started_at"];

/// Rewrites `x - y` to `__elt_date_sub(x, y)` (and `+` alike) in a template that names dates.
/// Lines are unchanged. A template that does not parse is returned as is.
pub fn date_arithmetic(source: &str) -> Cow<'_, str> {
    if !DATE_WORDS.iter().any(|word| source.contains(word)) {
        return Cow::Borrowed(source);
    }
    let Ok(template) = parse(source, "<template>", SyntaxConfig::default()) else {
        return Cow::Borrowed(source);
    };
    // (byte offset, order at that offset, replaced length, text)
    let mut edits: Vec<(usize, i64, usize, String)> = Vec::new();
    let mut depth = 0i64;
    walk_stmt(&template, &mut |expr| {
        let Expr::BinOp(op) = expr else { return };
        let function = match op.op {
            BinOpKind::Add => ADD_FN,
            BinOpKind::Sub => SUB_FN,
            _ => return,
        };
        let (left_end, right_start) = (op.left.span().end_offset as usize, start_of(&op.right));
        let plain_gap = source
            .get(left_end..right_start)
            .is_some_and(|gap| gap.trim() == "+" || gap.trim() == "-");
        let constants = matches!(op.left, Expr::Const(_)) && matches!(op.right, Expr::Const(_));
        if !is_timedelta_call(&op.right) && (constants || !plain_gap) {
            return;
        }
        depth += 1;
        let (start, end) = (start_of(&op.left), op.right.span().end_offset as usize);
        // At one offset: closing parentheses (innermost first), then the operator, then
        // opening calls (outermost first). Expressions are walked outermost first.
        edits.push((start, 2_000_000 + depth, 0, format!("{function}(")));
        edits.push((left_end, 1_000_000, right_start - left_end, ", ".into()));
        edits.push((end, -depth, 0, ")".into()));
    });
    if edits.is_empty() {
        return Cow::Borrowed(source);
    }
    edits.sort_by_key(|(offset, order, _, _)| (*offset, *order));
    let mut out = String::with_capacity(source.len() + edits.len() * 8);
    let mut at = 0;
    for (offset, _, replaced, text) in edits {
        if offset < at {
            return Cow::Borrowed(source);
        }
        out.push_str(&source[at..offset]);
        out.push_str(&text);
        at = offset + replaced;
    }
    out.push_str(&source[at..]);
    Cow::Owned(out)
}

/// Where an expression's text starts: the span of a postfix expression (`a.b(c)`) starts at
/// its last operator, so this follows it to its leftmost operand.
fn start_of(expr: &Expr) -> usize {
    match expr {
        Expr::Call(c) => start_of(&c.expr),
        Expr::GetAttr(g) => start_of(&g.expr),
        Expr::GetItem(g) => start_of(&g.expr),
        Expr::Slice(s) => start_of(&s.expr),
        Expr::Filter(f) => f
            .expr
            .as_ref()
            .map_or(expr.span().start_offset as usize, start_of),
        Expr::Test(t) => start_of(&t.expr),
        Expr::BinOp(b) => start_of(&b.left),
        Expr::Compare(c) => start_of(&c.expr),
        Expr::IfExpr(i) => start_of(&i.true_expr),
        _ => expr.span().start_offset as usize,
    }
}

/// `timedelta(...)` or `<anything>.timedelta(...)`.
fn is_timedelta_call(expr: &Expr) -> bool {
    let Expr::Call(call) = expr else {
        return false;
    };
    match &call.expr {
        Expr::Var(var) => var.id == "timedelta",
        Expr::GetAttr(attr) => attr.name == "timedelta",
        _ => false,
    }
}

/// Calls `f` on every expression of a statement, outer expressions before inner ones.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_and_minus_in_templates_with_dates_become_calls() {
        let cases = [
            (
                "{{ d - modules.datetime.timedelta(1) }}",
                "{{ __elt_date_sub(d, modules.datetime.timedelta(1)) }}",
            ),
            (
                "{% set x = a.b(c) + timedelta(days=2) - m.timedelta(weeks=1) %}",
                "{% set x = __elt_date_sub(__elt_date_add(a.b(c), timedelta(days=2)), m.timedelta(weeks=1)) %}",
            ),
            (
                "{{ (t - m.timedelta(hours=7)).isoformat() }} {{ 3 - 1 }}",
                "{{ (__elt_date_sub(t, m.timedelta(hours=7))).isoformat() }} {{ 3 - 1 }}",
            ),
            (
                "{{ (end - start).days }} {{ (a) - (b) }} datetime",
                "{{ (__elt_date_sub(end, start)).days }} {{ (a) - (b) }} datetime",
            ),
            ("{{ a - b }} no dates", "{{ a - b }} no dates"),
            ("{{ unclosed - timedelta(1) ", "{{ unclosed - timedelta(1) "),
        ];
        for (source, expected) in cases {
            assert_eq!(date_arithmetic(source), expected);
        }
    }
}
