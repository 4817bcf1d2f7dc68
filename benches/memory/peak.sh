#!/bin/sh
# Peak memory and throughput of `halfopen analyze` at 1x, 4x and 16x of three streamed inputs
# (100 M flood lines, 10 GB of ipfw log, 2 GB of pcap at 16x), plus a one-core comparison.
#   benches/memory/peak.sh [--quick] [--scales 1,4,16] [--inputs flood,ipfw,pcap]
#                          [--cap-gb 20] [--taskset yes|no] [--no-build] [--out FILE]
# --quick: 1x only, no one-core comparison. Documented in docs/performance.md ("Memory at
# scale"); needs python3, cargo, mkfifo and taskset (util-linux).
set -eu
here=$(dirname "$0")
exec python3 "$here/peak.py" "$@"
