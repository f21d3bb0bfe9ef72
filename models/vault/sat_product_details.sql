{{ config(materialized='incremental', incremental_strategy='append') }}
-- A product's descriptive attributes and list price, one row per change. Insert-only.
with versions as (
    select
        {{ hash_key('product_id') }} as product_hk,
        updated_at as load_date,
        {{ hashdiff(['sku', 'product_name', 'category', 'price_usd_cents']) }} as hashdiff,
        sku,
        product_name,
        category,
        price_usd_cents,
        'shop_db.products' as record_source
    from {{ ref('stg_products') }}
)

select *
from versions
{% if is_incremental() %}
where not exists (
    select 1 from {{ this }} as loaded
    where loaded.product_hk = versions.product_hk and loaded.load_date = versions.load_date
)
{% endif %}
