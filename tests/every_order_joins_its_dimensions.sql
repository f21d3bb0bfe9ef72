-- Every order joins its customer (the version current when it was placed), its date, and
-- every line's product.
select orders.order_id, 'customer' as missing
from {{ ref('fct_orders') }} as orders
left join {{ ref('dim_customers') }} as customers
    on customers.customer_id = orders.customer_id
    and customers.valid_from <= orders.ordered_at
    and (customers.valid_to is null or orders.ordered_at < customers.valid_to)
where customers.customer_id is null
union all
select orders.order_id, 'date'
from {{ ref('fct_orders') }} as orders
left join {{ ref('dim_date') }} as dates on dates.date_day = orders.order_date
where dates.date_day is null
union all
select items.order_id, 'product'
from {{ ref('fct_order_items') }} as items
left join {{ ref('dim_products') }} as products on products.product_id = items.product_id
where products.product_id is null
