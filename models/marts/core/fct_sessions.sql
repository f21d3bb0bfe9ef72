-- One row per browsing session: when, who, how far down the funnel, and the order it placed.
select
    session_id,
    max(customer_id) as customer_id,
    min(occurred_at) as started_at,
    max(occurred_at) as ended_at,
    cast(min(occurred_at) as date) as session_date,
    count(*) as events,
    sum(case when event_type = 'page_view' then 1 else 0 end) as page_views,
    max(case when event_type = 'search' then 1 else 0 end) = 1 as searched,
    max(case when event_type = 'add_to_cart' then 1 else 0 end) = 1 as added_to_cart,
    max(case when event_type = 'checkout' then 1 else 0 end) = 1 as checked_out,
    max(case when event_type = 'purchase' then 1 else 0 end) = 1 as purchased,
    max(order_id) as order_id
from {{ ref('stg_events') }}
group by session_id
