{#- Built-in macros, in dbt's namespace. A project macro with the same name overrides them,
    and adapter.dispatch finds project implementations (`duckdb__x`, `default__x`) first. -#}

{% macro generate_schema_name(custom_schema_name, node) -%}
    {{ return(adapter.dispatch('generate_schema_name', 'dbt')(custom_schema_name, node)) }}
{%- endmacro %}

{% macro default__generate_schema_name(custom_schema_name, node) -%}
    {%- set default_schema = target.schema -%}
    {%- if custom_schema_name is none -%}
        {{ default_schema }}
    {%- else -%}
        {{ default_schema }}_{{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}

{% macro generate_schema_name_for_env(custom_schema_name, node) -%}
    {%- set default_schema = target.schema -%}
    {%- if target.name == 'prod' and custom_schema_name is not none -%}
        {{ custom_schema_name | trim }}
    {%- else -%}
        {{ default_schema }}
    {%- endif -%}
{%- endmacro %}

{% macro generate_alias_name(custom_alias_name=none, node=none) -%}
    {{ return(adapter.dispatch('generate_alias_name', 'dbt')(custom_alias_name, node)) }}
{%- endmacro %}

{% macro default__generate_alias_name(custom_alias_name=none, node=none) -%}
    {%- if custom_alias_name -%}
        {{ custom_alias_name | trim }}
    {%- elif node.version -%}
        {{ return(node.name ~ "_v" ~ (node.version | replace(".", "_"))) }}
    {%- else -%}
        {{ node.name }}
    {%- endif -%}
{%- endmacro %}

{% macro generate_database_name(custom_database_name=none, node=none) -%}
    {{ return(adapter.dispatch('generate_database_name', 'dbt')(custom_database_name, node)) }}
{%- endmacro %}

{% macro default__generate_database_name(custom_database_name=none, node=none) -%}
    {%- set default_database = target.database -%}
    {%- if custom_database_name is none -%}
        {{ default_database }}
    {%- else -%}
        {{ custom_database_name }}
    {%- endif -%}
{%- endmacro %}

{% macro get_where_subquery(relation) -%}
    {{ return(adapter.dispatch('get_where_subquery', 'dbt')(relation)) }}
{%- endmacro %}

{% macro default__get_where_subquery(relation) -%}
    {% set where = config.get('where', '') %}
    {% if where %}
        {%- set filtered -%}
            (select * from {{ relation }} where {{ where }}) dbt_subquery
        {%- endset -%}
        {{ return(filtered) }}
    {%- else -%}
        {{ return(relation) }}
    {%- endif -%}
{%- endmacro %}

{% macro should_store_failures() %}
    {{ return(config.get('store_failures') or false) }}
{% endmacro %}

{% test unique(model, column_name) %}
    {% set macro = adapter.dispatch('test_unique', 'dbt') %}
    {{ macro(model, column_name) }}
{% endtest %}

{% macro default__test_unique(model, column_name) %}

select
    {{ column_name }} as unique_field,
    count(*) as n_records

from {{ model }}
where {{ column_name }} is not null
group by {{ column_name }}
having count(*) > 1

{% endmacro %}

{% test not_null(model, column_name) %}
    {% set macro = adapter.dispatch('test_not_null', 'dbt') %}
    {{ macro(model, column_name) }}
{% endtest %}

{% macro default__test_not_null(model, column_name) %}

{% set column_list = '*' if should_store_failures() else column_name %}

select {{ column_list }}
from {{ model }}
where {{ column_name }} is null

{% endmacro %}

{% test accepted_values(model, column_name, values, quote=True) %}
    {% set macro = adapter.dispatch('test_accepted_values', 'dbt') %}
    {{ macro(model, column_name, values, quote) }}
{% endtest %}

{% macro default__test_accepted_values(model, column_name, values, quote=True) %}

with all_values as (

    select
        {{ column_name }} as value_field,
        count(*) as n_records

    from {{ model }}
    group by {{ column_name }}

)

select *
from all_values
where value_field not in (
    {% for value in values -%}
        {% if quote -%}
        '{{ value }}'
        {%- else -%}
        {{ value }}
        {%- endif -%}
        {%- if not loop.last -%},{%- endif %}
    {%- endfor %}
)

{% endmacro %}

{% test relationships(model, column_name, to, field) %}
    {% set macro = adapter.dispatch('test_relationships', 'dbt') %}
    {{ macro(model, column_name, to, field) }}
{% endtest %}

{% macro default__test_relationships(model, column_name, to, field) %}

with child as (
    select {{ column_name }} as from_field
    from {{ model }}
    where {{ column_name }} is not null
),

parent as (
    select {{ field }} as to_field
    from {{ to }}
)

select
    from_field

from child
left join parent
    on child.from_field = parent.to_field

where parent.to_field is null

{% endmacro %}

{#- Cross-database macros (dbt's names; also reachable as `elt.x(...)` and `dbt.x(...)`). Each
    dispatches per adapter, so a project overrides one for a warehouse with `<adapter>__x`. -#}

{% macro type_string() %}{{ return(adapter.dispatch('type_string', 'dbt')()) }}{% endmacro %}
{% macro default__type_string() %}{{ return('varchar') }}{% endmacro %}
{% macro postgres__type_string() %}{{ return('text') }}{% endmacro %}
{% macro clickhouse__type_string() %}{{ return('String') }}{% endmacro %}

{% macro type_int() %}{{ return(adapter.dispatch('type_int', 'dbt')()) }}{% endmacro %}
{% macro default__type_int() %}{{ return('integer') }}{% endmacro %}
{% macro clickhouse__type_int() %}{{ return('Int32') }}{% endmacro %}

{% macro type_bigint() %}{{ return(adapter.dispatch('type_bigint', 'dbt')()) }}{% endmacro %}
{% macro default__type_bigint() %}{{ return('bigint') }}{% endmacro %}
{% macro clickhouse__type_bigint() %}{{ return('Int64') }}{% endmacro %}

{% macro type_float() %}{{ return(adapter.dispatch('type_float', 'dbt')()) }}{% endmacro %}
{% macro default__type_float() %}{{ return('double precision') }}{% endmacro %}
{% macro duckdb__type_float() %}{{ return('double') }}{% endmacro %}
{% macro clickhouse__type_float() %}{{ return('Float64') }}{% endmacro %}

{% macro type_numeric() %}{{ return(adapter.dispatch('type_numeric', 'dbt')()) }}{% endmacro %}
{% macro default__type_numeric() %}{{ return('numeric(28,6)') }}{% endmacro %}
{% macro duckdb__type_numeric() %}{{ return('decimal(28,6)') }}{% endmacro %}
{% macro clickhouse__type_numeric() %}{{ return('Decimal(28, 6)') }}{% endmacro %}

{% macro type_boolean() %}{{ return(adapter.dispatch('type_boolean', 'dbt')()) }}{% endmacro %}
{% macro default__type_boolean() %}{{ return('boolean') }}{% endmacro %}
{% macro clickhouse__type_boolean() %}{{ return('Bool') }}{% endmacro %}

{% macro type_timestamp() %}{{ return(adapter.dispatch('type_timestamp', 'dbt')()) }}{% endmacro %}
{% macro default__type_timestamp() %}{{ return('timestamp') }}{% endmacro %}
{% macro clickhouse__type_timestamp() %}{{ return('DateTime64(6)') }}{% endmacro %}

{% macro cast(field, type) %}{{ return(adapter.dispatch('cast', 'dbt')(field, type)) }}{% endmacro %}
{% macro default__cast(field, type) %}cast({{ field }} as {{ type }}){% endmacro %}

{% macro safe_cast(field, type) %}{{ return(adapter.dispatch('safe_cast', 'dbt')(field, type)) }}{% endmacro %}
{#- PostgreSQL has no cast that returns null on failure: as in dbt-postgres, a plain cast. -#}
{% macro default__safe_cast(field, type) %}cast({{ field }} as {{ type }}){% endmacro %}
{% macro duckdb__safe_cast(field, type) %}try_cast({{ field }} as {{ type }}){% endmacro %}
{% macro clickhouse__safe_cast(field, type) %}accurateCastOrNull({{ field }}, '{{ type }}'){% endmacro %}

{% macro hash(field) %}{{ return(adapter.dispatch('hash', 'dbt')(field)) }}{% endmacro %}
{% macro default__hash(field) %}md5(cast({{ field }} as {{ type_string() }})){% endmacro %}
{% macro clickhouse__hash(field) %}lower(hex(MD5(toString({{ field }})))){% endmacro %}

{% macro concat(fields) %}{{ return(adapter.dispatch('concat', 'dbt')(fields)) }}{% endmacro %}
{% macro default__concat(fields) %}concat({{ fields | join(', ') }}){% endmacro %}
{#- ClickHouse's concat is NULL when a part is; DuckDB's and PostgreSQL's skip NULL parts. -#}
{% macro clickhouse__concat(fields) -%}
    concat({% for field in fields %}ifNull(toString({{ field }}), ''){% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{#- dbt_utils.generate_surrogate_key: NULL and '' hash differently; fields joined by '-'. -#}
{% macro generate_surrogate_key(field_list) -%}
    {%- set ns = namespace(parts=[]) -%}
    {%- for field in field_list -%}
        {%- set ns.parts = ns.parts + ["coalesce(" ~ cast(field, type_string()) ~ ", '_dbt_utils_surrogate_key_null_')"] -%}
        {%- if not loop.last %}{% set ns.parts = ns.parts + ["'-'"] %}{% endif -%}
    {%- endfor -%}
    {{ hash(concat(ns.parts)) }}
{%- endmacro %}

{% macro date_trunc(datepart, date) %}{{ return(adapter.dispatch('date_trunc', 'dbt')(datepart, date)) }}{% endmacro %}
{% macro default__date_trunc(datepart, date) %}date_trunc('{{ datepart }}', {{ date }}){% endmacro %}
{% macro clickhouse__date_trunc(datepart, date) %}dateTrunc('{{ datepart }}', {{ date }}){% endmacro %}

{% macro dateadd(datepart, interval, from_date_or_timestamp) %}{{ return(adapter.dispatch('dateadd', 'dbt')(datepart, interval, from_date_or_timestamp)) }}{% endmacro %}
{% macro default__dateadd(datepart, interval, from_date_or_timestamp) %}{{ from_date_or_timestamp }} + ((interval '1 {{ datepart }}') * ({{ interval }})){% endmacro %}
{% macro duckdb__dateadd(datepart, interval, from_date_or_timestamp) %}date_add({{ from_date_or_timestamp }}, interval ({{ interval }}) {{ datepart }}){% endmacro %}
{% macro clickhouse__dateadd(datepart, interval, from_date_or_timestamp) %}date_add({{ datepart }}, {{ interval }}, {{ from_date_or_timestamp }}){% endmacro %}

{#- Calendar boundaries crossed between two dates, like DuckDB's date_diff. -#}
{% macro datediff(first_date, second_date, datepart) %}{{ return(adapter.dispatch('datediff', 'dbt')(first_date, second_date, datepart)) }}{% endmacro %}
{% macro default__datediff(first_date, second_date, datepart) %}date_diff('{{ datepart }}', cast({{ first_date }} as timestamp), cast({{ second_date }} as timestamp)){% endmacro %}
{#- As on the other warehouses, text in ISO format is read as a timestamp. -#}
{% macro clickhouse__datediff(first_date, second_date, datepart) %}dateDiff('{{ datepart }}', toDateTime64({{ first_date }}, 6), toDateTime64({{ second_date }}, 6)){% endmacro %}
{% macro postgres__datediff(first_date, second_date, datepart) -%}
    {%- set first = "cast(" ~ first_date ~ " as timestamp)" -%}
    {%- set second = "cast(" ~ second_date ~ " as timestamp)" -%}
    {%- set years = "(date_part('year', " ~ second ~ ") - date_part('year', " ~ first ~ "))" -%}
    {%- set days = "(cast(" ~ second ~ " as date) - cast(" ~ first ~ " as date))" -%}
    {%- set hours = "(" ~ days ~ " * 24 + date_part('hour', " ~ second ~ ") - date_part('hour', " ~ first ~ "))" -%}
    {%- set minutes = "(" ~ hours ~ " * 60 + date_part('minute', " ~ second ~ ") - date_part('minute', " ~ first ~ "))" -%}
    {%- if datepart == 'year' -%} cast({{ years }} as bigint)
    {%- elif datepart == 'quarter' -%} cast({{ years }} * 4 + date_part('quarter', {{ second }}) - date_part('quarter', {{ first }}) as bigint)
    {%- elif datepart == 'month' -%} cast({{ years }} * 12 + date_part('month', {{ second }}) - date_part('month', {{ first }}) as bigint)
    {%- elif datepart == 'week' -%} cast(({{ days }} + date_part('isodow', cast({{ first }} as date)) - 1) / 7 as bigint)
    {%- elif datepart == 'day' -%} cast({{ days }} as bigint)
    {%- elif datepart == 'hour' -%} cast({{ hours }} as bigint)
    {%- elif datepart == 'minute' -%} cast({{ minutes }} as bigint)
    {%- elif datepart == 'second' -%} cast({{ minutes }} * 60 + floor(date_part('second', {{ second }})) - floor(date_part('second', {{ first }})) as bigint)
    {%- else -%} {{ exceptions.raise_compiler_error("datediff does not know the date part '" ~ datepart ~ "' on postgres") }}
    {%- endif -%}
{%- endmacro %}

{% macro current_timestamp() %}{{ return(adapter.dispatch('current_timestamp', 'dbt')()) }}{% endmacro %}
{% macro default__current_timestamp() %}now(){% endmacro %}
{% macro duckdb__current_timestamp() %}current_timestamp{% endmacro %}

{% macro listagg(measure, delimiter_text="','", order_by_clause=none, limit_num=none) %}{{ return(adapter.dispatch('listagg', 'dbt')(measure, delimiter_text, order_by_clause, limit_num)) }}{% endmacro %}
{% macro default__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if limit_num -%}
    array_to_string((array_agg({{ measure }}{% if order_by_clause %} {{ order_by_clause }}{% endif %}))[1:{{ limit_num }}], {{ delimiter_text }})
    {%- else -%}
    string_agg({{ measure }}, {{ delimiter_text }}{% if order_by_clause %} {{ order_by_clause }}{% endif %})
    {%- endif -%}
{%- endmacro %}
{#- ClickHouse has no ordered aggregate: the values are collected with their sort key, sorted
    by it, then joined. `order by a, b` sorts by the tuple (a, b); `desc` applies to one key. -#}
{% macro clickhouse__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if order_by_clause -%}
        {%- set clause = order_by_clause.strip() -%}
        {%- if not clause.lower().startswith('order by ') -%}
            {{ exceptions.raise_compiler_error("listagg's order_by_clause must start with 'order by', not: " ~ clause) }}
        {%- endif -%}
        {%- set key = clause[9:].strip() -%}
        {%- set descending = key.lower().endswith(' desc') -%}
        {%- if descending and ',' in key -%}
            {{ exceptions.raise_compiler_error("listagg on clickhouse sorts descending by one key only: " ~ clause) }}
        {%- endif -%}
        {%- set key = key[:-5] if descending else (key[:-4] if key.lower().endswith(' asc') else key) -%}
        {%- set values -%}
            arrayMap(x -> x.1, {{ 'arrayReverseSort' if descending else 'arraySort' }}(x -> x.2, groupArray(({{ measure }}, ({{ key.strip() }})))))
        {%- endset -%}
    {%- else -%}
        {%- set values = 'groupArray(' ~ measure ~ ')' -%}
    {%- endif -%}
    arrayStringConcat({% if limit_num %}arraySlice({{ values }}, 1, {{ limit_num }}){% else %}{{ values }}{% endif %}, {{ delimiter_text }})
{%- endmacro %}

{% macro string_agg(measure, delimiter_text="','", order_by_clause=none) %}{{ return(listagg(measure, delimiter_text, order_by_clause)) }}{% endmacro %}

{% macro any_value(expression) %}{{ return(adapter.dispatch('any_value', 'dbt')(expression)) }}{% endmacro %}
{#- PostgreSQL 15 has no any_value: as in dbt-postgres, min. -#}
{% macro default__any_value(expression) %}min({{ expression }}){% endmacro %}
{% macro duckdb__any_value(expression) %}any_value({{ expression }}){% endmacro %}
{% macro clickhouse__any_value(expression) %}any({{ expression }}){% endmacro %}

{% macro split_part(string_text, delimiter_text, part_number) %}{{ return(adapter.dispatch('split_part', 'dbt')(string_text, delimiter_text, part_number)) }}{% endmacro %}
{% macro default__split_part(string_text, delimiter_text, part_number) %}split_part({{ string_text }}, {{ delimiter_text }}, {{ part_number }}){% endmacro %}
{% macro clickhouse__split_part(string_text, delimiter_text, part_number) %}splitByString({{ delimiter_text }}, {{ string_text }})[{{ part_number }}]{% endmacro %}

{#- The rest of dbt's cross-database macros (dbt-adapters' macros/utils). -#}
{% macro except() %}{{ return(adapter.dispatch('except', 'dbt')()) }}{% endmacro %}
{% macro default__except() %}except{% endmacro %}
{#- ClickHouse's bare EXCEPT and INTERSECT keep duplicates (except_default_mode is ALL). -#}
{% macro clickhouse__except() %}except distinct{% endmacro %}

{% macro intersect() %}{{ return(adapter.dispatch('intersect', 'dbt')()) }}{% endmacro %}
{% macro default__intersect() %}intersect{% endmacro %}
{% macro clickhouse__intersect() %}intersect distinct{% endmacro %}

{% macro length(expression) %}{{ return(adapter.dispatch('length', 'dbt')(expression)) }}{% endmacro %}
{% macro default__length(expression) %}length({{ expression }}){% endmacro %}

{% macro escape_single_quotes(expression) %}{{ return(adapter.dispatch('escape_single_quotes', 'dbt')(expression)) }}{% endmacro %}
{% macro default__escape_single_quotes(expression) %}{{ expression | replace("'", "''") }}{% endmacro %}

{% macro string_literal(value) %}{{ return(adapter.dispatch('string_literal', 'dbt')(value)) }}{% endmacro %}
{% macro default__string_literal(value) %}'{{ value }}'{% endmacro %}

{% macro position(substring_text, string_text) %}{{ return(adapter.dispatch('position', 'dbt')(substring_text, string_text)) }}{% endmacro %}
{% macro default__position(substring_text, string_text) %}position({{ substring_text }} in {{ string_text }}){% endmacro %}
{% macro clickhouse__position(substring_text, string_text) %}position({{ string_text }}, {{ substring_text }}){% endmacro %}

{% macro replace(field, old_chars, new_chars) %}{{ return(adapter.dispatch('replace', 'dbt')(field, old_chars, new_chars)) }}{% endmacro %}
{% macro default__replace(field, old_chars, new_chars) %}replace({{ field }}, {{ old_chars }}, {{ new_chars }}){% endmacro %}
{% macro clickhouse__replace(field, old_chars, new_chars) %}replaceAll({{ field }}, {{ old_chars }}, {{ new_chars }}){% endmacro %}

{% macro right(string_text, length_expression) %}{{ return(adapter.dispatch('right', 'dbt')(string_text, length_expression)) }}{% endmacro %}
{% macro default__right(string_text, length_expression) %}right({{ string_text }}, {{ length_expression }}){% endmacro %}

{% macro bool_or(expression) %}{{ return(adapter.dispatch('bool_or', 'dbt')(expression)) }}{% endmacro %}
{% macro default__bool_or(expression) %}bool_or({{ expression }}){% endmacro %}
{% macro clickhouse__bool_or(expression) %}max({{ expression }}){% endmacro %}

{% macro cast_bool_to_text(field) %}{{ return(adapter.dispatch('cast_bool_to_text', 'dbt')(field)) }}{% endmacro %}
{% macro default__cast_bool_to_text(field) %}cast({{ field }} as {{ type_string() }}){% endmacro %}

{% macro equals(expr1, expr2) %}{{ return(adapter.dispatch('equals', 'dbt')(expr1, expr2)) }}{% endmacro %}
{% macro default__equals(expr1, expr2) %}(({{ expr1 }} = {{ expr2 }}) or ({{ expr1 }} is null and {{ expr2 }} is null)){% endmacro %}

{% macro last_day(date, datepart) %}{{ return(adapter.dispatch('last_day', 'dbt')(date, datepart)) }}{% endmacro %}
{% macro default__last_day(date, datepart) %}{{ dbt.default_last_day(date, datepart) }}{% endmacro %}
{% macro default_last_day(date, datepart) %}cast({{ dbt.dateadd('day', '-1', dbt.dateadd(datepart, '1', dbt.date_trunc(datepart, date))) }} as date){% endmacro %}
{% macro postgres__last_day(date, datepart) -%}
    {%- if datepart == 'quarter' -%}
    cast({{ dbt.dateadd('day', '-1', dbt.dateadd('month', '3', dbt.date_trunc(datepart, date))) }} as date)
    {%- else -%}
    {{ dbt.default_last_day(date, datepart) }}
    {%- endif -%}
{%- endmacro %}

{% macro _split_part_negative(string_text, delimiter_text, part_number) -%}
    split_part({{ string_text }}, {{ delimiter_text }}, length({{ string_text }}) - length(replace({{ string_text }}, {{ delimiter_text }}, '')) + 2 + {{ part_number }})
{%- endmacro %}
{% macro postgres__split_part(string_text, delimiter_text, part_number) -%}
    {%- if part_number >= 0 -%}
    {{ dbt.default__split_part(string_text, delimiter_text, part_number) }}
    {%- else -%}
    {{ dbt._split_part_negative(string_text, delimiter_text, part_number) }}
    {%- endif -%}
{%- endmacro %}

{#- Arrays: all inputs of one type, as PostgreSQL requires. -#}
{% macro array_construct(inputs=[], data_type=api.Column.translate_type('integer')) %}{{ return(adapter.dispatch('array_construct', 'dbt')(inputs, data_type)) }}{% endmacro %}
{% macro default__array_construct(inputs, data_type) -%}
    {%- if inputs | length > 0 -%}array[ {{ inputs | join(' , ') }} ]{%- else -%}array[]::{{ data_type }}[]{%- endif -%}
{%- endmacro %}
{% macro duckdb__array_construct(inputs, data_type) -%}
    {%- if inputs | length > 0 -%}[ {{ inputs | join(' , ') }} ]{%- else -%}cast([] as {{ data_type }}[]){%- endif -%}
{%- endmacro %}
{% macro clickhouse__array_construct(inputs, data_type) -%}
    {%- if inputs | length > 0 -%}[ {{ inputs | join(' , ') }} ]{%- else -%}emptyArray{{ data_type }}(){%- endif -%}
{%- endmacro %}

{% macro array_append(array, new_element) %}{{ return(adapter.dispatch('array_append', 'dbt')(array, new_element)) }}{% endmacro %}
{% macro default__array_append(array, new_element) %}array_append({{ array }}, {{ new_element }}){% endmacro %}
{% macro clickhouse__array_append(array, new_element) %}arrayPushBack({{ array }}, {{ new_element }}){% endmacro %}

{% macro array_concat(array_1, array_2) %}{{ return(adapter.dispatch('array_concat', 'dbt')(array_1, array_2)) }}{% endmacro %}
{% macro default__array_concat(array_1, array_2) %}array_cat({{ array_1 }}, {{ array_2 }}){% endmacro %}
{% macro clickhouse__array_concat(array_1, array_2) %}arrayConcat({{ array_1 }}, {{ array_2 }}){% endmacro %}

{% macro date(year, month, day) %}{{ return(adapter.dispatch('date', 'dbt')(year, month, day)) }}{% endmacro %}
{% macro default__date(year, month, day) -%}
    to_date('{{ modules.datetime.date(year, month, day).strftime('%Y-%m-%d') }}', 'YYYY-MM-DD')
{%- endmacro %}
{% macro duckdb__date(year, month, day) -%}
    cast('{{ modules.datetime.date(year, month, day).strftime('%Y-%m-%d') }}' as date)
{%- endmacro %}
{% macro clickhouse__date(year, month, day) -%}
    toDate('{{ modules.datetime.date(year, month, day).strftime('%Y-%m-%d') }}')
{%- endmacro %}

{#- Series and spines: the number of intervals is asked of the warehouse while compiling. -#}
{% macro get_powers_of_two(upper_bound) %}{{ return(adapter.dispatch('get_powers_of_two', 'dbt')(upper_bound)) }}{% endmacro %}
{% macro default__get_powers_of_two(upper_bound) -%}
    {%- if upper_bound <= 0 -%}{{ exceptions.raise_compiler_error("upper bound must be positive") }}{%- endif -%}
    {%- for _ in range(1, 100) -%}
        {%- if upper_bound <= 2 ** loop.index -%}{{ return(loop.index) }}{%- endif -%}
    {%- endfor -%}
{%- endmacro %}

{% macro generate_series(upper_bound) %}{{ return(adapter.dispatch('generate_series', 'dbt')(upper_bound)) }}{% endmacro %}
{% macro default__generate_series(upper_bound) %}
    {% set n = dbt.get_powers_of_two(upper_bound) %}
    with p as (
        select 0 as generated_number union all select 1
    ), unioned as (
    select
    {% for i in range(n) %}
    p{{ i }}.generated_number * power(2, {{ i }})
    {% if not loop.last %} + {% endif %}
    {% endfor %}
    + 1
    as generated_number
    from
    {% for i in range(n) %}
    p as p{{ i }}
    {% if not loop.last %} cross join {% endif %}
    {% endfor %}
    )
    select *
    from unioned
    where generated_number <= {{ upper_bound }}
    order by generated_number
{% endmacro %}

{% macro get_intervals_between(start_date, end_date, datepart) %}{{ return(adapter.dispatch('get_intervals_between', 'dbt')(start_date, end_date, datepart)) }}{% endmacro %}
{% macro default__get_intervals_between(start_date, end_date, datepart) -%}
    {%- call statement('get_intervals_between', fetch_result=True) %}
        select {{ dbt.datediff(start_date, end_date, datepart) }}
    {%- endcall -%}
    {%- set value_list = load_result('get_intervals_between') -%}
    {%- if value_list and value_list['data'] -%}
        {{ return(value_list['data'] | map(attribute=0) | list | first) }}
    {%- else -%}
        {{ return(1) }}
    {%- endif -%}
{%- endmacro %}

{% macro date_spine(datepart, start_date, end_date) %}{{ return(adapter.dispatch('date_spine', 'dbt')(datepart, start_date, end_date)) }}{% endmacro %}
{% macro default__date_spine(datepart, start_date, end_date) %}
    with rawdata as (
        {{ dbt.generate_series(dbt.get_intervals_between(start_date, end_date, datepart)) }}
    ),
    all_periods as (
        select (
            {{ dbt.dateadd(datepart, "row_number() over (order by 1) - 1", start_date) }}
        ) as date_{{ datepart }}
        from rawdata
    ),
    filtered as (
        select *
        from all_periods
        where date_{{ datepart }} <= {{ end_date }}
    )
    select * from filtered
{% endmacro %}
