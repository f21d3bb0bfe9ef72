{{ config(materialized='incremental', unique_key='order_customer_hk', incremental_strategy='append') }}
-- Which customer placed which order. Insert-only.
select
    {{ hash_key(['order_id', 'customer_id']) }} as order_customer_hk,
    {{ hash_key('order_id') }} as order_hk,
    {{ hash_key('customer_id') }} as customer_hk,
    ordered_at as load_date,
    'shop_service.orders' as record_source
from {{ ref('stg_orders') }}
{% if is_incremental() %}
where {{ hash_key(['order_id', 'customer_id']) }} not in (select order_customer_hk from {{ this }})
{% endif %}
