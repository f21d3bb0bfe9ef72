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

#[test]
fn cross_database_macros_per_dialect() {
    let model = "select\n    {{ elt.hash('name') }} as hashed,\n    {{ elt.generate_surrogate_key(['id', 'name']) }} as surrogate_key,\n    {{ dbt.safe_cast('amount', elt.type_numeric()) }} as amount,\n    {{ elt.date_trunc('month', 'ordered_at') }} as month,\n    {{ elt.dateadd('day', 7, 'ordered_at') }} as week_later,\n    {{ elt.datediff('ordered_at', 'shipped_at', 'day') }} as days_to_ship,\n    {{ elt.split_part('email', \"'@'\", 2) }} as domain,\n    {{ elt.current_timestamp() }} as loaded_at\nfrom orders\n";
    for (dialect, output) in [
        ("duckdb", "type: duckdb"),
        (
            "postgres",
            "type: postgres\n      user: elt\n      dbname: analytics",
        ),
        ("clickhouse", "type: clickhouse\n      schema: analytics"),
    ] {
        let profile = format!("shop:\n  target: dev\n  outputs:\n    dev:\n      {output}\n");
        let dir = support::project(&[
            ("profiles.yml", &profile),
            ("models/orders_enriched.sql", model),
        ]);
        let compiled = compile_dir(dir.path(), None);
        insta::assert_snapshot!(
            format!("cross_db__{dialect}"),
            sql(&compiled, "orders_enriched")
        );
    }
}

#[test]
fn project_macros_override_cross_database_macros() {
    let dir = support::project(&[
        (
            "macros/hash.sql",
            "{% macro duckdb__hash(field) %}sha256({{ field }}){% endmacro %}",
        ),
        (
            "models/keys.sql",
            "select {{ elt.hash('id') }} as a, {{ dbt.generate_surrogate_key(['id']) }} as b from t",
        ),
    ]);
    let compiled = compile_dir(dir.path(), None);
    assert_eq!(
        sql(&compiled, "keys"),
        "select sha256(id) as a, sha256(concat(coalesce(cast(id as varchar), '_dbt_utils_surrogate_key_null_'))) as b from t"
    );
}
