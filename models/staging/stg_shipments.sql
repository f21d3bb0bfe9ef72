-- Shipments, one row each (valid JSON only), in UTC; delivered_at is null until delivered.
with parsed as (
    select
        cast({{ json_text('line', 'shipment_id') }} as bigint) as shipment_id,
        cast({{ json_text('line', 'order_id') }} as bigint) as order_id,
        {{ json_text('line', 'carrier') }} as carrier,
        {{ utc_timestamp(json_text('line', 'shipped_at')) }} as shipped_at,
        {{ utc_timestamp(json_text('line', 'delivered_at')) }} as delivered_at,
        row_number() over (
            partition by {{ json_text('line', 'shipment_id') }} order by _elt_source
        ) as copy_number
    from {{ source('raw', 'shipments') }}
)

select shipment_id, order_id, carrier, shipped_at, delivered_at
from parsed
where copy_number = 1
