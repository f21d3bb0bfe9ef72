-- Clickstream events, one row each: valid JSON only, an event sent twice kept once (late
-- events are in the next day's file, and count all the same), timestamps in UTC.
with parsed as (
    select
        {{ json_text('line', 'event_id') }} as event_id,
        {{ json_text('line', 'session_id') }} as session_id,
        cast({{ json_text('line', 'customer_id') }} as bigint) as customer_id,
        {{ json_text('line', 'event_type') }} as event_type,
        {{ utc_timestamp(json_text('line', 'occurred_at')) }} as occurred_at,
        {{ json_text('line', 'page') }} as page,
        {{ json_text('line', 'search_query') }} as search_query,
        cast({{ json_text('line', 'product_id') }} as bigint) as product_id,
        cast({{ json_text('line', 'order_id') }} as bigint) as order_id,
        row_number() over (
            partition by {{ json_text('line', 'event_id') }} order by _elt_source
        ) as copy_number
    from {{ source('raw', 'events') }}
)

select
    event_id,
    session_id,
    customer_id,
    event_type,
    occurred_at,
    page,
    search_query,
    product_id,
    order_id
from parsed
where copy_number = 1
