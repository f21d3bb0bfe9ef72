#!/usr/bin/env bash
# Execution benchmark: `elt run` of the synthetic 1,000-model project (30% views, 70% tables)
# and `elt build` with its ~1,200 tests, on DuckDB with 2 threads. Prints the median wall time
# of RUNS runs each, and elt's own overhead per model: the wall time of a one-thread run minus
# the time spent inside DuckDB calls, per model.
#
# Bar (issue #3, 2 cores): run at most 3 s, build at most 6 s.
#
# With BENCH_DBT=1 it also installs dbt-core and dbt-duckdb into a virtualenv and times
# `dbt run` and `dbt build` on the same project in the same run, as the baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-3}"
MODELS="${MODELS:-1000}"
WORK="${BENCH_DIR:-/tmp/elt-bench}"
mkdir -p "$WORK"

source bench/release.sh
dir="$WORK/run_$MODELS"
"$BIN/synth-project" --models "$MODELS" --out "$dir"

# Median wall seconds of RUNS runs of a command.
median() {
    local walls=()
    for _ in $(seq "$RUNS"); do
        local start end
        start=$(date +%s.%N)
        "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; exit 1; }
        end=$(date +%s.%N)
        walls+=("$(echo "$end - $start" | bc)")
    done
    printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'
}

printf '%-28s %10s\n' command "wall (s)"
"$BIN/elt" run --project-dir "$dir" --threads 2 --quiet # first build creates the relations
run=$(median "$BIN/elt" run --project-dir "$dir" --threads 2 --quiet)
printf '%-28s %10s\n' "elt run ($MODELS models)" "$run"
build=$(median "$BIN/elt" build --project-dir "$dir" --threads 2 --quiet)
tests=$(grep -o '"unique_id": "test\.' "$dir/target/run_results.json" | wc -l)
printf '%-28s %10s\n' "elt build (+$tests tests)" "$build"

# elt's own overhead: one thread, so that wall time = time in DuckDB + time in elt; elt logs
# the time its warehouse calls took (ELT_LOG=debug).
log="$WORK/run_debug.log"
start=$(date +%s.%N)
ELT_LOG=debug "$BIN/elt" run --project-dir "$dir" --threads 1 --quiet 2>"$log" >/dev/null
end=$(date +%s.%N)
serial=$(echo "$end - $start" | bc)
in_duckdb=$(grep -o 'time in the warehouse: [0-9.]*' "$log" | grep -o '[0-9.]*$')
printf '%-28s %10.2f\n' "elt run, 1 thread" "$serial"
printf '%-28s %10.2f\n' "  of which inside DuckDB" "$in_duckdb"
printf '%-28s %10.2f\n' "  elt per model (ms)" "$(echo "($serial - $in_duckdb) * 1000 / $MODELS" | bc -l)"

if [[ "${BENCH_DBT:-0}" == 1 ]]; then
    venv="$WORK/dbt-venv"
    [[ -x "$venv/bin/dbt" ]] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q "dbt-core~=1.11.0" "dbt-duckdb~=1.11.0"; }
    rm -f "$dir/synth.duckdb"
    "$venv/bin/dbt" run --project-dir "$dir" --profiles-dir "$dir" --threads 2 -q >/dev/null 2>&1 || true
    RUNS=1
    dbt_run=$(median "$venv/bin/dbt" run --project-dir "$dir" --profiles-dir "$dir" --threads 2)
    printf '%-28s %10s\n' "dbt run ($MODELS models)" "$dbt_run"
    dbt_build=$(median "$venv/bin/dbt" build --project-dir "$dir" --profiles-dir "$dir" --threads 2)
    printf '%-28s %10s\n' "dbt build" "$dbt_build"
fi
