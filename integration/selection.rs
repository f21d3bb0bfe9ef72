//! dbt's selection semantics on the showcase project: graph operators, methods, unions,
//! intersections, exclusion and indirect test selection.

mod support;

use std::collections::BTreeSet;

use elt_core::compile::Compiled;
use elt_core::graph::select::{IndirectSelection, Selector};
use support::{compile_dir, fixtures};

fn showcase() -> Compiled {
    compile_dir(&fixtures().join("showcase"), None)
}

/// Names of the nodes selected (sources as `source:<source>.<table>`).
fn select(
    compiled: &Compiled,
    select: &[&str],
    exclude: &[&str],
    indirect: IndirectSelection,
) -> BTreeSet<String> {
    let selector = Selector {
        state: None,
        manifest: &compiled.manifest,
        dag: &compiled.dag,
        indirect,
    };
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let (ids, _) = selector
        .select(&strings(select), &strings(exclude))
        .expect("valid selector");
    ids.iter()
        .map(|id| match compiled.manifest.nodes.get(id) {
            Some(node) => node.name.clone(),
            None => {
                let source = &compiled.manifest.sources[id];
                format!("source:{}.{}", source.source_name, source.name)
            }
        })
        .collect()
}

fn eager(compiled: &Compiled, terms: &[&str]) -> BTreeSet<String> {
    select(compiled, terms, &[], IndirectSelection::Eager)
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|s| s.to_string()).collect()
}

const FCT_ORDERS_TESTS: [&str; 7] = [
    "accepted_values_fct_orders_currency__EUR__USD",
    "assert_amounts_are_positive",
    "not_empty_string_fct_orders_currency",
    "not_null_fct_orders_order_id",
    "positive_values_fct_orders_True__amount",
    "relationships_fct_orders_customer_id__customer_id__ref_dim_customers_",
    "unique_fct_orders_order_id",
];

#[test]
fn a_name_selects_the_node_and_its_tests() {
    let c = showcase();
    let mut expected = set(&["fct_orders"]);
    expected.extend(set(&FCT_ORDERS_TESTS));
    assert_eq!(eager(&c, &["fct_orders"]), expected);
}

#[test]
fn graph_operators() {
    let c = showcase();
    // Tests are graph children too (dbt's `model+` runs them); leave them out here.
    let models = |terms: &[&str]| -> BTreeSet<String> {
        let tests: BTreeSet<String> = c
            .manifest
            .nodes
            .values()
            .filter(|n| n.resource_type.as_str() == "test")
            .map(|n| n.name.clone())
            .collect();
        eager(&c, terms).difference(&tests).cloned().collect()
    };
    assert_eq!(
        models(&["+fct_orders"]),
        set(&[
            "fct_orders",
            "int_order_amounts",
            "stg_orders",
            "source:shop_raw.orders"
        ])
    );
    assert_eq!(
        models(&["1+dim_customers"]),
        set(&[
            "dim_customers",
            "stg_customers",
            "int_orders_by_status",
            "countries"
        ])
    );
    assert_eq!(
        models(&["stg_orders+1"]),
        set(&["stg_orders", "int_order_amounts", "int_orders_by_status"])
    );
    assert_eq!(
        models(&["int_order_amounts+"]),
        set(&["int_order_amounts", "fct_orders", "revenue_by_month"])
    );
    // @: the node, its descendants, and the ancestors of all of those. Tests are descendants:
    // the relationships test from fct_orders to dim_customers brings in fct_orders' lineage.
    assert_eq!(
        models(&["@int_orders_by_status"]),
        set(&[
            "fct_orders",
            "int_order_amounts",
            "int_orders_by_status",
            "dim_customers",
            "stg_orders",
            "stg_customers",
            "countries",
            "source:shop_raw.orders",
            "source:shop_raw.customers",
        ])
    );
}

