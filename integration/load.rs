//! `elt load` on real warehouses: local folders, a real S3 server (moto) and a real
//! Kafka-protocol broker (tansu), both started by `scripts/services.sh start s3 kafka`, into
//! DuckDB, PostgreSQL and ClickHouse, exactly once, with dead letters for bad records.

mod support;

use std::os::unix::process::ExitStatusExt;

use support::{
    Running, Step, Wh, WhProject, elt, listed_steps, new_state_before, ok, run_past_crash_point,
    stderr, stdout, write,
};

on_every_warehouse!(
    files_load_exactly_once_with_dead_letters,
    values_the_columns_cannot_hold_are_dead_letters,
    rows_the_warehouse_refuses_are_dead_letters,
    csv_columns_and_whole_payloads,
    parquet_objects_load_typed_rows,
    s3_objects_load_exactly_once,
    loads_killed_at_every_step_lose_and_repeat_nothing,
    s3_loads_killed_at_every_step_lose_and_repeat_nothing,
    kafka_messages_load_exactly_once_with_dead_letters,
    kafka_loads_killed_at_every_step_lose_and_repeat_nothing,
    kafka_follow_loads_until_sigterm,
    loads_of_one_table_take_turns,
    builds_before_the_first_load_say_to_load,
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
    assert_loaded_just_now(&p);
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
    loads_nothing_more(&p);
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
        "select stream, max(position), count(*) from raw._elt_load_state where committed group by stream order by stream",
    );
    // Five lines in batches of two: three commits; the second file: one.
    assert_eq!(
        normalized(state),
        [
            ["2024-01-01.jsonl", "5", "3"],
            ["2024-01-02.jsonl", "1", "1"]
        ]
    );

    // A loaded file rewritten with other contents: loaded again, with a warning.
    write(
        p.path(),
        "incoming/orders/2024-01-02.jsonl",
        "{\"id\": 6, \"customer\": \"eve\", \"amount\": 4.25}\n{\"id\": 7, \"customer\": \"fay\", \"amount\": 1}\n",
    );
    let printed = ok(p.path(), &["load"]);
    assert!(printed.contains("2 rows from 1 objects"), "{printed}");
    assert!(
        printed.contains("warning: 2024-01-02.jsonl changed since it was loaded"),
        "{printed}"
    );
}

/// A raw table made before the warehouses stamped rows themselves gets the column default
/// it needs.
#[test]
fn raw_tables_made_before_get_their_loaded_at_default() {
    for wh in [Wh::DuckDb, Wh::Postgres, Wh::ClickHouse] {
        if wh.available() {
            table_made_before_gets_its_loaded_at_default(wh);
        }
    }
}

fn table_made_before_gets_its_loaded_at_default(wh: Wh) {
    let p = orders_project(wh, "{type: files, path: incoming/orders, format: jsonl}");
    let (made, without_default) = match wh {
        Wh::ClickHouse => (
            "create table raw.orders (id Nullable(Int64), customer Nullable(String), \
             amount Nullable(Decimal(12,2)), ordered_at Nullable(DateTime64(6)), \
             _elt_source Nullable(String), _elt_position Nullable(Int64), \
             _elt_loaded_at Nullable(DateTime64(6))) engine = MergeTree order by tuple() \
             settings non_replicated_deduplication_window = 100000",
            "column_default = ''",
        ),
        _ => (
            "create schema raw; create table raw.orders (id bigint, customer text, \
             amount decimal(12,2), ordered_at timestamp, _elt_source text, \
             _elt_position bigint, _elt_loaded_at timestamp)",
            "column_default is null",
        ),
    };
    raw_rows(&p, made);
    let schema = raw_schema(&p);
    let without_default = format!(
        "select count(*) from information_schema.columns \
         where table_schema = '{schema}' and table_name = 'orders' and {without_default}"
    );
    assert_eq!(
        p.query(&without_default),
        [["7"]],
        "the table is there before the load"
    );
    write(
        p.path(),
        "incoming/orders/a.jsonl",
        "{\"id\": 1, \"customer\": \"ann\", \"amount\": 1}\n",
    );
    ok(p.path(), &["load"]);
    assert_eq!(p.query(&without_default), [["6"]]);
    assert_loaded_just_now(&p);
}

