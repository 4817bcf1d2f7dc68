"""Count what the kernel, tcpdump and Apache recorded for each source of a lab run.

Usage: summarize.py OUTDIR > OUTDIR/counts.md
Reads truth.txt, kern.log, server.pcap (with tshark), access.log (combined or vhost_combined),
error.log and timeline.txt, and prints Markdown tables:
  - per truth row (each address goes to the narrowest row that holds it): connections (distinct
    client ports) and SYNs, SYN retransmissions (same port and sequence number again), the
    server's SYN-ACKs and their retransmissions, RSTs each way, access-log lines per status,
    error-log lines per AH code;
  - the kernel's own TCP lines and the ring-buffer loss;
  - Apache's AH00161 lines, and the period the listen queue was not empty (ss-timeline.txt);
  - for every single-address truth row: the longest wait of a request, SYN to the server's first
    response byte (server.pcap), and SYN second (kern.log) to the access-log %t second, paired in
    order (only when there are as many SYNs as access-log lines: one request per connection).
"""
import collections, datetime, ipaddress, re, subprocess, sys

d = sys.argv[1]
WEB_PORTS = {"80", "443"}  # the runs' web ports (run-https.sh serves both)
truth = []
for line in open(f"{d}/truth.txt"):
    if line.strip():
        addr, word = line.split()
        truth.append((ipaddress.ip_network(addr, strict=False), word, addr))


def row_of(addr):
    a = ipaddress.ip_address(addr)
    best = None
    for net, word, text in truth:
        if a.version == net.version and a in net and (best is None or net.prefixlen > best[0].prefixlen):
            best = (net, word, text)
    return (best[2], best[1]) if best else (None, None)


rows = collections.OrderedDict(((t, w), collections.Counter()) for _, w, t in truth)
rows[("(other)", "-")] = collections.Counter()


def bump(addr, key, n=1):
    text, word = row_of(addr)
    rows[(text, word) if text else ("(other)", "-")][key] += n


# kern.log
year = None
syns = collections.defaultdict(list)  # (src, sport) -> [(second, seq)]
synack = collections.Counter()  # (dst, dport) -> count
kernel_tcp = []
for line in open(f"{d}/kern.log"):
    if " TCP: " in line and "HO-" not in line:
        kernel_tcp.append(line.rstrip())
        continue
    f = dict(re.findall(r"(\w+)=(\S*)", line))
    if "SRC" not in f:
        continue
    flags = line.split("RES=")[1].split()[1:]
    flags = set(flags[: flags.index(next(x for x in flags if x.startswith("URGP")))])
    src, dst = str(ipaddress.ip_address(f["SRC"])), str(ipaddress.ip_address(f["DST"]))
    inbound = "HO-IN:" in line
    if inbound and flags == {"SYN"}:
        syns[(src, f["SPT"])].append((line[:15], f["SEQ"]))
    if not inbound and flags == {"SYN", "ACK"}:
        synack[(dst, f["DPT"])] += 1
    if "RST" in flags:
        bump(src if inbound else dst, "RST in" if inbound else "RST out")
for (src, port), seen in syns.items():
    bump(src, "connections")
    bump(src, "SYNs", len(seen))
    bump(src, "SYN retrans", len(seen) - len({s for _, s in seen}))
for (dst, port), n in synack.items():
    bump(dst, "SYN-ACK conns")
    bump(dst, "SYN-ACKs", n)
    if n > 1:
        bump(dst, "SYN-ACK retrans conns")

# access.log
acc_re = re.compile(r'^(?:\S+:\d+ )?(\S+) \S+ \S+ \[([^\]]+)\] "((?:[^"\\]|\\.)*)" (\d{3}) ')
access_times = collections.defaultdict(list)
statuses = set()
for line in open(f"{d}/access.log", errors="replace"):
    m = acc_re.match(line)
    if not m:
        continue
    bump(m[1], m[4])
    statuses.add(m[4])
    access_times[m[1]].append(datetime.datetime.strptime(m[2], "%d/%b/%Y:%H:%M:%S %z"))
