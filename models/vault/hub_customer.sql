{{ config(materialized='incremental', unique_key='customer_hk', incremental_strategy='append') }}
-- Every customer, once: the business key and when it was first seen. Insert-only.
with customers as (
    select customer_id, min(signed_up_at) as first_seen_at
    from {{ ref('stg_customers') }}
    group by customer_id
)

select
    {{ hash_key('customer_id') }} as customer_hk,
    customer_id,
    first_seen_at as load_date,
    'shop_db.customers' as record_source
from customers
{% if is_incremental() %}
where {{ hash_key('customer_id') }} not in (select customer_hk from {{ this }})
{% endif %}
