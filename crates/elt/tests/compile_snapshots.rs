//! Compiled SQL of a representative project (macros, dispatch, vars, loops, set blocks,
//! ephemeral models, sources, seeds, snapshots, analyses, generic and singular tests), as
//! insta snapshots, on each warehouse dialect.

mod support;

use support::{compile_dir, fixtures, sql};

#[test]
fn showcase_compiles_on_duckdb() {
    let compiled = compile_dir(&fixtures().join("showcase"), None);
    assert!(compiled.warnings.is_empty(), "{:?}", compiled.warnings);
    for node in compiled.manifest.nodes.values() {
        let Some(code) = &node.compiled_code else {
            continue;
        };
        insta::assert_snapshot!(format!("duckdb__{}", node.name), code);
    }
}

#[test]
fn dialects_quote_relations_and_dispatch_macros() {
    for target in ["pg", "ch"] {
        let compiled = compile_dir(&fixtures().join("showcase"), Some(target));
        for name in ["fct_orders", "dim_customers", "stg_orders"] {
            insta::assert_snapshot!(format!("{target}__{name}"), sql(&compiled, name));
        }
    }
}

#[test]
fn relations_follow_configs_and_custom_schema_macro() {
    let compiled = compile_dir(&fixtures().join("showcase"), None);
    let relation = |name: &str| {
        compiled
            .manifest
            .nodes
            .values()
            .find(|n| n.name == name)
            .and_then(|n| n.relation.as_ref())
            .map(|r| r.to_string())
            .unwrap()
    };
    assert_eq!(
        relation("fct_orders"),
        r#""warehouse"."marts"."fct_orders""#
    );
    assert_eq!(relation("stg_orders"), r#""warehouse"."main"."stg_orders""#);
    assert_eq!(
        relation("countries"),
        r#""warehouse"."reference"."countries""#
    );
    assert_eq!(
        relation("customers_snapshot"),
        r#""warehouse"."snapshots"."customers_snapshot""#
    );
    assert_eq!(
        relation("int_order_amounts"),
        "__dbt__cte__int_order_amounts"
    );
}
