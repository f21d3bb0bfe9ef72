-- Every order that is not cancelled was charged exactly its amount (items + shipping -
-- discount), whatever total the shop system stated.
select orders.order_id, orders.amount_cents, sum(payments.amount_cents) as charged_cents
from {{ ref('fct_orders') }} as orders
left join {{ ref('stg_payments') }} as payments
    on payments.order_id = orders.order_id and payments.payment_kind = 'charge'
where orders.is_revenue
group by orders.order_id, orders.amount_cents
having coalesce(sum(payments.amount_cents), 0) <> orders.amount_cents
