-- Customers with their history (SCD type 2), from the customer satellite: one row per
-- version, valid from when it was recorded until the next version (null while current).
with versions as (
    select
        sat.customer_hk as customer_hk,
        hub.customer_id as customer_id,
        sat.load_date as valid_from,
        lead(sat.load_date) over (partition by sat.customer_hk order by sat.load_date) as valid_to,
        sat.email as email,
        sat.first_name as first_name,
        sat.last_name as last_name,
        sat.country_code as country_code
    from {{ ref('sat_customer_details') }} as sat
    join {{ ref('hub_customer') }} as hub on hub.customer_hk = sat.customer_hk
)

select
    {{ hash_key(['versions.customer_id', 'versions.valid_from']) }} as customer_version_key,
    versions.customer_hk as customer_hk,
    versions.customer_id as customer_id,
    versions.email as email,
    versions.first_name as first_name,
    versions.last_name as last_name,
    versions.country_code as country_code,
    countries.country_name as country_name,
    countries.region as region,
    versions.valid_from as valid_from,
    versions.valid_to as valid_to,
    versions.valid_to is null as is_current
from versions
left join {{ ref('countries') }} as countries on countries.country_code = versions.country_code
