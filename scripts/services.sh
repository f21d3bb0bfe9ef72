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
#
# Usage: scripts/services.sh start|stop|status [postgres] [clickhouse]
set -euo pipefail

PG_VERSION=15
PG_CLUSTER=main
PG_PORT="${ELT_PG_PORT:-5432}"
PG_PASSWORD="${ELT_PG_PASSWORD:-elt}"
STATE="${ELT_SERVICES_DIR:-/var/cache/elt/services}"
CH_PORT="${ELT_CH_PORT:-8123}"
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
    mkdir -p "$STATE"
    local venv="$STATE/venv"
    if ! "$venv/bin/python" -c 'import chdb, lz4, clickhouse_cityhash' 2>/dev/null; then
        say "installing chdb into $venv (about 30 s)"
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q 'chdb==4.4.0' 'lz4>=4' 'clickhouse-cityhash>=1.0.2'
    fi
    nohup "$venv/bin/python" "$HERE/clickhouse_front.py" --port "$CH_PORT" --data "$STATE/clickhouse-data" \
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

action="${1:-}"
services=("${@:2}")
[ ${#services[@]} -gt 0 ] || services=(postgres clickhouse)
case "$action" in
start | stop | status) ;;
*)
    echo "usage: $0 start|stop|status [postgres] [clickhouse]" >&2
    exit 2
    ;;
esac
status=0
for service in "${services[@]}"; do
    case "$service" in
    postgres) "postgres_$action" || status=1 ;;
    clickhouse) "clickhouse_$action" || status=1 ;;
    *)
        echo "unknown service '$service' (known: postgres, clickhouse)" >&2
        exit 2
        ;;
    esac
done
exit $status
