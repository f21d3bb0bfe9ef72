-- One row per day from the first order to the last, with its calendar attributes.
with digits as (
    select 0 as d union all select 1 union all select 2 union all select 3 union all select 4
    union all select 5 union all select 6 union all select 7 union all select 8 union all select 9
),

numbers as (
    select thousands.d * 1000 + hundreds.d * 100 + tens.d * 10 + ones.d as n
    from digits as thousands
    cross join digits as hundreds
    cross join digits as tens
    cross join digits as ones
),

bounds as (
    select min(order_date) as first_day, max(order_date) as last_day
    from {{ ref('stg_orders') }}
),

days as (
    select cast({{ elt.dateadd('day', 'numbers.n', 'bounds.first_day') }} as date) as date_day
    from numbers
    cross join bounds
    where numbers.n <= {{ elt.datediff('bounds.first_day', 'bounds.last_day', 'day') }}
)

select
    date_day,
    extract(year from date_day) as year_number,
    extract(month from date_day) as month_number,
    extract(day from date_day) as day_of_month,
    extract(isodow from date_day) as iso_day_of_week,
    extract(isodow from date_day) in (6, 7) as is_weekend,
    cast({{ elt.date_trunc('month', 'date_day') }} as date) as month_start
from days
