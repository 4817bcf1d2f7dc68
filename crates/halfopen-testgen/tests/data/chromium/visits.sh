#!/usr/bin/env bash
# quick Chromium experiment: two visits with one profile, page with 3 sub-resources
set -euo pipefail
OUT=$1; mkdir -p $OUT; OUT=$(cd $OUT && pwd)
S=chs$$; C=chc$$; VS=cs$$; VC=cc$$
cleanup(){ [ -f "$OUT/httpd.pid" ] && kill "$(cat "$OUT/httpd.pid")" 2>/dev/null || true; [ -n "${TD:-}" ] && kill $TD 2>/dev/null || true; ip netns del $S 2>/dev/null||true; ip netns del $C 2>/dev/null||true; }
trap cleanup EXIT
ip netns add $S; ip netns add $C
ip link add $VS type veth peer name $VC; ip link set $VS netns $S; ip link set $VC netns $C
ip -n $S addr add 192.0.2.10/24 dev $VS; ip -n $S link set $VS up; ip -n $S link set lo up
ip -n $C addr add 192.0.2.20/24 dev $VC; ip -n $C link set $VC up; ip -n $C link set lo up
mkdir -p $OUT/www/img
printf '<!DOCTYPE html><html><head><link rel="stylesheet" href="/s.css"></head><body><img src="/img/a.png"><a href="/p2.html">x</a></body></html>\n' > $OUT/www/index.html
printf '<!DOCTYPE html><html><body>p2</body></html>\n' > $OUT/www/p2.html
echo "body{}" > $OUT/www/s.css; head -c 3000 /dev/urandom > $OUT/www/img/a.png; head -c 500 /dev/urandom > $OUT/www/favicon.ico
M=/usr/lib/apache2/modules
cat > $OUT/httpd.conf <<CONF
ServerRoot "$OUT"
PidFile "$OUT/httpd.pid"
Listen 192.0.2.10:80
LoadModule mpm_event_module $M/mod_mpm_event.so
LoadModule authz_core_module $M/mod_authz_core.so
LoadModule dir_module $M/mod_dir.so
LoadModule mime_module $M/mod_mime.so
LoadModule reqtimeout_module $M/mod_reqtimeout.so
User www-data
Group www-data
ServerName t.example
DocumentRoot "$OUT/www"
TypesConfig /etc/mime.types
RequestReadTimeout header=20-40,MinRate=500
KeepAliveTimeout 5
LogFormat "%h %{remote}p %t \"%r\" %>s %b %D" p
CustomLog "$OUT/access.log" p
ErrorLog "$OUT/error.log"
LogLevel info
<Directory "$OUT/www">
  Require all granted
</Directory>
CONF
chmod -R a+rx $OUT; touch $OUT/access.log $OUT/error.log; chmod a+rw $OUT/*.log
ip netns exec $S tcpdump -q -i $VS -w $OUT/c.pcap -U tcp 2>/dev/null & TD=$!
ip netns exec $S apache2 -f $OUT/httpd.conf -k start
sleep 1
P=$OUT/profile
for visit in 1 2 3; do
  ip netns exec $C timeout 75 chromium --headless=new --no-sandbox --disable-gpu --no-first-run --user-data-dir=$P --remote-debugging-port=9444 http://192.0.2.10/ >/dev/null 2>&1 || true
  echo "visit $visit done $(date +%T)"
done
kill $TD; TD=
