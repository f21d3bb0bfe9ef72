//! Installed packages (`dbt_packages/`) and the Jinja runtime packages rely on: macro
//! namespaces, dispatch through the root project, generic tests of packages, Python's
//! mutable lists and dicts. The packages here are written by each test; the public packages
//! are built in the `elt` package's `dbt_packages` test.

mod support;

use elt_core::compile::compile;
use support::{compile_dir, load_dir, sql};

/// A project `shop` with an installed package `tools` (its files under dbt_packages/tools).
fn with_package(root_files: &[(&str, &str)], package_files: &[(&str, &str)]) -> tempfile::TempDir {
    let mut files: Vec<(String, String)> = root_files
        .iter()
        .map(|(p, t)| (p.to_string(), t.to_string()))
        .collect();
    files.push((
        "dbt_packages/tools/dbt_project.yml".into(),
        "name: tools\nversion: '1.0'\nrequire-dbt-version: ['>=1.3.0', '<3.0.0']\n".into(),
    ));
    for (path, text) in package_files {
        files.push((format!("dbt_packages/tools/{path}"), text.to_string()));
    }
    let borrowed: Vec<(&str, &str)> = files
        .iter()
        .map(|(p, t)| (p.as_str(), t.as_str()))
        .collect();
    support::project(&borrowed)
}

const TOOLS_MACROS: &str = "
{% macro cols(names) %}{{ return(adapter.dispatch('cols', 'tools')(names)) }}{% endmacro %}
{% macro default__cols(names) %}{{ helper(names) | join(', ') }}{% endmacro %}
{% macro helper(names) %}{% set out = [] %}{% for n in names %}{% do out.append('t.' ~ n) %}{% endfor %}{{ return(out) }}{% endmacro %}
{% test positive(model, column_name) %}select * from {{ model }} where {{ column_name }} <= 0{% endtest %}
";

#[test]
fn package_macros_are_called_through_their_namespace() {
    let dir = with_package(
        &[("models/a.sql", "select {{ tools.cols(['x', 'y']) }} from t")],
        &[("macros/tools.sql", TOOLS_MACROS)],
    );
    let c = compile_dir(dir.path(), None);
    assert_eq!(sql(&c, "a"), "select t.x, t.y from t");
    let node = c.manifest.nodes.values().find(|n| n.name == "a").unwrap();
    assert!(
        node.depends_on_macros
            .contains(&"macro.tools.default__cols".to_string()),
        "{:?}",
        node.depends_on_macros
    );
}

#[test]
fn the_root_project_overrides_a_package_macro_by_dispatch() {
    let dir = with_package(
        &[
            ("models/a.sql", "select {{ tools.cols(['x']) }} from t"),
            (
                "macros/mine.sql",
                "{% macro duckdb__cols(names) %}{{ names | join(' + ') }}{% endmacro %}",
            ),
        ],
        &[("macros/tools.sql", TOOLS_MACROS)],
    );
    assert_eq!(sql(&compile_dir(dir.path(), None), "a"), "select x from t");
}

#[test]
fn a_dispatch_search_order_decides_which_package_wins() {
    let dir = with_package(
        &[
            ("models/a.sql", "select {{ tools.cols(['x']) }} from t"),
            (
                "macros/mine.sql",
                "{% macro default__cols(names) %}mine{% endmacro %}",
            ),
        ],
        &[("macros/tools.sql", TOOLS_MACROS)],
    );
    let project_file = dir.path().join("elt_project.yml");
    let text = std::fs::read_to_string(&project_file).unwrap();
    std::fs::write(
        &project_file,
        format!("{text}dispatch:\n  - macro_namespace: tools\n    search_order: [tools]\n"),
    )
    .unwrap();
    assert_eq!(
        sql(&compile_dir(dir.path(), None), "a"),
        "select t.x from t"
    );
}

