# Shared pieces of the run scripts (sourced by run-prefork.sh, run-floods.sh).
#
# Topology (all inside private network namespaces; documentation address ranges only):
#
#   client ns (one per source, its own kernel stack)  --veth--+
#   client ns ...                                      --veth--+-- router ns --veth-- server ns
#   spoofing ns (raw sockets, random sources)          --veth--+   (forwards;      (Apache, LOG rules,
#                                                                  blackhole        tcpdump on $VS)
#                                                                  default route)
#
# The router answers nothing for addresses it has no route to (blackhole, no ICMP), so SYN-ACKs to
# spoofed sources vanish as on the Internet; SYN-ACKs to a real client reach its kernel.
# The server's interface is $VS: tcpdump writes server.pcap there, and the netfilter LOG lines
# name it (IN=$VS / OUT=$VS), as in ../shared/corpora/lab/run1.
set -euo pipefail
LAB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRV=192.0.2.10
SRV6=2001:db8::10
T=$$
NS_S=hos$T
NS_R=hor$T
VS=vs$T
NCLI=0
CLIENT_NS=()
BG_PIDS=()
S="ip netns exec $NS_S"
# The server's web ports: the LOG rules and the captures cover these (a run may set it first).
WEB_PORTS=${WEB_PORTS:-80}

lab_cleanup() {
  set +e
  for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null; done
  [ -n "${OUT:-}" ] && [ -f "$OUT/httpd.pid" ] && kill "$(cat "$OUT/httpd.pid")" 2>/dev/null
  [ -n "${TCPDUMP_PIDS:-}" ] && kill $TCPDUMP_PIDS 2>/dev/null
  [ -n "${SAMPLER_PID:-}" ] && kill "$SAMPLER_PID" 2>/dev/null
  [ -n "${KMSG_PID:-}" ] && kill "$KMSG_PID" 2>/dev/null
  sleep 1
  for ns in "${CLIENT_NS[@]}" $NS_S; do ip netns pids "$ns" 2>/dev/null | xargs -r kill 2>/dev/null; done
  sleep 1
  for ns in "${CLIENT_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  ip netns del $NS_R 2>/dev/null; ip netns del $NS_S 2>/dev/null
  [ -n "${SCR:-}" ] && rm -rf "$SCR"
  return 0
}

# lab_net: server and router namespaces, LOG rules (v4 and v6), syncookies on.
lab_net() {
  sysctl -qw net.netfilter.nf_log_all_netns=1
  ip netns add $NS_S; ip netns add $NS_R
  ip link add $VS type veth peer name vr$T
  ip link set $VS netns $NS_S; ip link set vr$T netns $NS_R
  ip -n $NS_S link set lo up; ip -n $NS_R link set lo up
  ip -n $NS_S addr add $SRV/24 dev $VS
  ip -n $NS_S -6 addr add $SRV6/64 dev $VS nodad
  ip -n $NS_S link set $VS up
  ip -n $NS_R addr add 192.0.2.1/24 dev vr$T
  ip -n $NS_R -6 addr add 2001:db8::1/64 dev vr$T nodad
  ip -n $NS_R link set vr$T up
  ip -n $NS_S route add default via 192.0.2.1
  ip -n $NS_S -6 route add default via 2001:db8::1
  ip netns exec $NS_R sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
  ip -n $NS_R route add blackhole default
  ip -n $NS_R -6 route add blackhole default
  $S sysctl -qw net.ipv4.tcp_syncookies=1
  local ipt port
  for ipt in iptables ip6tables; do
    for port in $WEB_PORTS; do
      $S $ipt -A INPUT -p tcp --dport $port -j LOG --log-prefix "HO-IN: " --log-tcp-options --log-tcp-sequence
      $S $ipt -A OUTPUT -p tcp --sport $port -j LOG --log-prefix "HO-OUT: " --log-tcp-sequence
    done
  done
}

