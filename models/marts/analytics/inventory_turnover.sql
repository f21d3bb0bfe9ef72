-- Per product: units restocked and sold, the stock left, and turnover (units sold per unit
-- restocked).
select
    products.product_id as product_id,
    products.category as category,
    products.department as department,
    sum(case when movements.quantity_change > 0 then movements.quantity_change else 0 end) as units_restocked,
    -sum(case when movements.quantity_change < 0 then movements.quantity_change else 0 end) as units_sold,
    sum(movements.quantity_change) as units_in_stock,
    cast(-sum(case when movements.quantity_change < 0 then movements.quantity_change else 0 end) as double precision)
        / nullif(sum(case when movements.quantity_change > 0 then movements.quantity_change else 0 end), 0)
        as turnover
from {{ ref('stg_inventory_movements') }} as movements
join {{ ref('dim_products') }} as products on products.product_id = movements.product_id
group by products.product_id, products.category, products.department
