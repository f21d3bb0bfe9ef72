-- Lines of the JSON-lines sources that are not valid JSON: the loader kept them out of the raw
-- tables as dead letters, and they are kept here, so that nothing is lost silently (see
-- data_quality_kpis).
with dead_letters as (
    select source_table as raw_table, stream, payload
    from {{ source('loads', 'dead_letters') }}
    where source_table in (
        {%- for table in ['orders', 'order_items', 'payments', 'shipments', 'events'] -%}
        'raw.{{ table }}'{% if not loop.last %}, {% endif %}
        {%- endfor -%}
    )
)

select
    substr(raw_table, 5) as source_table,
    stream as source_file,
    payload as line
from dead_letters
