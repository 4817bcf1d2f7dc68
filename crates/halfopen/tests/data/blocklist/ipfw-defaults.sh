#!/bin/sh
# halfopen block list for ipfw (inbound only). Run as root: sh FILE
# Rule 50 denies what comes in from table halfopen_block; it must come before your
# allow rules (ipfw stops at the first match): choose it with --ipfw-rule N.
# Safe to run again: the table is created when missing, emptied and refilled with this
# list, and the rule is added only when `ipfw list N` does not show it already.
set -e
ipfw table halfopen_block info >/dev/null 2>&1 || ipfw table halfopen_block create type addr
ipfw -q table halfopen_block flush
ipfw -q table halfopen_block add 198.51.100.21/32
ipfw -q table halfopen_block add 198.51.100.23/32
ipfw -q table halfopen_block add 198.51.100.24/32
ipfw -q table halfopen_block add 198.51.100.128/25
ipfw -q table halfopen_block add 203.0.113.8/32
ipfw -q table halfopen_block add 2012:1234:1234::1/128
ipfw list 50 2>/dev/null | grep -qF 'table(halfopen_block)' ||
    ipfw add 50 deny ip from 'table(halfopen_block)' to any in
