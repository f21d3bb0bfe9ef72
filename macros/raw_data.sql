{#- Reading the raw layer on every warehouse: JSON text and source timestamps. -#}

{#- A top-level key of a JSON object as text; NULL when it is missing or null. -#}
{% macro json_text(line, key) %}{{ return(adapter.dispatch('json_text')(line, key)) }}{% endmacro %}
{% macro default__json_text(line, key) %}json_extract_string({{ line }}, '$.{{ key }}'){% endmacro %}
{% macro postgres__json_text(line, key) %}(cast({{ line }} as jsonb) ->> '{{ key }}'){% endmacro %}
{% macro clickhouse__json_text(line, key) %}JSONExtract({{ line }}, '{{ key }}', 'Nullable(String)'){% endmacro %}

{#- A source timestamp as UTC: `2024-01-02 03:04:05` is UTC already; `2024-01-02T05:04:05+02:00`
    carries its zone's offset, which is taken off. -#}
{% macro utc_timestamp(text) %}{{ return(adapter.dispatch('utc_timestamp')(text)) }}{% endmacro %}
{% macro default__utc_timestamp(text) -%}
    (cast(substr({{ text }}, 1, 10) || ' ' || substr({{ text }}, 12, 8) as timestamp)
        - case when length({{ text }}) > 19
            then (case when substr({{ text }}, 20, 1) = '-' then -1 else 1 end)
                * (cast(substr({{ text }}, 21, 2) as integer) * 60 + cast(substr({{ text }}, 24, 2) as integer))
            else 0 end * interval '1 minute')
{%- endmacro %}
{% macro clickhouse__utc_timestamp(text) %}parseDateTime64BestEffort({{ text }}, 0, 'UTC'){% endmacro %}
