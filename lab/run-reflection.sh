#!/usr/bin/env bash
# Run F, "reflection": SYNs whose source address is spoofed to name a live host. Each SYN makes
# the server send that host a SYN-ACK; its kernel never sent the SYN, so it answers with a bare
# RST (RFC 9293 §3.10.7.1), which frees the server's half-open entry at once. The address in the
# firewall log is the victim's, not the sender's: blocking it cuts off its owner.
#   - 198.51.100.80: hping3 spoofs it, 100 SYNs a second for 30 s; the host is a Windows-like
#     stack (initial TTL 128): its RSTs arrive with TTL 127, the SYNs with hping3's 63.
#   - 198.51.100.81: the same, but the host is Linux at the attacker's distance (TTL 64): its
#     RSTs look exactly like hping3's own kernel's (the floods run's hping3-real).
#   - 203.0.113.7: a legitimate client (served before, during and after), spoofed at 50 a second.
#   - 198.51.100.96/28: carpet reflection: random hosts of a /28 (14 live hosts in one namespace,
#     initial TTL 128), 100 SYNs a second from lab/synflood.py (TTLs 48/52/117/240, no options).
# Usage: run-reflection.sh OUTDIR   (root; Debian: apache2 hping3 tcpdump iptables curl python3
#        wireshark-common). About 1.5 minutes. Then summarize.py OUTDIR.
source "$(dirname "$0")/lib.sh"
lab_begin "${1:?outdir}"

client -; SPOOF=$CNS
client 198.51.100.80; V128=$CNS
client 198.51.100.81; V64=$CNS
client 203.0.113.7; LEGIT3=$CNS
CARPET=(); for i in $(seq 97 110); do CARPET+=(198.51.100.$i); done
client "${CARPET[@]}"; VNET=$CNS
client 203.0.113.5; LEGIT1=$CNS
client 203.0.113.6; LEGIT2=$CNS
on $V128 sysctl -qw net.ipv4.ip_default_ttl=128
on $VNET sysctl -qw net.ipv4.ip_default_ttl=128
truth 198.51.100.80 reflection-victim
truth 198.51.100.81 reflection-victim-same-ttl
truth 198.51.100.96/28 carpet-reflection
truth 203.0.113.7 legit-spoofed
truth 203.0.113.5 legit
truth 203.0.113.6 legit

python3 "$LAB/www.py" "$OUT/www"
event_httpd_conf "Run F" > "$OUT/httpd.conf"

lab_capture
apache_start "$OUT/httpd.conf"
mark apache started
sleep 2
fetch_pages $LEGIT1 $LEGIT2 $LEGIT3
mark reflection-victim and reflection-victim-same-ttl start
bg on $SPOOF hping3 -S -a 198.51.100.80 -p 80 -i u10000 -c 3000 $SRV
bg on $SPOOF hping3 -S -a 198.51.100.81 -p 80 -i u10000 -c 3000 $SRV
for round in 1 2 3; do sleep 10; fetch_pages $LEGIT1 $LEGIT2 $LEGIT3; done
sleep 2
mark reflection-victim and reflection-victim-same-ttl done
mark legit-spoofed and carpet-reflection start
bg on $SPOOF hping3 -S -a 203.0.113.7 -p 80 -i u20000 -c 1500 $SRV
bg on $SPOOF python3 "$LAB/synflood.py" $SRV 198.51.100.96/28 30 100
for round in 1 2 3; do sleep 10; fetch_pages $LEGIT1 $LEGIT2 $LEGIT3; done
sleep 2
mark legit-spoofed and carpet-reflection done
sleep 3
fetch_pages $LEGIT1 $LEGIT2 $LEGIT3
mark finish
lab_finish
echo "run-reflection done: $(wc -l < "$OUT/access.log") access lines, $(wc -l < "$OUT/kern.log") kernel lines"
