-- Customer records, one row per version (a customer changes country or email now and then),
-- typed, in UTC.
select distinct
    cast(customer_id as bigint) as customer_id,
    email,
    first_name,
    last_name,
    country_code,
    {{ utc_timestamp('signed_up_at') }} as signed_up_at,
    {{ utc_timestamp('updated_at') }} as updated_at
from {{ source('raw', 'customers') }}
