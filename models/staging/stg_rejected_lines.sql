-- Lines of the JSON-lines sources that are not valid JSON: kept out of the clean layer, and
-- kept here, so that nothing is lost silently (see data_quality_kpis).
{% set tables = ['orders', 'order_items', 'payments', 'shipments', 'events'] %}
{% for table in tables %}
select '{{ table }}' as source_table, source_file, line
from {{ source('raw', table) }}
where line <> '' and not {{ is_json('line') }}
{% if not loop.last %}union all{% endif %}
{% endfor %}
