{#- Data vault keys: MD5 (hex) over the business key's values, each cast to text, trimmed and
    upper-cased, NULL written as '^^', joined with '||'. The same text, and so the same hash,
    on every warehouse. -#}
{% macro vault_hash(columns) -%}
    {%- set joined -%}
        {%- for column in columns -%}
            coalesce(upper(trim(cast({{ column }} as {{ elt.type_string() }}))), '^^')
            {%- if not loop.last %} || '||' || {% endif -%}
        {%- endfor -%}
    {%- endset -%}
    {{ elt.hash(joined) }}
{%- endmacro %}

{#- A hub's, link's or satellite's hash key from its business key column(s). -#}
{% macro hash_key(columns) %}{{ vault_hash(columns if columns is not string else [columns]) }}{% endmacro %}

{#- A satellite's hashdiff: the hash of its descriptive columns, to tell versions apart. -#}
{% macro hashdiff(columns) %}{{ vault_hash(columns) }}{% endmacro %}
