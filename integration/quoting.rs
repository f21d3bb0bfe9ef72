//! Names and values that break naive SQL: quotes, semicolons, backslashes, tabs, newlines and
//! unicode in model names, column names and seed values, on every warehouse.

mod support;

use support::{Wh, ok};

on_every_warehouse!(quotes_semicolons_and_unicode_survive_intact);

const SEED: &str = "id,\"it's \"\"col\"\"\",semi;colon,ünï\n1,\"O'Brien; drop table x; --\",\"a\"\"b\",日本\n2,\"back\\slash\",\"tab\there\",\"two\nlines\"\n";

fn quotes_semicolons_and_unicode_survive_intact(wh: Wh) {
    let dir = wh.project(&[
        ("seeds/odd'seed;ß.csv", SEED),
        (
            "models/o'brien; ü.sql",
            "{{ config(materialized='table') }}\nselect * from {{ ref(\"odd'seed;ß\") }}",
        ),
        (
            "models/a view; \"quoted\".sql",
            "select id, {{ adapter.quote(\"it's \\\"col\\\"\") }} as name from {{ ref(\"o'brien; ü\") }}",
        ),
        (
            "models/properties.yml",
            "version: 2\nmodels:\n  - name: \"o'brien; ü\"\n    columns:\n      - name: \"it's \\\"col\\\"\"\n        quote: true\n        tests: [not_null, unique]\n      - name: \"semi;colon\"\n        quote: true\n        tests:\n          - accepted_values:\n              values: ['a\"b', \"tab\\there\"]\n",
        ),
    ]);
    let printed = ok(dir.path(), &["build"]);
    assert!(
        printed.contains("PASS=6 WARN=0 ERROR=0 SKIP=0 TOTAL=6"),
        "{printed}"
    );
    let expected = [
        ["1", "O'Brien; drop table x; --", "a\"b", "日本"],
        ["2", "back\\slash", "tab\there", "two\nlines"],
    ];
    assert_eq!(
        dir.query("select * from \"o'brien; ü\" order by id"),
        expected
    );
    assert_eq!(
        dir.query("select * from \"odd'seed;ß\" order by id"),
        expected
    );
    assert_eq!(
        dir.query("select name from \"a view; \"\"quoted\"\"\" order by id"),
        [["O'Brien; drop table x; --"], ["back\\slash"]]
    );
    assert_eq!(
        dir.columns("o'brien; ü"),
        ["id", "it's \"col\"", "semi;colon", "ünï"]
    );
}
