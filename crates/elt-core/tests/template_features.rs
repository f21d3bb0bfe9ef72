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

#[test]
fn dbt_context_functions_for_data_structures() {
    let c = compile_files(&[(
        "models/a.sql",
        r#"{% set cfg = fromyaml("columns: [a, b]\nowner: Ann") -%}
{% set diff = diff_of_two_dicts({'T1': ['A', 'b'], 't2': ['c']}, {'t1': ['a']}) -%}
select '{{ tojson(cfg) }}' as j, '{{ toyaml({'k': 'v'}) | trim }}' as y,
  '{{ set_strict([1, 1, 2]) | length }}' as s, '{{ set(5) is none }}' as bad_set,
  '{{ zip_strict([1, 2], ['a', 'b']) | map('join', ':') | join(',') }}' as z,
  '{{ zip(1, default='none') }}' as bad_zip, '{{ tojson(diff, sort_keys=true) }}' as d,
  '{{ try_or_compiler_error('bad', fromjson, '[1]') | first }}' as t"#,
    )]);
    assert_eq!(
        sql(&c, "a"),
        r#"select '{"columns": ["a", "b"], "owner": "Ann"}' as j, 'k: v' as y,
  '2' as s, 'True' as bad_set,
  '1:a,2:b' as z,
  'none' as bad_zip, '{"T1": ["b"], "t2": ["c"]}' as d,
  '1' as t"#
    );
}

#[test]
fn try_or_compiler_error_says_its_message() {
    let dir = support::project(&[(
        "models/a.sql",
        "select {{ try_or_compiler_error('the list is not JSON', fromjson, '[1') }}",
    )]);
    let project = support::load_dir(dir.path(), None);
    let error = elt_core::compile::compile(&project)
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("the list is not JSON"), "{error}");
    assert!(error.contains("models/a.sql:1"), "{error}");
}

#[test]
fn a_project_ref_macro_overrides_ref_through_builtins() {
    let c = compile_files(&[
        (
            "macros/ref.sql",
            "{% macro ref(model_name) %}{% do return(builtins.ref(model_name).include(database=false)) %}{% endmacro %}",
        ),
        ("models/base.sql", "select 1 as id"),
        ("models/a.sql", "select * from {{ ref('base') }}"),
    ]);
    assert_eq!(sql(&c, "a"), "select * from \"analytics\".\"base\"");
    assert_eq!(
        c.manifest.nodes["model.t.a"].depends_on_nodes,
        ["model.t.base"]
    );
}

#[test]
fn dbt_array_and_series_macros() {
    let c = compile_files(&[(
        "models/a.sql",
        "select {{ dbt.array_construct(['1', '2']) }} as a, {{ dbt.array_append('a', '3') }} as b, {{ dbt.array_concat('a', 'b') }} as c, {{ dbt.date(2024, 2, 9) }} as d, {{ dbt.get_powers_of_two(5) }} as p",
    )]);
    assert_eq!(
        sql(&c, "a"),
        "select [ 1 , 2 ] as a, array_append(a, 3) as b, array_cat(a, b) as c, cast('2024-02-09' as date) as d, 3 as p"
    );
}

#[test]
fn vars_holding_jinja_render_where_read_and_int_filters_forgive() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "elt_project.yml",
        "name: t\nprofile: t\nvars:\n  depth: \"{{ 4 if target.type == 'duckdb' else 9 }}\"\n  label: \"{{ target.name }}-{{ var('depth') }}\"\n",
    );
    write(
        dir.path(),
        "profiles.yml",
        "t:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n      path: dev.duckdb\n",
    );
    write(
        dir.path(),
        "models/a.sql",
        "select {{ var('depth') | int + 1 }} as d, '{{ var('label') }}' as l, {{ 'x' | int }} as bad, {{ '42.7' | int }} as trunc, {{ 'n/a' | float(default=-1) }} as f",
    );
    let c = compile_dir(dir.path(), None);
    assert_eq!(
        sql(&c, "a"),
        "select 5 as d, 'dev-4' as l, 0 as bad, 42 as trunc, -1 as f"
    );
}

