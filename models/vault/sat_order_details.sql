{{ config(materialized='incremental', incremental_strategy='append') }}
-- An order's status and amounts as the shop service recorded them. Insert-only.
with versions as (
    select
        {{ hash_key('order_id') }} as order_hk,
        ordered_at as load_date,
        {{ hashdiff(['status', 'currency_code', 'shipping_cents', 'discount_cents', 'stated_total_cents']) }} as hashdiff,
        status,
        currency_code,
        shipping_cents,
        discount_cents,
        stated_total_cents,
        'shop_service.orders' as record_source
    from {{ ref('stg_orders') }}
)

select *
from versions
{% if is_incremental() %}
where not exists (
    select 1 from {{ this }} as loaded
    where loaded.order_hk = versions.order_hk and loaded.hashdiff = versions.hashdiff
)
{% endif %}