#[test]
fn plain_names_inside_a_package_find_its_own_macros_first() {
    let dir = with_package(
        &[
            ("models/a.sql", "select {{ tools.cols(['x']) }} from t"),
            (
                "macros/helper.sql",
                "{% macro helper(names) %}{{ return(['root']) }}{% endmacro %}",
            ),
        ],
        &[("macros/tools.sql", TOOLS_MACROS)],
    );
    assert_eq!(
        sql(&compile_dir(dir.path(), None), "a"),
        "select t.x from t"
    );
}

#[test]
fn generic_tests_of_a_package_are_named_after_it() {
    let dir = with_package(
        &[
            ("models/orders.sql", "select 1 as amount"),
            (
                "models/schema.yml",
                "version: 2\nmodels:\n  - name: orders\n    columns:\n      - name: amount\n        data_tests: [tools.positive]\n",
            ),
        ],
        &[("macros/tools.sql", TOOLS_MACROS)],
    );
    let c = compile_dir(dir.path(), None);
    let test = c
        .manifest
        .nodes
        .values()
        .find(|n| n.name == "tools_positive_orders_amount")
        .expect("the test node, named as dbt names it");
    assert_eq!(
        test.compiled_code.as_deref(),
        Some("select * from \"warehouse\".\"main\".\"orders\" where amount <= 0")
    );
    assert_eq!(
        test.test.as_ref().unwrap().namespace.as_deref(),
        Some("tools")
    );
}

#[test]
fn a_test_of_a_package_that_is_not_installed_says_so() {
    let dir = support::project(&[
        ("models/orders.sql", "select 1 as amount"),
        (
            "models/schema.yml",
            "version: 2\nmodels:\n  - name: orders\n    data_tests:\n      - dbt_utils.expression_is_true:\n          expression: amount > 0\n",
        ),
    ]);
    let error = compile(&load_dir(dir.path(), None))
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("test 'dbt_utils.expression_is_true' comes from package 'dbt_utils', which is not installed"),
        "{error}"
    );
    assert!(error.contains("run `elt deps`"), "{error}");
    assert!(error.contains("models/schema.yml:5"), "{error}");
}

/// The error of reading the project in `dir`, which must fail.
fn load_error(dir: &std::path::Path) -> String {
    elt_core::project::Project::load(&elt_core::project::LoadOptions {
        project_dir: dir.to_path_buf(),
        profiles_dir: Some(dir.to_path_buf()),
        ..Default::default()
    })
    .expect_err("the project must not load")
    .to_string()
}

#[test]
fn declared_packages_that_are_not_installed_are_an_error() {
    let dir = support::project(&[
        ("models/a.sql", "select 1"),
        (
            "packages.yml",
            "packages:\n  - package: dbt-labs/dbt_utils\n    version: 1.3.0\n",
        ),
    ]);
    let error = load_error(dir.path());
    assert!(error.contains("packages.yml:2"), "{error}");
    assert!(error.contains("run `elt deps`"), "{error}");
}

#[test]
fn a_package_requiring_another_dbt_version_is_an_error() {
    let dir = support::project(&[
        ("models/a.sql", "select 1"),
        (
            "dbt_packages/old/dbt_project.yml",
            "name: old\nrequire-dbt-version: ['>=0.20.0', '<0.21.0']\n",
        ),
    ]);
    let error = load_error(dir.path());
    assert!(
        error.contains("package 'old' requires dbt >=0.20.0, <0.21.0, and elt follows dbt 1.11.0"),
        "{error}"
    );
    assert!(
        error.contains("dbt_packages/old/dbt_project.yml:2"),
        "{error}"
    );
}