# error.log
ah = set()
ah161 = []
for line in open(f"{d}/error.log", errors="replace"):
    code = re.search(r"\b(AH\d{5})\b", line)
    client = re.search(r"\[client ([^\]]+)\]", line)
    if code and code[1] == "AH00161":
        ah161.append(line.rstrip())
    if code and client:
        addr = client[1].rsplit(":", 1)[0].strip("[]")
        bump(addr, code[1])
        ah.add(code[1])

cols = ["connections", "SYNs", "SYN retrans", "SYN-ACK conns", "SYN-ACKs", "SYN-ACK retrans conns", "RST in",
        "RST out"] + sorted(statuses) + sorted(ah)
print("| source | truth | " + " | ".join(cols) + " |")
print("|---|---|" + "---|" * len(cols))
for (text, word), c in rows.items():
    if sum(c.values()):
        print(f"| {text} | {word} | " + " | ".join(str(c[k]) if c[k] else "" for k in cols) + " |")
print()
print("Kernel TCP lines:")
for line in kernel_tcp or ["(none)"]:
    print(f"    {line}")
try:
    print(f"Kernel ring buffer: {open(f'{d}/kmsg-loss.txt').read().strip()}")
except OSError:
    pass
print()
print("AH00161:")
for line in ah161 or ["(none)"]:
    print(f"    {line}")
spans, cur, peak = [], None, 0
for l in open(f"{d}/ss-timeline.txt"):
    q = [int(x) for x in re.findall(r"listen\[[^\]]*\]=(\d+)/", l)]
    if q and max(q) > 0:
        cur = cur or [l.split()[0], l.split()[0], 0]
        cur[1], cur[2] = l.split()[0], max(cur[2], max(q))
    elif cur:
        spans.append(cur)
        cur = None
spans += [cur] if cur else []
print("Listen queue not empty (ss -ltn Recv-Q > 0, sampled each second):")
for a, b, q in spans or [("(never)", "", 0)]:
    print(f"    {a} to {b}, at most {q} waiting" if b else f"    {a}")
print()

# legit waits from the pcap: SYN -> first server payload byte, per connection
singles = {t: w for n, w, t in truth if n.num_addresses == 1}
fields = ["frame.time_epoch", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",
          "tcp.flags.syn", "tcp.flags.ack", "tcp.len"]
out = subprocess.run(["tshark", "-r", f"{d}/server.pcap", "-T", "fields", "-E", "separator=\t"]
                     + sum((["-e", f] for f in fields), []), capture_output=True, text=True).stdout
first_syn, first_data = {}, {}
for r in out.splitlines():
    t, s4, s6, sp, d4, d6, dp, syn, ack, ln = r.split("\t")
    src, dst = s4 or s6, d4 or d6
    if dp in WEB_PORTS and syn in ("1", "True") and ack not in ("1", "True"):
        first_syn.setdefault((src, sp), float(t))
    if sp in WEB_PORTS and ln and int(ln) > 0:
        first_data.setdefault((dst, dp), float(t))
print("| address | truth | answered connections | longest SYN to first response byte (pcap) | median | "
      "longest kern.log SYN to access-log %t (paired in order) |")
print("|---|---|---|---|---|---|")
for addr, word in singles.items():
    waits = sorted(first_data[k] - t0 for k, t0 in first_syn.items() if k[0] == addr and k in first_data)
    syn_secs = sorted(v[0][0] for (s, _), v in syns.items() if s == addr)
    acc = [a.strftime("%b %e %H:%M:%S") for a in sorted(access_times.get(addr, []))]
    paired = "n/a (counts differ)"
    if syn_secs and len(syn_secs) == len(acc):
        gaps = [(datetime.datetime.strptime(a, "%b %d %H:%M:%S") - datetime.datetime.strptime(s, "%b %d %H:%M:%S"))
                .total_seconds() for s, a in zip(syn_secs, acc)]
        paired = f"{max(gaps):.0f} s"
    if waits:
        print(f"| {addr} | {word} | {len(waits)} | {waits[-1]:.3f} s | {waits[len(waits) // 2]:.3f} s | {paired} |")
