-- Revenue per UTC day: orders not cancelled, in US dollars, exact in micro-dollars.
select
    order_date,
    count(*) as orders,
    sum(amount_usd_micros) as revenue_usd_micros,
    cast(sum(amount_usd_micros) as decimal(38, 6)) / 1000000 as revenue_usd
from {{ ref('fct_orders') }}
where is_revenue
group by order_date
