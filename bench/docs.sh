#!/usr/bin/env bash
# Docs benchmark on a synthetic project of MODELS (10,000) models, built in DuckDB first so the
# catalog is real:
# - `elt docs generate` (compile, catalog from the warehouse, lineage of every column, the
#   site), beside `elt compile` of the same project in the same run as the baseline it adds to;
# - the time until headless Chromium has rendered the served site's index page: the page's own
#   performance.now() when its first render is done, from navigation start, so it includes
#   loading and parsing data/index.js.
# Prints medians of RUNS runs. Bar (issue #7, 2 cores): generate <= 5 s, first render <= 2 s.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${RUNS:-5}"
MODELS="${MODELS:-10000}"
WORK="${BENCH_DIR:-/tmp/elt-bench}/docs"
mkdir -p "$WORK"
source bench/release.sh
source bench/measure.sh
command -v chromium >/dev/null || { echo "needs Debian's chromium (apt-get install chromium)"; exit 1; }

dir="$WORK/synth_$MODELS"
"$BIN/synth-project" --models "$MODELS" --out "$dir"
cd "$dir"
echo "building $MODELS models in DuckDB for the catalog..."
"$BIN/elt" run --quiet

printf '%-40s %10s %12s\n' "$MODELS models" "wall (s)" "peak (MiB)"
printf '%-40s %10s %12s\n' "elt compile (baseline)" $(measure "$BIN/elt" compile)
printf '%-40s %10s %12s\n' "elt docs generate" $(measure "$BIN/elt" docs generate)
printf '%-40s %10s %12s\n' "elt docs generate --empty-catalog" $(measure "$BIN/elt" docs generate --empty-catalog)
"$BIN/elt" docs generate --quiet
du -sh target/docs | awk '{print "site size: " $1}'
du -h target/docs/data/index.js | awk '{print "data/index.js: " $1}'

port=$((20000 + RANDOM % 20000))
"$BIN/elt" docs serve --port "$port" >/dev/null &
server=$!
trap 'kill $server 2>/dev/null' EXIT
sleep 1
renders=()
for _ in $(seq "$RUNS"); do
    profile=$(mktemp -d)
    rendered=$(chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
        --disable-component-update --no-first-run --disable-sync --user-data-dir="$profile" \
        --dump-dom "http://127.0.0.1:$port/" 2>/dev/null |
        grep -o 'data-rendered="[0-9]*"' | grep -o '[0-9]*' || echo "none")
    rm -rf "$profile"
    renders+=("$rendered")
done
echo "first render of the index page (ms from navigation start): runs ${renders[*]}, median $(printf '%s\n' "${renders[@]}" | median)"
