-- Orders, one row each: valid JSON only (the loader keeps malformed lines out, see
-- stg_rejected_lines), a record written twice kept once, timestamps in UTC.
with parsed as (
    select
        cast({{ json_text('line', 'order_id') }} as bigint) as order_id,
        cast({{ json_text('line', 'customer_id') }} as bigint) as customer_id,
        {{ utc_timestamp(json_text('line', 'ordered_at')) }} as ordered_at,
        {{ json_text('line', 'currency') }} as currency_code,
        {{ json_text('line', 'status') }} as status,
        cast({{ json_text('line', 'shipping_cents') }} as bigint) as shipping_cents,
        cast({{ json_text('line', 'discount_cents') }} as bigint) as discount_cents,
        cast({{ json_text('line', 'total_cents') }} as bigint) as stated_total_cents,
        row_number() over (
            partition by {{ json_text('line', 'order_id') }} order by _elt_source
        ) as copy_number
    from {{ source('raw', 'orders') }}
)

select
    order_id,
    customer_id,
    ordered_at,
    cast(ordered_at as date) as order_date,
    currency_code,
    status,
    shipping_cents,
    discount_cents,
    stated_total_cents
from parsed
where copy_number = 1
