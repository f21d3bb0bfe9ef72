-- A singular test: a query that returns the rows that break a rule (none, to pass).
select 1
from (select sum(customers) as counted from {{ ref('customers_per_country') }}) as totals
where totals.counted <> (select count(*) from {{ ref('stg_customers') }})
