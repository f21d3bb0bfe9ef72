-- One row per order line, with its order's date, status and currency.
select
    items.order_id as order_id,
    items.line_number as line_number,
    items.product_id as product_id,
    orders.customer_id as customer_id,
    orders.order_date as order_date,
    orders.status as status,
    orders.currency_code as currency_code,
    items.quantity as quantity,
    items.unit_price_cents as unit_price_cents,
    items.amount_cents as amount_cents
from {{ ref('stg_order_items') }} as items
join {{ ref('stg_orders') }} as orders on orders.order_id = items.order_id
