#!/usr/bin/env bash
# Lab run 2 for halfopen-testgen: a real Apache 2.4 (Debian defaults that matter: mpm_event,
# mod_reqtimeout header=20-40,MinRate=500, KeepAliveTimeout 5, AcceptFilter data) in its own
# network namespace, real clients of the behaviours the generator models in a second namespace,
# and every firewall form logged by the real kernel at once:
#   iptables LOG, both directions  (prefix "HO-IN: " / "HO-OUT: ", like run1)
#   nftables `log prefix "web-in: " flags all` in an inet filter input chain
# plus tcpdump on the server's interface. Adapted from /work/shared/lab/testbed.sh.
# Usage: testbed2.sh OUTDIR   (root; apache2 iptables nftables hping3 chromium tcpdump python3)
# Addresses are documentation/benchmark ranges inside private namespaces only; every loop is bounded.
set -euo pipefail
OUT=${1:?outdir}; mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
S=ho2srv$$; C=ho2cli$$; VS=v2s$$; VC=v2c$$
SRV=192.0.2.10; SRV6=2001:db8::10
NETNS_WAS=$(cat /proc/sys/net/netfilter/nf_log_all_netns)
cleanup() {
  [ -f "$OUT/httpd.pid" ] && kill "$(cat "$OUT/httpd.pid")" 2>/dev/null || true
  [ -n "${TCPDUMP_PID:-}" ] && kill "$TCPDUMP_PID" 2>/dev/null || true
  [ -n "${DMESG_PID:-}" ] && kill "$DMESG_PID" 2>/dev/null || true
  [ -n "${CHROME_PID:-}" ] && kill "$CHROME_PID" 2>/dev/null || true
  ip netns del $S 2>/dev/null || true; ip netns del $C 2>/dev/null || true
  # restore the global switch unless another lab namespace still needs it
  if [ "$NETNS_WAS" = 0 ] && [ -z "$(ip netns list)" ]; then sysctl -qw net.netfilter.nf_log_all_netns=0; fi
}
trap cleanup EXIT
sysctl -qw net.netfilter.nf_log_all_netns=1
ip netns add $S; ip netns add $C
ip link add $VS type veth peer name $VC
ip link set $VS netns $S; ip link set $VC netns $C
ip -n $S addr add $SRV/24 dev $VS; ip -n $S addr add $SRV6/64 dev $VS nodad
ip -n $S link set $VS up; ip -n $S link set lo up
ip -n $C addr add 192.0.2.20/24 dev $VC; ip -n $C addr add 2001:db8::20/64 dev $VC nodad
ip -n $C link set $VC up; ip -n $C link set lo up
for h in 5 7 9 11 12; do ip -n $C addr add 203.0.113.$h/32 dev $VC; done
ip -n $C addr add 198.51.100.30/32 dev $VC
ip -n $C addr add 2001:db8:1::5/128 dev $VC nodad
# unbound sockets (Chromium) leave from 203.0.113.7
ip -n $C route replace 192.0.2.0/24 dev $VC src 203.0.113.7
# the server answers everything through the client namespace (spoofed and random sources too)
ip -n $S route add default via 192.0.2.20
ip -n $S -6 route add default via 2001:db8::20
ip netns exec $S sysctl -qw net.ipv4.tcp_syncookies=1
for T in iptables ip6tables; do
  ip netns exec $S $T -A INPUT -p tcp -j LOG --log-prefix "HO-IN: " --log-tcp-options --log-tcp-sequence
  ip netns exec $S $T -A OUTPUT -p tcp -j LOG --log-prefix "HO-OUT: " --log-tcp-sequence
done
ip netns exec $S nft -f - <<'NFT'
table inet web {
  chain input { type filter hook input priority 0; meta l4proto tcp log prefix "web-in: " flags all; }
  chain lossy { type filter hook input priority 10; }
}
NFT
mkdir -p "$OUT/www/img"; python3 "$HERE/site.py" "$OUT/www"
M=/usr/lib/apache2/modules
cat > "$OUT/httpd.conf" <<CONF
ServerRoot "$OUT"
PidFile "$OUT/httpd.pid"
Listen $SRV:80
Listen [$SRV6]:80
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule dir_module $M/mod_dir.so
LoadModule mime_module $M/mod_mime.so
LoadModule reqtimeout_module $M/mod_reqtimeout.so
User www-data
Group www-data
ServerName testbed.example
DocumentRoot "$OUT/www"
TypesConfig /etc/mime.types
DirectoryIndex index.html
RequestReadTimeout header=20-40,MinRate=500 body=20,MinRate=500
Timeout 300
KeepAlive On
KeepAliveTimeout 5
LogFormat "%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" combined
LogFormat "%h %{remote}p %l %u %t \"%r\" %>s %b %D \"%{Referer}i\" \"%{User-Agent}i\"" withport
CustomLog "$OUT/access.log" combined
CustomLog "$OUT/access-port.log" withport
ErrorLog "$OUT/error.log"
LogLevel info core:debug
<Directory "$OUT/www">
  Require all granted
