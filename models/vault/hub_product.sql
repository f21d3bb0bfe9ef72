{{ config(materialized='incremental', unique_key='product_hk', incremental_strategy='append') }}
-- Every product, once: the business key and when it entered the catalog. Insert-only.
with products as (
    select product_id, min(created_at) as first_seen_at
    from {{ ref('stg_products') }}
    group by product_id
)

select
    {{ hash_key('product_id') }} as product_hk,
    product_id,
    first_seen_at as load_date,
    'shop_db.products' as record_source
from products
{% if is_incremental() %}
where {{ hash_key('product_id') }} not in (select product_hk from {{ this }})
{% endif %}
