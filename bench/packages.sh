#!/usr/bin/env bash
# Package-heavy benchmark (issue 22): the synthetic 1,000-model project with dbt_utils,
# dbt_expectations and dbt_date from ../shared/dbt-packages (surrogate keys everywhere,
# dbt_utils.star, get_column_values pivots and date spines, which query DuckDB while they
# compile, and dbt_utils/dbt_expectations tests), built on DuckDB with 2 threads, into a new
# warehouse each time. Prints the median wall time of RUNS runs of `elt build`.
#
# With BENCH_DBT=1 it also installs dbt-core 1.11 and dbt-duckdb 1.11 from PyPI into a
# virtualenv and times `dbt build` of the same project in the same run, as the baseline.
# Bar (issue 22): elt build at least 50x faster than dbt-core.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-3}"
MODELS="${MODELS:-1000}"
WORK="${BENCH_DIR:-/tmp/elt-bench}"
PACKAGES="${ELT_DBT_PACKAGES:-$(cd .. && pwd)/shared/dbt-packages}"
mkdir -p "$WORK"
[[ -d "$PACKAGES/dbt-utils" ]] || { echo "no dbt packages at $PACKAGES (set ELT_DBT_PACKAGES)" >&2; exit 1; }

source bench/release.sh
dir="$WORK/packages_$MODELS"
"$BIN/synth-project" --models "$MODELS" --out "$dir" --packages "$PACKAGES"

median() {
    local walls=()
    for _ in $(seq "$RUNS"); do
        rm -f "$dir/synth.duckdb"
        local start end
        start=$(date +%s.%N)
        "$@" >/dev/null 2>&1 || { echo "failed: $*" >&2; "$@" | tail -20 >&2; exit 1; }
        end=$(date +%s.%N)
        walls+=("$(echo "$end - $start" | bc)")
    done
    printf '%s\n' "${walls[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'
}

printf '%-40s %10s\n' command "wall (s)"
elt_build=$(median "$BIN/elt" build --project-dir "$dir" --threads 2 --quiet)
nodes=$(grep -o '"unique_id": "' "$dir/target/run_results.json" | wc -l)
printf '%-40s %10s\n' "elt build ($MODELS models, $nodes nodes)" "$elt_build"

if [[ "${BENCH_DBT:-0}" == 1 ]]; then
    venv="$WORK/dbt-venv"
    [[ -x "$venv/bin/dbt" ]] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q "dbt-core~=1.11.0" "dbt-duckdb~=1.11.0"; }
    RUNS=1
    dbt_build=$(median "$venv/bin/dbt" build --project-dir "$dir" --profiles-dir "$dir" --threads 2)
    printf '%-40s %10s\n' "dbt-core $("$venv/bin/dbt" --version | grep -o 'installed: [0-9.]*' | cut -d' ' -f2) build" "$dbt_build"
    printf '%-40s %9.0fx\n' "elt faster by" "$(echo "$dbt_build / $elt_build" | bc -l)"
fi
