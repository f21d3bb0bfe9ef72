#!/usr/bin/env bash
# Refreshes crates/elt-duckdb-icu/icu/ from DuckDB's source distribution on PyPI, for the
# DuckDB version that libduckdb-sys builds. Usage: scripts/vendor-duckdb-icu.sh 2.0.0
set -euo pipefail
version="${1:?usage: $0 <duckdb version, e.g. 2.0.0>}"
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

url="$(python3 - "$version" <<'PY'
import json, sys, urllib.request
version = sys.argv[1]
request = urllib.request.Request(
    "https://pypi.org/simple/duckdb/",
    headers={"Accept": "application/vnd.pypi.simple.v1+json"},
)
files = json.load(urllib.request.urlopen(request))["files"]
name = f"duckdb-{version}.tar.gz"
print(next(f["url"] for f in files if f["filename"] == name))
PY
)"
curl -sSfL "$url" -o "$work/duckdb.tar.gz"
sha256sum "$work/duckdb.tar.gz"
tar xzf "$work/duckdb.tar.gz" -C "$work"
source="$work/duckdb-$version/external/duckdb"
target="$root/crates/elt-duckdb-icu/icu"
rm -rf "$target"
(cd "$source/extension/icu" && find . -type f \( -name '*.cpp' -o -name '*.hpp' \)) |
    while read -r file; do
        mkdir -p "$target/$(dirname "$file")"
        cp "$source/extension/icu/$file" "$target/$file"
    done
cp "$source/LICENSE" "$target/LICENSE"
echo "vendored DuckDB $version's icu extension into $target; update the sha256 in its README.md"
