#!/bin/sh
# halfopen block list for ipset + iptables/ip6tables (inbound only). Run as root: sh FILE
# Safe to run again: the sets halfopen_block_v4 and halfopen_block_v6 are created when missing and
# swapped with a staging set that holds exactly this list; each DROP rule is inserted at
# the top of INPUT only when `-C` does not find it. The part between EOF lines is an
# `ipset restore` file of its own (hash:net sets hold at most 65536 entries).
set -e
ipset -exist restore <<'EOF'
create halfopen_block_v4 hash:net family inet
create halfopen_block_v4_new hash:net family inet
flush halfopen_block_v4_new
add halfopen_block_v4_new 198.51.100.21/32
add halfopen_block_v4_new 198.51.100.23/32
add halfopen_block_v4_new 198.51.100.24/32
add halfopen_block_v4_new 198.51.100.128/25
add halfopen_block_v4_new 203.0.113.8/32
swap halfopen_block_v4_new halfopen_block_v4
destroy halfopen_block_v4_new
create halfopen_block_v6 hash:net family inet6
create halfopen_block_v6_new hash:net family inet6
flush halfopen_block_v6_new
add halfopen_block_v6_new 2012:1234:1234::1/128
swap halfopen_block_v6_new halfopen_block_v6
destroy halfopen_block_v6_new
EOF
iptables -C INPUT -i em0 -m set --match-set halfopen_block_v4 src -j DROP 2>/dev/null ||
    iptables -I INPUT -i em0 -m set --match-set halfopen_block_v4 src -j DROP
ip6tables -C INPUT -i em0 -m set --match-set halfopen_block_v6 src -j DROP 2>/dev/null ||
    ip6tables -I INPUT -i em0 -m set --match-set halfopen_block_v6 src -j DROP
