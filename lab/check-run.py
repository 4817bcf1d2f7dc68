#!/usr/bin/env python3
"""Read a lab run through every evidence form with the halfopen CLI and tabulate its verdicts.

Usage: check-run.py RUNDIR [HALFOPEN_BINARY]   (default: target/release/halfopen)
For each form present in RUNDIR (kern.log, server.pcap, server-in.pcap, kern-in.log, kern-syn.log, ipfw.log,
ipfw-all.log, server-midstream.pcap, kern-midstream.log; each may be .gz) runs
`halfopen analyze --firewall|--pcap FORM --access access.log --error-log error.log --year Y --tz UTC --top 100000000
--format json` and prints a Markdown table: one row per truth.txt row (each source goes to the
narrowest row holding it), one column per form, each cell the verdicts of the sources in that row
(with counts when several), `BLOCKED` when the block list covers a source that must never be
blocked, `!` when a verdict is not one this script expects for the behaviour (EXPECT below: this
helper's reading of each behaviour, not a specification). Then per form: sources, block list,
access-log requests that matched no connection. Exit status 0 always: this is a report.
"""
import collections, gzip, ipaddress, json, os, re, subprocess, sys

EXPECT = {
    "legit": {"legitimate"}, "fast-client": {"legitimate"}, "nat-client": {"legitimate"},
    "browser": {"legitimate"}, "server-internal": {"legitimate"}, "refused-once": {"legitimate"},
    "syn-retransmit": {"legitimate"}, "h2-prior-knowledge": {"legitimate", "non_http"},
    "slow-headers": {"slow_request"}, "slow-body": {"slow_request"},
    "connect-scan": {"connect_scan"}, "hping3-real": {"syn_scan", "syn_flood"},
    "rand-source-flood": {"syn_flood"}, "v6-prefix-flood": {"syn_flood"}, "short-flood": {"syn_flood"},
    "refused-retry": {"unknown"},
    "tcp-health-check": {"idle", "unknown"}, "port-check": {"idle", "unknown"}, "lost-return": {"unknown"},
    "http-health-check": {"legitimate"}, "real-stack-flood": {"syn_flood"}, "idle-timeout": {"idle_timeout"},
    "reflection-victim": {"syn_flood", "unknown"}, "reflection-victim-same-ttl": {"syn_flood", "unknown"},
    "carpet-reflection": {"syn_flood", "unknown"}, "carpet-unrouted": {"syn_flood", "unknown"}, "legit-spoofed": {"legitimate", "syn_flood"},
}
NEVER_BLOCK = {"legit", "fast-client", "nat-client", "browser", "server-internal", "refused-once",
               "syn-retransmit", "h2-prior-knowledge", "refused-retry", "tcp-health-check", "port-check",
               "lost-return", "http-health-check", "reflection-victim", "carpet-reflection", "legit-spoofed",
               "idle-timeout"}
FORMS = ["kern.log", "server.pcap", "server-in.pcap", "kern-in.log", "kern-syn.log", "ipfw.log", "ipfw-all.log",
         "server-midstream.pcap", "kern-midstream.log"]

run = sys.argv[1]
binary = sys.argv[2] if len(sys.argv) > 2 else "target/release/halfopen"
truth = []
for line in open(os.path.join(run, "truth.txt")):
    if line.strip():
        addr, word = line.split()
        truth.append((ipaddress.ip_network(addr, strict=False), word, addr))


def row_of(addr):
    best = None
    for net, word, text in truth:
        if addr.version == net.version and addr in net and (best is None or net.prefixlen > best[0].prefixlen):
            best = (net, word, text)
    return best


def path_of(form):
    for name in (form, form + ".gz"):
        if os.path.exists(os.path.join(run, name)):
            return os.path.join(run, name)
    return None


def year_of():
    head = open(os.path.join(run, "error.log"), errors="replace").readline()
    m = re.search(r"\b(20\d\d)\]", head)
    return m[1] if m else "2026"


cells = collections.defaultdict(dict)
notes = []
for form in FORMS:
    path = path_of(form)
    if not path:
        continue
    flag = "--pcap" if ".pcap" in form else "--firewall"
    cmd = [binary, "analyze", flag, path, "--access", os.path.join(run, "access.log"), "--error-log",
           os.path.join(run, "error.log"), "--year", year_of(), "--tz", "UTC", "--format", "json", "--top", "100000000"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    try:
        doc = json.loads(res.stdout)
    except ValueError:
        notes.append(f"- {form}: no JSON report (exit {res.returncode}: {res.stderr.strip()[:200]})")
        continue
    blocks = [ipaddress.ip_network(b, strict=False) for b in doc.get("blocklist", [])]
    per_row = collections.defaultdict(collections.Counter)
    blocked_bad = collections.Counter()
    for s in doc.get("sources", []):
        a = ipaddress.ip_address(s["addr"])
        row = row_of(a)
        key = row[2] if row else "(no truth row)"
        per_row[key][s["verdict"]] += 1
        if row and row[1] in NEVER_BLOCK and any(a in b for b in blocks):
            blocked_bad[key] += 1
    for net, word, text in truth:
        got = per_row.get(text)
        if not got:
            cells[text][form] = "nothing"
            continue
        parts = [f"{v} {n}" if n > 1 or len(got) > 1 or net.num_addresses > 1 else v for v, n in got.most_common()]
        cell = ", ".join(parts)
        if not set(got) <= EXPECT.get(word, set(got)):
            cell = "! " + cell
        if blocked_bad[text]:
            cell += f" BLOCKED({blocked_bad[text]})"
        cells[text][form] = cell
    if "(no truth row)" in per_row:
        cells["(no truth row)"][form] = ", ".join(f"{v} {n}" for v, n in per_row["(no truth row)"].most_common())
    shown = ", ".join(doc.get("blocklist", [])[:6]) + (" ..." if len(doc.get("blocklist", [])) > 6 else "")
    notes.append(f"- {form}: {len(doc.get('sources', []))} sources, {doc.get('connections_total')} connections, "
                 f"block list {len(doc.get('blocklist', []))} entries ({shown}), "
                 f"{doc.get('unmatched_requests', 0)} access-log requests matched no connection")

forms = [f for f in FORMS if path_of(f)]
print("| truth row | behaviour | " + " | ".join(forms) + " |")
print("|---|---|" + "---|" * len(forms))
for net, word, text in truth:
    print(f"| {text} | {word} | " + " | ".join(cells[text].get(f, "") for f in forms) + " |")
if "(no truth row)" in cells:
    print("| (no truth row) | - | " + " | ".join(cells["(no truth row)"].get(f, "") for f in forms) + " |")
print()
print("\n".join(notes))
