-- A staging model: one per raw table, typed and renamed. A model is a select; ref() and
-- source() tie models into a graph that elt builds in order. (Here the raw data is inline;
-- declare your raw tables as sources in YAML and select from source('raw', 'customers').)
select 1 as customer_id, 'Ann' as first_name, 'US' as country_code
union all select 2, 'Bruno', 'FR'
union all select 3, 'Clara', 'DE'
