{{ config(materialized='incremental', unique_key='order_product_hk', incremental_strategy='append') }}
-- Which products each order sold (one row per order and product). Insert-only.
with pairs as (
    select items.order_id, items.product_id, min(orders.ordered_at) as load_date
    from {{ ref('stg_order_items') }} as items
    join {{ ref('stg_orders') }} as orders on orders.order_id = items.order_id
    group by items.order_id, items.product_id
)

select
    {{ hash_key(['order_id', 'product_id']) }} as order_product_hk,
    {{ hash_key('order_id') }} as order_hk,
    {{ hash_key('product_id') }} as product_hk,
    load_date,
    'shop_service.order_items' as record_source
from pairs
{% if is_incremental() %}
where {{ hash_key(['order_id', 'product_id']) }} not in (select order_product_hk from {{ this }})
{% endif %}
