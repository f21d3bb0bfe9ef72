-- A mart: what the business reads, built as a table from the staging models.
select
    countries.country_name,
    count(*) as customers
from {{ ref('stg_customers') }} as customers
join {{ ref('countries') }} as countries on countries.country_code = customers.country_code
group by countries.country_name
