#!/usr/bin/env bash
# Example warehouse benchmark (issue #5): `elt generate ecommerce` throughput, then the wall
# time of `elt load` (the raw files into raw tables) and of `elt build` of the repository's
# project on DuckDB, at SCALE (default 1: about 100,000 orders). ELT_BIN runs another elt
# binary (default: a release build).
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${SCALE:-1}"
WORK="${BENCH_DIR:-/tmp/elt-example-bench}"

if [[ -z "${ELT_BIN:-}" ]]; then
    source bench/release.sh
    ELT_BIN="$BIN/elt"
fi
rm -rf "$WORK" && mkdir -p "$WORK"
cp -r models macros seeds tests elt_project.yml profiles.yml "$WORK"/
cd "$WORK"

"$ELT_BIN" generate ecommerce --scale "$SCALE" --out data/raw | tail -1
"$ELT_BIN" load | tail -1
start=$(date +%s.%N)
"$ELT_BIN" build --quiet
end=$(date +%s.%N)
models=$(grep -o '"unique_id": "model\.' target/run_results.json | wc -l)
tests=$(grep -o '"unique_id": "test\.' target/run_results.json | wc -l)
printf 'elt build, scale %s (%s models, %s tests): %.2f s\n' "$SCALE" "$models" "$tests" \
    "$(echo "$end - $start" | bc)"
