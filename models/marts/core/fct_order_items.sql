-- One row per order line, with its order's date, status and currency.
select
    items.order_id,
    items.line_number,
    items.product_id,
    orders.customer_id,
    orders.order_date,
    orders.status,
    orders.currency_code,
    items.quantity,
    items.unit_price_cents,
    items.amount_cents
from {{ ref('stg_order_items') }} as items
join {{ ref('stg_orders') }} as orders on orders.order_id = items.order_id
