-- The funnel: how many sessions reached each step, and what share of the sessions that
-- viewed a page that is.
with steps as (
    select 1 as step_number, 'page_view' as step
    union all select 2, 'search'
    union all select 3, 'add_to_cart'
    union all select 4, 'checkout'
    union all select 5, 'purchase'
),

reached as (
    select event_type, count(distinct session_id) as sessions
    from {{ ref('stg_events') }}
    group by event_type
)

select
    steps.step_number as step_number,
    steps.step as step,
    coalesce(reached.sessions, 0) as sessions,
    cast(coalesce(reached.sessions, 0) as double precision)
        / nullif(max(case when steps.step = 'page_view' then reached.sessions end) over (), 0)
        as share_of_visits
from steps
left join reached on reached.event_type = steps.step
