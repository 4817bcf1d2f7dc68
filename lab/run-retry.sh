#!/usr/bin/env bash
# Run C, "retry": a client whose connections the server refuses, again and again. A monitoring
# check (curl every 2 s, 30 times) tries the web server while Apache is down: each SYN is
# answered by the kernel's RST (nothing listens), and the client's kernel gives up at once, no
# SYN retransmission. In a log of one direction this is 30 unanswered SYNs to port 80 from a real
# TCP stack: what must it be called? Then Apache starts and ordinary clients are served.
# Usage: run-retry.sh OUTDIR   (root; Debian: apache2 tcpdump iptables curl python3
#        wireshark-common). About 1.5 minutes. Then summarize.py OUTDIR.
source "$(dirname "$0")/lib.sh"
lab_begin "${1:?outdir}"

client 203.0.113.90; RETRY=$CNS
client 203.0.113.5; LEGIT1=$CNS
client 203.0.113.6; LEGIT2=$CNS
truth 203.0.113.90 refused-retry
truth 203.0.113.5 legit
truth 203.0.113.6 legit

python3 "$LAB/www.py" "$OUT/www"
event_httpd_conf "Run C" > "$OUT/httpd.conf"

lab_capture
C="curl -s -o /dev/null -m 5"
mark refused-retry start
for i in $(seq 1 30); do on $RETRY $C http://$SRV/health || true; sleep 2; done
mark refused-retry done
apache_start "$OUT/httpd.conf"
mark apache started
sleep 2
for round in 1 2 3; do
  for ns in $LEGIT1 $LEGIT2; do
    on $ns $C http://$SRV/; on $ns $C http://$SRV/page.html; on $ns $C http://$SRV/missing$round
  done
  sleep 3
done
mark finish
lab_finish
echo "run-retry done: $(wc -l < "$OUT/access.log") access lines, $(wc -l < "$OUT/kern.log") kernel lines"
