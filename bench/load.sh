#!/usr/bin/env bash
# Loader benchmark (issue #6): rows/s of `elt load` of ROWS typed JSON records (an order: id,
# customer, amount, timestamp) from Kafka and from S3 into DuckDB, PostgreSQL and ClickHouse,
# each beside a baseline measured in the same run on the same rows:
#   Kafka -> *        a plain consume of the topic that writes nothing (rdkafka BaseConsumer)
#   S3 -> PostgreSQL  PostgreSQL's own COPY of the same rows from a local CSV file: of the
#                     records' columns, and of the rows as the raw table holds them (with
#                     the _elt_source and _elt_position columns the loader adds)
#   S3 -> DuckDB      DuckDB's own read_json of the same rows from local files into a table
#                     (beside it, DuckDB's insert of the rows already typed in memory, the
#                     floor of any loader outside DuckDB)
#   S3 -> ClickHouse  ClickHouse's own INSERT ... FORMAT JSONEachRow of the same lines over HTTP
# Bar: at least 70% of the baseline. Needs `scripts/services.sh start` (all four services).
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

# The rows, as JSON lines (ten files) and as CSV.
awk -v n="$ROWS" -v dir="$WORK/data" -v run="$run_id" 'BEGIN {
    for (i = 0; i < n; i++) {
        file = sprintf("%s/orders_%02d.jsonl", dir, i % 10)
        printf "{\"id\": %d, \"customer\": \"customer %d\", \"amount\": %d.25, \"ordered_at\": \"2024-01-01T10:%02d:%02dZ\"}\n", i, i % 5000, i % 1000, (i / 60) % 60, i % 60 > file
        printf "%d,customer %d,%d.25,2024-01-01 10:%02d:%02d\n", i, i % 5000, i % 1000, (i / 60) % 60, i % 60 > dir "/orders.csv"
        printf "%d,customer %d,%d.25,2024-01-01 10:%02d:%02d,%s/orders/orders_%02d.jsonl,%d\n", i, i % 5000, i % 1000, (i / 60) % 60, i % 60, run, i % 10, int(i / 10) + 1 > dir "/orders_raw.csv"
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

seconds() {
    local start end
    start=$(date +%s.%N)
    "$@" >/dev/null || { echo "failed: $*" >&2; return 1; }
    end=$(date +%s.%N)
    echo "$end - $start" | bc
}
rate() { echo "$ROWS / $1" | bc; }
line() { printf '%-30s %10s s %12s rows/s %s\n' "$1" "$(printf %.2f "$2")" "$(rate "$2")" "${3:-}"; }
# Throughput as a share of the baseline's: baseline seconds / our seconds.
versus() { printf '(%d%% of the baseline)' "$(echo "100 * $1 / $2" | bc)"; }

echo "Loading $ROWS rows (4 Kafka partitions, 10 S3 objects):"
consume=$("$BIN/kafka-bench" --brokers "$BROKERS" --topic "orders_$run_id" consume --count "$ROWS" 2>/dev/null)
line "Kafka plain consume" "$consume" "(baseline)"
for wh in duckdb postgres clickhouse; do
    t=$(seconds "$BIN/elt" load --project-dir "$WORK/$wh" --select source:shop.kafka_orders --quiet)
    line "Kafka -> $wh" "$t" "$(versus "$consume" "$t")"
done

export PGPASSWORD="$PG_PASSWORD"
psql -q -h 127.0.0.1 -U elt -d elt -c "create schema if not exists copy_$run_id; create table copy_$run_id.orders (id bigint, customer text, amount decimal(12,2), ordered_at timestamp)"
copy=$(seconds psql -q -h 127.0.0.1 -U elt -d elt -c "\\copy copy_$run_id.orders from '$WORK/data/orders.csv' with (format csv)")
line "PostgreSQL COPY from file" "$copy" "(baseline: the records' 4 columns)"
# The same rows as the raw table holds them: with elt's _elt_source and _elt_position, and
# _elt_loaded_at filled by its default, as the loader's COPY does.
psql -q -h 127.0.0.1 -U elt -d elt -c "create table copy_$run_id.raw_orders (id bigint, customer text, amount decimal(12,2), ordered_at timestamp, _elt_source text, _elt_position bigint, _elt_loaded_at timestamp default (now() at time zone 'utc'))"
copy_raw=$(seconds psql -q -h 127.0.0.1 -U elt -d elt -c "\\copy copy_$run_id.raw_orders (id, customer, amount, ordered_at, _elt_source, _elt_position) from '$WORK/data/orders_raw.csv' with (format csv)")
line "PostgreSQL COPY, raw rows" "$copy_raw" "(baseline: with elt's metadata columns)"
t=$(seconds "$BIN/elt" load --project-dir "$WORK/postgres" --select source:shop.s3_orders --quiet)
line "S3 -> postgres" "$t" "$(versus "$copy" "$t"; printf ', %d%% of the raw rows COPY' "$(echo "100 * $copy_raw / $t" | bc)")"
psql -q -h 127.0.0.1 -U elt -d elt -c "drop schema copy_$run_id cascade"

cat >"$WORK/duckdb/models/read_json_orders.sql" <<SQL
{{ config(materialized='table') }}
select * from read_json('$WORK/data/orders_*.jsonl',
    columns = {id: 'bigint', customer: 'text', amount: 'decimal(12,2)', ordered_at: 'timestamp'})
SQL
duck=$(seconds "$BIN/elt" run --project-dir "$WORK/duckdb" --select read_json_orders --quiet)
line "DuckDB read_json to table" "$duck" "(baseline)"
# DuckDB's own share of any outside loader's work: the same rows already typed in memory,
# inserted batch by batch as the loader commits them (what it prints is the insert alone).
ingest=$("$BIN/duckdb-ingest" --db "$WORK/ingest.duckdb" --rows "$ROWS" --batch-rows 100000)
line "DuckDB insert of typed rows" "$ingest" "(no reading or parsing) $(versus "$duck" "$ingest")"
t=$(seconds "$BIN/elt" load --project-dir "$WORK/duckdb" --select source:shop.s3_orders --quiet)
line "S3 -> duckdb" "$t" "$(versus "$duck" "$t")"
# ClickHouse's own insert of the same JSON lines, sent over HTTP as the loader's rows are.
CH=http://127.0.0.1:8123/
curl -sf "$CH" --data-binary "create database if not exists bench_$run_id"
curl -sf "$CH" --data-binary "create table bench_$run_id.json_orders (id Nullable(Int64), customer Nullable(String), amount Nullable(Decimal(12,2)), ordered_at Nullable(DateTime64(6))) engine = MergeTree order by tuple()"
insert_json() {
    cat "$WORK"/data/orders_*.jsonl | curl -sf "$CH?query=insert%20into%20bench_$run_id.json_orders%20format%20JSONEachRow&date_time_input_format=best_effort" --data-binary @-
}
ch=$(seconds insert_json)
line "ClickHouse INSERT JSONEachRow" "$ch" "(baseline)"
t=$(seconds "$BIN/elt" load --project-dir "$WORK/clickhouse" --select source:shop.s3_orders --quiet)
line "S3 -> clickhouse" "$t" "$(versus "$ch" "$t")"
curl -sf "$CH" --data-binary "drop database if exists bench_$run_id"
curl -sf "$CH" --data-binary "drop database if exists raw_$run_id"

echo "Many small objects (local files, the same rows), one load each:"
for wh in duckdb postgres; do
    few=$(seconds "$BIN/elt" load --project-dir "$WORK/$wh" --select source:shop.few_files_orders --quiet)
    many=$(seconds "$BIN/elt" load --project-dir "$WORK/$wh" --select source:shop.many_files_orders --quiet)
    line "10 files -> $wh" "$few"
    line "1,000 files -> $wh" "$many" "$(versus "$few" "$many")"
done
psql -q -h 127.0.0.1 -U elt -d elt -c "drop schema raw_$run_id cascade"
