-- No order line sells a product before the product was added to the catalog.
select items.order_id, items.line_number, items.product_id
from {{ ref('fct_order_items') }} as items
join {{ ref('fct_orders') }} as orders on orders.order_id = items.order_id
join (
    select product_id, min(created_at) as created_at
    from {{ ref('stg_products') }}
    group by product_id
) as products on products.product_id = items.product_id
where orders.ordered_at < products.created_at
