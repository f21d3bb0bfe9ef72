{{ config(materialized='incremental', unique_key='order_hk', incremental_strategy='append') }}
-- Every order, once. Insert-only.
select
    {{ hash_key('order_id') }} as order_hk,
    order_id,
    ordered_at as load_date,
    'shop_service.orders' as record_source
from {{ ref('stg_orders') }}
{% if is_incremental() %}
where {{ hash_key('order_id') }} not in (select order_hk from {{ this }})
{% endif %}
