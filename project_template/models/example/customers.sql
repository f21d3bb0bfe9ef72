-- A model is a select; ref() and source() tie models into a graph that elt builds in order.
select 1 as customer_id, 'Ann' as first_name, 'US' as country_code
union all select 2, 'Bruno', 'FR'
union all select 3, 'Clara', 'DE'
