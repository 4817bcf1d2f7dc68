"""Cut a run's evidence as if capture and logging had started in the middle of it.

Usage: midstream.py OUTDIR HH:MM:SS
Writes OUTDIR/server-midstream.pcap (editcap -A: the packets of server.pcap from that second on)
and OUTDIR/kern-midstream.log (the lines of kern.log from that second on), the cut time being on
the run's day in UTC (syslog lines have whole seconds, so both cuts fall on the same second).
Prints how many TCP connections were open at the cut (seen in server.pcap before it, without a
FIN or RST before it), i.e. how many the cut files show only from the middle.
"""
import calendar, subprocess, sys, time

d, hms = sys.argv[1], sys.argv[2]
WEB = ("80", "443")  # the runs' web ports (run-https.sh serves both)
pcap = f"{d}/server.pcap"
first = subprocess.run(["capinfos", "-a", "-T", "-r", "-S", pcap], capture_output=True, text=True).stdout
start_epoch = float(first.strip().split("\t")[-1])
day = time.strftime("%Y-%m-%d", time.gmtime(start_epoch))
cut = calendar.timegm(time.strptime(f"{day} {hms}", "%Y-%m-%d %H:%M:%S"))
subprocess.run(["editcap", "-A", str(cut), pcap, f"{d}/server-midstream.pcap"], check=True)
stamp = time.strftime("%b %e %H:%M:%S", time.gmtime(cut))
with open(f"{d}/kern.log") as src, open(f"{d}/kern-midstream.log", "w") as dst:
    keep = False
    for line in src:
        keep = keep or line[:15] >= stamp
        if keep:
            dst.write(line)

# connections open at the cut: SYN seen before it, no FIN/RST before it
fields = ["frame.time_epoch", "ip.src", "ipv6.src", "tcp.srcport", "ip.dst", "ipv6.dst", "tcp.dstport",
          "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin", "tcp.flags.reset"]
out = subprocess.run(["tshark", "-r", pcap, "-T", "fields", "-E", "separator=\t", "-Y", f"frame.time_epoch < {cut}"]
                     + sum((["-e", f] for f in fields), []), capture_output=True, text=True).stdout
state = {}
for row in out.splitlines():
    t, s4, s6, sp, d4, d6, dp, syn, ack, fin, rst = row.split("\t")
    src, dst = s4 or s6, d4 or d6
    key = (src, sp, dst, dp) if dp in WEB else (dst, dp, src, sp)
    if syn in ("1", "True") and ack not in ("1", "True"):
        state[key] = "syn"
    elif key in state and (fin in ("1", "True") or rst in ("1", "True")):
        state[key] = "closed"
    elif key in state and ack in ("1", "True") and state[key] == "syn" and dp in WEB:
        state[key] = "open"
opened = sorted(k for k, v in state.items() if v == "open")
half = sum(1 for v in state.values() if v == "syn")
print(f"cut at {day} {hms} UTC: {len(opened)} established connections open, {half} half-open (SYN, no ACK)")
for k in opened:
    print(f"  open: {k[0]}:{k[1]}")