</Directory>
CONF
chmod -R a+rx "$OUT"; touch "$OUT/access.log" "$OUT/access-port.log" "$OUT/error.log"; chmod a+rw "$OUT"/*.log
ip netns exec $S tcpdump -q -i $VS -w "$OUT/server.pcap" -U 'tcp' 2>/dev/null & TCPDUMP_PID=$!
UP0=$(cut -d. -f1 /proc/uptime)
SCR=$(mktemp -d)
dmesg -w -r > "$SCR/dmesg.raw" 2>/dev/null & DMESG_PID=$!
sleep 1
CL="ip netns exec $C"
: > "$OUT/truth.txt"
truth() { echo "$1 $2" >> "$OUT/truth.txt"; }
# 1. refused once: the first connect() reaches the web port before Apache listens (RST), then
#    the same host browses normally once Apache is up
truth 203.0.113.11 refused-once
$CL python3 -c "
import socket
s=socket.socket();s.bind(('203.0.113.11',0))
try: s.connect(('$SRV',80))
except OSError as e: print('refused:', e)
"
ip netns exec $S apache2 -f "$OUT/httpd.conf" -k start
sleep 1.5
$CL curl -s -o /dev/null --interface 203.0.113.11 http://$SRV/
$CL curl -s -o /dev/null --interface 203.0.113.11 http://$SRV/page2.html
# 2. plain curl clients (IPv4 and IPv6)
truth 203.0.113.5 legit
for p in / /img/a1.png /missing; do $CL curl -s -o /dev/null --interface 203.0.113.5 "http://$SRV$p"; done
truth 2001:db8:1::5 legit
$CL curl -s -o /dev/null --interface 2001:db8:1::5 "http://[$SRV6]/"
# 3. retried SYN: the server's stack never sees the first two SYNs (dropped after the LOG rules,
#    as a full or lossy path would); Linux retransmits at +1 s and +3 s; the third is answered
truth 203.0.113.12 retried-syn
ip netns exec $S nft add rule inet web lossy ip saddr 203.0.113.12 tcp flags '& (syn|ack) == syn' drop
$CL curl -s -o /dev/null --connect-timeout 20 --interface 203.0.113.12 http://$SRV/ & BG0=$!
sleep 2.2
ip netns exec $S nft flush chain inet web lossy
wait $BG0
# 4. idle until Apache times it out
truth 203.0.113.9 idle-timeout
$CL python3 -c "import socket,time;s=socket.socket();s.bind(('203.0.113.9',0));s.connect(('$SRV',80));time.sleep(65);s.close()" & BG1=$!
# 5. a real browser: headless Chromium loads a page with 14 sub-resources, then stays on it
truth 203.0.113.7 chromium
$CL chromium --headless=new --no-sandbox --disable-gpu --no-first-run --user-data-dir="$SCR/chrome" \
  --remote-debugging-port=9333 "http://$SRV/" >/dev/null 2>&1 & CHROME_PID=$!
sleep 4
# 6. hping3 from its own real address: the client kernel resets the server's SYN-ACKs
truth 198.51.100.30 hping3-real-source
$CL hping3 -q -S -p 80 -i u500000 -c 10 -a 198.51.100.30 $SRV >/dev/null 2>&1 || true
# 7. SYN-ACK reflection: SYN-ACKs "from" web servers to random high ports of our server
truth 198.18.0.0/29 synack-reflection
$CL python3 "$HERE/rawsend.py" synack $SRV 198.18.0.1-6 24 10
# 8. random-source SYN flood with real hping3 (--rand-source: all of IPv4), three shapes
truth random syn-flood-random-source
$CL hping3 -q -S -p 80 --rand-source -i u20000 -c 40 $SRV >/dev/null 2>&1 || true
$CL hping3 -q -S -p 80 --rand-source -w 65535 -i u20000 -c 20 $SRV >/dev/null 2>&1 || true
$CL hping3 -q -S -X -Y -w 0 -p 80 --rand-source -i u20000 -c 20 $SRV >/dev/null 2>&1 || true
# 9. IPv6 /64 flood: one SYN per random address of 2001:db8:bad:1::/64
truth 2001:db8:bad:1::/64 syn-flood-ipv6
$CL python3 /work/shared/lab/synflood.py $SRV6 2001:db8:bad:1::/64 3 15
ip netns exec $S ss -tan > "$OUT/ss.txt"
wait $BG1
sleep 3
kill $CHROME_PID 2>/dev/null || true; CHROME_PID=
sleep 1
ip netns exec $S ss -tan > "$OUT/ss-after.txt"
kill "$(cat "$OUT/httpd.pid")"; sleep 1
kill $TCPDUMP_PID; TCPDUMP_PID=; sleep 1; kill $DMESG_PID; DMESG_PID=
python3 - "$SCR/dmesg.raw" "$OUT" $VS "$UP0" <<'PY'
import re, sys, time
raw, out, dev, up0 = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
boot = int(time.time()) - int(open("/proc/uptime").read().split(".")[0])
ipt, nft = open(out + "/kern.log", "w"), open(out + "/kern-nft.log", "w")
for l in open(raw, errors="replace"):
    m = re.match(r"<\d+>(\[\s*(\d+)\.\d+\] (HO-IN: |HO-OUT: |web-in: ).*)", l.rstrip("\n"))
    if not m or int(m[2]) < up0 or not re.search(rf"\b(IN|OUT)={dev} ", m[1]): continue
    line = time.strftime("%b %e %H:%M:%S", time.localtime(boot + int(m[2]))) + " testbed kernel: " + m[1] + "\n"
    (nft if m[3] == "web-in: " else ipt).write(line)
PY
rm -rf "$SCR" "$OUT/www" "$OUT/httpd.conf" "$OUT/httpd.pid"
sed -i "s#$OUT#/srv/testbed#g" "$OUT/error.log"
echo "testbed2 done: $(wc -l < "$OUT/access.log") access lines, $(wc -l < "$OUT/kern.log") LOG lines, $(wc -l < "$OUT/kern-nft.log") nft lines"
