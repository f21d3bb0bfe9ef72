#!/usr/bin/env bash
# Loader benchmark (issue #6): rows/s of `elt load` of ROWS typed JSON records (an order: id,
# customer, amount, timestamp) from Kafka and from S3 into DuckDB, PostgreSQL and ClickHouse,
# each beside a baseline measured in the same run on the same rows:
#   Kafka -> *        a plain consume of the topic that writes nothing (rdkafka BaseConsumer,
#                     a poll per message); beside it the consume as the loader reads (many
#                     messages per call), cheaper, whose CPU makes the least times below
#   S3 -> PostgreSQL  PostgreSQL's own COPY of the same rows from a local CSV file: of the
#                     records' columns, and of the rows as the raw table holds them (with
#                     the _elt_source and _elt_position columns the loader adds), as text
#                     and in the binary format the loader sends
#   S3 -> DuckDB      DuckDB's own read_json of the same rows from local files into a table
#                     (beside it, DuckDB's insert of the rows already typed in memory, the
#                     floor of any loader outside DuckDB)
#   S3 -> ClickHouse  ClickHouse's own INSERT ... FORMAT JSONEachRow of the same lines over HTTP
# Bar: at least 70% of the baseline. Beside each time, the CPU seconds the whole machine spent
# (loader, broker, object store and warehouse together); from them, the least time any loader
# can take on this machine's cores for each Kafka path: the consume's work (read as the loader
# reads) plus the warehouse's own insert of the same raw rows, spread perfectly over every core.
# Needs `scripts/services.sh start` (all four services).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${ROWS:-1000000}"
WORK="${BENCH_DIR:-/tmp/elt-load-bench}"
BROKERS=127.0.0.1:9092
S3=http://127.0.0.1:9000
PG_PASSWORD="${ELT_PG_PASSWORD:-elt}"

source bench/release.sh
rm -rf "$WORK" && mkdir -p "$WORK/data"
run_id="b$(date +%s)"

# The rows, as JSON lines (ten files), as CSV, and as tab-separated text with the metadata
# columns the loader adds to a raw table.
awk -v n="$ROWS" -v dir="$WORK/data" -v run="$run_id" 'BEGIN {
    for (i = 0; i < n; i++) {
        file = sprintf("%s/orders_%02d.jsonl", dir, i % 10)
        printf "{\"id\": %d, \"customer\": \"customer %d\", \"amount\": %d.25, \"ordered_at\": \"2024-01-01T10:%02d:%02dZ\"}\n", i, i % 5000, i % 1000, (i / 60) % 60, i % 60 > file
        printf "%d,customer %d,%d.25,2024-01-01 10:%02d:%02d\n", i, i % 5000, i % 1000, (i / 60) % 60, i % 60 > dir "/orders.csv"
        printf "%d\tcustomer %d\t%d.25\t2024-01-01 10:%02d:%02d\t%s/orders/orders_%02d.jsonl\t%d\n", i, i % 5000, i % 1000, (i / 60) % 60, i % 60, run, i % 10, int(i / 10) + 1 > dir "/orders_raw.tsv"
    }
}'
# The same lines again as 1,000 small files, for the per-object cost.
mkdir -p "$WORK/data/small"
cat "$WORK"/data/orders_*.jsonl | split -l $((ROWS / 1000)) -d -a 4 --additional-suffix=.jsonl - "$WORK/data/small/part_"
cat "$WORK"/data/orders_*.jsonl | "$BIN/kafka-bench" --brokers "$BROKERS" --topic "orders_$run_id" produce --partitions 4
for f in "$WORK"/data/orders_*.jsonl; do
    curl -s -f -o /dev/null -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" --user test:test \
        -H 'Content-Type: application/octet-stream' --data-binary "@$f" \
        "$S3/elt-test/$run_id/orders/$(basename "$f")"
done

