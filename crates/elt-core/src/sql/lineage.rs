//! Column-level lineage of one compiled query: for each output column, the upstream columns it
//! derives from and whether it is a plain copy (`direct`: passed through or renamed) or computed
//! (`transformed`). Where the query does not say (an ambiguous name, `*` over a relation whose
//! columns are unknown, a table function), the column is `unknown` with the reason: never a guess.
//!
//! Relations are resolved by the caller ([`Relations`]): a name in the SQL is a project node
//! (model, seed, snapshot, source) with its columns when known (from the warehouse catalog or its
//! own lineage). CTEs, derived tables, joins, set operations and scalar subqueries are followed.

use std::collections::BTreeSet;
use std::ops::ControlFlow;
use std::rc::Rc;

use serde::Serialize;
use sqlparser::ast::{
    Expr, Ident, JoinConstraint, JoinOperator, ObjectName, ObjectNamePart, Query, Select,
    SelectItem, SelectItemQualifiedWildcardKind, SetExpr, Statement, TableAlias, TableFactor,
    TableWithJoins, Visit, Visitor, WildcardAdditionalOptions,
};
use sqlparser::parser::Parser;

use crate::adapter::Dialect;

/// An upstream column: a node's unique id and the column's name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct SourceColumn {
    pub node: String,
    pub column: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// The value of one upstream column, passed through or renamed.
    Direct,
    /// Computed from its sources (an expression, an aggregate, a union of different columns).
    Transformed,
    /// The query does not tell; `reason` says why.
    Unknown,
}

/// Where one output column comes from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ColumnLineage {
    pub name: String,
    pub kind: Kind,
    pub sources: BTreeSet<SourceColumn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// False when the name is the expression's text (`count(*)`): the warehouse names such
    /// columns itself, so the caller should take the name from the catalog by position.
    #[serde(skip)]
    pub named: bool,
}

/// A project relation that a name in the SQL refers to.
#[derive(Debug, Clone)]
pub struct Upstream {
    pub node: String,
    /// Its columns in order, when known.
    pub columns: Option<Vec<String>>,
}

/// Resolves relation names (parts as written, e.g. `["main", "stg_orders"]`) to project nodes.
pub trait Relations {
    fn resolve(&self, parts: &[String]) -> Option<Upstream>;
}

/// The lineage of every output column of `sql`, a single query. Errors are parse errors.
pub fn column_lineage(
    dialect: Dialect,
    sql: &str,
    relations: &dyn Relations,
) -> Result<Vec<ColumnLineage>, String> {
    let statements =
        Parser::parse_sql(&*dialect.sql_dialect(), sql).map_err(|error| error.to_string())?;
    let [Statement::Query(query)] = statements.as_slice() else {
        return Err("the SQL is not a single query".into());
    };
    let analyzer = Analyzer { relations };
    let table = analyzer.query(query, &Env::default());
    Ok(match &table.columns {
        Columns::Known(columns) => columns
            .iter()
            .map(|c| c.derivation.clone().into_lineage(c.name.clone(), c.named))
            .collect(),
        other => vec![Derivation::unknown(other.why_unknown()).into_lineage("*".into(), false)],
    })
}

/// How a value is derived while the query is walked.
#[derive(Debug, Clone, Default)]
struct Derivation {
    sources: BTreeSet<SourceColumn>,
    direct: bool,
    unknown: Option<String>,
}

impl Derivation {
    fn unknown(reason: String) -> Self {
        Derivation {
            unknown: Some(reason),
            ..Derivation::default()
        }
    }

    fn column(node: &str, column: &str) -> Self {
        Derivation {
            sources: BTreeSet::from([SourceColumn {
                node: node.to_string(),
                column: column.to_string(),
            }]),
            direct: true,
            unknown: None,
        }
    }

    /// Combines the inputs of one computed value.
    fn merge(&mut self, other: Derivation) {
        self.sources.extend(other.sources);
        self.direct = false;
        self.unknown = self.unknown.take().or(other.unknown);
    }

