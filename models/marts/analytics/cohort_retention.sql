-- Customers by the month of their first order (the cohort) and each month they ordered in:
-- how many were active, and what share of the cohort that is. Cancelled orders do not count.
with activity as (
    select distinct
        customer_id,
        cast({{ elt.date_trunc('month', 'order_date') }} as date) as activity_month
    from {{ ref('fct_orders') }}
    where is_revenue
),

cohorts as (
    select customer_id, min(activity_month) as cohort_month
    from activity
    group by customer_id
),

sizes as (
    select cohort_month, count(*) as cohort_customers
    from cohorts
    group by cohort_month
)

select
    cohorts.cohort_month as cohort_month,
    activity.activity_month as activity_month,
    count(*) as active_customers,
    max(sizes.cohort_customers) as cohort_customers,
    cast(count(*) as double precision) / max(sizes.cohort_customers) as retention
from activity
join cohorts on cohorts.customer_id = activity.customer_id
join sizes on sizes.cohort_month = cohorts.cohort_month
group by cohorts.cohort_month, activity.activity_month