#[test]
fn lists_and_dicts_are_mutable_as_in_python() {
    let dir = support::project(&[(
        "models/a.sql",
        "{% set cols = [] %}{% set seen = {} %}\
         {% for c in ['a', 'b', 'a'] %}{% if c not in seen %}{% do cols.append(c) %}{% do seen.update({c: 1}) %}{% endif %}{% endfor %}\
         {% do cols.insert(0, 'id') %}{% do cols.extend(['z']) %}{% set last = cols.pop() %}\
         {% set d = dict(x=1) %}{% do d.setdefault('y', 2) %}{% set copy = cols | list %}{% do copy.append('w') %}\
         select {{ cols | join(', ') }} -- {{ last }} {{ d }} {{ cols }} {{ copy | length }} {{ seen.keys() | list }}",
    )]);
    assert_eq!(
        sql(&compile_dir(dir.path(), None), "a"),
        "select id, a, b -- z {'x': 1, 'y': 2} ['id', 'a', 'b'] 4 ['a', 'b']"
    );
}

#[test]
fn a_list_passed_to_a_macro_is_changed_in_place() {
    let dir = support::project(&[
        (
            "macros/m.sql",
            "{% macro add(to, item) %}{% do to.append(item) %}{% endmacro %}",
        ),
        (
            "models/a.sql",
            "{% set xs = [1] %}{{ add(xs, 2) }}{{ add(xs, 3) }}select {{ xs | sum }} as s, {{ xs[-1] }} as l",
        ),
    ]);
    assert_eq!(
        sql(&compile_dir(dir.path(), None), "a"),
        "select 6 as s, 3 as l"
    );
}

#[test]
fn changing_a_read_only_list_says_how_to_copy_it() {
    let dir = support::project(&[
        (
            "elt_project.yml",
            "name: shop\nprofile: shop\nvars:\n  cols: [b, a]\n",
        ),
        (
            "models/a.sql",
            "{% set cols = var('cols') %}{% do cols.append('c') %}select 1\n{% do (cols | sort).append('d') %}",
        ),
    ]);
    let error = compile(&load_dir(dir.path(), None))
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("cannot append() on this list"), "{error}");
    assert!(error.contains("| list"), "{error}");
    assert!(error.contains("models/a.sql:2"), "{error}");
}

#[test]
fn execute_is_false_while_parsing_and_true_when_compiling() {
    let dir = support::project(&[(
        "models/a.sql",
        "select {% if execute %}'compiled'{% else %}'parsed'{% endif %} as phase",
    )]);
    let c = compile_dir(dir.path(), None);
    assert_eq!(sql(&c, "a"), "select 'compiled' as phase");
    let node = c.manifest.nodes.values().find(|n| n.name == "a").unwrap();
    assert!(!node.introspective);
}

#[test]
fn a_node_that_queries_the_warehouse_compiles_as_parsed_until_it_runs() {
    let dir = support::project(&[(
        "models/a.sql",
        "{% set n = 0 %}{% if execute %}{% set n = run_query('select 42 as n').columns[0].values()[0] %}{% endif %}select {{ n }} as n",
    )]);
    let c = compile_dir(dir.path(), None);
    // Without a warehouse the SQL is as dbt renders it while parsing; the run renders it again.
    assert_eq!(sql(&c, "a"), "select 0 as n");
    let node = c.manifest.nodes.values().find(|n| n.name == "a").unwrap();
    assert!(node.introspective);
}

#[test]
fn macros_take_extra_arguments_as_varargs_and_kwargs() {
    let dir = support::project(&[
        (
            "macros/m.sql",
            "{% macro f(a) %}{{ a }}|{{ varargs | join(',') }}|{{ kwargs.get('at_least', 0) }}|{{ kwargs | length }}{% endmacro %}",
        ),
        (
            "models/a.sql",
            "select '{{ f(1, 2, 3, at_least=5, b=6) }}' as x",
        ),
    ]);
    assert_eq!(
        sql(&compile_dir(dir.path(), None), "a"),
        "select '1|2,3|5|2' as x"
    );
}