    fn transformed(mut self) -> Self {
        self.direct = false;
        self
    }

    fn into_lineage(self, name: String, named: bool) -> ColumnLineage {
        let kind = match (&self.unknown, self.direct) {
            (Some(_), _) => Kind::Unknown,
            (None, true) => Kind::Direct,
            (None, false) => Kind::Transformed,
        };
        ColumnLineage {
            name,
            kind,
            sources: self.sources,
            reason: self.unknown,
            named,
        }
    }
}

#[derive(Debug, Clone)]
struct OutputColumn {
    name: String,
    named: bool,
    derivation: Derivation,
}

/// The columns of a relation in scope.
#[derive(Debug, Clone)]
enum Columns {
    Known(Vec<OutputColumn>),
    /// A project node whose columns are not known: a named column still resolves to it.
    Node(String),
    /// Rows made by a table function (`range(100)`, `unnest(o.items)`): every column derives
    /// from the function's arguments (`what` names the function for messages).
    Computed {
        what: String,
        from: Derivation,
    },
    /// Not a project relation: a relation outside the project, or what a query cannot tell.
    Opaque(String),
}

impl Columns {
    /// Why `*` over these columns cannot be listed.
    fn why_unknown(&self) -> String {
        match self {
            Columns::Known(_) => String::new(),
            Columns::Node(node) => format!(
                "`*` over {node}, whose columns are unknown (build it, then run `elt docs generate` again)"
            ),
            Columns::Computed { what, .. } => {
                format!("`*` over `{what}`, whose columns elt does not know")
            }
            Columns::Opaque(reason) => format!("`*` {reason}"),
        }
    }
}

#[derive(Debug)]
struct Table {
    columns: Columns,
}

impl Table {
    fn lookup(&self, name: &str) -> Option<Derivation> {
        match &self.columns {
            Columns::Known(columns) => columns
                .iter()
                .find(|c| c.name.eq_ignore_ascii_case(name))
                .map(|c| c.derivation.clone()),
            Columns::Node(node) => Some(Derivation::column(node, name)),
            Columns::Computed { from, .. } => Some(from.clone().transformed()),
            Columns::Opaque(reason) => Some(Derivation::unknown(reason.clone())),
        }
    }

    fn has_known(&self, name: &str) -> bool {
        matches!(&self.columns, Columns::Known(c) if c.iter().any(|c| c.name.eq_ignore_ascii_case(name)))
    }
}

/// CTEs visible at a point of the query (innermost last).
#[derive(Default, Clone)]
struct Env {
    ctes: Vec<(String, Rc<Table>)>,
}

impl Env {
    fn cte(&self, name: &str) -> Option<Rc<Table>> {
        self.ctes
            .iter()
            .rev()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, t)| t.clone())
    }
}

/// The relations of a SELECT's FROM clause, and the enclosing query's for correlated names.
struct Scope<'a> {
    items: Vec<(String, Rc<Table>)>,
    /// Columns named in `USING (...)` or matched by a NATURAL join: the same value on both sides.
    using: Vec<String>,
    parent: Option<&'a Scope<'a>>,
}

struct Analyzer<'a> {
    relations: &'a dyn Relations,
}

