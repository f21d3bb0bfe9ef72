-- Products as they are now (their latest version), with their department.
with latest as (
    select
        sat.*,
        row_number() over (partition by sat.product_hk order by sat.load_date desc) as recency
    from {{ ref('sat_product_details') }} as sat
)

select
    latest.product_hk as product_hk,
    hub.product_id as product_id,
    latest.sku as sku,
    latest.product_name as product_name,
    latest.category as category,
    categories.department as department,
    latest.price_usd_cents as price_usd_cents,
    hub.load_date as created_at,
    latest.load_date as updated_at
from latest
join {{ ref('hub_product') }} as hub on hub.product_hk = latest.product_hk
left join {{ ref('product_categories') }} as categories on categories.category = latest.category
where latest.recency = 1
