#!/usr/bin/env bash
# Run B, "floods": SYN floods at three levels (random spoofed IPv4 sources everywhere, one /26 for
# a short while, one IPv6 /64), hping3 from its own real address, and legitimate clients during and
# after, including a client refused once by a closed port and one whose first SYN is lost.
# Usage: run-floods.sh OUTDIR   (root; Debian: apache2 hping3 tcpdump iptables curl python3
#        wireshark-common for the midstream cut). About 2.5 minutes. Then summarize.py OUTDIR.
source "$(dirname "$0")/lib.sh"
lab_begin "${1:?outdir}"

client -; FLOOD=$CNS                       # spoofed sources (raw sockets); 192.0.2.99 itself sends nothing to :80
client 198.51.100.50; HPING=$CNS
client 203.0.113.5; LEGIT1=$CNS
client 203.0.113.6; LEGIT2=$CNS
client 203.0.113.7; LEGIT3=$CNS            # a slow 1 MiB download across the random-source flood
client 198.51.100.77; LEGIT4=$CNS          # in hping3-real's /23
client 198.51.101.9; LEGIT5=$CNS           # in hping3-real's /23
client 2001:db8:1::5; LEGIT6=$CNS
client 203.0.113.30; REFUSED=$CNS
client 203.0.113.40; RETRANS=$CNS
truth 0.0.0.0/0 rand-source-flood
truth 198.51.100.50 hping3-real
truth 2001:db8:bad:1::/64 v6-prefix-flood
truth 203.0.113.128/26 short-flood
for a in 203.0.113.5 203.0.113.6 203.0.113.7 198.51.100.77 198.51.101.9 2001:db8:1::5; do truth $a legit; done
truth 203.0.113.30 refused-once
truth 203.0.113.40 syn-retransmit

python3 "$LAB/www.py" "$OUT/www"
cat > "$OUT/httpd.conf" <<CONF
# Run B: Debian's Apache 2.4, mpm_event (Debian's default MPM) at its defaults, IPv4 and IPv6
# listeners with a small listen backlog (64: the SYN queue limit, so the floods make the kernel send
# syncookies); mod_reqtimeout, Timeout, KeepAlive at their defaults; combined access log.
ServerRoot "$OUT"
PidFile "$OUT/httpd.pid"
Listen $SRV:80
Listen [$SRV6]:80
ListenBacklog 64
CONF
event_site_conf >> "$OUT/httpd.conf"

lab_capture
C="curl -s -o /dev/null -m 30"
# refused-once: its first connect finds port 80 closed (Apache not started yet): the kernel's RST
mark refused-once connect to the closed port
on $REFUSED $C http://$SRV/ || true
apache_start "$OUT/httpd.conf"
mark apache started
sleep 2
for p in / /page.html /style.css; do on $REFUSED $C http://$SRV$p; done

legit_round() {
  local ns pids=()
  for ns in $LEGIT1 $LEGIT4 $LEGIT5; do
    (on $ns $C http://$SRV/; on $ns $C http://$SRV/missing$1; on $ns $C http://$SRV/page.html) &
    pids+=($!)
  done
  (on $LEGIT6 $C "http://[$SRV6]/"; on $LEGIT6 $C "http://[$SRV6]/missing$1") & pids+=($!)
  wait "${pids[@]}"
}
mark legit round 1; legit_round 1

# syn-retransmit: its first SYN is dropped after the LOG rule (logged, never answered); the
# client's kernel retransmits it 1 s later and the request succeeds
$S iptables -I INPUT 2 -s 203.0.113.40 -p tcp --syn --dport 80 -j DROP
on $RETRANS $C http://$SRV/ & RETRANS_PID=$!
sleep 0.5
$S iptables -D INPUT -s 203.0.113.40 -p tcp --syn --dport 80 -j DROP
wait $RETRANS_PID
on $RETRANS $C http://$SRV/page.html
mark syn-retransmit done

mark hping3-real start
(on $HPING hping3 -S -p 80 -i u500000 -c 180 $SRV > "$OUT/hping3-real.txt" 2>&1 || true; mark hping3-real done) &
HPING_PID=$!
sleep 3

# long legitimate connections open across the midstream cut: three slow downloads of 1 MiB (a
# small receive buffer read at ~20 KB/s, so the server's sends are paced by the client's window,
# as for a slow mobile client), and a keep-alive connection with a request every 3 s
mark slow downloads and keep-alive client start
(on $LEGIT3 python3 - $SRV <<'PY'; mark slow downloads done) &
import socket, sys, threading, time

def download(n):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.connect((sys.argv[1], 80))
    s.sendall(f"GET /big.bin?n={n} HTTP/1.1\r\nHost: testbed.example\r\nUser-Agent: slow-reader\r\n"
              "Connection: close\r\n\r\n".encode())
    while s.recv(2048):
        time.sleep(0.1)
    s.close()

threads = [threading.Thread(target=download, args=(n,)) for n in range(3)]
for t in threads:
    t.start()
    time.sleep(1)
for t in threads:
    t.join()
PY
DL_PID=$!
on $LEGIT2 python3 - $SRV <<'PY' & KA_PID=$!
import socket, sys, time
s = socket.create_connection((sys.argv[1], 80))
for i in range(14):
    s.sendall(f"GET /style.css?n={i} HTTP/1.1\r\nHost: testbed.example\r\nUser-Agent: keepalive-client\r\n\r\n".encode())
    got = b""
    while b"\r\n\r\n" not in got:
        chunk = s.recv(4096)
        if not chunk:
            sys.exit(f"closed by the server after {i} requests")
        got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    length = int(next(l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")))
    while len(body) < length:
        body += s.recv(4096)
    time.sleep(3)
s.close()
PY
sleep 2

mark rand-source flood start
(on $FLOOD hping3 -S -p 80 --rand-source -i u2000 -c 20000 $SRV > "$OUT/hping3-rand-source.txt" 2>&1 || true
 mark rand-source flood done) &
FLOOD_PID=$!
sleep 10
mark legit round 2 start; legit_round 2; mark legit round 2 done
sleep 8
$S ss -tan > "$OUT/ss.txt"
mark midstream cut
sleep 5
mark legit round 3 start; legit_round 3; mark legit round 3 done
wait $FLOOD_PID

mark short-flood start
on $FLOOD python3 "$LAB/synflood.py" $SRV 203.0.113.128/26 20 100
mark short-flood done
sleep 3

mark v6-prefix-flood start
on $FLOOD python3 "$LAB/synflood.py" $SRV6 2001:db8:bad:1::/64 30 100 & V6_PID=$!
sleep 12
mark legit round 4 start; legit_round 4; mark legit round 4 done
wait $V6_PID
mark v6-prefix-flood done
wait $HPING_PID $DL_PID $KA_PID || true
sleep 2
mark legit round 5 start; legit_round 5; mark legit round 5 done
sleep 3
$S ss -tan > "$OUT/ss-after.txt"
mark finish
lab_finish
python3 "$LAB/midstream.py" "$OUT" "$(awk '/midstream cut/ {print $1}' "$OUT/timeline.txt")" > "$OUT/midstream.txt"
echo "run-floods done: $(wc -l < "$OUT/access.log") access lines, $(wc -l < "$OUT/kern.log") kernel lines"