impl Analyzer<'_> {
    fn query(&self, query: &Query, env: &Env) -> Table {
        let mut env = env.clone();
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                let table = self.query(&cte.query, &env);
                let table = rename_columns(table, Some(&cte.alias));
                env.ctes
                    .push((cte.alias.name.value.clone(), Rc::new(table)));
            }
        }
        self.set_expr(&query.body, &env, None)
    }

    fn set_expr(&self, body: &SetExpr, env: &Env, parent: Option<&Scope>) -> Table {
        match body {
            SetExpr::Select(select) => self.select(select, env, parent),
            SetExpr::Query(query) => self.query(query, env),
            SetExpr::SetOperation { left, right, .. } => union(
                self.set_expr(left, env, parent),
                self.set_expr(right, env, parent),
            ),
            SetExpr::Values(values) => {
                let width = values.rows.first().map_or(0, |row| row.len());
                Table {
                    columns: Columns::Known(
                        (1..=width)
                            .map(|i| OutputColumn {
                                name: format!("column{i}"),
                                named: false,
                                derivation: Derivation::default(),
                            })
                            .collect(),
                    ),
                }
            }
            other => Table {
                columns: Columns::Opaque(format!("a `{}` is not a query", short(other))),
            },
        }
    }

    fn select(&self, select: &Select, env: &Env, parent: Option<&Scope>) -> Table {
        let mut scope = Scope::new(parent);
        for from in &select.from {
            self.add_from(from, env, &mut scope);
        }
        let mut columns: Vec<OutputColumn> = Vec::new();
        for item in &select.projection {
            match item {
                SelectItem::UnnamedExpr(expr) => {
                    let derivation = self.expr(expr, env, &scope, &columns);
                    let (name, named) = expr_name(expr);
                    columns.push(OutputColumn {
                        name,
                        named,
                        derivation,
                    });
                }
                SelectItem::ExprWithAlias { expr, alias } => {
                    let derivation = self.expr(expr, env, &scope, &columns);
                    columns.push(OutputColumn {
                        name: alias.value.clone(),
                        named: true,
                        derivation,
                    });
                }
                SelectItem::ExprWithAliases { expr, aliases } => {
                    let derivation = self.expr(expr, env, &scope, &columns).transformed();
                    columns.extend(aliases.iter().map(|alias| OutputColumn {
                        name: alias.value.clone(),
                        named: true,
                        derivation: derivation.clone(),
                    }));
                }
                SelectItem::Wildcard(options) => {
                    let tables: Vec<_> = scope.items.iter().map(|(_, t)| t.clone()).collect();
                    columns.extend(expand_or_placeholder(&tables, options, &scope.using, "*"));
                }
                SelectItem::QualifiedWildcard(kind, options) => {
                    let table = match kind {
                        SelectItemQualifiedWildcardKind::ObjectName(name) => {
                            let parts = name_parts(name);
                            scope.find(parts.last().map_or("", String::as_str))
                        }
                        SelectItemQualifiedWildcardKind::Expr(_) => None,
                    };
                    let written = format!("{kind}");
                    match table {
                        Some(table) => {
                            columns.extend(expand_or_placeholder(&[table], options, &[], &written))
                        }
                        None => columns.push(placeholder(
                            &written,
                            format!("cannot tell what `{written}` expands to"),
                        )),
                    }
                }
            }
        }
        if let Some(exclude) = &select.exclude {
            let options = WildcardAdditionalOptions {
                opt_exclude: Some(exclude.clone()),
                ..WildcardAdditionalOptions::default()
            };
            columns.retain(|c| !excluded(&options, &c.name));
        }
        Table {
            columns: Columns::Known(columns),
        }
    }

    /// Adds a FROM item and its joins to the scope.
    fn add_from(&self, from: &TableWithJoins, env: &Env, scope: &mut Scope) {
        self.table_factor(&from.relation, env, scope);
        for join in &from.joins {
            self.table_factor(&join.relation, env, scope);
            match join_constraint(&join.join_operator) {
                Some(JoinConstraint::Using(names) | JoinConstraint::UsingAlias(names, _)) => {
                    scope
                        .using
                        .extend(names.iter().filter_map(|n| name_parts(n).pop()));
                }
                Some(JoinConstraint::Natural) => {
                    if let Some(columns) = natural_columns(&scope.items) {
                        scope.using.extend(columns);
                    }
                }
                _ => {}
            }
        }
    }

    fn table_factor(&self, factor: &TableFactor, env: &Env, scope: &mut Scope) {
        let (alias, table) = match factor {
            TableFactor::Table {
                name,
                alias,
                args: Some(_),
                ..
            } => (
                alias_name(alias, name.to_string()),
                Rc::new(self.computed(factor, scope)),
            ),
            TableFactor::Table { name, alias, .. } => {
                let parts = name_parts(name);
                let default_alias = parts.last().cloned().unwrap_or_default();
                // An ephemeral model is inlined as a CTE; its lineage leads to the model.
                let ephemeral = default_alias.starts_with("__dbt__cte__")
                    && self.relations.resolve(&parts).is_some();
                let table = match (parts.as_slice(), env.cte(&default_alias)) {
                    ([_], Some(cte)) if !ephemeral => cte,
                    _ => Rc::new(self.relation(&parts, name)),
                };
                (alias_name(alias, default_alias), aliased(table, alias))
            }
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                let table = Rc::new(rename_columns(self.query(subquery, env), alias.as_ref()));
                (alias_name(alias, String::new()), table)
            }
            TableFactor::NestedJoin {
                table_with_joins,
                alias,
            } => {
                let mut inner = Scope::new(None);
                self.add_from(table_with_joins, env, &mut inner);
                scope.using.extend(inner.using);
                match alias {
                    None => {
                        scope.items.extend(inner.items);
                        return;
                    }
                    Some(alias) => {
                        let tables: Vec<_> = inner.items.into_iter().map(|(_, t)| t).collect();
                        let columns = match expand(&tables, &Default::default(), &[]) {
                            Ok(columns) => Columns::Known(columns),
                            Err(reason) => Columns::Opaque(reason),
                        };
                        (alias.name.value.clone(), Rc::new(Table { columns }))
                    }
                }
            }
            TableFactor::Function { alias, .. }
            | TableFactor::TableFunction { alias, .. }
            | TableFactor::UNNEST { alias, .. }
            | TableFactor::JsonTable { alias, .. } => (
                alias_name(alias, String::new()),
                Rc::new(self.computed(factor, scope)),
            ),
            other => {
                let table = opaque(format!("from `{}`, which elt cannot trace", short(other)));
                (String::new(), Rc::new(table))
            }
        };
        scope.items.push((alias, table));
    }

    /// A table function: its columns derive from the names in its arguments, which may refer
    /// to relations earlier in the FROM clause (`unnest(o.items)`).
    fn computed(&self, factor: &TableFactor, scope: &Scope) -> Table {
        let (from, _) = self.references(factor, scope, &[]);
        Table {
            columns: Columns::Computed {
                what: short(factor),
                from,
            },
        }
    }

    /// The names `node` uses, resolved in `scope` and merged, and the subqueries it holds
    /// (their names are their own).
    fn references(
        &self,
        node: &impl Visit,
        scope: &Scope,
        earlier: &[OutputColumn],
    ) -> (Derivation, Vec<Query>) {
        let mut collector = References::default();
        let _ = node.visit(&mut collector);
        let mut derivation = Derivation::default();
        for idents in &collector.names {
            derivation.merge(self.reference(idents, scope, earlier));
        }
        (derivation, collector.subqueries)
    }

    fn relation(&self, parts: &[String], name: &ObjectName) -> Table {
        let columns = match self.relations.resolve(parts) {
            Some(Upstream {
                node,
                columns: Some(columns),
            }) => Columns::Known(
                columns
                    .iter()
                    .map(|c| OutputColumn {
                        name: c.clone(),
                        named: true,
                        derivation: Derivation::column(&node, c),
                    })
                    .collect(),
            ),
            Some(Upstream {
                node,
                columns: None,
            }) => Columns::Node(node),
            None => Columns::Opaque(format!(
                "from `{name}`, which is not a model, seed or source of the project (declare it as a source to trace it)"
            )),
        };
        Table { columns }
    }

    /// The derivation of a projected expression. `earlier` are the columns projected before it
    /// (DuckDB and ClickHouse let a later expression use an earlier alias).
    fn expr(&self, expr: &Expr, env: &Env, scope: &Scope, earlier: &[OutputColumn]) -> Derivation {
        match unnest(expr) {
            Expr::Identifier(ident) => self.reference(std::slice::from_ref(ident), scope, earlier),
            Expr::CompoundIdentifier(idents) => self.reference(idents, scope, earlier),
            other => {
                let (mut derivation, subqueries) = self.references(other, scope, earlier);
                for query in &subqueries {
                    let table = self.subquery(query, env, scope);
                    match table.columns {
                        Columns::Known(columns) => {
                            for column in columns {
                                derivation.merge(column.derivation);
                            }
                        }
                        Columns::Node(_) | Columns::Computed { .. } | Columns::Opaque(_) => {
                            derivation.merge(Derivation::unknown(
                                "a subquery over unknown columns".into(),
                            ))
                        }
                    }
                }
                derivation.transformed()
            }
        }
    }

    /// A subquery inside an expression: its names may refer to the enclosing SELECT.
    fn subquery(&self, query: &Query, env: &Env, scope: &Scope) -> Table {
        if query.with.is_some() {
            return self.query(query, env);
        }
        self.set_expr(&query.body, env, Some(scope))
    }

    fn reference(&self, idents: &[Ident], scope: &Scope, earlier: &[OutputColumn]) -> Derivation {
        let parts: Vec<&str> = idents.iter().map(|i| i.value.as_str()).collect();
        let written = parts.join(".");
        match parts.as_slice() {
            [column] => self.unqualified(column, scope, earlier),
            [.., table, column] => match scope.find_in_chain(table) {
                Some(table) => table
                    .lookup(column)
                    .unwrap_or_else(|| Derivation::unknown(format!("`{written}` is not a column"))),
                // `struct_column.field`
                None => self.unqualified(parts[0], scope, earlier).transformed(),
            },
            [] => Derivation::unknown("an empty name".into()),
        }
    }

    fn unqualified(&self, column: &str, scope: &Scope, earlier: &[OutputColumn]) -> Derivation {
        let mut current = Some(scope);
        let mut first = true;
        while let Some(scope) = current {
            let known: Vec<_> = scope
                .items
                .iter()
                .filter(|(_, t)| t.has_known(column))
                .collect();
            let unknown: Vec<_> = scope
                .items
                .iter()
                .filter(|(_, t)| !matches!(t.columns, Columns::Known(_)))
                .collect();
            let using = scope.using.iter().any(|u| u.eq_ignore_ascii_case(column));
            match (known.as_slice(), unknown.as_slice()) {
                ([(_, table)], []) => return table.lookup(column).unwrap_or_default(),
                ([], [(_, table)]) => return table.lookup(column).unwrap_or_default(),
                ([_, ..], []) if using => {
                    let mut derivation = Derivation::default();
                    for (_, table) in known {
                        let found = table.lookup(column).unwrap_or_default();
                        derivation.sources.extend(found.sources);
                        derivation.unknown = derivation.unknown.or(found.unknown);
                    }
                    derivation.direct = true;
                    return derivation;
                }
                ([], []) => {}
                _ => {
                    return Derivation::unknown(format!(
                        "`{column}` could come from more than one of {}; qualify it",
                        scope
                            .items
                            .iter()
                            .map(|(alias, _)| format!("`{alias}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
            // An alias projected earlier in this SELECT, before the enclosing query's columns.
            if first
                && let Some(alias) = earlier.iter().find(|c| c.name.eq_ignore_ascii_case(column))
            {
                return alias.derivation.clone();
            }
            first = false;
            current = scope.parent;
        }
        Derivation::unknown(format!(
            "`{column}` is not a column of any relation in FROM"
        ))
    }
}

impl<'a> Scope<'a> {
    fn new(parent: Option<&'a Scope<'a>>) -> Self {
        Scope {
            items: Vec::new(),
            using: Vec::new(),
            parent,
        }
    }

    fn find(&self, alias: &str) -> Option<Rc<Table>> {
        self.items
            .iter()
            .rev()
            .find(|(a, _)| a.eq_ignore_ascii_case(alias))
            .map(|(_, t)| t.clone())
    }

    fn find_in_chain(&self, alias: &str) -> Option<Rc<Table>> {
        self.find(alias)
            .or_else(|| self.parent.and_then(|p| p.find_in_chain(alias)))
    }
}

/// Names and subqueries inside an expression (not the names inside the subqueries, which have
/// their own scope).
#[derive(Default)]
struct References {
    names: Vec<Vec<Ident>>,
    /// Cloned: the visitor does not lend them for longer (subqueries in a SELECT list are rare).
    subqueries: Vec<Query>,
    depth: usize,
}

impl Visitor for References {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        if self.depth == 0 {
            self.subqueries.push(query.clone());
        }
        self.depth += 1;
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &Query) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        if self.depth == 0 {
            match expr {
                Expr::Identifier(ident) => self.names.push(vec![ident.clone()]),
                Expr::CompoundIdentifier(idents) => self.names.push(idents.clone()),
                _ => {}
            }
        }
        ControlFlow::Continue(())
    }
}

fn opaque(reason: String) -> Table {
    Table {
        columns: Columns::Opaque(reason),
    }
}

/// The columns of a wildcard, or one unnamed column standing for them when they are unknown
/// (the other columns of the SELECT stay known).
fn expand_or_placeholder(
    tables: &[Rc<Table>],
    options: &WildcardAdditionalOptions,
    using: &[String],
    written: &str,
) -> Vec<OutputColumn> {
    expand(tables, options, using).unwrap_or_else(|reason| vec![placeholder(written, reason)])
}

fn placeholder(written: &str, reason: String) -> OutputColumn {
    OutputColumn {
        name: written.to_string(),
        named: false,
        derivation: Derivation::unknown(reason),
    }
}

/// Set operations: columns by position, named by the left side.
fn union(left: Table, right: Table) -> Table {
    match (left.columns, right.columns) {
        (Columns::Known(mut left), Columns::Known(right)) if left.len() == right.len() => {
            for (l, r) in left.iter_mut().zip(right) {
                let direct = l.derivation.direct && r.derivation.direct;
                l.derivation.merge(r.derivation);
                l.derivation.direct = direct;
            }
            Table {
                columns: Columns::Known(left),
            }
        }
        (Columns::Known(_), Columns::Known(_)) => {
            opaque("the sides of a set operation have different numbers of columns".into())
        }
        (Columns::Known(_), other) | (other, _) => Table { columns: other },
    }
}

/// `name (a, b)` on a CTE or derived table renames its columns by position.
fn rename_columns(table: Table, alias: Option<&TableAlias>) -> Table {
    let Some(alias) = alias.filter(|a| !a.columns.is_empty()) else {
        return table;
    };
    match table.columns {
        Columns::Known(mut columns) => {
            for (column, name) in columns.iter_mut().zip(&alias.columns) {
                column.name = name.name.value.clone();
                column.named = true;
            }
            Table {
                columns: Columns::Known(columns),
            }
        }
        other => Table { columns: other },
    }
}

fn alias_name(alias: &Option<TableAlias>, default: String) -> String {
    alias.as_ref().map_or(default, |a| a.name.value.clone())
}

fn aliased(table: Rc<Table>, alias: &Option<TableAlias>) -> Rc<Table> {
    match alias.as_ref().filter(|a| !a.columns.is_empty()) {
        Some(alias) => Rc::new(rename_columns(
            Table {
                columns: table.columns.clone(),
            },
            Some(alias),
        )),
        None => table,
    }
}

/// The columns of `*` over `tables`, less EXCLUDE/EXCEPT, with REPLACE and RENAME applied.
/// A `USING` column appears once.
fn expand(
    tables: &[Rc<Table>],
    options: &WildcardAdditionalOptions,
    using: &[String],
) -> Result<Vec<OutputColumn>, String> {
    let mut columns: Vec<OutputColumn> = Vec::new();
    for table in tables {
        match &table.columns {
            Columns::Known(known) => {
                for column in known {
                    let shared = using.iter().any(|u| u.eq_ignore_ascii_case(&column.name));
                    if shared
                        && columns
                            .iter()
                            .any(|c| c.name.eq_ignore_ascii_case(&column.name))
                    {
                        continue;
                    }
                    columns.push(column.clone());
                }
            }
            other => return Err(other.why_unknown()),
        }
    }
    columns.retain(|c| !excluded(options, &c.name));
    if let Some(replace) = &options.opt_replace {
        for element in &replace.items {
            if let Some(column) = columns
                .iter_mut()
                .find(|c| c.name.eq_ignore_ascii_case(&element.column_name.value))
            {
                column.derivation = column.derivation.clone().transformed();
            }
        }
    }
    if let Some(rename) = &options.opt_rename {
        use sqlparser::ast::RenameSelectItem;
        let renames = match rename {
            RenameSelectItem::Single(one) => std::slice::from_ref(one),
            RenameSelectItem::Multiple(many) => many.as_slice(),
        };
        for rename in renames {
            if let Some(column) = columns
                .iter_mut()
                .find(|c| c.name.eq_ignore_ascii_case(&rename.ident.value))
            {
                column.name = rename.alias.value.clone();
            }
        }
    }
    Ok(columns)
}

fn excluded(options: &WildcardAdditionalOptions, name: &str) -> bool {
    use sqlparser::ast::ExcludeSelectItem;
    let mut names: Vec<String> = Vec::new();
    match &options.opt_exclude {
        Some(ExcludeSelectItem::Single(one)) => names.extend(name_parts(one).pop()),
        Some(ExcludeSelectItem::Multiple(many)) => {
            names.extend(many.iter().filter_map(|n| name_parts(n).pop()))
        }
        None => {}
    }
    if let Some(except) = &options.opt_except {
        names.push(except.first_element.value.clone());
        names.extend(except.additional_elements.iter().map(|i| i.value.clone()));
    }
    names.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// The name a warehouse gives an unaliased expression: a column keeps its name; anything else
/// is named by the warehouse (the text here is a stand-in, `named` is false).
fn expr_name(expr: &Expr) -> (String, bool) {
    match unnest(expr) {
        Expr::Identifier(ident) => (ident.value.clone(), true),
        Expr::CompoundIdentifier(idents) => (
            idents.last().map(|i| i.value.clone()).unwrap_or_default(),
            true,
        ),
        other => (other.to_string(), false),
    }
}

fn unnest(expr: &Expr) -> &Expr {
    match expr {
        Expr::Nested(inner) => unnest(inner),
        other => other,
    }
}

fn name_parts(name: &ObjectName) -> Vec<String> {
    name.0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => ident.value.clone(),
            ObjectNamePart::Function(function) => function.name.value.clone(),
        })
        .collect()
}

fn join_constraint(operator: &JoinOperator) -> Option<&JoinConstraint> {
    use JoinOperator as J;
    match operator {
        J::Join(c)
        | J::Inner(c)
        | J::Left(c)
        | J::LeftOuter(c)
        | J::Right(c)
        | J::RightOuter(c)
        | J::FullOuter(c)
        | J::CrossJoin(c)
        | J::Semi(c)
        | J::LeftSemi(c)
        | J::RightSemi(c)
        | J::Anti(c)
        | J::LeftAnti(c)
        | J::RightAnti(c)
        | J::StraightJoin(c) => Some(c),
        J::AsOf { constraint, .. } => Some(constraint),
        _ => None,
    }
}

/// The columns a NATURAL join matches: those the last relation shares with the ones before it.
fn natural_columns(items: &[(String, Rc<Table>)]) -> Option<Vec<String>> {
    let ((_, last), before) = items.split_last()?;
    let Columns::Known(columns) = &last.columns else {
        return None;
    };
    Some(
        columns
            .iter()
            .filter(|c| before.iter().any(|(_, t)| t.has_known(&c.name)))
            .map(|c| c.name.clone())
            .collect(),
    )
}

/// The first words of a construct, for messages.
fn short(node: &impl std::fmt::Display) -> String {
    let text = node.to_string();
    match text.char_indices().nth(60) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text,
    }
}
