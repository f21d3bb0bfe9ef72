//! The cross-database macros (`elt.hash`, `dbt.dateadd`, ...) give the same values on every
//! warehouse. Expected hashes are MD5 digests computed outside elt.

mod support;

use support::{Wh, ok};

on_every_warehouse!(cross_database_macros_agree);

const SCALARS: &str = r#"{{ config(materialized='table') }}
select
    {{ elt.hash("'abc'") }} as hashed,
    {{ elt.generate_surrogate_key(["'a'", "null", "1"]) }} as surrogate_key,
    {{ dbt.concat(["'a'", "'b'", "cast(null as " ~ elt.type_string() ~ ")"]) }} as concatenated,
    {{ elt.cast("'42'", elt.type_int()) }} + 1 as cast_int,
    {{ elt.safe_cast("'7'", elt.type_bigint()) }} as safe_cast_int,
    cast(cast({{ elt.date_trunc('month', "cast('2024-03-15' as date)") }} as date) as {{ elt.type_string() }}) as month_start,
    cast(cast({{ elt.dateadd('day', 3, "cast('2024-02-27' as date)") }} as date) as {{ elt.type_string() }}) as three_days_later,
    {{ elt.datediff("'2024-01-31'", "'2024-03-01'", 'month') }} as months_between,
    {{ elt.datediff("'2024-01-31'", "'2024-03-01'", 'day') }} as days_between,
    {{ elt.datediff("'2024-01-31 22:00:00'", "'2024-02-01 01:30:00'", 'hour') }} as hours_between,
    {{ elt.split_part("'a-b-c'", "'-'", 2) }} as second_part
"#;

const AGGREGATES: &str = r#"{{ config(materialized='table') }}
select
    {{ elt.listagg('letter', "', '", 'order by letter') }} as letters,
    {{ elt.any_value('same') }} as any_same
from (select 'c' as letter, 1 as same union all select 'a', 1 union all select 'b', 1) as t
"#;

/// Dates made from parts, month ends, and a spine whose length is asked of the warehouse
/// while the model renders.
const DATES: &str = r#"{{ config(materialized='table') }}
select
    cast({{ dbt.date(2024, 2, 9) }} as {{ elt.type_string() }}) as made_date,
    cast({{ dbt.last_day("cast('2024-02-10' as date)", 'month') }} as {{ elt.type_string() }}) as month_end,
    (select count(*) from ({{ dbt.date_spine('day', "cast('2024-01-01' as date)", "cast('2024-01-10' as date)") }}) as spine) as spine_days
"#;

fn cross_database_macros_agree(wh: Wh) {
    let dir = wh.project(&[
        ("models/scalars.sql", SCALARS),
        ("models/aggregates.sql", AGGREGATES),
        ("models/dates.sql", DATES),
    ]);
    ok(dir.path(), &["run"]);
    assert_eq!(
        dir.query("select * from scalars"),
        [[
            "900150983cd24fb0d6963f7d28e17f72",
            "0231a9babeb31ebb7a3db195a5062749",
            "ab",
            "43",
            "7",
            "2024-03-01",
            "2024-03-01",
            "2",
            "30",
            "3",
            "b"
        ]]
    );
    assert_eq!(dir.query("select * from aggregates"), [["a, b, c", "1"]]);
    assert_eq!(
        dir.query("select * from dates"),
        [["2024-02-09", "2024-02-29", "9"]]
    );
}
