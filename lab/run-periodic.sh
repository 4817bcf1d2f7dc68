#!/usr/bin/env bash
# Run D, "periodic": the story's pattern from clients that are not attacks. Each of four sources
# opens a new connection to port 80 every 0.5 s, from a new source port, for a minute, as the
# admin in the story saw on iftop; three of them leave nothing in Apache's access log:
#   - a load balancer's TCP health check (haproxy `check inter 500ms`: connect, then close);
#   - a port monitor (`nc -z`, as uptime checks do: connect, then close);
#   - the same haproxy check from a host whose return path is broken (the router drops the
#     server's packets to it: the SYN-ACKs never arrive, haproxy gives up after 400 ms);
#   - and, for contrast, haproxy's HTTP check (`option httpchk`), which Apache logs.
# None of them may be blocked. Ordinary clients are served around them.
# Usage: run-periodic.sh OUTDIR   (root; Debian: apache2 tcpdump iptables curl python3 haproxy
#        netcat-openbsd wireshark-common). About 1.5 minutes. Then summarize.py OUTDIR.
source "$(dirname "$0")/lib.sh"
lab_begin "${1:?outdir}"

client 203.0.113.21; TCPCHECK=$CNS
client 203.0.113.22; LOST=$CNS
client 203.0.113.23; HTTPCHECK=$CNS
client 203.0.113.24; PORTCHECK=$CNS
client 203.0.113.5; LEGIT1=$CNS
client 203.0.113.6; LEGIT2=$CNS
truth 203.0.113.21 tcp-health-check
truth 203.0.113.22 lost-return
truth 203.0.113.23 http-health-check
truth 203.0.113.24 port-check
truth 203.0.113.5 legit
truth 203.0.113.6 legit

python3 "$LAB/www.py" "$OUT/www"
echo ok > "$OUT/www/health"
event_httpd_conf "Run D" > "$OUT/httpd.conf"

# haproxy_conf NAME [OPTION]: a haproxy config whose one backend server is the web server, checked
# every 500 ms (connect timeout 400 ms); OPTION goes into the backend (e.g. option httpchk).
haproxy_conf() {
  cat > "$OUT/haproxy-$1.cfg" <<CONF
# Run D: haproxy as a load balancer in front of 192.0.2.10, health-checking it every 500 ms.
global
  maxconn 64
defaults
  mode http
  timeout connect 400ms
  timeout client 5s
  timeout server 5s
frontend lb
  bind 127.0.0.1:8080
  default_backend web
backend web
  ${2:-}
  server www $SRV:80 check inter 500ms fall 3 rise 2
CONF
}
haproxy_conf tcp
haproxy_conf lost
haproxy_conf http "option httpchk GET /health"

lab_capture
apache_start "$OUT/httpd.conf"
mark apache started
sleep 2
fetch_pages $LEGIT1 $LEGIT2
# The broken return path: the router drops everything the server sends to 203.0.113.22.
ip netns exec $NS_R iptables -I FORWARD -d 203.0.113.22 -j DROP
mark checks start
bg on $TCPCHECK haproxy -db -f "$OUT/haproxy-tcp.cfg"
bg on $LOST haproxy -db -f "$OUT/haproxy-lost.cfg"
bg on $HTTPCHECK haproxy -db -f "$OUT/haproxy-http.cfg"
bg on $PORTCHECK bash -c "for i in \$(seq 1 120); do nc -z -w 1 $SRV 80; sleep 0.5; done"
for round in 1 2 3 4 5 6; do sleep 10; fetch_pages $LEGIT1 $LEGIT2; done
stop_ns $TCPCHECK; stop_ns $LOST; stop_ns $HTTPCHECK; stop_ns $PORTCHECK
mark checks stopped
sleep 3
fetch_pages $LEGIT1 $LEGIT2
mark finish
lab_finish
echo "run-periodic done: $(wc -l < "$OUT/access.log") access lines, $(wc -l < "$OUT/kern.log") kernel lines"
