{{ config(materialized='incremental', incremental_strategy='append') }}
-- A customer's descriptive attributes, one row per change (a new hashdiff). Insert-only.
with versions as (
    select
        {{ hash_key('customer_id') }} as customer_hk,
        updated_at as load_date,
        {{ hashdiff(['email', 'first_name', 'last_name', 'country_code']) }} as hashdiff,
        email,
        first_name,
        last_name,
        country_code,
        'shop_db.customers' as record_source
    from {{ ref('stg_customers') }}
)

select *
from versions
{% if is_incremental() %}
where not exists (
    select 1 from {{ this }} as loaded
    where loaded.customer_hk = versions.customer_hk and loaded.load_date = versions.load_date
)
{% endif %}
