-- No order is refunded more than it was charged.
select order_id
from {{ ref('stg_payments') }}
group by order_id
having sum(amount_cents) < 0
