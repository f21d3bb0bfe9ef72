#!/usr/bin/env bash
# Watch benchmark (issue #8): `elt watch` on the synthetic 1,000-model project (DuckDB): after
# its first run, one intermediate model is edited; prints the recompile time elt reports and
# how many models it re-ran (the edited one and its downstream), for EDITS edits.
set -euo pipefail
cd "$(dirname "$0")/.."
EDITS="${EDITS:-5}"
WORK="${BENCH_DIR:-/tmp/elt-watch-bench}"

source bench/release.sh
rm -rf "$WORK" && mkdir -p "$WORK"
"$BIN/synth-project" --models 1000 --out "$WORK/project"
cd "$WORK/project"
model=$(find models -path '*intermediate*' -name '*.sql' | sort | head -1)

"$BIN/elt" watch >"$WORK/watch.log" 2>&1 &
watch=$!
trap 'kill $watch 2>/dev/null || true' EXIT
until grep -q "^Watching" "$WORK/watch.log"; do sleep 0.2; done
for i in $(seq "$EDITS"); do
    done_before=$(grep -c "^Done\." "$WORK/watch.log")
    echo "-- edit $i" >>"$model"
    until [ "$(grep -c "^Done\." "$WORK/watch.log")" -gt "$done_before" ]; do sleep 0.05; done
done
echo "elt watch, 1,000 models: $EDITS edits of $model"
grep "^Recompiled" "$WORK/watch.log" | tail -n "$EDITS"
grep "^Done\." "$WORK/watch.log" | tail -n "$EDITS"
