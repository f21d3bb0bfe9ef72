-- One row per order with its amount: items plus shipping minus discount, whatever total the
-- shop system stated, and that amount in US dollars. Cancelled orders are kept, flagged.
with items as (
    select order_id, sum(amount_cents) as items_cents, count(*) as item_lines
    from {{ ref('stg_order_items') }}
    group by order_id
)

select
    orders.order_id as order_id,
    orders.customer_id as customer_id,
    orders.ordered_at as ordered_at,
    orders.order_date as order_date,
    orders.currency_code as currency_code,
    orders.status as status,
    orders.status <> 'cancelled' as is_revenue,
    coalesce(items.item_lines, 0) as item_lines,
    coalesce(items.items_cents, 0) as items_cents,
    orders.shipping_cents as shipping_cents,
    orders.discount_cents as discount_cents,
    coalesce(items.items_cents, 0) + orders.shipping_cents - orders.discount_cents as amount_cents,
    orders.stated_total_cents as stated_total_cents,
    orders.stated_total_cents
        <> coalesce(items.items_cents, 0) + orders.shipping_cents - orders.discount_cents
        as has_total_mismatch,
    rates.usd_rate_bp as usd_rate_bp,
    (coalesce(items.items_cents, 0) + orders.shipping_cents - orders.discount_cents)
        * rates.usd_rate_bp as amount_usd_micros
from {{ ref('stg_orders') }} as orders
left join items on items.order_id = orders.order_id
left join {{ ref('currency_rates') }} as rates on rates.currency_code = orders.currency_code
