#!/usr/bin/env bash
# Copy a finished run into the repository's test data: tool output without terminal escapes,
# files over 1 MB gzipped (the halfopen readers detect gzip), counts.md from summarize.py.
# Usage: pack.sh RUNDIR DEST   (e.g. pack.sh /tmp/labA crates/halfopen/tests/data/lab/prefork)
set -euo pipefail
SRC=${1:?run dir}; DEST=${2:?destination}
LAB=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$DEST"
python3 "$LAB/summarize.py" "$SRC" > "$DEST/counts.md"
for f in "$SRC"/*; do
  name=$(basename "$f")
  if [ -d "$f" ]; then cp -r "$f" "$DEST/$name"; chmod -R a+rX,go-w "$DEST/$name"; continue; fi
  case $name in
    slowhttptest-*.txt) sed -e 's/\x1b\[[0-9;]*[A-Za-z]//g' -e "s#$SRC#/srv/testbed#g" "$f" > "$DEST/$name" ;;
    *) cp "$f" "$DEST/$name" ;;
  esac
  chmod 644 "$DEST/$name"
  if [ "$(stat -c %s "$DEST/$name")" -gt 1000000 ]; then gzip -9 -n -f "$DEST/$name"; fi
done
ls -l "$DEST"