#[test]
fn python_modules_re_datetime_and_pytz() {
    let dir = support::project(&[(
        "models/a.sql",
        "{% set tz = modules.pytz.timezone('America/Los_Angeles') %}\
         select '{{ modules.re.sub('[ -]+', '_', 'a b-c') }}' as s,\
         '{{ modules.re.sub('(\\\\w+)@(\\\\w+)', '\\\\2 at \\\\1', 'me@host') }}' as g,\
         {{ modules.re.match('^(?!.*--)[-imsU]*$', 'im') is not none }} as m,\
         '{{ modules.datetime.date(1997, 9, 29) }}' as d,\
         '{{ modules.datetime.datetime(1997, 9, 29, 6, 14, 0, tzinfo=tz) }}' as lmt,\
         '{{ tz.localize(modules.datetime.datetime(1997, 9, 29, 6, 14)) }}' as local,\
         '{{ modules.datetime.datetime.strptime('2024-02-03', '%Y-%m-%d').strftime('%d/%m') }}' as f,\
         {{ modules.datetime.date(2024, 1, 2) < modules.datetime.date(2024, 1, 3) }} as lt,\
         {{ modules.datetime.timedelta(days=1, hours=1).total_seconds() }} as secs",
    )]);
    assert_eq!(
        sql(&compile_dir(dir.path(), None), "a"),
        "select 'a_b_c' as s,'host at me' as g,True as m,'1997-09-29' as d,\
         '1997-09-29 06:14:00-07:53' as lmt,'1997-09-29 06:14:00-07:00' as local,\
         '03/02' as f,True as lt,90000.0 as secs"
    );
}

#[test]
fn dates_move_by_timedeltas_with_plus_and_minus() {
    let dir = support::project(&[(
        "models/a.sql",
        "{% set d = modules.datetime.date(2024, 3, 1) %}\
         {% set t = modules.datetime.datetime(2024, 3, 1, 6, 30) %}\
         select '{{ d - modules.datetime.timedelta(1) }}' as yesterday,\
         '{{ d + modules.datetime.timedelta(days=2) - modules.datetime.timedelta(weeks=1) }}' as moved,\
         '{{ (t - modules.datetime.timedelta(hours=7)).isoformat() }}' as earlier,\
         {{ 3 - 1 }} as numbers",
    )]);
    assert_eq!(
        sql(&compile_dir(dir.path(), None), "a"),
        "select '2024-02-29' as yesterday,'2024-02-25' as moved,'2024-02-29T23:30:00' as earlier,2 as numbers"
    );
}

/// A package `tools` with models, a seed, properties, vars and folder configs of its own.
const TOOLS_PROJECT: &str = "name: tools
version: '1.0'
vars:
  limit: 5
  shared: from_package
models:
  tools:
    +materialized: table
    +tags: [tools]
";

fn with_package_models(root_files: &[(&str, &str)]) -> tempfile::TempDir {
    let mut files = vec![
        ("dbt_packages/tools/dbt_project.yml", TOOLS_PROJECT),
        ("dbt_packages/tools/seeds/numbers.csv", "n\n1\n2\n"),
        (
            "dbt_packages/tools/models/tools_orders.sql",
            "select {{ var('limit') }} as lim, '{{ var('shared') }}' as s, {{ helper(['n']) | join }} from {{ ref('numbers') }}",
        ),
        (
            "dbt_packages/tools/models/schema.yml",
            "version: 2\nmodels:\n  - name: tools_orders\n    columns:\n      - name: lim\n        data_tests: [not_null]\n",
        ),
        ("dbt_packages/tools/macros/tools.sql", TOOLS_MACROS),
    ];
    files.extend_from_slice(root_files);
    support::project(&files)
}

fn node<'a>(c: &'a elt_core::compile::Compiled, id: &str) -> &'a elt_core::manifest::Node {
    c.manifest
        .nodes
        .get(id)
        .unwrap_or_else(|| panic!("no node {id}; nodes: {:?}", c.manifest.nodes.keys()))
}

