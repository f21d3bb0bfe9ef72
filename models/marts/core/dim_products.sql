-- Products as they are now (their latest version), with their department.
with latest as (
    select
        sat.*,
        row_number() over (partition by sat.product_hk order by sat.load_date desc) as recency
    from {{ ref('sat_product_details') }} as sat
)

select
    latest.product_hk,
    hub.product_id,
    latest.sku,
    latest.product_name,
    latest.category,
    categories.department,
    latest.price_usd_cents,
    hub.load_date as created_at,
    latest.load_date as updated_at
from latest
join {{ ref('hub_product') }} as hub on hub.product_hk = latest.product_hk
left join {{ ref('product_categories') }} as categories on categories.category = latest.category
where latest.recency = 1
