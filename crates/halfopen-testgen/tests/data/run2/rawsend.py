"""Raw TCP senders for testbed2.sh (inside the lab namespaces only; bounded by COUNT).

rawsend.py synack DST FIRST-LAST COUNT RATE
    SYN-ACKs as web servers send them to a bare spoofed SYN (Linux: window 64240, MSS 1460
    only, IP ID 0, DF), source port 80 or 443, from reflector addresses FIRST..LAST (same /24),
    to random high ports of DST: what a server receives when someone spoofs its address in SYNs
    sent to those web servers (SYN-ACK reflection). The receiving kernel answers each with RST.
"""
import ipaddress, random, socket, struct, sys, time

def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF); s += s >> 16
    return ~s & 0xFFFF

def synack(src, dst, sport, dport, ttl):
    opts = bytes([2, 4, 0x05, 0xB4])
    tcp = struct.pack("!HHIIBBHHH", sport, dport, random.getrandbits(32), random.getrandbits(32),
                      6 << 4, 0x12, 64240, 0, 0) + opts
    ph = struct.pack("!4s4sBBH", socket.inet_aton(src), socket.inet_aton(dst), 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(ph + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 0, 0x4000, ttl, 6, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    return ip + tcp

mode, dst, span, count, rate = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5])
assert mode == "synack"
first, last = span.split("-")
base = ipaddress.IPv4Address(first)
hosts = [str(base + i) for i in range(int(last) - int(first.rsplit(".", 1)[1]) + 1)]
ttl = {h: random.choice([64, 128]) - random.randint(6, 20) for h in hosts}
port = {h: random.choice([80, 443]) for h in hosts}
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
for _ in range(count):
    h = random.choice(hosts)
    s.sendto(synack(h, dst, port[h], random.randint(1024, 65535), ttl[h]), (dst, 0))
    time.sleep(1 / rate)
