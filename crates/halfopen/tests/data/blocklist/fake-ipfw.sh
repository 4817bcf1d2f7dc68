#!/bin/sh
# A stand-in for FreeBSD's ipfw(8), written for halfopen's tests: it keeps tables and rules in
# files under $FAKE_IPFW_STATE and fails where ipfw fails (sbin/ipfw/tables.c, ipfw2.c):
#   table T info            exit 71 when T does not exist
#   table T create ...      exit 71 when T exists ("Table creation failed: File exists")
#   [-q] table T flush      empties T
#   [-q] table T add X      exit 71 when X is in T, unless -q (quiet ignores EEXIST)
#   list N                  prints rule N as "NNNNN body", exit 71 when there is none
#   add N body...           appends rule N
# It is not ipfw: it checks the logic of the generated script, not ipfw's behaviour.
set -eu
state=${FAKE_IPFW_STATE:?}
mkdir -p "$state"
touch "$state/rules"
quiet=0
if [ "${1:-}" = "-q" ]; then quiet=1; shift; fi
case "${1:-}" in
table)
    t=$2; cmd=$3; f="$state/table.$t"
    case "$cmd" in
    info) [ -f "$f" ] || { echo "ipfw: failed to request table info: No such process" >&2; exit 71; } ;;
    create) [ ! -f "$f" ] || { echo "ipfw: Table creation failed: File exists" >&2; exit 71; }; : > "$f" ;;
    flush) [ ! -f "$f" ] || : > "$f" ;;
    add)
        [ -f "$f" ] || { echo "ipfw: table $t not found" >&2; exit 71; }
        if grep -qxF "$4" "$f"; then
            [ "$quiet" = 1 ] || { echo "ipfw: Adding record failed: record already exists" >&2; exit 71; }
        else
            echo "$4" >> "$f"
        fi ;;
    *) echo "fake ipfw: unsupported table command $cmd" >&2; exit 64 ;;
    esac ;;
list)
    n=$(printf '%05d' "$2")
    grep "^$n " "$state/rules" || { echo "ipfw: rule $2 does not exist" >&2; exit 71; } ;;
add)
    n=$(printf '%05d' "$2"); shift 2
    echo "$n $*" >> "$state/rules" ;;
*) echo "fake ipfw: unsupported command $*" >&2; exit 64 ;;
esac
