//! Date arithmetic in templates: `modules.datetime.date.today() - modules.datetime.timedelta(7)`.
//!
//! minijinja's `+` and `-` cannot be given to objects, so a `+` or `-` whose right operand is
//! a call of `timedelta(...)` is compiled as a call of [`ADD_FN`] or [`SUB_FN`] (see
//! [`modules`](super::modules)), found with minijinja's own parser. Other `+` and `-` are
//! left to minijinja.

use std::borrow::Cow;

use minijinja::machinery::ast::{BinOpKind, CallArg, Expr, Stmt};
use minijinja::machinery::parse;
use minijinja::syntax::SyntaxConfig;

pub const ADD_FN: &str = "__elt_date_add";
pub const SUB_FN: &str = "__elt_date_sub";

/// Rewrites `x - timedelta(...)` to `__elt_date_sub(x, timedelta(...))` (and `+` alike).
/// Lines are unchanged. A template that does not parse is returned as is.
pub fn timedelta_arithmetic(source: &str) -> Cow<'_, str> {
    if !source.contains("timedelta") {
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
        if !is_timedelta_call(&op.right) {
            return;
        }
        depth += 1;
        let (start, left_end) = (start_of(&op.left), op.left.span().end_offset as usize);
        let (right_start, end) = (start_of(&op.right), op.right.span().end_offset as usize);
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
fn walk_stmt<'a>(stmt: &Stmt<'a>, f: &mut dyn FnMut(&Expr<'a>)) {
    let body = |stmts: &[Stmt<'a>], f: &mut dyn FnMut(&Expr<'a>)| {
        for s in stmts {
            walk_stmt(s, f);
        }
    };
    match stmt {
        Stmt::Template(t) => body(&t.children, f),
        Stmt::EmitExpr(e) => walk_expr(&e.expr, f),
        Stmt::EmitRaw(_) | Stmt::Continue(_) | Stmt::Break(_) => {}
        Stmt::ForLoop(l) => {
            walk_expr(&l.target, f);
            walk_expr(&l.iter, f);
            if let Some(filter) = &l.filter_expr {
                walk_expr(filter, f);
            }
            body(&l.body, f);
            body(&l.else_body, f);
        }
        Stmt::IfCond(c) => {
            walk_expr(&c.expr, f);
            body(&c.true_body, f);
            body(&c.false_body, f);
        }
        Stmt::WithBlock(w) => {
            for (target, value) in &w.assignments {
                walk_expr(target, f);
                walk_expr(value, f);
            }
            body(&w.body, f);
        }
        Stmt::Set(s) => {
            walk_expr(&s.target, f);
            walk_expr(&s.expr, f);
        }
        Stmt::SetBlock(s) => {
            walk_expr(&s.target, f);
            if let Some(filter) = &s.filter {
                walk_expr(filter, f);
            }
            body(&s.body, f);
        }
        Stmt::AutoEscape(a) => {
            walk_expr(&a.enabled, f);
            body(&a.body, f);
        }
        Stmt::FilterBlock(b) => {
            walk_expr(&b.filter, f);
            body(&b.body, f);
        }
        Stmt::Block(b) => body(&b.body, f),
        Stmt::Import(i) => {
            walk_expr(&i.expr, f);
            walk_expr(&i.name, f);
        }
        Stmt::FromImport(i) => walk_expr(&i.expr, f),
        Stmt::Extends(e) => walk_expr(&e.name, f),
        Stmt::Include(i) => walk_expr(&i.name, f),
        Stmt::Macro(m) => {
            for default in &m.defaults {
                walk_expr(default, f);
            }
            body(&m.body, f);
        }
        Stmt::CallBlock(c) => {
            walk_expr(&c.call.expr, f);
            walk_args(&c.call.args, f);
            for default in &c.macro_decl.defaults {
                walk_expr(default, f);
            }
            body(&c.macro_decl.body, f);
        }
        Stmt::Do(d) => {
            walk_expr(&d.call.expr, f);
            walk_args(&d.call.args, f);
        }
    }
}

fn walk_args<'a>(args: &[CallArg<'a>], f: &mut dyn FnMut(&Expr<'a>)) {
    for arg in args {
        match arg {
            CallArg::Pos(e)
            | CallArg::Kwarg(_, e)
            | CallArg::PosSplat(e)
            | CallArg::KwargSplat(e) => walk_expr(e, f),
        }
    }
}

fn walk_expr<'a>(expr: &Expr<'a>, f: &mut dyn FnMut(&Expr<'a>)) {
    f(expr);
    let each = |exprs: &[Expr<'a>], f: &mut dyn FnMut(&Expr<'a>)| {
        for e in exprs {
            walk_expr(e, f);
        }
    };
    match expr {
        Expr::Var(_) | Expr::Const(_) => {}
        Expr::Slice(s) => {
            walk_expr(&s.expr, f);
            for part in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                walk_expr(part, f);
            }
        }
        Expr::UnaryOp(u) => walk_expr(&u.expr, f),
        Expr::BinOp(b) => {
            walk_expr(&b.left, f);
            walk_expr(&b.right, f);
        }
        Expr::Compare(c) => {
            walk_expr(&c.expr, f);
            for op in &c.ops {
                walk_expr(&op.expr, f);
            }
        }
        Expr::IfExpr(i) => {
            walk_expr(&i.test_expr, f);
            walk_expr(&i.true_expr, f);
            if let Some(e) = &i.false_expr {
                walk_expr(e, f);
            }
        }
        Expr::Filter(fl) => {
            if let Some(e) = &fl.expr {
                walk_expr(e, f);
            }
            walk_args(&fl.args, f);
        }
        Expr::Test(t) => {
            walk_expr(&t.expr, f);
            walk_args(&t.args, f);
        }
        Expr::GetAttr(g) => walk_expr(&g.expr, f),
        Expr::GetItem(g) => {
            walk_expr(&g.expr, f);
            walk_expr(&g.subscript_expr, f);
        }
        Expr::Call(c) => {
            walk_expr(&c.expr, f);
            walk_args(&c.args, f);
        }
        Expr::List(l) => each(&l.items, f),
        Expr::Tuple(t) => each(&t.items, f),
        Expr::Map(m) => {
            each(&m.keys, f);
            each(&m.values, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plus_and_minus_a_timedelta_become_calls_and_nothing_else_changes() {
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
            ("{{ a - b }} timedelta", "{{ a - b }} timedelta"),
            ("{{ unclosed - timedelta(1) ", "{{ unclosed - timedelta(1) "),
        ];
        for (source, expected) in cases {
            assert_eq!(timedelta_arithmetic(source), expected);
        }
    }
}