/// A build before the first load fails on the missing raw table; the error says which source
/// to load and how, and `elt build --load` then builds.
fn builds_before_the_first_load_say_to_load(wh: Wh) {
    let p = orders_project(wh, "{type: files, path: incoming/orders, format: jsonl}");
    write(
        p.path(),
        "incoming/orders/a.jsonl",
        "{\"id\": 1, \"customer\": \"c\", \"amount\": 2.5}\n",
    );
    let output = elt(p.path(), &["build"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let message = stderr(&output);
    assert!(
        message.contains(
            "shop.orders is loaded by `elt load`, which has not filled it yet: run `elt load` \
             first, or `elt build --load`"
        ),
        "{message}"
    );
    ok(p.path(), &["build", "--load"]);
    assert_eq!(p.query("select orders from order_totals"), [["1"]]);
}

/// On a terminal (here a pseudo-terminal from util-linux `script`), a table's load shows a
/// spinner with its rows so far and their rate; piped, `elt load` prints only status lines.
#[test]
fn loads_on_a_terminal_show_rows_as_they_commit() {
    let p = orders_project(
        Wh::DuckDb,
        "{type: files, path: incoming/orders, format: jsonl, batch_rows: 2}",
    );
    let lines: String = (1..=5).map(line).collect();
    write(p.path(), "incoming/orders/a.jsonl", &lines);
    let elt_load = format!("{} load", env!("CARGO_BIN_EXE_elt"));
    let output = std::process::Command::new("script")
        .args(["-qec", &elt_load, "/dev/null"])
        .current_dir(p.path())
        .env("HOME", p.path())
        .output()
        .expect("run elt load under script");
    let shown = stdout(&output);
    assert!(output.status.success(), "{shown}");
    assert!(shown.contains("loading shop.orders: "), "{shown}");
    assert!(
        shown.contains("1 of 1 OK loaded shop.orders into"),
        "{shown}"
    );
    write(p.path(), "incoming/orders/b.jsonl", &line(6));
    let piped = ok(p.path(), &["load"]);
    assert!(!piped.contains("loading shop.orders: "), "{piped}");
    assert!(piped.contains("1 rows from 1 objects"), "{piped}");
}

/// A folder of many small objects commits in groups of about `batch_rows` records, one
/// transaction per group on DuckDB and PostgreSQL (or fewer: groups queued behind a commit
/// join it), each object still with its own state row.
#[test]
fn small_objects_commit_together() {
    for wh in [Wh::DuckDb, Wh::Postgres] {
        if !wh.available() {
            continue;
        }
        let p = orders_project(
            wh,
            "{type: files, path: incoming/orders, format: jsonl, batch_rows: 6}",
        );
        for id in 1..=9 {
            write(p.path(), &format!("incoming/orders/{id}.jsonl"), &line(id));
        }
        let printed = ok(p.path(), &["load"]);
        assert!(printed.contains("9 rows from 9 objects"), "{printed}");
        let commits = raw_rows(
            &p,
            "select count(*), count(distinct committed_at) from raw._elt_load_state",
        );
        assert_eq!(commits[0][0], "9", "{wh:?}: a state row per object");
        assert!(
            ["1", "2"].contains(&commits[0][1].as_str()),
            "{wh:?}: 6 objects, then 3 (or all 9 at once): {commits:?}"
        );
    }
}

/// The partitions' batches that are due together commit together: a one-shot load of four
/// partitions with room to spare in each batch commits them at its end in one transaction
/// (two if a pause in the broker's replies split them), not four.
#[test]
fn kafka_partitions_due_together_commit_together() {
    let Some(brokers) = kafka_brokers() else {
        return;
    };
    let topic = kafka_topic(&brokers, 4);
    produce(&brokers, &topic, &orders(0..20, 4));
    let p = orders_project(
        Wh::DuckDb,
        &format!(
            "{{type: kafka, brokers: \"{brokers}\", topic: \"{topic}\", format: json, batch_rows: 1000, batch_ms: 60000}}"
        ),
    );
    let printed = ok(p.path(), &["load"]);
    assert_orders_exactly_once(&p, 20, &printed);
    let commits = raw_rows(
        &p,
        "select count(*), count(distinct committed_at) <= 2 from raw._elt_load_state",
    );
    assert_eq!(commits, [["4", "true"]], "{printed}");
}

/// A one-shot load of a topic written to all the time ends: it pauses each partition that
/// gives a message written since its start (before, it waited for the topic to fall quiet,
/// which a busy topic never does). What it left, the next load takes: every message exactly
/// once.
#[test]
fn one_shot_loads_of_a_busy_topic_end() {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::{Duration, Instant};
    let Some(brokers) = kafka_brokers() else {
        return;
    };
    let topic = kafka_topic(&brokers, 2);
    produce(&brokers, &topic, &orders(0..100, 2));
    let p = kafka_project(Wh::DuckDb, &brokers, &topic);
    let writing = AtomicBool::new(true);
    let (ended, produced) = std::thread::scope(|scope| {
        let writer = scope.spawn(|| {
            let producer: BaseProducer = kafka_client(&brokers, &[])
                .set("linger.ms", "1")
                .create()
                .expect("a Kafka producer");
            let mut id = 100;
            while writing.load(Ordering::Relaxed) {
                let order = order(id);
                let record = BaseRecord::<str, str>::to(&topic)
                    .partition((id % 2) as i32)
                    .payload(&order);
                elt_load::publish::send(&producer, record).expect("queue a message");
                producer.poll(Duration::from_millis(5));
                id += 1;
            }
            producer
                .flush(Duration::from_secs(30))
                .expect("every message acknowledged");
            id
        });
        let mut load = start_load(&p);
        // Not a timing assertion: a load still running after a minute never ends.
        let started = Instant::now();
        let ended = loop {
            if let Some(status) = load.try_wait().expect("poll elt") {
                break Some(status);
            }
            if started.elapsed() > Duration::from_secs(60) {
                kill(load);
                break None;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        writing.store(false, Ordering::Relaxed);
        (ended, writer.join().expect("the writer thread"))
    });
    assert!(
        ended.is_some_and(|status| status.success()),
        "the load did not end while the topic was written to: {ended:?}"
    );
    let printed = ok(p.path(), &["load"]);
    assert_orders_exactly_once(&p, produced, &printed);
}

/// Loader configs that cannot work stop the load before it starts, naming the YAML file, the
/// line and what to write instead.
#[test]
fn loader_configs_that_cannot_work_are_refused_where_they_are_written() {
    let cases = [
        (
            "{path: incoming}",
            "`type` is missing: use s3, files or kafka",
        ),
        (
            "{type: files, path: incoming, format: jsonl, bach_rows: 5}",
            "unknown key 'bach_rows' for type files; valid keys:",
        ),
        (
            "{type: files, path: incoming}",
            "`format` is missing: use jsonl, csv or parquet",
        ),
        (
            "{type: kafka, brokers: \"127.0.0.1:1\"}",
            "`format` is missing: use json",
        ),
        (
            "{type: kafka, brokers: \"127.0.0.1:1\", format: csv}",
            "Kafka messages are read as JSON: use `format: json`",
        ),
    ];
    for (loader, expected) in cases {
        let p = orders_project(Wh::DuckDb, loader);
        let output = elt(p.path(), &["load"]);
        assert_eq!(
            output.status.code(),
            Some(1),
            "{loader}: {}",
            stdout(&output)
        );
        let message = stderr(&output);
        assert!(
            message.contains("models/sources.yml:6") && message.contains(expected),
            "{loader}: {message}"
        );
    }
}

/// A second load of a table while one runs (here `elt load --follow`) stops at once, loading
/// nothing; the running one loads every record once; when it has ended, loads go on.
fn loads_of_one_table_take_turns(wh: Wh) {
    let p = orders_project(wh, "{type: files, path: incoming/orders, format: jsonl}");
    write(p.path(), "incoming/orders/a.jsonl", &line(1));
    let mut running = Follower::start(&p);
    running.wait_for("following shop.orders: 1 rows from 1 objects");
    write(p.path(), "incoming/orders/b.jsonl", &line(2));
    let output = elt(p.path(), &["load"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let refused = format!("{}{}", stdout(&output), stderr(&output));
    let (expected, hint) = match wh {
        // DuckDB: one process at a time writes a database file; elt names the one that has it.
        Wh::DuckDb => (
            "Could not set lock on file".to_string(),
            format!(
                "process {} has the database file open",
                running.child.0.id()
            ),
        ),
        _ => (
            "another `elt load` is loading shop.orders into".to_string(),
            "wait for it to end (or stop it), then load again".to_string(),
        ),
    };
    assert!(
        refused.contains(&expected) && refused.contains(&hint),
        "{refused}"
    );
    running.wait_for("following shop.orders: 2 rows from 2 objects");
    let printed = running.stop();
    assert!(printed.contains("OK loaded shop.orders"), "{printed}");
    assert_eq!(
        raw_rows(&p, "select id from raw.orders order by id"),
        [["1"], ["2"]]
    );
    write(p.path(), "incoming/orders/c.jsonl", &line(3));
    let printed = ok(p.path(), &["load"]);
    assert!(printed.contains("1 rows from 1 objects"), "{printed}");
    if wh == Wh::ClickHouse {
        let released = "select countIf(released) from raw._elt_load_leases";
        // The refused load too: it claimed the table, found an earlier claim and gave up.
        assert_eq!(
            raw_rows(&p, released),
            [["3"]],
            "each load released its lease"
        );
    }
}

/// ClickHouse: a lease held by a load on another machine holds the table until it is released
/// or its heartbeats stop for 30 s.
#[test]
fn clickhouse_leases_of_other_machines_hold_until_released_or_expired() {
    if !Wh::ClickHouse.available() {
        return;
    }
    let p = orders_project(
        Wh::ClickHouse,
        "{type: files, path: incoming/orders, format: jsonl}",
    );
    write(p.path(), "incoming/orders/a.jsonl", &line(1));
    ok(p.path(), &["load"]);
    let lease = |holder: &str, age_s: u32, released: bool| {
        raw_rows(
            &p,
            &format!(
                "insert into raw._elt_load_leases select 'shop.orders', '{holder}', 'elsewhere', \
                 'another-boot/4242/1', now64(6) - {age_s}, now64(6) - {age_s}, {released}"
            ),
        );
    };
    lease("live", 0, false);
    write(p.path(), "incoming/orders/b.jsonl", &line(2));
    let output = elt(p.path(), &["load"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let refused = stderr(&output);
    assert!(
        refused.contains("(process 4242 on elsewhere, last heard from"),
        "{refused}"
    );
    assert_eq!(raw_rows(&p, "select count() from raw.orders"), [["1"]]);
    lease("live", 0, true);
    lease("silent", 31, false);
    let printed = ok(p.path(), &["load"]);
    assert!(printed.contains("1 rows from 1 objects"), "{printed}");
    assert_eq!(raw_rows(&p, "select count() from raw.orders"), [["2"]]);

    // A holder stays the holder when a later claim (here of a load elsewhere that died right
    // after claiming) is live and merges have kept only the holder's latest renewal.
    let mut running = Follower::start(&p);
    running.wait_for("following shop.orders: 0 rows from 0 objects");
    lease("later", 0, false);
    std::thread::sleep(std::time::Duration::from_secs(6)); // past a renewal
    raw_rows(&p, "optimize table raw._elt_load_leases final");
    let output = elt(p.path(), &["load"]);
    let refused = stderr(&output);
    let holder = format!("(process {} on ", running.child.0.id());
    assert!(refused.contains(&holder), "{refused}");
    write(p.path(), "incoming/orders/c.jsonl", &line(3));
    running.wait_for("following shop.orders: 1 rows from 1 objects");
    running.stop();
    assert_eq!(raw_rows(&p, "select count() from raw.orders"), [["3"]]);
}

/// `elt load --follow` running in the background, its printed lines read as they come.
struct Follower {
    child: Running,
    lines: std::sync::mpsc::Receiver<String>,
    seen: String,
}

impl Follower {
    fn start(p: &WhProject) -> Follower {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_elt"))
            .args(["load", "--follow"])
            .current_dir(p.path())
            .env("HOME", p.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start elt load --follow");
        let (sender, lines) = std::sync::mpsc::channel::<String>();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
            {
                let _ = sender.send(line);
            }
        });
        Follower {
            child: Running(child),
            lines,
            seen: String::new(),
        }
    }

    /// Waits up to a minute for a line that contains `wanted`.
    fn wait_for(&mut self, wanted: &str) {
        while !self.seen.contains(wanted) {
            let line = self
                .lines
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no `{wanted}` in 60 s: {}", self.seen));
            self.seen.push_str(&line);
            self.seen.push('\n');
        }
    }

    /// Stops it with SIGTERM; it must commit and exit 0. What it printed.
    fn stop(mut self) -> String {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.0.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
        let exit = self.child.0.wait().expect("reap elt");
        let mut seen = std::mem::take(&mut self.seen);
        seen.extend(self.lines.iter().map(|line| line + "\n"));
        assert!(exit.success(), "{seen}");
        seen
    }
}

/// Values a column's type cannot hold in the warehouse are dead letters. Before, DuckDB and
/// PostgreSQL refused their whole batch on every retry (the load could never pass them) and
/// ClickHouse changed them silently (40000 into a smallint was -25536, 1960 was 1970).
fn values_the_columns_cannot_hold_are_dead_letters(wh: Wh) {
    let p = wh.project(&[]);
    let schema = raw_schema(&p);
    write(
        p.path(),
        "models/sources.yml",
        &format!(
            "version: 2\nsources:\n  - name: shop\n    schema: {schema}\n    tables:\n      - name: orders\n        loader: {{type: files, path: incoming, format: jsonl, batch_rows: 3}}\n        columns:\n          - {{name: id, data_type: bigint}}\n          - {{name: n, data_type: smallint}}\n          - {{name: amount, data_type: \"decimal(6,2)\"}}\n          - {{name: day, data_type: date}}\n          - {{name: at, data_type: timestamp}}\n          - {{name: code, data_type: \"varchar(3)\"}}\n"
        ),
    );
    let records = [
        r#"{"id": 1, "n": -32768, "amount": 1234.565, "day": "2024-01-01", "code": "abc"}"#,
        r#"{"id": 2, "n": 40000}"#,
        r#"{"id": 3, "amount": 12345}"#,
        r#"{"id": 4, "amount": "-0.004", "day": "1960-01-01"}"#,
        r#"{"id": 5, "at": "2400-01-01 00:00:00"}"#,
        r#"{"id": 6, "code": "abcd"}"#,
        r#"{"id": 7, "code": "a\u0000b"}"#,
        r#"{"id": 8, "n": 32767, "at": "9999-12-31T23:59:59Z"}"#,
        // A raw NUL is not JSON; PostgreSQL's dead-letter table takes it as U+FFFD.
        "{\"id\": 9, \"code\": \"a\0b\"}",
    ];
    write(p.path(), "incoming/a.jsonl", &(records.join("\n") + "\n"));
    let printed = ok(p.path(), &["load"]);
    let refused: &[(&str, &str)] = match wh {
        Wh::DuckDb => &[],
        Wh::Postgres => &[
            ("6", "column code: the value is over 3 characters"),
            (
                "7",
                "column code: the value holds the character U+0000, which the column cannot",
            ),
        ],
        Wh::ClickHouse => &[
            (
                "4",
                "column day: 1960-01-01 is out of range (1970-01-01 to 2149-06-06)",
            ),
            (
                "5",
                "column at: 2400-01-01 00:00:00 is out of range (1900-01-01 00:00:00 to 2299-12-31 23:59:59.999999)",
            ),
            (
                "8",
                "column at: 9999-12-31T23:59:59Z is out of range (1900-01-01 00:00:00 to 2299-12-31 23:59:59.999999)",
            ),
        ],
    };
    let mut expected_dead = vec![
        ("2", "column n: 40000 is out of range (-32768 to 32767)"),
        ("3", "column amount: 12345 does not fit decimal(6,2)"),
        (
            "9",
            "invalid JSON: control character (\\u0000-\\u001F) found while parsing a string at line 1 column 20",
        ),
    ];
    expected_dead.extend_from_slice(refused);
    expected_dead.sort();
    let dead = raw_rows(
        &p,
        "select position, error from raw._elt_dead_letters order by position",
    );
    let dead: Vec<(&str, &str)> = dead
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(dead, expected_dead, "{printed}");
    let loaded = records.len() - expected_dead.len();
    assert!(
        printed.contains(&format!(
            "{loaded} rows from 1 objects, {} dead letters",
            expected_dead.len()
        )),
        "{printed}"
    );
    let rows = raw_rows(
        &p,
        "select id, n, amount, cast(day as varchar), code from raw.orders where id in (1, 4) order by id",
    );
    let payload = raw_rows(
        &p,
        "select payload from raw._elt_dead_letters where position = 9",
    );
    assert_eq!(payload[0][0].replace('\u{fffd}', "\0"), records[8]);
    let mut expected = vec![vec!["1", "-32768", "1234.57", "2024-01-01", "abc"]];
    if wh != Wh::ClickHouse {
        expected.push(vec!["4", "NULL", "0", "1960-01-01", "NULL"]);
    }
    assert_eq!(normalized(rows), expected);
    loads_nothing_more(&p);
}

/// Rows the warehouse refuses for what elt does not check (here a NOT NULL, or on
/// ClickHouse a CHECK, added to the raw table) are found one by one and become dead letters,
/// instead of failing their batch on every retry.
fn rows_the_warehouse_refuses_are_dead_letters(wh: Wh) {
    let p = orders_project(
        wh,
        "{type: files, path: incoming, format: jsonl, batch_rows: 4}",
    );
    let order = |id: u32, customer: &str| {
        format!(r#"{{"id": {id}, "customer": {customer}, "amount": 1.5}}"#)
    };
    write(
        p.path(),
        "incoming/a.jsonl",
        &format!("{}\n", order(1, "\"ann\"")),
    );
    ok(p.path(), &["load"]);
    let (constraint, refusal) = match wh {
        Wh::ClickHouse => (
            "alter table raw.orders add constraint named check isNotNull(customer)",
            "constraint `named`",
        ),
        _ => (
            "alter table raw.orders alter column customer set not null",
            "not null",
        ),
    };
    raw_rows(&p, constraint);
    let records: Vec<String> = (2..=11)
        .map(|id| order(id, if id % 4 == 0 { "null" } else { "\"bob\"" }))
        .collect();
    write(p.path(), "incoming/b.jsonl", &(records.join("\n") + "\n"));
    let printed = ok(p.path(), &["load"]);
    assert!(
        printed.contains("8 rows from 1 objects, 2 dead letters"),
        "{printed}"
    );
    let ids = raw_rows(&p, "select id from raw.orders order by id");
    let ids: Vec<&str> = ids.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["1", "2", "3", "5", "6", "7", "9", "10", "11"]);
    let dead = raw_rows(
        &p,
        "select stream, position, payload, error from raw._elt_dead_letters order by position",
    );
    assert_eq!(dead.len(), 2, "{dead:?}");
    for (row, (line, id)) in dead.iter().zip([(3, 4), (7, 8)]) {
        assert_eq!(row[0], "b.jsonl");
        assert_eq!(row[1], line.to_string());
        assert_eq!(
            row[2],
            format!(r#"{{"id":"{id}","customer":null,"amount":"1.5","ordered_at":null}}"#)
        );
        assert!(
            row[3].starts_with("the warehouse refused the row: ")
                && row[3].to_lowercase().replace('-', " ").contains(refusal),
            "{row:?}"
        );
    }
    loads_nothing_more(&p);
}

/// Rows the warehouse refuses only together with others (here, with a unique key added to the
/// raw table, a key twice in one load) are dead letters too: of each such pair the first row
/// goes in, and a row whose key the table already holds is refused on its own. ClickHouse has
/// no constraint that rows break together.
fn rows_refused_only_together_are_dead_letters(wh: Wh) {
    let p = orders_project(
        wh,
        "{type: files, path: incoming, format: jsonl, batch_rows: 4}",
    );
    let order = |id: u32| format!(r#"{{"id": {id}, "customer": "ann", "amount": 1.5}}"#);
    write(p.path(), "incoming/a.jsonl", &format!("{}\n", order(1)));
    ok(p.path(), &["load"]);
    raw_rows(&p, "create unique index orders_id on raw.orders (id)");
    // Lines 3 and 6 repeat keys of earlier lines (line 6 in the load's second batch), line 4
    // the key of the first load's row.
    let ids = [2, 3, 2, 1, 4, 3, 5];
    let lines: Vec<String> = ids.iter().map(|&id| order(id)).collect();
    write(p.path(), "incoming/b.jsonl", &(lines.join("\n") + "\n"));
    let printed = ok(p.path(), &["load"]);
    assert!(
        printed.contains("4 rows from 1 objects, 3 dead letters"),
        "{printed}"
    );
    let loaded = raw_rows(&p, "select id, _elt_position from raw.orders order by id");
    let loaded: Vec<(&str, &str)> = loaded
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    assert_eq!(
        loaded,
        [("1", "1"), ("2", "1"), ("3", "2"), ("4", "5"), ("5", "7")]
    );
    let dead = raw_rows(
        &p,
        "select position, payload, error from raw._elt_dead_letters order by position",
    );
    let positions: Vec<&str> = dead.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(positions, ["3", "4", "6"], "{dead:?}");
    for (row, id) in dead.iter().zip([2, 1, 3]) {
        assert!(row[1].starts_with(&format!(r#"{{"id":"{id}","#)), "{row:?}");
        assert!(
            row[2].starts_with("the warehouse refused the row: ")
                && row[2].to_lowercase().contains("duplicate key"),
            "{row:?}"
        );
    }
    loads_nothing_more(&p);
}

#[test]
fn duckdb_rows_refused_only_together_are_dead_letters() {
    rows_refused_only_together_are_dead_letters(Wh::DuckDb);
}

#[test]
fn postgres_rows_refused_only_together_are_dead_letters() {
    if Wh::Postgres.available() {
        rows_refused_only_together_are_dead_letters(Wh::Postgres);
    }
}

/// PostgreSQL takes the loader's rows in its binary COPY format where every column's type has
/// one: each type stores what its text would have (here read back as PostgreSQL prints it).
#[test]
fn postgres_stores_binary_copied_values_as_their_text() {
    if !Wh::Postgres.available() {
        return;
    }
    let p = Wh::Postgres.project(&[]);
    let columns = [
        ("big", "bigint"),
        ("int", "integer"),
        ("small", "smallint"),
        ("exact", "numeric(12,3)"),
        ("any_exact", "numeric"),
        ("single", "real"),
        ("double", "double precision"),
        ("flag", "boolean"),
        ("words", "text"),
        ("short", "varchar(5)"),
        ("code", "char(3)"),
        ("doc", "json"),
        ("bdoc", "jsonb"),
        ("id", "uuid"),
        ("day", "date"),
        ("at", "timestamp"),
    ];
    let declared: Vec<String> = columns
        .iter()
        .map(|(name, data_type)| format!("{{name: {name}, data_type: \"{data_type}\"}}"))
        .collect();
    write(
        p.path(),
        "models/sources.yml",
        &format!(
            "version: 2\nsources:\n  - name: shop\n    schema: raw\n    tables:\n      - name: typed\n        \
             loader: {{type: files, path: incoming, format: jsonl}}\n        columns: [{}]\n",
            declared.join(", ")
        ),
    );
    let records = [
        r#"{"big": 5000000000, "int": -7, "small": 12, "exact": -0.05, "any_exact": 1000.0001, "single": 1.5, "double": -2.25, "flag": true, "words": "a\tb\\c", "short": "héllo", "code": "ab", "doc": {"a": [1, 2]}, "bdoc": {"b": null}, "id": "0189F7E2-5B1C-7D3E-8F00-0123456789AB", "day": "2024-02-29", "at": "2024-01-01T10:00:00.5Z"}"#,
        r#"{"big": null, "exact": 12345.6785, "any_exact": 0, "flag": false, "day": "1999-12-31", "at": "1970-01-01 00:00:00"}"#,
    ];
    write(
        p.path(),
        "incoming/typed.jsonl",
        &(records.join("\n") + "\n"),
    );
    let printed = ok(p.path(), &["load"]);
    assert!(printed.contains("2 rows from 1 objects"), "{printed}");
    let names: Vec<String> = columns
        .iter()
        .map(|(name, _)| format!("{name}::text"))
        .collect();
    let stored = raw_rows(
        &p,
        &format!(
            "select {} from raw.typed order by day desc",
            names.join(", ")
        ),
    );
    assert_eq!(
        stored[0],
        [
            "5000000000",
            "-7",
            "12",
            "-0.050",
            "1000.0001",
            "1.5",
            "-2.25",
            "true",
            "a\tb\\c",
            "héllo",
            "ab", // char(3) holds "ab ", whose text drops the padding
            r#"{"a":[1,2]}"#,
            r#"{"b": null}"#,
            "0189f7e2-5b1c-7d3e-8f00-0123456789ab",
            "2024-02-29",
            "2024-01-01 10:00:00.5",
        ]
    );
    let second: Vec<&str> = stored[1].iter().map(String::as_str).collect();
    assert_eq!(&second[..4], ["NULL", "NULL", "NULL", "12345.679"]);
    assert_eq!(&second[4..8], ["0", "NULL", "NULL", "false"]);
    assert_eq!(&second[14..], ["1999-12-31", "1970-01-01 00:00:00"]);
}

/// Another load finds nothing new: nothing loads twice, and nothing (a dead letter) holds
/// the load back.
fn loads_nothing_more(p: &WhProject) {
    let printed = ok(p.path(), &["load"]);
    assert!(printed.contains("0 rows from 0 objects"), "{printed}");
}

/// Every row has `_elt_loaded_at`: the UTC time of its load, by the column's default.
fn assert_loaded_just_now(p: &WhProject) {
    let stamps = raw_rows(
        p,
        "select count(*), count(_elt_loaded_at), cast(min(_elt_loaded_at) as varchar), \
         cast(max(_elt_loaded_at) as varchar) from raw.orders",
    );
    assert_eq!(
        stamps[0][0], stamps[0][1],
        "rows without _elt_loaded_at: {stamps:?}"
    );
    let now = chrono::Utc::now().naive_utc();
    for stamp in &stamps[0][2..] {
        let stamp = chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d %H:%M:%S%.f")
            .unwrap_or_else(|e| panic!("{stamp}: {e}"));
        let age = now - stamp;
        assert!(
            age.num_seconds().abs() < 300,
            "_elt_loaded_at {stamp} is not the UTC time of the load ({now})"
        );
    }
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

/// Parquet objects (written here by DuckDB): typed columns with NULLs, and an object that is
/// not Parquet, which becomes one dead letter.
fn parquet_objects_load_typed_rows(wh: Wh) {
    let p = orders_project(
        wh,
        "{type: files, path: incoming/orders, pattern: \"*.parquet\", format: parquet, batch_rows: 2}",
    );
    std::fs::create_dir_all(p.path().join("incoming/orders")).unwrap();
    let file = p.path().join("incoming/orders/a.parquet");
    ::duckdb::Connection::open_in_memory()
        .unwrap()
        .execute_batch(&format!(
            "copy (select * from (values \
               (1, 'ann', 10.50::decimal(12,2), timestamp '2024-01-01 10:00:00'), \
               (2, null, 20.25::decimal(12,2), null), \
               (3, 'cy', null, timestamp '2024-01-02 08:30:00')) \
             as t(id, customer, amount, ordered_at)) to '{}' (format parquet)",
            file.display()
        ))
        .expect("write a Parquet file");
    write(
        p.path(),
        "incoming/orders/b.parquet",
        "PAR1 but not Parquet",
    );
    let printed = ok(p.path(), &["load"]);
    assert!(
        printed.contains("3 rows from 2 objects, 1 dead letters"),
        "{printed}"
    );
    let rows = raw_rows(
        &p,
        "select id, customer, amount, cast(ordered_at as varchar), _elt_position from raw.orders order by id",
    );
    assert_eq!(
        normalized(rows),
        [
            ["1", "ann", "10.5", "2024-01-01 10:00:00", "1"],
            ["2", "NULL", "20.25", "NULL", "2"],
            ["3", "cy", "NULL", "2024-01-02 08:30:00", "3"],
        ]
    );
    let dead = raw_rows(&p, "select stream, error from raw._elt_dead_letters");
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0][0], "b.parquet");
    assert!(
        dead[0][1].starts_with("not a readable Parquet object"),
        "{dead:?}"
    );
    loads_nothing_more(&p);
}

fn loads_killed_at_every_step_lose_and_repeat_nothing(wh: Wh) {
    let loader = "{type: files, path: incoming/orders, format: jsonl, batch_rows: 5}";
    killed_at_every_step(wh, false, &|| {
        let p = orders_project(wh, loader);
        for (name, lines) in sweep_objects() {
            write(p.path(), &format!("incoming/orders/{name}"), &lines);
        }
        p
    });
}

/// The same with the objects in an S3 bucket.
fn s3_loads_killed_at_every_step_lose_and_repeat_nothing(wh: Wh) {
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let prefix = format!("tests/{}", uuid::Uuid::new_v4().simple());
    for (name, lines) in sweep_objects() {
        put_object(&endpoint, &format!("{prefix}/{name}"), &lines);
    }
    let loader = format!(
        "{{type: s3, endpoint: \"{endpoint}\", bucket: elt-test, prefix: \"{prefix}\", format: jsonl, batch_rows: 5, access_key_id: test, secret_access_key: test}}"
    );
    killed_at_every_step(wh, false, &|| orders_project(wh, &loader));
}

/// The same with the orders as messages of a Kafka topic of two partitions; each load reads
/// it from the start in a consumer group of its own.
fn kafka_loads_killed_at_every_step_lose_and_repeat_nothing(wh: Wh) {
    let Some(brokers) = kafka_brokers() else {
        return;
    };
    let topic = kafka_topic(&brokers, 2);
    let mut messages = orders(0..18, 2);
    messages.insert(9, (1, Some("not json".into())));
    produce(&brokers, &topic, &messages);
    killed_at_every_step(wh, true, &|| {
        let group = uuid::Uuid::new_v4().simple();
        orders_project(
            wh,
            &format!(
                "{{type: kafka, brokers: \"{brokers}\", topic: \"{topic}\", group: g{group}, format: json, batch_rows: 5, batch_ms: 200}}"
            ),
        )
    });
}

/// Orders 0..18 in three objects of six, the second with a line that is not JSON.
fn sweep_objects() -> Vec<(String, String)> {
    (0..3)
        .map(|file| {
            let mut lines: String = (file * 6..file * 6 + 6).map(line).collect();
            if file == 1 {
                lines.push_str("not json\n");
            }
            (format!("{file}.jsonl"), lines)
        })
        .collect()
}

/// The crash-point sweep of a load (see `integration/crash_points.rs`): `elt load` of the 18
/// orders and one bad record of a project made by `fresh`, in batches of five rows, is
/// killed before each of its warehouse calls in turn (a call after a read leaves the
/// warehouse as the one before it: not again), each time on a fresh warehouse; on
/// PostgreSQL it is also paused there while the server cuts its connection. The next load
/// completes it: every order exactly once, the bad record one dead letter. A Kafka load that
/// `settles` may leave the last records to the load after it.
fn killed_at_every_step(wh: Wh, settles: bool, fresh: &dyn Fn() -> WhProject) {
    let load = |p: &WhProject, crash_at: &str| {
        run_past_crash_point(
            std::process::Command::new(env!("CARGO_BIN_EXE_elt"))
                .arg("load")
                .current_dir(p.path())
                .env("HOME", p.path())
                .env("ELT_CRASH_AT", crash_at),
            || {
                if crash_at.ends_with(":pause") {
                    assert!(p.cut_connections() > 0, "no connection to cut");
                }
            },
        )
    };
    let listed = load(&fresh(), "load:shop.orders:list");
    assert!(listed.status.success(), "{}", stderr(&listed));
    let steps = listed_steps(&stderr(&listed), "load:shop.orders");
    assert!(steps.len() > 3, "{} steps", steps.len());
    let ways: &[&str] = match wh {
        Wh::Postgres => &["", ":pause"],
        _ => &[""],
    };
    // How many records one commit takes depends on how fast they are read, so a later run
    // can make fewer calls than the listed one: a crash point it does not reach is counted
    // apart, its load checked all the same.
    let (mut cases, mut unreached) = (0, 0);
    for way in ways {
        for (index, Step { call, .. }) in steps.iter().enumerate() {
            if way.is_empty() && !new_state_before(&steps, index) {
                continue;
            }
            let p = fresh();
            let crashed = load(&p, &format!("load:shop.orders:{}{way}", index + 1));
            let context = format!("crashed{way} before step {} ({call})", index + 1);
            let said = stderr(&crashed);
            if !said.contains("elt: crash point") {
                assert!(crashed.status.success(), "{context}: {said}");
                unreached += 1;
            } else if way.is_empty() {
                assert_eq!(crashed.status.signal(), Some(9), "{context}: {said}");
                cases += 1;
            } else {
                // Cut after the last commit (before the lock is let go, which the server then
                // does), the load has succeeded.
                let code = crashed.status.code();
                assert!(code == Some(1) || code == Some(0), "{context}: {said}");
                assert!(!said.contains("panicked"), "{context}: {said}");
                cases += 1;
            }
            let mut printed = ok(p.path(), &["load"]);
            // tansu reports end offsets short of the log's end, and a load then stops once it
            // has waited a moment for more (see elt-load's kafka.rs): on a busy machine the
            // rest is the next load's.
            for _ in 0..3 {
                if !settles || raw_rows(&p, "select count(*) from raw.orders") == [["18"]] {
                    break;
                }
                printed += &ok(p.path(), &["load"]);
            }
            assert_orders_exactly_once(&p, 18, &format!("{context}: {printed}"));
            assert_eq!(
                raw_rows(&p, "select count(*) from raw._elt_dead_letters"),
                [["1"]],
                "{context}"
            );
        }
    }
    assert!(cases > 3, "only {cases} crash points were reached");
    println!(
        "load crash-point sweep on {wh:?}: {cases} cases of {} steps passed ({unreached} not \
         reached by that run)",
        steps.len()
    );
}

/// moto's S3 endpoint: `scripts/services.sh start s3`. Under CI a missing server fails the
/// test; on a developer machine the test says why and skips.
fn s3_endpoint() -> Option<String> {
    let endpoint =
        std::env::var("ELT_S3_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:9000".into());
    let reachable = std::process::Command::new("curl")
        .args(["-s", "-f", "-o", "/dev/null", "--max-time", "3"])
        .arg(format!("{endpoint}/elt-test"))
        .status()
        .is_ok_and(|s| s.success());
    if reachable {
        return Some(endpoint);
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("the S3 server at {endpoint} is not reachable under CI");
    }
    eprintln!("skipped: no S3 server at {endpoint}; run scripts/services.sh start s3");
    None
}

/// Puts an object into the test bucket with a signed request (moto stores an unsigned form
/// upload as an empty object).
fn put_object(endpoint: &str, key: &str, body: &str) {
    let status = std::process::Command::new("curl")
        .args([
            "-s",
            "-f",
            "-o",
            "/dev/null",
            "-X",
            "PUT",
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
            "test:test",
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            body,
        ])
        .arg(format!("{endpoint}/elt-test/{key}"))
        .status()
        .expect("run curl");
    assert!(status.success(), "PUT {key}");
}

fn s3_objects_load_exactly_once(wh: Wh) {
    let Some(endpoint) = s3_endpoint() else {
        return;
    };
    let prefix = format!("tests/{}", uuid::Uuid::new_v4().simple());
    let p = orders_project(
        wh,
        &format!(
            "{{type: s3, endpoint: \"{endpoint}\", bucket: elt-test, prefix: \"{prefix}/orders\", pattern: \"*.jsonl\", format: jsonl, access_key_id: test, secret_access_key: \"{{{{ env_var('ELT_TEST_S3_SECRET', 'test') }}}}\"}}"
        ),
    );
    let line = |id: u32| format!("{{\"id\": {id}, \"customer\": \"c{id}\", \"amount\": {id}}}\n");
    put_object(
        &endpoint,
        &format!("{prefix}/orders/a.jsonl"),
        &(1..=3).map(line).collect::<String>(),
    );
    put_object(&endpoint, &format!("{prefix}/orders/b.jsonl"), &line(4));
    put_object(
        &endpoint,
        &format!("{prefix}/orders/notes.txt"),
        "not loaded",
    );
    let printed = ok(p.path(), &["load"]);
    assert!(printed.contains("4 rows from 2 objects"), "{printed}");
    ok(p.path(), &["load"]);
    put_object(
        &endpoint,
        &format!("{prefix}/orders/c.jsonl"),
        &(5..=6).map(line).collect::<String>(),
    );
    let printed = ok(p.path(), &["load"]);
    assert!(printed.contains("2 rows from 1 objects"), "{printed}");
    let ids = raw_rows(&p, "select id, _elt_source from raw.orders order by id");
    let expected: Vec<[String; 2]> = (1..=6)
        .map(|id| {
            let object = match id {
                1..=3 => "a",
                4 => "b",
                _ => "c",
            };
            [id.to_string(), format!("{prefix}/orders/{object}.jsonl")]
        })
        .collect();
    assert_eq!(normalized(ids), expected);

    // A bucket that does not exist: a clear error naming the source's file, and exit 1.
    write(
        p.path(),
        "models/sources.yml",
        &std::fs::read_to_string(p.path().join("models/sources.yml"))
            .unwrap()
            .replace("bucket: elt-test", "bucket: no-such-bucket"),
    );
    let output = elt(p.path(), &["load"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let message = stderr(&output);
    assert!(message.contains("models/sources.yml"), "{message}");
    assert!(message.contains("loading shop.orders"), "{message}");
}

/// The Kafka broker: `scripts/services.sh start kafka`. Under CI a missing broker fails the
/// test; on a developer machine the test says why and skips.
fn kafka_brokers() -> Option<String> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let brokers = std::env::var("ELT_KAFKA_BROKERS").unwrap_or_else(|_| "127.0.0.1:9092".into());
    let consumer: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", &brokers)
        .set("log_level", "0")
        .create()
        .expect("a Kafka client");
    match consumer.fetch_metadata(None, std::time::Duration::from_secs(3)) {
        Ok(_) => Some(brokers),
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("the Kafka broker at {brokers} is not reachable under CI: {e}")
        }
        Err(e) => {
            eprintln!(
                "skipped: no Kafka broker at {brokers} ({e}); run scripts/services.sh start kafka"
            );
            None
        }
    }
}

/// A new topic of `partitions` partitions.
fn kafka_topic(brokers: &str, partitions: i32) -> String {
    kafka_topic_on(&kafka_client(brokers, &[]), partitions)
}

/// A client of `brokers` with extra librdkafka `settings` (TLS, SASL).
fn kafka_client(brokers: &str, settings: &[(&str, &str)]) -> rdkafka::ClientConfig {
    let mut config = rdkafka::ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    for (key, value) in settings {
        config.set(*key, *value);
    }
    config
}

fn kafka_topic_on(client: &rdkafka::ClientConfig, partitions: i32) -> String {
    use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
    let topic = format!("orders_{}", uuid::Uuid::new_v4().simple());
    let admin: AdminClient<_> = client.create().expect("a Kafka admin client");
    let created = futures::executor::block_on(admin.create_topics(
        &[NewTopic::new(
            &topic,
            partitions,
            TopicReplication::Fixed(1),
        )],
        &AdminOptions::new(),
    ))
    .expect("create the topic");
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    topic
}

fn produce(brokers: &str, topic: &str, messages: &[(i32, Option<String>)]) {
    produce_on(&kafka_client(brokers, &[]), topic, messages);
}

fn produce_on(client: &rdkafka::ClientConfig, topic: &str, messages: &[(i32, Option<String>)]) {
    use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
    let producer: BaseProducer = client
        .clone()
        .set("linger.ms", "5")
        .create()
        .expect("a Kafka producer");
    for (partition, value) in messages {
        let mut record = BaseRecord::<str, str>::to(topic).partition(*partition);
        if let Some(value) = value {
            record = record.payload(value);
        }
        elt_load::publish::send(&producer, record).expect("queue a message");
    }
    producer
        .flush(std::time::Duration::from_secs(30))
        .expect("every message acknowledged");
}

/// An order record as a line of a JSON-lines file.
fn line(id: u64) -> String {
    format!("{}\n", order(id))
}

fn order(id: u64) -> String {
    format!("{{\"id\": {id}, \"customer\": \"c{id}\", \"amount\": {id}.5}}")
}

/// Orders `ids`, spread over `partitions` partitions by id.
fn orders(ids: std::ops::Range<u64>, partitions: i32) -> Vec<(i32, Option<String>)> {
    ids.map(|id| ((id % partitions as u64) as i32, Some(order(id))))
        .collect()
}

fn kafka_project(wh: Wh, brokers: &str, topic: &str) -> WhProject {
    orders_project(
        wh,
        &format!(
            "{{type: kafka, brokers: \"{brokers}\", topic: \"{topic}\", group: elt-test, format: json, batch_rows: 7, batch_ms: 200}}"
        ),
    )
}

/// The raw table holds orders 0..n exactly once: count, distinct ids, bounds and the sum.
fn assert_orders_exactly_once(p: &WhProject, n: u64, context: &str) {
    let counts = raw_rows(
        p,
        "select count(*), count(distinct id), min(id), max(id), sum(amount) from raw.orders",
    );
    let sum: u64 = (0..n).map(|id| 2 * id + 1).sum();
    assert_eq!(
        normalized(counts),
        [[
            n.to_string(),
            n.to_string(),
            "0".to_string(),
            (n - 1).to_string(),
            format!("{}", sum as f64 / 2.0)
        ]],
        "{context}"
    );
}

fn kafka_messages_load_exactly_once_with_dead_letters(wh: Wh) {
    let Some(brokers) = kafka_brokers() else {
        return;
    };
    let topic = kafka_topic(&brokers, 3);
    let mut messages = orders(0..60, 3);
    messages.insert(
        10,
        (0, Some("{\"id\": \"x\", \"customer\": \"bad\"}".into())),
    );
    messages.insert(20, (1, Some("not json".into())));
    messages.insert(30, (2, None));
    produce(&brokers, &topic, &messages);
    let p = kafka_project(wh, &brokers, &topic);

    let printed = ok(p.path(), &["load"]);
    assert!(
        printed.contains("60 rows from 3 partitions, 3 dead letters"),
        "{printed}"
    );
    assert_orders_exactly_once(&p, 60, &printed);
    let per_partition = raw_rows(
        &p,
        "select _elt_source, count(*), min(_elt_position), max(_elt_position) from raw.orders group by _elt_source order by _elt_source",
    );
    assert_eq!(
        per_partition,
        (0..3)
            .map(|partition| {
                // Each partition has 20 orders and one bad message: offsets 0..=20.
                vec![
                    format!("{topic}/{partition}"),
                    "20".into(),
                    "0".into(),
                    "20".into(),
                ]
            })
            .collect::<Vec<_>>()
    );
    let dead = raw_rows(
        &p,
        "select stream, payload, error from raw._elt_dead_letters order by stream",
    );
    assert_eq!(dead.len(), 3, "{dead:?}");
    assert_eq!(dead[0][0], format!("{topic}/0"));
    assert!(
        dead[0][2].contains("column id: 'x' is not a valid integer"),
        "{dead:?}"
    );
    assert_eq!(dead[1][1], "not json");
    assert!(dead[1][2].starts_with("invalid JSON"), "{dead:?}");
    assert_eq!(dead[2][1], "");
    assert!(dead[2][2].contains("tombstone"), "{dead:?}");

    // Again: nothing new, nothing twice. Then new messages: only they load.
    let printed = ok(p.path(), &["load"]);
    assert!(printed.contains(" 0 rows from 3 partitions"), "{printed}");
    produce(&brokers, &topic, &orders(60..75, 3));
    let printed = ok(p.path(), &["load"]);
    assert!(printed.contains("15 rows from 3 partitions"), "{printed}");
    assert_orders_exactly_once(&p, 75, &printed);
    assert_eq!(
        raw_rows(&p, "select count(*) from raw._elt_dead_letters"),
        [["3"]]
    );

    // A topic that does not exist: the error names the source's file, and exit 1.
    write(
        p.path(),
        "models/sources.yml",
        &std::fs::read_to_string(p.path().join("models/sources.yml"))
            .unwrap()
            .replace(&topic, "no_such_topic"),
    );
    let output = elt(p.path(), &["load"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let message = stderr(&output);
    assert!(message.contains("models/sources.yml"), "{message}");
    assert!(
        message.contains("topic no_such_topic does not exist"),
        "{message}"
    );
}

/// The SASL_SSL listener of scripts/services.sh: tansu behind scripts/kafka_auth_front.py,
/// which terminates TLS and SASL (tansu 0.6 has neither). Its address and CA certificate.
fn kafka_sasl_ssl() -> Option<(String, String)> {
    let brokers =
        std::env::var("ELT_KAFKA_AUTH_BROKERS").unwrap_or_else(|_| "127.0.0.1:9093".into());
    let ca = services_file("kafka-auth/cert.pem");
    reachable(&brokers, &sasl_ssl_settings(&ca, "elt-secret"), "SASL_SSL").then_some((brokers, ca))
}

/// The mutual TLS listener of scripts/services.sh (the same front, requiring a client
/// certificate instead of SASL). Its address and its client settings, certificate included.
fn kafka_mutual_tls() -> Option<(String, [(&'static str, String); 4])> {
    let brokers =
        std::env::var("ELT_KAFKA_MTLS_BROKERS").unwrap_or_else(|_| "127.0.0.1:9094".into());
    let settings = [
        ("security.protocol", "SSL".to_string()),
        ("ssl.ca.location", services_file("kafka-auth/cert.pem")),
        (
            "ssl.certificate.location",
            services_file("kafka-auth/client-cert.pem"),
        ),
        (
            "ssl.key.location",
            services_file("kafka-auth/client-key.pem"),
        ),
    ];
    let borrowed = settings.each_ref().map(|(k, v)| (*k, v.as_str()));
    reachable(&brokers, &borrowed, "mutual TLS").then_some((brokers, settings))
}

fn services_file(name: &str) -> String {
    let services =
        std::env::var("ELT_SERVICES_DIR").unwrap_or_else(|_| "/var/cache/elt/services".into());
    format!("{services}/{name}")
}

/// Whether a Kafka listener answers a client with `settings`; under CI it must.
fn reachable(brokers: &str, settings: &[(&str, &str)], what: &str) -> bool {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    let consumer: BaseConsumer = kafka_client(brokers, settings)
        .set("log_level", "0")
        .create()
        .expect("a Kafka client");
    match consumer.fetch_metadata(None, std::time::Duration::from_secs(3)) {
        Ok(_) => true,
        Err(e) if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("the {what} Kafka listener at {brokers} is not reachable under CI: {e}")
        }
        Err(e) => {
            eprintln!(
                "skipped: no {what} Kafka listener at {brokers} ({e}); run scripts/services.sh start kafka"
            );
            false
        }
    }
}

fn sasl_ssl_settings<'a>(ca: &'a str, password: &'a str) -> [(&'a str, &'a str); 5] {
    [
        ("security.protocol", "SASL_SSL"),
        ("ssl.ca.location", ca),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.username", "elt"),
        ("sasl.password", password),
    ]
}

/// A topic behind mutual TLS: a client without a certificate is told that the brokers closed
/// the connection and which properties to set (not, after a timeout, that they cannot be
/// reached); with the certificate every message loads once.
#[test]
fn kafka_over_mutual_tls_asks_for_the_client_certificate() {
    let Some((brokers, settings)) = kafka_mutual_tls() else {
        return;
    };
    let borrowed = settings.each_ref().map(|(k, v)| (*k, v.as_str()));
    let client = kafka_client(&brokers, &borrowed);
    let topic = kafka_topic_on(&client, 2);
    produce_on(&client, &topic, &orders(0..30, 2));
    let properties = |settings: &[(&str, String)]| {
        let pairs: Vec<String> = settings
            .iter()
            .map(|(k, v)| format!("{k}: \"{v}\""))
            .collect();
        format!(
            "{{type: kafka, brokers: \"{brokers}\", topic: \"{topic}\", group: elt-test, format: json, \
             properties: {{{}}}}}",
            pairs.join(", ")
        )
    };
    // Without the certificate and its key.
    let p = orders_project(Wh::DuckDb, &properties(&settings[..2]));
    let refused = elt(p.path(), &["load"]);
    assert_eq!(refused.status.code(), Some(1), "{}", stdout(&refused));
    let message = stderr(&refused);
    assert!(
        message.contains(&format!(
            "the Kafka brokers {brokers} closed the connection as soon as TLS was set up"
        )),
        "{message}"
    );
    assert!(message.contains("ssl.certificate.location"), "{message}");
    assert!(message.contains("models/sources.yml"), "{message}");

    let p = orders_project(Wh::DuckDb, &properties(&settings));
    let loaded = elt(p.path(), &["load"]);
    assert!(
        loaded.status.success(),
        "{}{}",
        stdout(&loaded),
        stderr(&loaded)
    );
    assert_orders_exactly_once(&p, 30, &stdout(&loaded));
}

/// A topic behind TLS and SCRAM-SHA-512, the password from an environment variable: a wrong
/// password and an unknown CA are refused (not timed out as unreachable) with what to check, loading nothing and
/// never printing the password; the right settings load every message once.
#[test]
fn kafka_over_sasl_ssl_refuses_wrong_credentials_clearly() {
    let Some((brokers, ca)) = kafka_sasl_ssl() else {
        return;
    };
    let client = kafka_client(&brokers, &sasl_ssl_settings(&ca, "elt-secret"));
    let topic = kafka_topic_on(&client, 2);
    produce_on(&client, &topic, &orders(0..50, 2));
    let p = orders_project(
        Wh::DuckDb,
        &format!(
            "{{type: kafka, brokers: \"{brokers}\", topic: \"{topic}\", group: elt-test, format: json, \
             properties: {{security.protocol: SASL_SSL, ssl.ca.location: \"{ca}\", \
             sasl.mechanism: SCRAM-SHA-512, sasl.username: elt, \
             sasl.password: \"{{{{ env_var('TEST_KAFKA_PASSWORD') }}}}\"}}}}"
        ),
    );
    let load = |password: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_elt"))
            .arg("load")
            .current_dir(p.path())
            .env("HOME", p.path())
            .env("TEST_KAFKA_PASSWORD", password)
            .output()
            .expect("run elt load")
    };
    let refused = load("not-the-password");
    assert_eq!(refused.status.code(), Some(1), "{}", stdout(&refused));
    let message = format!("{}{}", stdout(&refused), stderr(&refused));
    assert!(
        message.contains(&format!(
            "the Kafka brokers {brokers} refused the credentials"
        )),
        "{message}"
    );
    assert!(
        message.contains("invalid credentials with SASL mechanism SCRAM-SHA-512"),
        "{message}"
    );
    assert!(message.contains("models/sources.yml"), "{message}");
    assert!(message.contains("sasl.password"), "{message}");
    assert!(!message.contains("not-the-password"), "{message}");
    assert_eq!(raw_rows(&p, "select count(*) from raw.orders"), [["0"]]);

    let sources = p.path().join("models/sources.yml");
    let yaml = std::fs::read_to_string(&sources).unwrap();
    let without_ca = yaml.replace(&format!("ssl.ca.location: \"{ca}\", "), "");
    std::fs::write(&sources, &without_ca).unwrap();
    let untrusted = load("elt-secret");
    assert_eq!(untrusted.status.code(), Some(1), "{}", stdout(&untrusted));
    let message = stderr(&untrusted);
    assert!(
        message.contains("the TLS handshake with the Kafka brokers"),
        "{message}"
    );
    assert!(message.contains("certificate verify failed"), "{message}");
    assert!(message.contains("ssl.ca.location"), "{message}");

    std::fs::write(&sources, &yaml).unwrap();
    let loaded = load("elt-secret");
    assert!(
        loaded.status.success(),
        "{}{}",
        stdout(&loaded),
        stderr(&loaded)
    );
    assert_orders_exactly_once(&p, 50, &stdout(&loaded));
}

/// `elt generate --kafka` over SASL_SSL with `-X` settings: a wrong password is refused with
/// librdkafka's reason; with the right one every line is sent, and a SASL_SSL load reads them.
#[test]
fn generated_data_is_published_over_sasl_ssl() {
    let Some((brokers, ca)) = kafka_sasl_ssl() else {
        return;
    };
    let run = uuid::Uuid::new_v4().simple().to_string();
    let p = Wh::DuckDb.project(&[]);
    let generate = |password: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_elt"))
            .args(["generate", "ecommerce", "--scale", "0.01", "--days", "1"])
            .args(["--kafka", &brokers, "--topic-prefix", &format!("{run}_")])
            .args([
                "-X",
                "security.protocol=SASL_SSL",
                "-X",
                &format!("ssl.ca.location={ca}"),
            ])
            .args([
                "-X",
                "sasl.mechanism=SCRAM-SHA-256",
                "-X",
                "sasl.username=elt",
            ])
            .args(["-X", &format!("sasl.password={password}")])
            .current_dir(p.path())
            .output()
            .expect("run elt generate")
    };
    let refused = generate("not-the-password");
    assert_eq!(refused.status.code(), Some(1), "{}", stdout(&refused));
    let message = stderr(&refused);
    assert!(message.contains("refused the credentials"), "{message}");
    assert!(
        message.contains("invalid credentials with SASL mechanism SCRAM-SHA-256"),
        "{message}"
    );

    let published = generate("elt-secret");
    let printed = stdout(&published);
    assert!(
        published.status.success(),
        "{printed}{}",
        stderr(&published)
    );
    let sent: usize = printed
        .lines()
        .find(|l| l.ends_with(&format!("messages to the Kafka topic {run}_orders")))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or_else(|| panic!("no count of orders sent: {printed}"));
    write(
        p.path(),
        "models/sources.yml",
        &format!(
            "version: 2\nsources:\n  - name: shop\n    schema: raw\n    tables:\n      - name: orders\n        loader: {{type: kafka, brokers: \"{brokers}\", topic: {run}_orders, format: json, payload: line, properties: {{security.protocol: SASL_SSL, ssl.ca.location: \"{ca}\", sasl.mechanism: PLAIN, sasl.username: elt, sasl.password: elt-secret}}}}\n"
        ),
    );
    ok(p.path(), &["load"]);
    let loaded = p.query(
        "select (select count(*) from raw.orders) + (select count(*) from raw._elt_dead_letters)",
    );
    assert!(sent >= 10, "{printed}");
    assert_eq!(loaded, [[sent.to_string()]]);
}

/// Brokers that do not answer are named, with the source's line, once the metadata request
/// has had its 10 s.
#[test]
fn unreachable_kafka_brokers_are_named_with_the_source_line() {
    let p = orders_project(
        Wh::DuckDb,
        "{type: kafka, brokers: \"127.0.0.1:1\", topic: orders, format: json}",
    );
    let output = elt(p.path(), &["load"]);
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let message = stderr(&output);
    assert!(
        message.contains("models/sources.yml:6")
            && message.contains("cannot reach the Kafka brokers 127.0.0.1:1"),
        "{message}"
    );
}

/// `elt load` started in the background, its output dropped.
fn start_load(p: &WhProject) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_elt"))
        .arg("load")
        .current_dir(p.path())
        .env("HOME", p.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start elt load")
}

/// Kills a load with SIGKILL.
fn kill(mut child: std::process::Child) {
    child.kill().ok();
    child.wait().expect("reap elt");
}

/// `elt load --follow` loads messages as they come and stops on SIGTERM after committing.
fn kafka_follow_loads_until_sigterm(wh: Wh) {
    let Some(brokers) = kafka_brokers() else {
        return;
    };
    let topic = kafka_topic(&brokers, 2);
    let p = kafka_project(wh, &brokers, &topic);
    // The raw table exists before the loader runs, so the test can count it at any time.
    ok(p.path(), &["load"]);
    // DuckDB's file is locked while elt runs: rows are counted by elt's reports until it stops.
    let mut running = Follower::start(&p);
    produce(&brokers, &topic, &orders(0..40, 2));
    running.wait_for("following shop.orders: 40 rows from 2 partitions");
    produce(&brokers, &topic, &orders(40..100, 2));
    running.wait_for("following shop.orders: 100 rows from 2 partitions");
    let printed = running.stop();
    assert!(printed.contains("OK loaded shop.orders"), "{printed}");
    assert_orders_exactly_once(&p, 100, &printed);
}

/// The whole platform on DuckDB: `elt generate` publishes its JSON lines to Kafka topics
/// and its files to a bucket, and loaders bring every line of them into raw tables.
#[test]
fn generated_data_flows_through_kafka_and_s3_into_raw_tables() {
    let (Some(brokers), Some(endpoint)) = (kafka_brokers(), s3_endpoint()) else {
        return;
    };
    let run = uuid::Uuid::new_v4().simple().to_string();
    let p = Wh::DuckDb.project(&[]);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_elt"))
        .args([
            "generate",
            "ecommerce",
            "--scale",
            "0.01",
            "--days",
            "3",
            "--out",
            "data/raw",
        ])
        .args(["--kafka", &brokers, "--topic-prefix", &format!("{run}_")])
        .args([
            "--bucket",
            &format!("s3://elt-test/{run}"),
            "--s3-endpoint",
            &endpoint,
        ])
        .current_dir(p.path())
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .output()
        .expect("run elt generate");
    let printed = stdout(&output);
    assert!(output.status.success(), "{printed}{}", stderr(&output));
    assert!(
        printed.contains(&format!("messages to the Kafka topic {run}_orders")),
        "{printed}"
    );
    assert!(
        printed.contains(&format!("objects of orders into s3://elt-test/{run}")),
        "{printed}"
    );
    write(
        p.path(),
        "models/sources.yml",
        &format!(
            "version: 2\nsources:\n  - name: shop\n    schema: raw\n    tables:\n      - name: orders_from_kafka\n        loader: {{type: kafka, brokers: \"{brokers}\", topic: {run}_orders, format: json, payload: line}}\n      - name: orders_from_s3\n        loader: {{type: s3, endpoint: \"{endpoint}\", bucket: elt-test, prefix: {run}/orders, format: jsonl, payload: line, access_key_id: test, secret_access_key: test}}\n"
        ),
    );
    ok(p.path(), &["load"]);
    // Every line of the generated files: loaded, or a dead letter (the truncated ones).
    let lines: usize = std::fs::read_dir(p.path().join("data/raw/orders"))
        .unwrap()
        .map(|f| {
            let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
            text.lines().filter(|l| !l.trim().is_empty()).count()
        })
        .sum();
    let counted = |table: &str| {
        let rows = p.query(&format!(
            "select (select count(*) from raw.{table}) + (select count(*) from raw._elt_dead_letters where source_table = 'shop.{table}')"
        ));
        rows[0][0].parse::<usize>().unwrap()
    };
    assert!(lines >= 50, "{lines} lines");
    assert_eq!(counted("orders_from_kafka"), lines);
    assert_eq!(counted("orders_from_s3"), lines);
}

/// An S3 server that checks signatures (s3s-fs, `scripts/services.sh start s3`): the wrong
/// secret is refused with an error at the source's file and line; the right one loads.
#[test]
fn s3_wrong_credentials_are_refused_clearly() {
    let endpoint =
        std::env::var("ELT_S3_AUTH_ENDPOINT").unwrap_or_else(|_| "http://127.0.0.1:9100".into());
    let reachable = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "--max-time", "3", &endpoint])
        .status()
        .is_ok_and(|s| s.success());
    if !reachable {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("the S3 server at {endpoint} is not reachable under CI");
        }
        eprintln!("skipped: no S3 server at {endpoint}; run scripts/services.sh start s3");
        return;
    }
    let prefix = format!("tests/{}", uuid::Uuid::new_v4().simple());
    let status = std::process::Command::new("curl")
        .args(["-s", "-f", "-o", "/dev/null", "-X", "PUT"])
        .args([
            "--aws-sigv4",
            "aws:amz:us-east-1:s3",
            "--user",
            "elt-key:elt-secret",
        ])
        .args(["-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"])
        .args(["-H", "Content-Type: application/octet-stream"])
        .args(["--data-binary", &format!("{}\n{}\n", order(1), order(2))])
        .arg(format!("{endpoint}/elt-test/{prefix}/a.jsonl"))
        .status()
        .expect("run curl");
    assert!(status.success(), "PUT with the right credentials");
    let p = orders_project(
        Wh::DuckDb,
        &format!(
            "{{type: s3, endpoint: \"{endpoint}\", bucket: elt-test, prefix: \"{prefix}\", format: jsonl, access_key_id: elt-key, secret_access_key: \"{{{{ env_var('TEST_S3_SECRET') }}}}\"}}"
        ),
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_elt"))
        .arg("load")
        .current_dir(p.path())
        .env("TEST_S3_SECRET", "not-the-secret")
        .output()
        .expect("run elt load");
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let message = stderr(&output);
    assert!(message.contains("models/sources.yml"), "{message}");
    assert!(message.contains("refused"), "{message}");
    assert!(
        message.contains("check the loader's access_key_id and secret_access_key"),
        "{message}"
    );
    assert!(
        !message.contains("not-the-secret"),
        "the secret is never printed: {message}"
    );

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_elt"))
        .arg("load")
        .current_dir(p.path())
        .env("TEST_S3_SECRET", "elt-secret")
        .output()
        .expect("run elt load");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("2 rows from 1 objects"),
        "{}",
        stdout(&output)
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