# One project per warehouse, with a Kafka-loaded and an S3-loaded copy of the table.
project() {
    local dir="$WORK/$1" profile=$2
    mkdir -p "$dir/models"
    printf 'name: bench\nprofile: bench\n' >"$dir/elt_project.yml"
    printf 'bench:\n  target: dev\n  outputs:\n    dev:\n%s\n' "$profile" >"$dir/profiles.yml"
    local columns='        columns: [{name: id, data_type: bigint}, {name: customer, data_type: text}, {name: amount, data_type: "decimal(12,2)"}, {name: ordered_at, data_type: timestamp}]'
    cat >"$dir/models/sources.yml" <<YAML
version: 2
sources:
  - name: shop
    schema: $3
    tables:
      - name: kafka_orders
        loader: {type: kafka, brokers: "$BROKERS", topic: "orders_$run_id", group: "bench_$1", format: json, batch_rows: 100000}
$columns
      - name: s3_orders
        loader: {type: s3, endpoint: "$S3", bucket: elt-test, prefix: "$run_id/orders", format: jsonl, access_key_id: test, secret_access_key: test, batch_rows: 100000}
$columns
      - name: few_files_orders
        loader: {type: files, path: "$WORK/data", pattern: "orders_*.jsonl", format: jsonl, batch_rows: 100000}
$columns
      - name: many_files_orders
        loader: {type: files, path: "$WORK/data/small", format: jsonl, batch_rows: 100000}
$columns
YAML
}
project duckdb "      type: duckdb
      path: $WORK/duckdb/bench.duckdb
      threads: 2" raw
project postgres "      type: postgres
      host: 127.0.0.1
      port: 5432
      user: elt
      password: $PG_PASSWORD
      dbname: elt
      schema: bench_$run_id
      threads: 2" "raw_$run_id"
project clickhouse "      type: clickhouse
      host: 127.0.0.1
      port: 8123
      user: default
      schema: bench_$run_id
      threads: 2" "raw_$run_id"

