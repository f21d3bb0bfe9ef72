-- Stock movements, one row each: restocks positive, sales negative.
select distinct
    cast(movement_id as bigint) as movement_id,
    cast(product_id as bigint) as product_id,
    cast(quantity_change as bigint) as quantity_change,
    reason,
    {{ utc_timestamp('moved_at') }} as moved_at
from {{ source('raw', 'inventory_movements') }}
