#!/usr/bin/env bash
# Run E, "fastconnect": the other side of run D's rule. One host's own TCP stack (ordinary
# connect() calls, its kernel's SYNs with their TCP options) opens 20 connections a second for
# 30 s to port 80 and never completes one: the router drops the server's answers to it, and each
# socket is closed 0.3 s after its connect() began, before the kernel would retransmit. That pace
# (1,200 a minute) fills Apache's listen queue of 511 within half a minute: a SYN flood from a
# real stack, which must still be called one. Ordinary clients are served around it.
# Usage: run-fastconnect.sh OUTDIR   (root; Debian: apache2 tcpdump iptables curl python3
#        wireshark-common). About 1 minute. Then summarize.py OUTDIR.
source "$(dirname "$0")/lib.sh"
lab_begin "${1:?outdir}"

client 198.51.100.70; FAST=$CNS
client 203.0.113.5; LEGIT1=$CNS
client 203.0.113.6; LEGIT2=$CNS
truth 198.51.100.70 real-stack-flood
truth 203.0.113.5 legit
truth 203.0.113.6 legit

python3 "$LAB/www.py" "$OUT/www"
event_httpd_conf "Run E" > "$OUT/httpd.conf"

lab_capture
apache_start "$OUT/httpd.conf"
mark apache started
sleep 2
fetch_pages $LEGIT1 $LEGIT2
ip netns exec $NS_R iptables -I FORWARD -d 198.51.100.70 -j DROP
mark real-stack-flood start
bg on $FAST python3 "$LAB/fastconnect.py" $SRV 600 20
for round in 1 2 3; do sleep 10; fetch_pages $LEGIT1 $LEGIT2; done
sleep 2
mark real-stack-flood done
sleep 3
fetch_pages $LEGIT1 $LEGIT2
mark finish
lab_finish
echo "run-fastconnect done: $(wc -l < "$OUT/access.log") access lines, $(wc -l < "$OUT/kern.log") kernel lines"
