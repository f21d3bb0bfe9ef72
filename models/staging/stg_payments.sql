-- Charges and refunds (negative amounts), one row each (valid JSON only), in UTC.
with parsed as (
    select
        cast({{ json_text('line', 'payment_id') }} as bigint) as payment_id,
        cast({{ json_text('line', 'order_id') }} as bigint) as order_id,
        {{ json_text('line', 'method') }} as payment_method,
        {{ json_text('line', 'kind') }} as payment_kind,
        cast({{ json_text('line', 'amount_cents') }} as bigint) as amount_cents,
        {{ json_text('line', 'currency') }} as currency_code,
        {{ utc_timestamp(json_text('line', 'paid_at')) }} as paid_at,
        row_number() over (
            partition by {{ json_text('line', 'payment_id') }} order by _elt_source
        ) as copy_number
    from {{ source('raw', 'payments') }}
)

select payment_id, order_id, payment_method, payment_kind, amount_cents, currency_code, paid_at
from parsed
where copy_number = 1
