#!/usr/bin/env bash
# Run G, "carpet": a reflection spread thin over a whole /24 of live hosts ("carpet bombing"),
# a few SYNs per address so that no address stands out, while two clients of that /24 use the
# site. Every SYN names a random host of 198.51.100.0/24 (lab/synflood.py: TTLs 48/52/117/240, no
# options); its hosts are live (Linux: one namespace holding .10-.250, and the two clients) and reset the server's
# SYN-ACKs. Blocking the /24, or its addresses one by one, cuts off the hosts the SYNs named.
# Usage: run-carpet.sh OUTDIR   (root; Debian: apache2 tcpdump iptables curl python3
#        wireshark-common). About 1 minute. Then summarize.py OUTDIR.
source "$(dirname "$0")/lib.sh"
lab_begin "${1:?outdir}"

client -; SPOOF=$CNS
HOSTS=(); for i in $(seq 10 250); do HOSTS+=(198.51.100.$i); done
client "${HOSTS[@]}"; VNET=$CNS
client 198.51.100.5; LEGIT1=$CNS
client 198.51.100.6; LEGIT2=$CNS
client 203.0.113.5; LEGIT3=$CNS
# The /24's addresses without a host (.0-.4, .7-.9, .251-.255: the router has no route, as for
# unused addresses) answer nothing; the live ones (.10-.250) are the reflection's victims.
truth 198.51.100.0/24 carpet-unrouted
python3 -c 'import ipaddress as i; [print(n) for n in i.summarize_address_range(i.ip_address("198.51.100.10"), i.ip_address("198.51.100.250"))]' |
  while read -r n; do truth "$n" carpet-reflection; done
truth 198.51.100.5 legit
truth 198.51.100.6 legit
truth 203.0.113.5 legit

python3 "$LAB/www.py" "$OUT/www"
event_httpd_conf "Run G" > "$OUT/httpd.conf"

lab_capture
apache_start "$OUT/httpd.conf"
mark apache started
sleep 2
fetch_pages $LEGIT1 $LEGIT2 $LEGIT3
mark carpet-reflection start
bg on $SPOOF python3 "$LAB/synflood.py" $SRV 198.51.100.0/24 20 "${RATE:-30}"
for round in 1 2; do sleep 10; fetch_pages $LEGIT1 $LEGIT2 $LEGIT3; done
sleep 2
mark carpet-reflection done
fetch_pages $LEGIT1 $LEGIT2 $LEGIT3
mark finish
lab_finish
echo "run-carpet done: $(wc -l < "$OUT/access.log") access lines, $(wc -l < "$OUT/kern.log") kernel lines"