CORES=$(nproc)
# The machine's busy CPU seconds since boot (all but idle and iowait, as elt_bench counts them).
machine_cpu() { awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f\n", ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat; }
# Waits (10 s at most) for the machine to be idle: until the services' work left from the step
# before (vacuum, merges, dropping tables) uses under a tenth of a core for a quarter second.
settle() {
    local before
    for _ in $(seq 40); do
        before=$(machine_cpu)
        sleep 0.25
        [ "$(echo "$(machine_cpu) - $before < 0.025" | bc)" = 1 ] && return
    done
}
# Runs a command on an idle machine; prints its seconds and the machine's CPU seconds during it.
measure() {
    local start end cpu_start
    settle
    start=$(date +%s.%N)
    cpu_start=$(machine_cpu)
    "$@" >/dev/null || { echo "failed: $*" >&2; return 1; }
    end=$(date +%s.%N)
    echo "$(echo "$end - $start" | bc) $(echo "$(machine_cpu) - $cpu_start" | bc)"
}
rate() { echo "$ROWS / $1" | bc; }
# A line of figures: name, seconds, CPU seconds, a remark.
line() { printf '%-30s %7s s %10s rows/s %6s CPU s  %s\n' "$1" "$(printf %.2f "$2")" "$(rate "$2")" "$(printf %.2f "$3")" "${4:-}"; }
# Throughput as a share of the baseline's: baseline seconds / our seconds.
versus() { printf '(%d%% of the baseline)' "$(echo "100 * $1 / $2" | bc)"; }
# The least time a Kafka load can take: the consume's and the warehouse insert's CPU over all
# cores, and the most of the baseline it can reach.
floor() {
    local least
    least=$(echo "scale=3; ($2 + $3) / $CORES" | bc)
    printf '%-30s %7s s  (%s + %s CPU s on %d cores: at most %d%% of the baseline)\n' "$1" "$(printf %.2f "$least")" "$(printf %.2f "$2")" "$(printf %.2f "$3")" "$CORES" "$(echo "100 * $4 / $least" | bc)"
}

echo "Loading $ROWS rows (4 Kafka partitions, 10 S3 objects):"
settle
read -r consume consume_cpu < <("$BIN/kafka-bench" --brokers "$BROKERS" --topic "orders_$run_id" consume --count "$ROWS" 2>/dev/null)
line "Kafka plain consume" "$consume" "$consume_cpu" "(baseline)"
settle
read -r fetch fetch_cpu < <("$BIN/kafka-bench" --brokers "$BROKERS" --topic "orders_$run_id" consume --count "$ROWS" --batch 2>/dev/null)
line "Kafka consume, as elt reads" "$fetch" "$fetch_cpu" "(many messages per call)"
for wh in duckdb postgres clickhouse; do
    read -r t cpu < <(measure "$BIN/elt" load --project-dir "$WORK/$wh" --select source:shop.kafka_orders --quiet)
    line "Kafka -> $wh" "$t" "$cpu" "$(versus "$consume" "$t")"
done

export PGPASSWORD="$PG_PASSWORD" PGOPTIONS='-c client_min_messages=warning'
pg() { psql -q -h 127.0.0.1 -U elt -d elt -c "$1"; }
pg "create schema if not exists copy_$run_id; create table copy_$run_id.orders (id bigint, customer text, amount decimal(12,2), ordered_at timestamp)"
read -r copy copy_cpu < <(measure pg "\\copy copy_$run_id.orders from '$WORK/data/orders.csv' with (format csv)")
line "PostgreSQL COPY from file" "$copy" "$copy_cpu" "(baseline: the records' 4 columns)"
# The same rows as the raw table holds them, in a table made like the Kafka load's: with elt's
# _elt_source and _elt_position, and _elt_loaded_at filled by its default, as the loader's
# COPY does.
pg "create table copy_$run_id.raw_orders (like raw_$run_id.kafka_orders including defaults)"
read -r copy_raw copy_raw_cpu < <(measure pg "\\copy copy_$run_id.raw_orders (id, customer, amount, ordered_at, _elt_source, _elt_position) from '$WORK/data/orders_raw.tsv'")
line "PostgreSQL COPY, raw rows" "$copy_raw" "$copy_raw_cpu" "(baseline: with elt's metadata columns)"
# The same raw rows in PostgreSQL's binary COPY format, which the loader sends.
raw_columns="id, customer, amount, ordered_at, _elt_source, _elt_position"
pg "\\copy (select $raw_columns from copy_$run_id.raw_orders) to '$WORK/data/orders_raw.bin' with (format binary)"
pg "create table copy_$run_id.binary_orders (like raw_$run_id.kafka_orders including defaults)"
read -r copy_bin copy_bin_cpu < <(measure pg "\\copy copy_$run_id.binary_orders ($raw_columns) from '$WORK/data/orders_raw.bin' with (format binary)")
line "PostgreSQL COPY, raw binary" "$copy_bin" "$copy_bin_cpu" "(the raw rows in the binary format the loader sends)"
read -r t cpu < <(measure "$BIN/elt" load --project-dir "$WORK/postgres" --select source:shop.s3_orders --quiet)
line "S3 -> postgres" "$t" "$cpu" "$(versus "$copy" "$t"; printf ', %d%% of the raw rows COPY, %d%% of the binary one' "$(echo "100 * $copy_raw / $t" | bc)" "$(echo "100 * $copy_bin / $t" | bc)")"
pg "drop schema copy_$run_id cascade"

cat >"$WORK/duckdb/models/read_json_orders.sql" <<SQL
{{ config(materialized='table') }}
select * from read_json('$WORK/data/orders_*.jsonl',
    columns = {id: 'bigint', customer: 'text', amount: 'decimal(12,2)', ordered_at: 'timestamp'})
SQL
read -r duck duck_cpu < <(measure "$BIN/elt" run --project-dir "$WORK/duckdb" --select read_json_orders --quiet)
line "DuckDB read_json to table" "$duck" "$duck_cpu" "(baseline)"
# DuckDB's own share of any outside loader's work: the same rows already typed in memory,
# inserted batch by batch as the loader commits them (what it measures is the insert alone).
settle
read -r ingest ingest_cpu < <("$BIN/duckdb-ingest" --db "$WORK/ingest.duckdb" --rows "$ROWS" --batch-rows 100000)
line "DuckDB insert of typed rows" "$ingest" "$ingest_cpu" "(no reading or parsing) $(versus "$duck" "$ingest")"
read -r t cpu < <(measure "$BIN/elt" load --project-dir "$WORK/duckdb" --select source:shop.s3_orders --quiet)
line "S3 -> duckdb" "$t" "$cpu" "$(versus "$duck" "$t")"
# ClickHouse's own insert of the same JSON lines, sent over HTTP as the loader's rows are.
CH=http://127.0.0.1:8123/
ch_query() { curl -sf "$CH" --data-binary "$1"; }
# Sends a file to ClickHouse as the body of an insert.
ch_insert() { curl -sf "$CH" --url-query "query=$1" --url-query date_time_input_format=best_effort --data-binary "@$2"; }
ch_query "create database if not exists bench_$run_id"
ch_query "create table bench_$run_id.json_orders (id Nullable(Int64), customer Nullable(String), amount Nullable(Decimal(12,2)), ordered_at Nullable(DateTime64(6))) engine = MergeTree order by tuple()"
cat "$WORK"/data/orders_*.jsonl >"$WORK/all_orders.jsonl"
read -r ch ch_cpu < <(measure ch_insert "insert into bench_$run_id.json_orders format JSONEachRow" "$WORK/all_orders.jsonl")
line "ClickHouse INSERT JSONEachRow" "$ch" "$ch_cpu" "(baseline)"
# The raw rows as the loader sends them (tab-separated), into a table made like the Kafka load's.
ch_query "create table bench_$run_id.raw_orders as raw_$run_id.kafka_orders"
read -r ch_raw ch_raw_cpu < <(measure ch_insert "insert into bench_$run_id.raw_orders (id, customer, amount, ordered_at, _elt_source, _elt_position) format TabSeparated" "$WORK/data/orders_raw.tsv")
line "ClickHouse INSERT, raw rows" "$ch_raw" "$ch_raw_cpu" "(tab-separated, as the loader sends them)"
read -r t cpu < <(measure "$BIN/elt" load --project-dir "$WORK/clickhouse" --select source:shop.s3_orders --quiet)
line "S3 -> clickhouse" "$t" "$cpu" "$(versus "$ch" "$t"; printf ', %d%% of the raw rows insert' "$(echo "100 * $ch_raw / $t" | bc)")"
ch_query "drop database if exists bench_$run_id"
ch_query "drop database if exists raw_$run_id"

echo "Many small objects (local files, the same rows), one load each:"
for wh in duckdb postgres; do
    read -r few few_cpu < <(measure "$BIN/elt" load --project-dir "$WORK/$wh" --select source:shop.few_files_orders --quiet)
    read -r many many_cpu < <(measure "$BIN/elt" load --project-dir "$WORK/$wh" --select source:shop.many_files_orders --quiet)
    line "10 files -> $wh" "$few" "$few_cpu"
    line "1,000 files -> $wh" "$many" "$many_cpu" "$(versus "$few" "$many")"
done
pg "drop schema raw_$run_id cascade"

echo "The least time any Kafka load can take here: the consume's (as elt reads) and the warehouse's insert's CPU over $CORES cores:"
floor "Kafka -> duckdb" "$fetch_cpu" "$ingest_cpu" "$consume"
floor "Kafka -> postgres" "$fetch_cpu" "$copy_bin_cpu" "$consume"
floor "Kafka -> clickhouse" "$fetch_cpu" "$ch_raw_cpu" "$consume"