#[test]
fn methods() {
    let c = showcase();
    let only = |terms: &[&str]| select(&c, terms, &[], IndirectSelection::Empty);
    assert_eq!(
        only(&["tag:nightly"]),
        set(&["fct_orders", "dim_customers"])
    );
    assert_eq!(
        only(&["path:models/staging"]),
        set(&["stg_orders", "stg_customers"])
    );
    assert_eq!(only(&["stg_*"]), set(&["stg_orders", "stg_customers"]));
    assert_eq!(only(&["staging.*"]), set(&["stg_orders", "stg_customers"]));
    assert_eq!(only(&["file:dim_customers.sql"]), set(&["dim_customers"]));
    assert_eq!(only(&["resource_type:seed"]), set(&["countries"]));
    assert_eq!(
        only(&["resource_type:snapshot"]),
        set(&["customers_snapshot"])
    );
    assert_eq!(
        only(&["resource_type:analysis"]),
        set(&["revenue_by_month"])
    );
    assert_eq!(
        only(&["config.materialized:incremental"]),
        set(&["fct_orders"])
    );
    assert_eq!(
        only(&["config.materialized:ephemeral"]),
        set(&["int_order_amounts", "int_orders_by_status"])
    );
    assert_eq!(
        only(&["source:shop_raw"]),
        set(&["source:shop_raw.orders", "source:shop_raw.customers"])
    );
    assert_eq!(
        only(&["source:shop_raw.orders"]),
        set(&["source:shop_raw.orders"])
    );
    assert_eq!(
        only(&["test_type:singular"]),
        set(&["assert_amounts_are_positive"])
    );
    assert_eq!(
        only(&["test_type:generic,config.severity:warn"]),
        set(&["relationships_fct_orders_customer_id__customer_id__ref_dim_customers_"])
    );
    assert_eq!(
        only(&["test_name:accepted_values"]),
        set(&[
            "accepted_values_fct_orders_currency__EUR__USD",
            "completed_orders_small"
        ])
    );
    assert_eq!(
        only(&["package:showcase,resource_type:seed"]),
        set(&["countries"])
    );
}

#[test]
fn unions_intersections_and_exclusion() {
    let c = showcase();
    let only = |select: &[&str], exclude: &[&str]| select_names(&c, select, exclude);
    assert_eq!(
        only(&["stg_orders stg_customers"], &[]),
        set(&["stg_orders", "stg_customers"])
    );
    assert_eq!(
        only(&["stg_orders", "countries"], &[]),
        set(&["stg_orders", "countries"])
    );
    assert_eq!(
        only(&["tag:nightly,config.materialized:table"], &[]),
        set(&["dim_customers"])
    );
    assert_eq!(
        only(&["+fct_orders"], &["source:*", "stg_orders"]),
        set(&["fct_orders", "int_order_amounts"])
    );
}

fn select_names(c: &Compiled, select_terms: &[&str], exclude: &[&str]) -> BTreeSet<String> {
    select(c, select_terms, exclude, IndirectSelection::Empty)
}

#[test]
fn indirect_selection_modes() {
    let c = showcase();
    // The relationships test also depends on dim_customers: cautious mode leaves it out.
    let cautious = select(&c, &["fct_orders"], &[], IndirectSelection::Cautious);
    let mut expected = set(&["fct_orders"]);
    expected.extend(set(&FCT_ORDERS_TESTS));
    expected.remove("relationships_fct_orders_customer_id__customer_id__ref_dim_customers_");
    assert_eq!(cautious, expected);
    // ...and includes it once both parents are selected.
    let both = select(
        &c,
        &["fct_orders dim_customers"],
        &[],
        IndirectSelection::Cautious,
    );
    assert!(both.contains("relationships_fct_orders_customer_id__customer_id__ref_dim_customers_"));
    // Excluding a model also excludes its tests.
    let excluded = select(
        &c,
        &["tag:nightly"],
        &["fct_orders"],
        IndirectSelection::Eager,
    );
    assert!(
        excluded
            .iter()
            .all(|n| !n.contains("fct_orders") && n != "assert_amounts_are_positive"),
        "{excluded:?}"
    );
    assert!(excluded.contains("dim_customers"));
}

#[test]
fn a_selector_matching_nothing_warns() {
    let c = showcase();
    let selector = Selector {
        state: None,
        manifest: &c.manifest,
        dag: &c.dag,
        indirect: IndirectSelection::Eager,
    };
    let (ids, warnings) = selector.select(&["tag:nope".into()], &[]).unwrap();
    assert!(ids.is_empty());
    assert_eq!(
        warnings[0].message,
        "the selection criterion 'tag:nope' does not match any enabled node"
    );
}

