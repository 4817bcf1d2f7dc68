#!/usr/bin/env bash
# Run J, "nginx": the same site served by nginx (Debian's 1.22, its defaults: keepalive_timeout
# 65 s, client_header_timeout 60 s, listen backlog 511), with nginx's own `combined` access log and
# its error log at `info` (error.log; error-default.log keeps the lines of the default level,
# `error` and above, as most admins have it). nginx logs differently from Apache:
#   - a connection that sends nothing gets no access-log line at all, even when nginx times it
#     out (Apache logs `"-" 408`); at `info` the error log says "client timed out ... while
#     waiting for request";
#   - a partial request line closed by the client is a 400 with the partial line (Apache: nothing);
#   - its 408 is logged when a request started but did not finish in time.
# Clients: ordinary ones (curl, v4 and v6); headless Chromium with an unused preconnect; a port
# monitor (`nc -z`) every 0.5 s (the story's pattern); clients that connect and send nothing (`nc`,
# three at once, until nginx closes them); a slowloris (`slowhttptest -H`, 40 connections); a
# service scan (`nmap -sT -sV`); a SYN scan (`nmap -sS`); a random-source SYN flood (`hping3
# --rand-source`, 10 s). No client, browser or monitor may be blocked.
# Usage: run-nginx.sh OUTDIR   (root; Debian: nginx-light (or nginx) slowhttptest hping3 nmap tcpdump
#        iptables curl chromium netcat-openbsd python3 wireshark-common). About 3 minutes.
source "$(dirname "$0")/lib.sh"
lab_begin "${1:?outdir}"

client 203.0.113.5; LEGIT1=$CNS
client 203.0.113.6 2001:db8:5::6; LEGIT2=$CNS
client 203.0.113.30; BROWSER=$CNS
client 203.0.113.24; PORTCHECK=$CNS
client 203.0.113.33; TCPIDLE=$CNS
client 198.51.100.30; SLOWH=$CNS
client 198.51.100.20; SCAN=$CNS
client 198.51.100.41; SYNSCAN=$CNS
client -; FLOOD=$CNS
truth 203.0.113.5 legit
truth 203.0.113.6 legit
truth 2001:db8:5::6 legit
truth 203.0.113.30 browser
truth 203.0.113.24 port-check
truth 203.0.113.33 idle-timeout
truth 198.51.100.30 slow-headers
truth 198.51.100.20 connect-scan
truth 198.51.100.41 syn-scan
truth 0.0.0.0/0 rand-source-flood

python3 "$LAB/www.py" "$OUT/www"
cat > "$OUT/nginx.conf" <<CONF
# Run J: Debian's nginx 1.22 with the directives of Debian's nginx.conf that matter here (its
# defaults otherwise: client_header_timeout 60s, listen backlog 511); nginx's combined log format.
user www-data;
worker_processes 2;
pid $OUT/httpd.pid;
error_log $OUT/error.log info;
events { worker_connections 768; }
http {
  sendfile on;
  tcp_nopush on;
  types_hash_max_size 2048;
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  keepalive_timeout 65;
  access_log $OUT/access.log combined;
  server {
    listen $SRV:80;
    listen [$SRV6]:80;
    server_name www.testbed.example static.testbed.example;
    root $OUT/www;
  }
}
CONF

lab_capture
chmod -R a+rx "$OUT"; touch "$OUT/access.log" "$OUT/error.log"; chmod a+rw "$OUT"/*.log
$S nginx -c "$OUT/nginx.conf"
mark nginx started
sleep 2
fetch6() { on $LEGIT2 curl -6 -s -o /dev/null -m 10 "http://[$SRV6]/" || true; }
mark legit round 1; fetch_pages $LEGIT1 $LEGIT2; fetch6

mark browser start
bg on $BROWSER chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$SCR/chromium" --host-resolver-rules="MAP *.testbed.example $SRV" \
  http://www.testbed.example/page.html > "$SCR/chromium.log" 2>&1
sleep 3

mark port-check start
bg on $PORTCHECK bash -c "for i in \$(seq 1 120); do nc -z -w 1 $SRV 80; sleep 0.5; done"
mark tcp-idle start
for i in 1 2 3; do bg on $TCPIDLE bash -c "sleep 90 | nc $SRV 80 > /dev/null"; done

mark slowhttptest -H start
(on $SLOWH slowhttptest -H -c 40 -r 40 -i 10 -l 90 -u http://$SRV/ > "$OUT/slowhttptest-H.txt" 2>&1 || true
 mark slowhttptest -H done) & SLOW_PID=$!
sleep 5
mark nmap -sT -sV start
on $SCAN nmap -n -Pn -sT -sV -p 80,443,8080 $SRV > "$OUT/nmap.txt" 2>&1 || true
mark nmap -sT -sV done
mark legit round 2; fetch_pages $LEGIT1 $LEGIT2; fetch6
mark syn-scan start
on $SYNSCAN nmap -n -Pn -sS -p 80,443,8080 $SRV > "$OUT/nmap-syn.txt" 2>&1 || true
mark syn-scan done
mark flood start
(on $FLOOD hping3 -S -p 80 --rand-source -i u2000 -c 5000 $SRV > "$OUT/hping3-rand-source.txt" 2>&1 || true
 mark flood done) & FLOOD_PID=$!
sleep 4
mark legit round 3, during the flood; fetch_pages $LEGIT1 $LEGIT2; fetch6
wait $FLOOD_PID
for round in 1 2 3 4 5; do sleep 12; mark legit round $((round + 3)); fetch_pages $LEGIT1 $LEGIT2; done
wait $SLOW_PID
sleep 5
stop_ns $BROWSER; mark browser stopped
stop_ns $TCPIDLE; stop_ns $PORTCHECK
mark legit round 9; fetch_pages $LEGIT1 $LEGIT2; fetch6
sleep 2
$S ss -tan > "$OUT/ss-after.txt"
mark finish
lab_finish
grep -E '\[(error|crit|alert|emerg)\]' "$OUT/error.log" > "$OUT/error-default.log" || true
sed -i "s#$OUT#/srv/testbed#g" "$OUT/nginx.conf" "$OUT/error-default.log"
echo "run-nginx done: $(wc -l < "$OUT/access.log") access lines, $(wc -l < "$OUT/kern.log") kernel lines"
