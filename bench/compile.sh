#!/usr/bin/env bash
# Compile benchmark: `elt parse` and `elt compile` on synthetic projects of 1,000 and 10,000
# models (CTEs, Jinja loops, macros, vars, ~1.2 YAML tests per model). Prints the median wall
# time and peak memory of RUNS runs each.
#
# Bar (issue #2, 2 cores): full compile of 10,000 models in at most 0.6 s and 250 MiB.
#
# With BENCH_DBT=1 it also installs dbt-core and dbt-duckdb into a virtualenv and times
# `dbt parse` on the 1,000-model project in the same run, as a baseline.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
WORK="${BENCH_DIR:-/tmp/elt-bench}"
mkdir -p "$WORK"

source bench/release.sh
source bench/measure.sh

# Like measure, but each run writes to a new, empty target folder.
measure_cold() {
    local run=0 walls=() peaks=()
    for _ in $(seq "$RUNS"); do
        run=$((run + 1))
        /usr/bin/time -o "$WORK/time.out" -f "%e %M" "$@" --target-path "$WORK/cold/$run" >/dev/null 2>&1
        local out
        out=$(tail -1 "$WORK/time.out")
        walls+=("${out% *}")
        peaks+=("${out#* }")
    done
    summarize
}

printf '%-8s %-18s %10s %12s\n' models command "wall (s)" "peak (MiB)"
for n in 1000 10000; do
    dir="$WORK/synth_$n"
    "$BIN/synth-project" --models "$n" --out "$dir"
    for cmd in parse compile; do
        # Cold: no target/ folder (no cache of SQL known to parse, no compiled files).
        rm -rf "$WORK/cold"
        read -r wall peak < <(measure_cold "$BIN/elt" "$cmd" --project-dir "$dir" --quiet)
        printf '%-8s %-18s %10s %12s\n' "$n" "elt $cmd (cold)" "$wall" "$peak"
        # Warm: after a previous run, as when a developer compiles again.
        read -r wall peak < <(measure "$BIN/elt" "$cmd" --project-dir "$dir" --quiet)
        printf '%-8s %-18s %10s %12s\n' "$n" "elt $cmd (warm)" "$wall" "$peak"
    done
done

if [[ "${BENCH_DBT:-0}" == 1 ]]; then
    venv="$WORK/dbt-venv"
    [[ -x "$venv/bin/dbt" ]] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q "dbt-core~=1.10.0" "dbt-duckdb~=1.9.0"; }
    dir="$WORK/synth_1000"
    read -r wall peak < <(RUNS=1 measure "$venv/bin/dbt" parse --project-dir "$dir" --profiles-dir "$dir" --no-partial-parse)
    printf '%-8s %-18s %10s %12s\n' 1000 "dbt parse" "$wall" "$peak"
fi
