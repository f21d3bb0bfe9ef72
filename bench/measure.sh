# Timing helpers sourced by the benchmark scripts. They need RUNS and WORK.

# The median of the numbers on stdin.
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# Runs a command RUNS times; prints "median_wall_s peak_rss_mib".
measure() {
    local walls=() peaks=()
    for _ in $(seq "$RUNS"); do
        local out
        /usr/bin/time -o "$WORK/time.out" -f "%e %M" "$@" >/dev/null 2>&1
        out=$(tail -1 "$WORK/time.out")
        walls+=("${out% *}")
        peaks+=("${out#* }")
    done
    summarize
}

# Prints "median wall, largest peak" of the runs in $walls and $peaks.
summarize() {
    local peak
    peak=$(printf '%s\n' "${peaks[@]}" | sort -n | tail -1)
    echo "$(printf '%s\n' "${walls[@]}" | median) $((peak / 1024))"
}
