//! Visiting every expression of a template's syntax tree (minijinja's parser), for the
//! source rewrites that make dbt's Jinja run on minijinja.

use minijinja::machinery::ast::{CallArg, Expr, Stmt};

/// Calls `f` on every expression of `stmt`, outermost first.
pub fn walk_stmt<'a>(stmt: &Stmt<'a>, f: &mut dyn FnMut(&Expr<'a>)) {
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

pub fn walk_expr<'a>(expr: &Expr<'a>, f: &mut dyn FnMut(&Expr<'a>)) {
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
