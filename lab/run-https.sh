#!/usr/bin/env bash
# Run H, "https": a site served over TLS, as most are. Apache listens on 80 (a redirect to https)
# and 443 (mod_ssl), both logging to one combined access log, as Debian's default sites do. What
# reaches port 443 without a line in the access log:
#   - a browser's TLS preconnect it never uses (headless Chromium; the page asks for one);
#   - a TLS client that completes the handshake and sends nothing (`openssl s_client`, three
#     times): what a preconnect looks like from one host;
#   - a TLS scanner (`nmap --script ssl-enum-ciphers`: dozens of handshakes, no request);
#   - a client that connects and sends nothing at all (`nc`, three at once);
#   - a SYN scan of 80, 443 and 8443 (`nmap -sS`);
#   - a random-source SYN flood to 443 (`hping3 --rand-source`, 10 s).
# And what Apache does log: plain HTTP sent to 443 (a 400), clients redirected from 80 (301) to
# 443 (200). No client, no browser and no plain-HTTP mistake may be blocked.
# Usage: run-https.sh OUTDIR   (root; Debian: apache2 hping3 nmap tcpdump iptables curl openssl
#        chromium netcat-openbsd python3 wireshark-common). About 2.5 minutes.
WEB_PORTS="80 443"
source "$(dirname "$0")/lib.sh"
lab_begin "${1:?outdir}"

client 203.0.113.5; LEGIT1=$CNS
client 203.0.113.6 2001:db8:5::6; LEGIT2=$CNS
client 203.0.113.30; BROWSER=$CNS
client 203.0.113.31; TLSIDLE=$CNS
client 203.0.113.32; PLAIN=$CNS
client 203.0.113.33; TCPIDLE=$CNS
client 198.51.100.40; TLSSCAN=$CNS
client 198.51.100.41; SYNSCAN=$CNS
client -; FLOOD=$CNS
truth 203.0.113.5 legit
truth 203.0.113.6 legit
truth 2001:db8:5::6 legit
truth 203.0.113.30 browser
truth 203.0.113.31 tls-idle
truth 203.0.113.32 plain-http-on-tls
truth 203.0.113.33 tcp-idle
truth 198.51.100.40 tls-scan
truth 198.51.100.41 syn-scan
truth 0.0.0.0/0 rand-source-flood
truth ::/0 rand-source-flood

python3 "$LAB/www.py" "$OUT/www" https
mkdir -p "$OUT/tls"
openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj /CN=www.testbed.example \
  -addext subjectAltName=DNS:www.testbed.example,DNS:static.testbed.example \
  -keyout "$OUT/tls/server.key" -out "$OUT/tls/server.crt" 2>/dev/null || true
M=/usr/lib/apache2/modules
{
  cat <<CONF
# Run H: Debian's Apache 2.4, mpm_event at its defaults; port 80 redirects to https, port 443 is
# mod_ssl; both sites write the one combined access log (as Debian's 000-default and default-ssl).
ServerRoot "$OUT"
PidFile "$OUT/httpd.pid"
Listen $SRV:80
Listen [$SRV6]:80
Listen $SRV:443
Listen [$SRV6]:443
LoadModule alias_module $M/mod_alias.so
LoadModule socache_shmcb_module $M/mod_socache_shmcb.so
LoadModule ssl_module $M/mod_ssl.so
SSLSessionCache shmcb:$OUT/ssl_scache(512000)
CONF
  event_site_conf
  cat <<CONF
<VirtualHost *:80>
  ServerName www.testbed.example
  Redirect permanent / https://www.testbed.example/
</VirtualHost>
<VirtualHost *:443>
  ServerName www.testbed.example
  ServerAlias static.testbed.example
  SSLEngine on
  SSLCertificateFile "$OUT/tls/server.crt"
  SSLCertificateKeyFile "$OUT/tls/server.key"
</VirtualHost>
CONF
} > "$OUT/httpd.conf"

lab_capture
apache_start "$OUT/httpd.conf"
mark apache started
sleep 2
# https_pages NS...: each client asks http:// (301) and follows it to https:// (-L), then fetches
# the page and an image over one keep-alive connection. The names resolve to the server.
https_pages() {
  local ns
  for ns in "$@"; do
    for fam in 4 6; do
      [ $fam = 6 ] && [ "$ns" != "$LEGIT2" ] && continue
      local a=$SRV; [ $fam = 6 ] && a="[$SRV6]"
      on $ns curl -$fam -sk -L -o /dev/null -o /dev/null -m 10 \
        --connect-to www.testbed.example:80:$a:80 --connect-to www.testbed.example:443:$a:443 \
        http://www.testbed.example/ https://www.testbed.example/page.html || true
      on $ns curl -$fam -sk -o /dev/null -o /dev/null -m 10 --connect-to www.testbed.example:443:$a:443 \
        https://www.testbed.example/style.css https://www.testbed.example/img1.png || true
    done
  done
}
mark legit round 1; https_pages $LEGIT1 $LEGIT2

mark browser start
bg on $BROWSER chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --ignore-certificate-errors --user-data-dir="$SCR/chromium" \
  --host-resolver-rules="MAP *.testbed.example $SRV" \
  https://www.testbed.example/page.html > "$SCR/chromium.log" 2>&1
sleep 3

mark tls-idle start
for i in 1 2 3; do
  bg on $TLSIDLE bash -c "sleep 30 | openssl s_client -quiet -connect $SRV:443 -servername www.testbed.example > /dev/null 2>&1"
  sleep 1
done
mark plain-http-on-tls
on $PLAIN curl -s -o /dev/null -m 10 http://$SRV:443/ || true
on $PLAIN curl -s -o /dev/null -m 10 http://$SRV:443/page.html || true

mark tcp-idle start
for i in 1 2 3; do bg on $TCPIDLE bash -c "sleep 90 | nc $SRV 443 > /dev/null"; done

mark tls-scan start
on $TLSSCAN nmap -n -Pn -sT -p 443 --script ssl-enum-ciphers $SRV > "$OUT/nmap-ssl.txt" 2>&1 || true
mark tls-scan done
mark syn-scan start
on $SYNSCAN nmap -n -Pn -sS -p 80,443,8443 $SRV > "$OUT/nmap-syn.txt" 2>&1 || true
mark syn-scan done

mark legit round 2; https_pages $LEGIT1 $LEGIT2
mark flood start
(on $FLOOD hping3 -S -p 443 --rand-source -i u2000 -c 5000 $SRV > "$OUT/hping3-rand-source.txt" 2>&1 || true
 mark flood done) & FLOOD_PID=$!
sleep 4
mark legit round 3, during the flood; https_pages $LEGIT1 $LEGIT2
wait $FLOOD_PID
sleep 60
stop_ns $BROWSER; mark browser stopped
stop_ns $TCPIDLE; stop_ns $TLSIDLE
mark legit round 4; https_pages $LEGIT1 $LEGIT2
sleep 2
$S ss -tan > "$OUT/ss-after.txt"
mark finish
lab_finish
rm -f "$OUT/tls/server.key" "$OUT"/ssl_scache*
echo "run-https done: $(wc -l < "$OUT/access.log") access lines, $(wc -l < "$OUT/kern.log") kernel lines"