#[test]
fn macro_defaults_see_earlier_arguments() {
    let c = compile_files(&[
        (
            "macros/m.sql",
            "{% macro label(schema_name, name=schema_name, upper=name | upper) %}{{ name }}/{{ upper }}{% endmacro %}",
        ),
        (
            "models/a.sql",
            "select '{{ label('raw') }}' as a, '{{ label('raw', 'x') }}' as b",
        ),
    ]);
    assert_eq!(sql(&c, "a"), "select 'raw/RAW' as a, 'x/X' as b");
}

#[test]
fn a_late_default_may_sit_between_other_defaults() {
    let c = compile_files(&[
        (
            "macros/m.sql",
            "{% macro gen(schema_name, flag=False, name=schema_name, rest=None) %}{{ name }}:{{ flag }}:{{ rest }}{% endmacro %}",
        ),
        (
            "models/a.sql",
            "select '{{ gen('raw') }}' as a, '{{ gen('raw', name=none) }}' as b",
        ),
    ]);
    assert_eq!(
        sql(&c, "a"),
        "select 'raw:False:None' as a, 'None:False:None' as b"
    );
}

#[test]
fn jinja_nested_in_config_values_renders() {
    let c = compile_files(&[
        ("seeds/s.csv", "id,at\n1,2024-01-01\n"),
        (
            "seeds/seeds.yml",
            "version: 2\nseeds:\n  - name: s\n    config:\n      column_types:\n        at: \"{{ 'datetime2' if target.type == 'sqlserver' else 'timestamp' }}\"\n",
        ),
        ("models/a.sql", "select 1 as id"),
        (
            "models/a.yml",
            "version: 2\nmodels:\n  - name: a\n    config:\n      persist_docs:\n        relation: '{{ target.type == \"duckdb\" }}'\n",
        ),
    ]);
    let seed = &c.manifest.nodes["seed.t.s"];
    assert_eq!(seed.config["column_types"]["at"], "timestamp");
    let model = &c.manifest.nodes["model.t.a"];
    assert_eq!(model.config["persist_docs"]["relation"], true);
    // dbt's defaults for what the node leaves unset, as graph and on-run-end results show it.
    let config = elt_core::manifest::json::config_json(model);
    assert_eq!(config["full_refresh"], serde_json::Value::Null);
    assert_eq!(config["on_schema_change"], "ignore");
}

#[test]
fn invocation_args_and_metadata_envs_are_mappings() {
    let c = compile_files(&[(
        "models/a.sql",
        "select '{{ invocation_args_dict.target }}' as t, {{ dbt_metadata_envs is mapping }} as m, {{ invocation_args_dict.full_refresh }} as f",
    )]);
    assert_eq!(sql(&c, "a"), "select 'dev' as t, True as m, False as f");
}

#[test]
fn dates_subtract_to_timedeltas_and_timedeltas_live_in_variables() {
    let c = compile_files(&[(
        "models/a.sql",
        "{% set start = modules.datetime.date(2024, 1, 1) %}{% set end = modules.datetime.date(2024, 3, 1) %}{% set lag = modules.datetime.timedelta(days=2) %}{% set n = 5 %}\
select {{ (end - start).days }} as days, '{{ end - lag }}' as shifted, '{{ lag + start }}' as flipped, \
{{ n - 2 }} as n, '{{ 'x' + 'y' }}' as s, {{ ([1] + [2]) | length }} as l, {{ (modules.datetime.datetime(2024, 1, 2, 6) - modules.datetime.datetime(2024, 1, 1)).total_seconds() | int }} as secs",
    )]);
    assert_eq!(
        sql(&c, "a"),
        "select 60 as days, '2024-02-28' as shifted, '2024-01-03' as flipped, 3 as n, 'xy' as s, 2 as l, 108000 as secs"
    );
}

#[test]
fn unit_tests_become_nodes_of_their_model() {
    let c = compile_files(&[
        ("models/a.sql", "select 1 as id"),
        (
            "models/a.yml",
            "version: 2\nunit_tests:\n  - name: t1\n    model: a\n    given: []\n    expect: {rows: [{id: 1}]}\n    config:\n      tags: \"{{ 'skip' if target.type == 'duckdb' else 'run' }}\"\n",
        ),
    ]);
    assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    let node = &c.manifest.nodes["unit_test.t.a.t1"];
    assert_eq!(node.depends_on_nodes, ["model.t.a"]);
    assert_eq!(node.tags, ["skip"], "the config's Jinja is rendered");
    assert_eq!(node.raw_line, 3);
}