#[test]
fn package_models_seeds_and_tests_compile_in_their_package() {
    let dir = with_package_models(&[
        (
            "elt_project.yml",
            "name: shop\nprofile: shop\nvars:\n  tools:\n    shared: from_root\nmodels:\n  tools:\n    +tags: [from_root]\n",
        ),
        (
            "models/report.sql",
            "select * from {{ ref('tools', 'tools_orders') }}",
        ),
    ]);
    let c = compile_dir(dir.path(), None);
    let model = node(&c, "model.tools.tools_orders");
    // Its own vars, the root's block for the package winning; its plain macro names find
    // its own macros; ref() finds its own seed.
    assert_eq!(
        model.compiled_code.as_deref(),
        Some("select 5 as lim, 'from_root' as s, t.n from \"warehouse\".\"main\".\"numbers\"")
    );
    assert_eq!(model.package_name, "tools");
    assert_eq!(model.config["materialized"], "table");
    assert_eq!(model.tags, vec!["tools", "from_root"]);
    assert_eq!(model.depends_on_nodes, vec!["seed.tools.numbers"]);
    assert_eq!(
        elt_core::compile::compiled_path(std::path::Path::new("target"), model),
        std::path::Path::new("target/compiled/tools/models/tools_orders.sql")
    );
    let report = node(&c, "model.shop.report");
    assert_eq!(report.depends_on_nodes, vec!["model.tools.tools_orders"]);
    let test = c
        .manifest
        .nodes
        .values()
        .find(|n| n.name == "not_null_tools_orders_lim")
        .expect("the package's test");
    assert!(
        test.unique_id
            .starts_with("test.tools.not_null_tools_orders_lim.")
    );
    assert_eq!(test.depends_on_nodes, vec!["model.tools.tools_orders"]);
}

#[test]
fn plain_refs_find_the_root_project_first_then_the_package() {
    let dir = with_package_models(&[
        ("models/numbers.sql", "select 10 as n"),
        ("models/mine.sql", "select * from {{ ref('numbers') }}"),
        (
            "models/theirs.sql",
            "select * from {{ ref('tools', 'numbers') }}",
        ),
        ("seeds/.keep", ""),
        (
            "elt_project.yml",
            "name: shop\nprofile: shop\nseeds:\n  tools:\n    +schema: tools\n",
        ),
    ]);
    let c = compile_dir(dir.path(), None);
    assert_eq!(
        node(&c, "model.shop.mine").depends_on_nodes,
        vec!["model.shop.numbers"]
    );
    assert_eq!(
        node(&c, "model.shop.theirs").depends_on_nodes,
        vec!["seed.tools.numbers"]
    );
    // Inside the package, dbt too searches the root project first.
    assert_eq!(
        node(&c, "model.tools.tools_orders").depends_on_nodes,
        vec!["model.shop.numbers"]
    );
}

#[test]
fn the_root_project_file_wins_over_a_package_models_config_call() {
    let dir = with_package_models(&[
        (
            "elt_project.yml",
            "name: shop\nprofile: shop\nmodels:\n  tools:\n    +enabled: false\n",
        ),
        (
            "dbt_packages/tools/models/extra.sql",
            "{{ config(enabled=true, materialized='view') }}select 1 as x",
        ),
    ]);
    let c = compile_dir(dir.path(), None);
    assert!(c.manifest.disabled.contains_key("model.tools.extra"));
    assert!(c.manifest.disabled.contains_key("model.tools.tools_orders"));
    assert!(
        !c.manifest.nodes.values().any(|n| n.package_name == "tools"
            && n.resource_type == elt_core::manifest::ResourceType::Test),
        "tests of disabled package models are disabled too"
    );
}

#[test]
fn a_ref_to_a_model_a_package_lacks_names_the_package() {
    let dir = with_package_models(&[(
        "models/report.sql",
        "select * from {{ ref('tools', 'tools_order') }}",
    )]);
    let error = compile(&load_dir(dir.path(), None))
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("ref('tools', 'tools_order'): package 'tools' has no model, seed or snapshot named 'tools_order'"),
        "{error}"
    );
    assert!(error.contains("did you mean 'tools_orders'?"), "{error}");
    assert!(error.contains("models/report.sql:1"), "{error}");
}

