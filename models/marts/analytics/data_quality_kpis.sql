-- What the clean layer had to fix or keep out, per source table: lines that are not JSON,
-- records written more than once, orders whose stated total is off.
{% set json_tables = ['orders', 'order_items', 'payments', 'shipments', 'events'] %}
with rejected as (
    select source_table, count(*) as lines
    from {{ ref('stg_rejected_lines') }}
    group by source_table
),

duplicates as (
    {% for table in json_tables %}
    select '{{ table }}' as source_table, count(*) - count(distinct line) as lines
    from {{ source('raw', table) }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select 'malformed_lines' as kpi, source_table, lines as value from rejected
union all
select 'duplicate_lines', source_table, lines from duplicates
union all
select 'mismatched_order_totals', 'orders', count(*)
from {{ ref('fct_orders') }}
where has_total_mismatch
