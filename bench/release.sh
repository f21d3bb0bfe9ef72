# Sourced by the benchmark scripts: builds the release binaries into the cache CI uses too (an
# empty ./target would mean compiling DuckDB again, ~25 min) and sets BIN to their folder.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/cache/elt/target}"
cargo build --release -q --workspace
BIN="$CARGO_TARGET_DIR/release"
