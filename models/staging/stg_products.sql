-- Product records, one row per version (prices change now and then), typed.
select distinct
    cast(product_id as bigint) as product_id,
    sku,
    name as product_name,
    category,
    cast(price_cents as bigint) as price_usd_cents,
    {{ utc_timestamp('created_at') }} as created_at,
    {{ utc_timestamp('updated_at') }} as updated_at
from {{ source('raw', 'products') }}
