#!/usr/bin/env bash
# Run A, "prefork": slow attacks at scale against a small prefork Apache, a fast client, a NAT
# address, a connect+version scan, HTTP/2 prior knowledge, a headless browser, and Apache's own
# "(internal dummy connection)" requests over loopback.
# Usage: run-prefork.sh OUTDIR   (root; Debian: apache2 apache2-utils slowhttptest nmap tcpdump
#        iptables chromium curl python3). About 4 minutes. Then summarize.py OUTDIR.
source "$(dirname "$0")/lib.sh"
lab_begin "${1:?outdir}"

# One namespace (one kernel, one address) per source.
client 203.0.113.5; LEGIT1=$CNS
client 203.0.113.6; LEGIT2=$CNS
client 203.0.113.7; LEGIT3=$CNS
client 198.51.100.31; SLOWH=$CNS
client 198.51.100.32; SLOWB=$CNS
client 203.0.113.50; FAST=$CNS
client 203.0.113.60; NAT=$CNS
client 198.51.100.24; SCAN=$CNS
client 203.0.113.70; H2=$CNS
client 203.0.113.80; BROWSER=$CNS
truth 203.0.113.5 legit; truth 203.0.113.6 legit; truth 203.0.113.7 legit
truth 198.51.100.31 slow-headers; truth 198.51.100.32 slow-body
truth 203.0.113.50 fast-client; truth 203.0.113.60 nat-client
truth 198.51.100.24 connect-scan; truth 203.0.113.70 h2-prior-knowledge
truth 203.0.113.80 browser
truth 192.0.2.10 server-internal

python3 "$LAB/www.py" "$OUT/www"
M=/usr/lib/apache2/modules
cat > "$OUT/httpd.conf" <<CONF
# Run A: Debian's Apache 2.4 with mpm_prefork, a small pool; mod_reqtimeout at its defaults
# (no RequestReadTimeout: header=20-40,MinRate=500 body=20,MinRate=500); Timeout, KeepAlive,
# KeepAliveTimeout and ListenBacklog at their defaults (60 s, On, 5 s, 511).
ServerRoot "$OUT"
PidFile "$OUT/httpd.pid"
Listen $SRV:80
LoadModule mpm_prefork_module $M/mod_mpm_prefork.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule dir_module $M/mod_dir.so
LoadModule mime_module $M/mod_mime.so
LoadModule reqtimeout_module $M/mod_reqtimeout.so
StartServers 2
MinSpareServers 1
MaxSpareServers 3
ServerLimit 20
MaxRequestWorkers 20
User www-data
Group www-data
ServerName testbed.example
DocumentRoot "$OUT/www"
TypesConfig /etc/mime.types
LogFormat "%v:%p %h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" vhost_combined
CustomLog "$OUT/access.log" vhost_combined
ErrorLog "$OUT/error.log"
LogLevel info
<Directory "$OUT/www">
  Require all granted
</Directory>
CONF

lab_capture
apache_start "$OUT/httpd.conf"
mark apache started
sleep 2
C="curl -s -o /dev/null -m 150"
legit_round() {
  local ns pids=()
  for ns in $LEGIT1 $LEGIT2 $LEGIT3; do
    (on $ns $C http://$SRV/; on $ns $C http://$SRV/missing$1; on $ns $C http://$SRV/page.html) &
    pids+=($!)
  done
  wait "${pids[@]}"
}
mark legit round 1; legit_round 1

mark h2 prior knowledge
on $H2 curl -s -o /dev/null -m 20 --http2-prior-knowledge http://$SRV/ || true
on $H2 $C http://$SRV/

# The page names the server as www.testbed.example and asks for a preconnect to
# static.testbed.example (same server, nothing ever fetched from it): both names resolve to $SRV.
mark browser start
bg on $BROWSER chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$SCR/chromium" --host-resolver-rules="MAP *.testbed.example $SRV" \
  http://www.testbed.example/page.html > "$SCR/chromium.log" 2>&1
sleep 3

mark nmap -sT -sV start
on $SCAN nmap -n -Pn -sT -sV -p 80,443,8080,22 $SRV > "$OUT/nmap.txt" 2>&1 || true
mark nmap done

mark ab start
on $FAST ab -n 1500 -c 10 http://$SRV/ > "$OUT/ab.txt" 2>&1 || true
mark ab done

mark nat-client start
(for i in $(seq 1 120); do
   if (( i % 3 == 0 )); then
     on $NAT $C -o /dev/null -o /dev/null http://$SRV/ http://$SRV/page.html http://$SRV/style.css  # one keep-alive connection
   else
     on $NAT $C http://$SRV/
   fi
   sleep 0.3
 done; mark nat-client done) &
NAT_PID=$!
sleep 5

mark slowhttptest -H start
(on $SLOWH slowhttptest -H -c 100 -r 100 -i 10 -l 120 -u http://$SRV/ -g -o "$OUT/slowhttptest-H" \
   > "$OUT/slowhttptest-H.txt" 2>&1 || true; mark slowhttptest -H done) &
SLOWH_PID=$!
sleep 15
mark slowhttptest -B start
(on $SLOWB slowhttptest -B -c 100 -r 100 -i 10 -s 8192 -l 120 -u http://$SRV/ -g -o "$OUT/slowhttptest-B" \
   > "$OUT/slowhttptest-B.txt" 2>&1 || true; mark slowhttptest -B done) &
SLOWB_PID=$!
sleep 15
mark legit round 2 start
(legit_round 2; mark legit round 2 done) & LEGIT2_PID=$!
sleep 10
$S ss -tan > "$OUT/ss.txt"
mark midstream cut
stop_ns $BROWSER; mark browser stopped
wait $LEGIT2_PID $NAT_PID $SLOWH_PID $SLOWB_PID
mark attacks over, waiting for prefork to reap idle children
sleep 40
mark legit round 3; legit_round 3
sleep 2
$S ss -tan > "$OUT/ss-after.txt"
mark finish
lab_finish
python3 "$LAB/midstream.py" "$OUT" "$(awk '/midstream cut/ {print $1}' "$OUT/timeline.txt")" > "$OUT/midstream.txt"
rm -f "$OUT"/slowhttptest-*.html
echo "run-prefork done: $(wc -l < "$OUT/access.log") access lines, $(wc -l < "$OUT/kern.log") kernel lines"
