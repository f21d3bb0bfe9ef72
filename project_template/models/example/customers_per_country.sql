{{ config(materialized='table') }}

select
    countries.country_name,
    count(*) as customers
from {{ ref('customers') }} as customers
join {{ ref('countries') }} as countries on countries.country_code = customers.country_code
group by countries.country_name