#[test]
fn two_nodes_building_one_relation_are_an_error() {
    let dir = with_package_models(&[("models/numbers.sql", "select 10 as n")]);
    let error = compile(&load_dir(dir.path(), None))
        .err()
        .unwrap()
        .to_string();
    assert!(
        error.contains("both build \"warehouse\".\"main\".\"numbers\""),
        "{error}"
    );
    assert!(error.contains("model.shop.numbers"), "{error}");
    assert!(error.contains("seed.tools.numbers"), "{error}");
}

#[test]
fn graph_holds_every_node_and_source_when_executing() {
    let dir = support::project(&[
        ("models/a.sql", "{{ config(tags=['daily']) }}select 1 as x"),
        (
            "models/b.sql",
            "{{ config(tags=['daily']) }}select * from {{ ref('a') }}",
        ),
        (
            "models/c.sql",
            "select * from {{ source('raw', 'events') }}",
        ),
        (
            "models/sources.yml",
            "version: 2\nsources:\n  - name: raw\n    tables:\n      - name: events\n",
        ),
        (
            "models/daily.sql",
            "{% set names = [] %}{% if execute %}{% for node in graph.nodes.values() if 'daily' in node.tags %}{% do names.append(node.name ~ '<' ~ node.depends_on.nodes | join('+')) %}{% endfor %}{% endif %}select '{{ names | sort | join(',') }}' as daily, '{{ graph.sources.values() | map(attribute='name') | join }}' as src, {{ graph.exposures | length }} as exposures",
        ),
    ]);
    let c = compile_dir(dir.path(), None);
    assert_eq!(
        sql(&c, "daily"),
        "select 'a<,b<model.shop.a' as daily, 'events' as src, 0 as exposures"
    );
}

#[test]
fn a_source_declared_by_the_project_and_a_package_is_the_projects_first() {
    let sources = |schema: &str| {
        format!(
            "version: 2\nsources:\n  - name: raw\n    schema: {schema}\n    tables:\n      - name: events\n"
        )
    };
    let root_sources = sources("root_raw");
    let package_sources = sources("tools_raw");
    let dir = with_package_models(&[
        ("models/sources.yml", root_sources.as_str()),
        (
            "models/mine.sql",
            "select * from {{ source('raw', 'events') }}",
        ),
        (
            "dbt_packages/tools/models/sources.yml",
            package_sources.as_str(),
        ),
        (
            "dbt_packages/tools/models/theirs.sql",
            "select * from {{ source('raw', 'events') }}",
        ),
    ]);
    let c = compile_dir(dir.path(), None);
    assert!(c.manifest.sources.contains_key("source.tools.raw.events"));
    assert_eq!(
        node(&c, "model.shop.mine").depends_on_nodes,
        vec!["source.shop.raw.events"]
    );
    // dbt searches the root project first, from a package's node too.
    assert_eq!(
        node(&c, "model.tools.theirs").depends_on_nodes,
        vec!["source.shop.raw.events"]
    );
    assert!(sql(&c, "theirs").contains("\"root_raw\".\"events\""));
}

#[test]
fn a_package_names_its_own_nodes_with_its_generate_schema_name() {
    let dir = with_package(
        &[("models/mine.sql", "select 1 as id")],
        &[
            ("models/theirs.sql", "select 2 as id"),
            (
                "macros/naming.sql",
                "{% macro generate_schema_name(custom_schema_name, node) %}tools_{{ custom_schema_name or target.schema }}{% endmacro %}",
            ),
        ],
    );
    let c = compile_dir(dir.path(), None);
    let theirs = node(&c, "model.tools.theirs").relation.as_ref().unwrap();
    assert_eq!(theirs.schema, "tools_main");
    let mine = node(&c, "model.shop.mine").relation.as_ref().unwrap();
    assert_eq!(mine.schema, "main");
}
