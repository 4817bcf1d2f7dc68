#!/bin/sh
# Peer baselines for docs/performance.md (NOT part of the test suite; needs apt-get/root
# for GoAccess). Writes the weblog bench's 1M-line Apache combined access log (same
# generator and seed) to a file, then times on it:
#   - `wc -l`: reading the file and counting lines, the memory-speed ceiling;
#   - GoAccess (Debian 12 ships 1.7) with --log-format=COMBINED, JSON report;
# and prints the median of RUNS runs as MB/s. The file is read once first so every tool
# runs from the page cache.
#
# Usage: benches/peers/run-peers.sh [LINES] [RUNS]      (defaults 1000000 and 5)
# Environment: CARGO_TARGET_DIR (default target), WORK (default a fresh mktemp -d).
set -eu
LINES=${1:-1000000}
RUNS=${2:-5}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=${WORK:-$(mktemp -d)}
LOG="$WORK/access.log"

cd "$ROOT"
cargo run --quiet --release -p halfopen-benches --example write_access_log -- "$LOG" "$LINES"
BYTES=$(wc -c < "$LOG")
echo "input: $LOG, $LINES lines, $BYTES bytes"

if ! command -v goaccess >/dev/null 2>&1; then
    echo "installing goaccess with apt-get"
    if [ "$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi
    $SUDO apt-get install -y goaccess >/dev/null
fi
echo "goaccess: $(goaccess --version 2>/dev/null | head -1)"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1-3 /proc/loadavg)"

cat "$LOG" > /dev/null   # warm the page cache

# median wall time (seconds) of RUNS runs of the command given as arguments
median() {
    i=0
    : > "$WORK/times"
    while [ "$i" -lt "$RUNS" ]; do
        s=$(date +%s.%N)
        "$@" > /dev/null 2>&1
        e=$(date +%s.%N)
        echo "$e - $s" | bc -l >> "$WORK/times"
        i=$((i + 1))
    done
    sort -n "$WORK/times" | awk '{ t[NR] = $1 } END { printf "%.4f %.4f %.4f\n", t[int((NR + 1) / 2)], t[1], t[NR] }'
}

report() {
    name=$1; shift
    set -- $(median "$@")
    awk -v n="$name" -v m="$1" -v lo="$2" -v hi="$3" -v b="$BYTES" -v l="$LINES" 'BEGIN {
        printf "%-10s median %.3f s (%.3f-%.3f)  %8.1f MB/s  %6.2f M lines/s\n",
            n, m, lo, hi, b / m / 1e6, l / m / 1e6 }'
}

report "wc -l" wc -l "$LOG"
report goaccess goaccess "$LOG" --log-format=COMBINED --no-global-config -o "$WORK/report.json"
echo "work dir: $WORK (delete when done)"