# client ADDR...: a new namespace whose veth (eth0) carries these addresses (IPv4 /32, IPv6 /128),
# routed by the router; the first address of each family is the source of its connections.
# Sets CNS to the namespace name. `client -` makes a namespace for spoofed traffic: its address is
# 192.0.2.99 / 2001:db8:ffff::99 and the router has no route back to the spoofed sources.
client() {
  NCLI=$((NCLI + 1))
  local ns=hoc$T-$NCLI rc=rc${T}n$NCLI v4= v6= a
  ip netns add $ns; CLIENT_NS+=("$ns")
  ip link add $rc type veth peer name ce$T
  ip link set $rc netns $NS_R; ip link set ce$T netns $ns
  ip -n $ns link set ce$T name eth0
  ip -n $ns link set lo up; ip -n $ns link set eth0 up
  ip -n $NS_R addr add 192.0.2.1/32 dev $rc
  ip -n $NS_R -6 addr add 2001:db8:ffff::1/128 dev $rc nodad
  ip -n $NS_R link set $rc up
  ip netns exec $NS_R sysctl -qw net.ipv4.conf.$rc.rp_filter=0
  if [ "$1" = - ]; then set -- 192.0.2.99 2001:db8:ffff::99; fi
  for a in "$@"; do
    if [[ $a == *:* ]]; then
      ip -n $ns -6 addr add $a/128 dev eth0 nodad
      ip -n $NS_R -6 route add $a/128 dev $rc
      [ -z "$v6" ] && v6=$a
    else
      ip -n $ns addr add $a/32 dev eth0
      ip -n $NS_R route add $a/32 dev $rc
      [ -z "$v4" ] && v4=$a
    fi
  done
  ip -n $ns route add 192.0.2.1/32 dev eth0
  ip -n $ns route add default via 192.0.2.1 dev eth0 ${v4:+src $v4}
  ip -n $ns -6 route add 2001:db8:ffff::1/128 dev eth0
  ip -n $ns -6 route add default via 2001:db8:ffff::1 dev eth0 ${v6:+src $v6}
  CNS=$ns
}

# lab_capture: kernel log reader, tcpdump on the server's interface (and on its loopback, where
# Apache's own connections to itself go), ss sampler. Call before starting Apache.
lab_capture() {
  local filter
  filter=$(printf 'tcp port %s or ' $WEB_PORTS); filter=${filter% or }
  SCR=$(mktemp -d)
  nice -n -10 python3 "$LAB/kmsg.py" "$SCR/kmsg.raw" & KMSG_PID=$!
  $S tcpdump -q -i $VS -w "$OUT/server.pcap" -U "$filter" 2>"$SCR/tcpdump.err" & TCPDUMP_PIDS=$!
  $S tcpdump -q -i lo -w "$OUT/server-lo.pcap" -U "$filter" 2>"$SCR/tcpdump-lo.err" &
  TCPDUMP_PIDS="$TCPDUMP_PIDS $!"
  (while :; do
     now=$(date -u +%H:%M:%S.%N | cut -c1-12)
     st=$($S ss -Htan | awk '{c[$1]++} END {for (k in c) printf " %s=%d", k, c[k]}')
     lq=$(for p in $WEB_PORTS; do $S ss -Hltn "sport = :$p"; done | awk '{printf " listen[%s]=%s/%s", $4, $2, $3}')
     echo "$now$st$lq"
     sleep 1
   done > "$OUT/ss-timeline.txt") & SAMPLER_PID=$!
  sleep 1
}

