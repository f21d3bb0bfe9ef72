-- Order lines, one row each (valid JSON only).
with parsed as (
    select
        cast({{ json_text('line', 'order_id') }} as bigint) as order_id,
        cast({{ json_text('line', 'line_number') }} as integer) as line_number,
        cast({{ json_text('line', 'product_id') }} as bigint) as product_id,
        cast({{ json_text('line', 'quantity') }} as bigint) as quantity,
        cast({{ json_text('line', 'unit_price_cents') }} as bigint) as unit_price_cents,
        row_number() over (
            partition by {{ json_text('line', 'order_id') }}, {{ json_text('line', 'line_number') }}
            order by _elt_source
        ) as copy_number
    from {{ source('raw', 'order_items') }}
)

select
    order_id,
    line_number,
    product_id,
    quantity,
    unit_price_cents,
    quantity * unit_price_cents as amount_cents
from parsed
where copy_number = 1
