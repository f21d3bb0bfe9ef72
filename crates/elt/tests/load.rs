//! `elt load` on real warehouses: local folders into DuckDB, PostgreSQL and ClickHouse,
//! exactly once, with dead letters for bad records. (The S3 test is not in yet: against moto,
//! objects were listed and read but no rows loaded; see the history of this file.)

mod support;

use support::{Wh, WhProject, ok, write};

on_every_warehouse!(
    files_load_exactly_once_with_dead_letters,
    csv_columns_and_whole_payloads,
    loads_killed_twenty_times_lose_and_repeat_nothing,
);

/// The schema raw tables load into: `raw`, or on ClickHouse (schemas are databases, shared by
/// every test) the project's own database, dropped with it.
fn raw_schema(p: &WhProject) -> String {
    match p.wh {
        Wh::ClickHouse => p.schema().to_string(),
        _ => "raw".into(),
    }
}

/// A project whose source `shop.orders` is loaded by `loader` (YAML flow mapping).
fn orders_project(wh: Wh, loader: &str) -> WhProject {
    let p = wh.project(&[(
        "models/order_totals.sql",
        "select count(*) as orders, sum(amount) as amount from {{ source('shop', 'orders') }}",
    )]);
    let schema = raw_schema(&p);
    write(
        p.path(),
        "models/sources.yml",
        &format!(
            "version: 2\nsources:\n  - name: shop\n    schema: {schema}\n    tables:\n      - name: orders\n        loader: {loader}\n        columns:\n          - name: id\n            data_type: bigint\n          - name: customer\n            data_type: text\n          - name: amount\n            data_type: decimal(12,2)\n          - name: ordered_at\n            data_type: timestamp\n"
        ),
    );
    p
}

fn raw_rows(p: &WhProject, sql: &str) -> Vec<Vec<String>> {
    p.query(&sql.replace("raw.", &format!("{}.", raw_schema(p))))
}

fn files_load_exactly_once_with_dead_letters(wh: Wh) {
    let p = orders_project(
        wh,
        "{type: files, path: incoming/orders, format: jsonl, batch_rows: 2}",
    );
    write(
        p.path(),
        "incoming/orders/2024-01-01.jsonl",
        concat!(
            "{\"id\": 1, \"customer\": \"ann\", \"amount\": 10.5, \"ordered_at\": \"2024-01-01T10:00:00Z\"}\n",
            "{\"id\": 2, \"customer\": \"bob\", \"amount\": 20, \"ordered_at\": \"2024-01-01T12:00:00+02:00\"}\n",
            "{\"id\": 3, \"customer\": \"cy\", \"amou\n",
            "{\"id\": \"four\", \"customer\": \"dee\", \"amount\": 1}\n",
            "{\"id\": 5, \"customer\": null, \"amount\": 5.25}\n",
        ),
    );
    let printed = ok(p.path(), &["load"]);
    assert!(printed.contains("OK loaded shop.orders"), "{printed}");
    assert!(
        printed.contains("3 rows from 1 objects, 2 dead letters"),
        "{printed}"
    );
    let loaded = "select id, customer, amount, cast(ordered_at as varchar), _elt_source, _elt_position from raw.orders order by id";
    let first_day = [
        [
            "1",
            "ann",
            "10.5",
            "2024-01-01 10:00:00",
            "2024-01-01.jsonl",
            "1",
        ],
        [
            "2",
            "bob",
            "20",
            "2024-01-01 10:00:00",
            "2024-01-01.jsonl",
            "2",
        ],
        ["5", "NULL", "5.25", "NULL", "2024-01-01.jsonl", "5"],
    ];
    assert_eq!(normalized(raw_rows(&p, loaded)), first_day);
    let dead =
        "select stream, position, error, payload from raw._elt_dead_letters order by position";
    let dead_letters = raw_rows(&p, dead);
    assert_eq!(dead_letters.len(), 2, "{dead_letters:?}");
    assert_eq!(dead_letters[0][1], "3");
    assert!(
        dead_letters[0][2].starts_with("invalid JSON"),
        "{dead_letters:?}"
    );
    assert_eq!(
        dead_letters[0][3],
        "{\"id\": 3, \"customer\": \"cy\", \"amou"
    );
    assert_eq!(dead_letters[1][1], "4");
    assert!(
        dead_letters[1][2].contains("column id: 'four' is not a valid integer"),
        "{dead_letters:?}"
    );

    // Again: nothing new, nothing twice.
    let printed = ok(p.path(), &["load"]);
    assert!(printed.contains("0 rows from 0 objects"), "{printed}");
    assert_eq!(normalized(raw_rows(&p, loaded)).len(), 3);
    assert_eq!(raw_rows(&p, dead).len(), 2);

    // A new file: only its rows. Models read the raw table as a source.
    write(
        p.path(),
        "incoming/orders/2024-01-02.jsonl",
        "{\"id\": 6, \"customer\": \"eve\", \"amount\": 4.25, \"ordered_at\": \"2024-01-02 08:30:00\"}\n",
    );
    let printed = ok(p.path(), &["load"]);
    assert!(printed.contains("1 rows from 1 objects"), "{printed}");
    ok(p.path(), &["run"]);
    assert_eq!(
        normalized(p.query("select orders, amount from order_totals")),
        [["4", "40"]]
    );
    let state = raw_rows(
        &p,
        "select stream, max(position), count(*) from raw._elt_load_state group by stream order by stream",
    );
    // Five lines in batches of two: three commits; the second file: one.
    assert_eq!(
        normalized(state),
        [
            ["2024-01-01.jsonl", "5", "3"],
            ["2024-01-02.jsonl", "1", "1"]
        ]
    );
}