# apache_start CONF: start Apache in the server namespace with this config file.
apache_start() {
  chmod -R a+rx "$OUT"; touch "$OUT/access.log" "$OUT/error.log"; chmod a+rw "$OUT"/*.log
  $S apache2 -f "$1" -k start
}

truth() { echo "$1 $2" >> "$OUT/truth.txt"; }
# mark WORDS: a line of the run's timeline, stamped (UTC, to the second)
mark() { echo "$(date -u +%H:%M:%S) $*" | tee -a "$OUT/timeline.txt"; }
# lab_begin OUTDIR: the run's output directory (OUT, absolute), its empty truth and timeline,
# the clean-up at exit, and the network (lab_net).
lab_begin() {
  OUT=$1; mkdir -p "$OUT"; OUT=$(cd "$OUT" && pwd)
  trap lab_cleanup EXIT
  : > "$OUT/truth.txt"; : > "$OUT/timeline.txt"
  lab_net
}
# event_site_conf: what an mpm_event run's httpd.conf holds after its Listen lines (Debian's
# modules, mod_reqtimeout at its defaults, the site in $OUT/www, the combined access log).
event_site_conf() {
  local M=/usr/lib/apache2/modules
  cat <<CONF
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
LogFormat "%h %l %u %t \"%r\" %>s %O \"%{Referer}i\" \"%{User-Agent}i\"" combined
CustomLog "$OUT/access.log" combined
ErrorLog "$OUT/error.log"
LogLevel info
<Directory "$OUT/www">
  Require all granted
</Directory>
CONF
}
# event_httpd_conf RUN: the whole httpd.conf of a run whose Apache is mpm_event at its defaults,
# listening on $SRV:80 only (RUN names the run in its first line).
event_httpd_conf() {
  cat <<CONF
# $1: Debian's Apache 2.4, mpm_event at its defaults; combined access log.
ServerRoot "$OUT"
PidFile "$OUT/httpd.pid"
Listen $SRV:80
CONF
  event_site_conf
}
# fetch_pages NS...: each namespace's client fetches / and /page.html with curl (200 each)
fetch_pages() {
  for ns in "$@"; do
    on $ns curl -s -o /dev/null -m 10 http://$SRV/ || true
    on $ns curl -s -o /dev/null -m 10 http://$SRV/page.html || true
  done
}
# stop_ns NS: end every process running in a client namespace (all started by this script)
stop_ns() { ip netns pids "$1" | xargs -r kill 2>/dev/null || true; }
# on NS CMD...: run a command in a client namespace
on() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
bg() { "$@" & BG_PIDS+=($!); }

# lab_versions: the kernel and the version of every tool, into OUT/versions.txt
lab_versions() {
  {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "kernel: $(uname -sr)"; echo "debian: $(cat /etc/debian_version)"
    apache2 -v | sed 's/^/apache2: /'
    command -v nginx >/dev/null && echo "nginx: $(nginx -v 2>&1)"
    echo "apache2 package: $(dpkg-query -W -f '${Version}' apache2-bin 2>/dev/null)"
    echo "curl: $(curl --version | head -1)"
    echo "ab: $(ab -V | head -1)"
    echo "slowhttptest: $(slowhttptest -h 2>&1 | grep -o 'version [0-9.]*' | head -1)"
    echo "hping3: $(hping3 --version 2>&1 | head -1)"
    echo "nmap: $(nmap --version | head -1)"
    echo "chromium: $(chromium --version 2>/dev/null | grep -v '^\[' | tail -1)"
    echo "haproxy: $(haproxy -v 2>/dev/null | head -1)"
    echo "openssl: $(openssl version 2>/dev/null)"
    echo "netcat: $(dpkg-query -W -f '${Package} ${Version}' netcat-openbsd 2>/dev/null)"
    echo "tcpdump: $(tcpdump --version 2>&1 | head -1)"
    echo "iptables: $(iptables -V)"
    echo "python3: $(python3 --version)"
    echo "sysctl (server ns): $($S sysctl net.ipv4.tcp_syncookies net.ipv4.tcp_synack_retries net.core.somaxconn net.ipv4.tcp_max_syn_backlog | tr '\n' ' ')"
  } > "$OUT/versions.txt" 2>&1
}

# lab_finish: stop Apache and the captures, write kern.log (syslog form) and the derived forms.
lab_finish() {
  lab_versions
  $S nstat -asz > "$OUT/nstat.txt" || true
  [ -s "$OUT/httpd.pid" ] && kill "$(cat "$OUT/httpd.pid")"; sleep 2
  kill "$SAMPLER_PID"; SAMPLER_PID=
  kill $TCPDUMP_PIDS; TCPDUMP_PIDS=; sleep 1
  kill "$KMSG_PID"; wait "$KMSG_PID" || true; KMSG_PID=
  python3 "$LAB/kernlog.py" "$SCR/kmsg.raw" "$OUT/kern.log" 0 "$SRV,$SRV6" "$VS,lo" | tee "$OUT/kmsg-loss.txt"
  python3 "$LAB/derive.py" "$OUT" >/dev/null
  # loopback capture: kept only when the server talked to itself (Apache's dummy connections)
  [ "$(stat -c %s "$OUT/server-lo.pcap")" -gt 24 ] || rm -f "$OUT/server-lo.pcap"
  rm -f "$OUT/httpd.pid"
  rm -rf "$OUT/www"
  local f
  for f in "$OUT/error.log" "$OUT/httpd.conf"; do [ -f "$f" ] && sed -i "s#$OUT#/srv/testbed#g" "$f"; done
  return 0
}
