//! Jinja features dbt projects rely on, each compiled in a small project of its own.

mod support;

use std::path::Path;

use support::{compile_dir, sql};

/// Writes a project (profile on DuckDB) with the given files and compiles it.
fn compile_files(files: &[(&str, &str)]) -> elt_core::compile::Compiled {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "elt_project.yml",
        "name: t\nprofile: t\nvars:\n  region: eu\n",
    );
    write(
        dir.path(),
        "profiles.yml",
        "t:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: dev.duckdb\n      schema: analytics\n",
    );
    for (path, text) in files {
        write(dir.path(), path, text);
    }
    compile_dir(dir.path(), None)
}

fn write(dir: &Path, path: &str, text: &str) {
    let path = dir.join(path);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

#[test]
fn relation_attributes_resolve_to_final_names() {
    let c = compile_files(&[
        (
            "models/base.sql",
            "{{ config(schema='staging', alias='base_v2') }}\nselect 1 as id",
        ),
        (
            "models/uses.sql",
            "select '{{ ref('base').schema }}.{{ ref('base').identifier }}' as name, '{{ this.schema }}' as mine, '{{ this.name }}' as me\nfrom {{ ref('base').include(database=false) }}",
        ),
    ]);
    assert_eq!(
        sql(&c, "uses"),
        "select 'analytics_staging.base_v2' as name, 'analytics' as mine, 'uses' as me\nfrom \"analytics_staging\".\"base_v2\""
    );
}

#[test]
fn return_from_nested_macros_and_dispatch() {
    let c = compile_files(&[
        (
            "macros/m.sql",
            "{% macro pick(x) %}{% if x > 1 %}{{ return('big') }}{% endif %}{{ return('small') }}{% endmacro %}\n{% macro both() %}{{ return([pick(1), pick(2)]) }}{% endmacro %}\n{% macro greet() %}{{ return(adapter.dispatch('greet')()) }}{% endmacro %}\n{% macro default__greet() %}hello{% endmacro %}\n{% macro duckdb__greet() %}quack{% endmacro %}",
        ),
        (
            "models/a.sql",
            "select '{{ both() | join(\",\") }}' as picks, '{{ greet() }}' as greeting",
        ),
    ]);
    assert_eq!(
        sql(&c, "a"),
        "select 'small,big' as picks, 'quack' as greeting"
    );
}

#[test]
fn set_blocks_loops_whitespace_control_and_comments() {
    let c = compile_files(&[(
        "models/a.sql",
        "{#- a comment -#}\n{%- set cols -%}a, b{%- endset -%}\n{%- do log('compiling a') -%}\nselect {{ cols }}{% for c in ['c', 'd'] %}, {{ c }}{% if loop.last %} as last{% endif %}{% endfor %}\nfrom t",
    )]);
    assert_eq!(sql(&c, "a"), "select a, b, c, d as last\nfrom t");
}

#[test]
fn config_target_var_env_var_and_adapter_quote() {
    // SAFETY: this test is the only reader of the variable.
    unsafe { std::env::set_var("ELT_TEMPLATE_TEST_COUNTRY", "DE") };
    let c = compile_files(&[(
        "models/a.sql",
        "{{ config(materialized='table', tags=['x']) }}\nselect '{{ config.get('materialized') }}' as m, '{{ target.name }}/{{ target.type }}/{{ target.schema }}' as t, '{{ var('region') }}' as r, '{{ var('missing', 'fallback') }}' as f, '{{ env_var('ELT_TEMPLATE_TEST_COUNTRY') }}' as c, {{ adapter.quote('Order') }} as q",
    )]);
    assert_eq!(
        sql(&c, "a"),
        "\nselect 'table' as m, 'dev/duckdb/analytics' as t, 'eu' as r, 'fallback' as f, 'DE' as c, \"Order\" as q"
    );
    let node = c.manifest.nodes.values().find(|n| n.name == "a").unwrap();
    assert_eq!(node.tags, ["x"]);
}

#[test]
fn generate_alias_name_override_and_pycompat_methods() {
    let c = compile_files(&[
        (
            "macros/alias.sql",
            "{% macro generate_alias_name(custom_alias_name=none, node=none) -%}{{ node.name | upper }}{%- endmacro %}",
        ),
        ("models/base.sql", "select 1 as id"),
        (
            "models/a.sql",
            "select '{{ 'a,b'.split(',') | join('-') }}' as s, '{{ 'X'.lower() }}' as l from {{ ref('base') }}",
        ),
    ]);
    assert_eq!(
        sql(&c, "a"),
        "select 'a-b' as s, 'x' as l from \"dev\".\"analytics\".\"BASE\""
    );
}

#[test]
fn exceptions_warn_becomes_a_warning() {
    let c = compile_files(&[(
        "models/a.sql",
        "{% do exceptions.warn('deprecated column used') %}select 1 as x",
    )]);
    assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
    assert_eq!(c.warnings[0].message, "deprecated column used");
}

#[test]
fn is_incremental_is_false_at_compile_time() {
    let c = compile_files(&[(
        "models/a.sql",
        "{{ config(materialized='incremental') }}select 1 as x{% if is_incremental() %} where x > (select max(x) from {{ this }}){% endif %}",
    )]);
    assert_eq!(sql(&c, "a"), "select 1 as x");
}
