#!/usr/bin/env bash
# Run I, "proxy": Apache behind a reverse proxy (haproxy, as a load balancer or a CDN's edge), with
# mod_remoteip writing each request's real client address into the access log, as the Apache
# documentation recommends. The firewall and the capture on the server see the proxy's address
# only; the access log never names it. The proxy also health-checks Apache every 2 s. The sites'
# clients, some of them busy (ApacheBench through the proxy), and two clients that reach Apache
# directly. No client and never the proxy may be blocked: blocking the proxy cuts off every user.
# CHECK=tcp: haproxy's default TCP check instead of the HTTP one, so that no request in the
# access log names the proxy (as behind a CDN, or with the checks kept out of the log).
# Usage: [CHECK=tcp] run-proxy.sh OUTDIR   (root; Debian: apache2 apache2-utils haproxy tcpdump iptables curl
#        python3 wireshark-common). About 1.5 minutes. Then summarize.py OUTDIR.
source "$(dirname "$0")/lib.sh"
lab_begin "${1:?outdir}"
CHECK=${CHECK:-http}

PROXY=198.51.100.80
client $PROXY; PROXYNS=$CNS
client 203.0.113.5; LEGIT1=$CNS
client 203.0.113.6; LEGIT2=$CNS
client 203.0.113.7; BUSY=$CNS
client 203.0.113.51; DIRECT1=$CNS
client 203.0.113.52; DIRECT2=$CNS
truth $PROXY reverse-proxy
for a in 203.0.113.5 203.0.113.6 203.0.113.7 203.0.113.51 203.0.113.52; do truth $a legit; done

python3 "$LAB/www.py" "$OUT/www"
M=/usr/lib/apache2/modules
{
  cat <<CONF
# Run I: Debian's Apache 2.4, mpm_event at its defaults, behind a reverse proxy at $PROXY:
# mod_remoteip takes the client's address from X-Forwarded-For when the connection comes from the
# proxy, so %h in the combined access log is the client's, never the proxy's.
ServerRoot "$OUT"
PidFile "$OUT/httpd.pid"
Listen $SRV:80
LoadModule remoteip_module $M/mod_remoteip.so
RemoteIPHeader X-Forwarded-For
RemoteIPTrustedProxy $PROXY
CONF
  event_site_conf
} > "$OUT/httpd.conf"
echo ok > "$OUT/www/health"

cat > "$OUT/haproxy.cfg" <<CONF
# Run I: the reverse proxy. Clients connect to $PROXY:80; haproxy adds X-Forwarded-For and sends
# the requests to Apache, reusing its server-side connections when it can (haproxy's default),
# and checks Apache every 2 s (CHECK=$CHECK: an HTTP request Apache logs, or a TCP connect).
global
  maxconn 256
defaults
  mode http
  option forwardfor
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend edge
  bind $PROXY:80
  default_backend origin
backend origin
  $([ "$CHECK" = http ] && echo "option httpchk GET /health")
  server www $SRV:80 check inter 2s
CONF

lab_capture
apache_start "$OUT/httpd.conf"
mark apache started
sleep 2
bg on $PROXYNS haproxy -db -f "$OUT/haproxy.cfg"
sleep 2
mark proxy started
# via_proxy NS...: each client fetches / and /page.html through the proxy
via_proxy() {
  local ns
  for ns in "$@"; do
    on $ns curl -s -o /dev/null -m 10 http://$PROXY/ || true
    on $ns curl -s -o /dev/null -m 10 http://$PROXY/page.html || true
  done
}
mark round 1; via_proxy $LEGIT1 $LEGIT2; fetch_pages $DIRECT1
mark ab through the proxy start
on $BUSY ab -n 3000 -c 20 http://$PROXY/ > "$OUT/ab.txt" 2>&1 || true
mark ab done
for round in 2 3 4 5 6; do
  sleep 8
  mark round $round; via_proxy $LEGIT1 $LEGIT2 $BUSY; fetch_pages $DIRECT2
done
mark ab without keep-alive start
on $BUSY ab -n 1000 -c 5 http://$PROXY/page.html > "$OUT/ab-2.txt" 2>&1 || true
mark ab done
sleep 8
mark round 7; via_proxy $LEGIT1 $LEGIT2; fetch_pages $DIRECT1 $DIRECT2
stop_ns $PROXYNS
mark proxy stopped
sleep 2
$S ss -tan > "$OUT/ss-after.txt"
mark finish
lab_finish
echo "run-proxy done: $(wc -l < "$OUT/access.log") access lines, $(wc -l < "$OUT/kern.log") kernel lines"