/// `state:` selectors against another run's manifest (`--state`): a changed body, a changed
/// macro used by two models, a changed config, a new model, with graph operators.
#[test]
fn state_selectors_pick_exactly_what_changed() {
    let dir = support::project(&[
        ("models/a.sql", "select 1 as id"),
        ("models/b.sql", "select * from {{ ref('a') }}"),
        ("models/c.sql", "select {{ cents('1') }} as x"),
        ("models/d.sql", "select {{ cents('2') }} as y"),
        ("models/e.sql", "select 5 as z"),
        (
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: e\n    config:\n      materialized: view\n",
        ),
        (
            "macros/cents.sql",
            "{% macro cents(v) %}{{ v }} * 100{% endmacro %}",
        ),
    ]);
    let ls = |selector: &str| -> String {
        let output = support::elt(
            dir.path(),
            &[
                "ls",
                "-s",
                selector,
                "--state",
                "prod",
                "--resource-type",
                "model",
                "--output",
                "name",
            ],
        );
        assert!(output.status.success(), "{}", support::stderr(&output));
        support::stdout(&output)
    };
    support::ok(dir.path(), &["parse"]);
    std::fs::create_dir_all(dir.path().join("prod")).unwrap();
    std::fs::copy(
        dir.path().join("target/manifest.json"),
        dir.path().join("prod/manifest.json"),
    )
    .unwrap();
    assert_eq!(ls("state:modified"), "", "nothing changed yet");

    support::write(dir.path(), "models/a.sql", "select 2 as id");
    support::write(
        dir.path(),
        "macros/cents.sql",
        "{% macro cents(v) %}({{ v }}) * 100{% endmacro %}",
    );
    // A config changed in YAML: the model's SQL file stays the same.
    support::write(
        dir.path(),
        "models/schema.yml",
        "version: 2\nmodels:\n  - name: e\n    config:\n      materialized: table\n",
    );
    support::write(dir.path(), "models/f.sql", "select 6 as w");
    assert_eq!(ls("state:new"), "f\n");
    assert_eq!(ls("state:modified.body"), "a\nf\n");
    assert_eq!(ls("state:modified.macros"), "c\nd\nf\n");
    assert_eq!(ls("state:modified.configs"), "e\nf\n");
    assert_eq!(ls("state:modified"), "a\nc\nd\ne\nf\n");
    assert_eq!(ls("state:modified+"), "a\nb\nc\nd\ne\nf\n");
    assert_eq!(ls("state:unmodified"), "b\n");

    let output = support::elt(dir.path(), &["ls", "-s", "state:modified"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        support::stderr(&output).contains("no --state was given"),
        "{}",
        support::stderr(&output)
    );
}

/// `--defer`: a model selected in dev reads the production relation of an upstream model
/// that dev has not built, and its own dev relation once dev has one.
#[test]
fn defer_resolves_unbuilt_upstream_models_to_the_states_relations() {
    let dir = support::project(&[
        (
            "profiles.yml",
            "shop:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: warehouse.duckdb\n      schema: dev\n    prod:\n      type: duckdb\n      path: warehouse.duckdb\n      schema: prod\n",
        ),
        (
            "models/a.sql",
            "{{ config(materialized='table') }}\nselect 1 as id",
        ),
        (
            "models/b.sql",
            "{{ config(materialized='table') }}\nselect id from {{ ref('a') }}",
        ),
    ]);
    support::ok(dir.path(), &["build", "--target", "prod"]);
    std::fs::create_dir_all(dir.path().join("prod-state")).unwrap();
    std::fs::copy(
        dir.path().join("target/manifest.json"),
        dir.path().join("prod-state/manifest.json"),
    )
    .unwrap();
    let db = dir.path().join("warehouse.duckdb");

    // b changes; dev has no a: with --defer, b reads prod's a.
    support::write(
        dir.path(),
        "models/b.sql",
        "{{ config(materialized='table') }}\nselect id + 1 as id from {{ ref('a') }}",
    );
    let run = [
        "run",
        "-s",
        "state:modified",
        "--defer",
        "--state",
        "prod-state",
    ];
    let printed = support::ok(dir.path(), &run);
    assert!(printed.contains("dev.b"), "{printed}");
    assert!(!printed.contains("dev.a"), "{printed}");
    assert_eq!(support::query(&db, "select id from dev.b"), [["2"]]);
    let compiled =
        std::fs::read_to_string(dir.path().join("target/compiled/shop/models/b.sql")).unwrap();
    assert!(compiled.contains("\"prod\".\"a\""), "{compiled}");

    // Without --defer the same run fails: dev has no a.
    let output = support::elt(
        dir.path(),
        &["run", "-s", "state:modified", "--state", "prod-state"],
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "{}",
        support::stdout(&output)
    );

    // Once dev has its own a, b reads it, deferral or not.
    support::write(
        dir.path(),
        "models/a.sql",
        "{{ config(materialized='table') }}\nselect 10 as id",
    );
    support::ok(dir.path(), &["run", "-s", "a"]);
    support::ok(
        dir.path(),
        &["run", "-s", "b", "--defer", "--state", "prod-state"],
    );
    assert_eq!(support::query(&db, "select id from dev.b"), [["11"]]);
}