fn csv_columns_and_whole_payloads(wh: Wh) {
    let p = wh.project(&[]);
    let schema = raw_schema(&p);
    write(
        p.path(),
        "models/sources.yml",
        &format!(
            "version: 2\nsources:\n  - name: shop\n    schema: {schema}\n    loader: {{type: files, path: \"incoming/{{name}}\"}}\n    tables:\n      - name: customers\n        loader: {{format: csv}}\n        columns:\n          - name: id\n            data_type: integer\n          - name: name\n          - name: signed_up\n            data_type: date\n      - name: events\n        loader: {{format: jsonl, payload: line}}\n"
        ),
    );
    write(
        p.path(),
        "incoming/customers/part-1.csv",
        "id,signed_up,name\n1,2024-01-05,\"Smith, Ann\"\n2,,\"multi\nline\"\nx,2024-01-06,Bad Id\n3,2024-02-30,Bad Date\n",
    );
    write(
        p.path(),
        "incoming/events/e.jsonl",
        "{\"type\": \"view\", \"nested\": {\"a\": [1, 2]}}\nnot json\n{\"type\": \"buy\"}\n",
    );
    let printed = ok(p.path(), &["load"]);
    assert!(
        printed.contains("2 rows from 1 objects, 2 dead letters"),
        "{printed}"
    );
    assert!(
        printed.contains("2 rows from 1 objects, 1 dead letters"),
        "{printed}"
    );
    assert_eq!(
        normalized(raw_rows(
            &p,
            "select id, name, cast(signed_up as varchar), _elt_position from raw.customers order by id"
        )),
        [
            ["1", "Smith, Ann", "2024-01-05", "2"],
            ["2", "multi\nline", "NULL", "3"]
        ]
    );
    assert_eq!(
        raw_rows(&p, "select line from raw.events order by _elt_position"),
        [
            ["{\"type\": \"view\", \"nested\": {\"a\": [1, 2]}}"],
            ["{\"type\": \"buy\"}"]
        ]
    );
    let dead = raw_rows(
        &p,
        "select source_table, position, payload from raw._elt_dead_letters order by source_table, position",
    );
    assert_eq!(
        dead,
        [
            ["shop.customers", "5", "x,2024-01-06,Bad Id"],
            ["shop.customers", "6", "3,2024-02-30,Bad Date"],
            ["shop.events", "2", "not json"],
        ]
    );
}

/// `elt load` killed with SIGKILL at least 20 times while loading, at moments spread over
/// its work, with a new file arriving before each start; then a load to the end. Every
/// record is in the raw table exactly once.
fn loads_killed_twenty_times_lose_and_repeat_nothing(wh: Wh) {
    let p = orders_project(
        wh,
        "{type: files, path: incoming/orders, format: jsonl, batch_rows: 10}",
    );
    let per_file = 200;
    let (mut files, mut killed) = (0, 0);
    while killed < 20 {
        assert!(
            files < 80,
            "only {killed} of {files} loads were still running when killed"
        );
        let lines: String = (0..per_file)
            .map(|i| {
                let id = files * per_file + i;
                format!("{{\"id\": {id}, \"customer\": \"c{id}\", \"amount\": {id}.5}}\n")
            })
            .collect();
        write(
            p.path(),
            &format!("incoming/orders/{files:03}.jsonl"),
            &lines,
        );
        files += 1;
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_elt"))
            .arg("load")
            .current_dir(p.path())
            .env("HOME", p.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start elt load");
        std::thread::sleep(std::time::Duration::from_millis(20 + files * 37 % 160));
        if child.try_wait().expect("poll elt").is_none() {
            killed += 1;
        }
        child.kill().ok();
        child.wait().expect("reap elt");
    }
    ok(p.path(), &["load"]);
    let total = files * per_file;
    let counts = raw_rows(
        &p,
        "select count(*), count(distinct id), min(id), max(id), sum(amount) from raw.orders",
    );
    let sum: u64 = (0..total).map(|id| 2 * id + 1).sum();
    let sum = format!("{}", sum as f64 / 2.0);
    assert_eq!(
        normalized(counts),
        [[
            total.to_string(),
            total.to_string(),
            "0".to_string(),
            (total - 1).to_string(),
            sum
        ]],
        "killed {killed} of {files} loads"
    );
    assert_eq!(
        raw_rows(&p, "select count(*) from raw._elt_dead_letters"),
        [["0"]]
    );
}

/// Rows with timestamps cut to seconds and numbers without trailing zeros, as the three
/// warehouses print them differently.
fn normalized(rows: Vec<Vec<String>>) -> Vec<Vec<String>> {
    rows.into_iter()
        .map(|row| {
            row.into_iter()
                .map(|v| {
                    let is_timestamp =
                        v.len() >= 19 && v.as_bytes()[10] == b' ' && v.as_bytes()[4] == b'-';
                    if is_timestamp {
                        v[..19].to_string()
                    } else if v.parse::<f64>().is_ok() && v.contains('.') {
                        v.trim_end_matches('0').trim_end_matches('.').to_string()
                    } else {
                        v
                    }
                })
                .collect()
        })
        .collect()
}
