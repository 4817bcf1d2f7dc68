#!/usr/bin/env python3
"""Peak memory and throughput of `halfopen analyze` on inputs streamed at any size.

Run through benches/memory/peak.sh (see docs/performance.md, "Memory at scale"). For each input
(a random-source SYN flood as netfilter lines, the README's ipfw story with its access log, a
pcap of HTTP connections and a SYN flood) at 1x, 4x and 16x of its size, a generator from
benches/examples streams the input through a pipe or FIFOs into

    halfopen analyze ... --format json > /dev/null

while a watchdog samples the analyzer's /proc/PID/status every 0.1 s and kills it (SIGKILL)
once its resident set passes the cap. The peak RSS is the kernel's own maximum (ru_maxrss
from wait4, as /usr/bin/time -v reports it), the wall time is the analyzer's, the throughput
is the firewall/pcap bytes the analyzer was given divided by its wall time. Nothing big is
written to disk, except for the one-core comparison (--taskset), which reads the 1x inputs
from files so the generator does not share the cores.
"""

import argparse
import datetime
import json
import os
import shutil
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
GENERATORS = ["gen_random_flood", "gen_ipfw_story", "gen_pcap"]
# The watchdog also stops a run when the machine as a whole gets this low (other work on it).
LOW_MEMORY_MB = 1024

# The 16x sizes; 1x is a sixteenth, 4x a quarter.
BIG = {
    "flood": ("lines", 100_000_000),
    "ipfw": ("bytes", 10_000_000_000),
    "pcap": ("bytes", 2_000_000_000),
}
DESCRIPTION = {
    "flood": "random-source SYN flood, netfilter LOG (kern.log, lab form) + access log of 6 clients",
    "ipfw": "ipfw story, one line per SYN (browsers + 3 attackers) + matching access log",
    "pcap": "pcap (Ethernet) of HTTP connections + hping3 flood with SYN-ACKs",
}


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def target_dir():
    return os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")


def build(skip):
    bins = os.path.join(target_dir(), "release")
    if not skip:
        log("building the release CLI and the generators ...")
        subprocess.run(["cargo", "build", "--release", "-p", "halfopen-cli"], cwd=REPO, check=True)
        cmd = ["cargo", "build", "--release", "-p", "halfopen-benches"]
        for g in GENERATORS:
            cmd += ["--example", g]
        subprocess.run(cmd, cwd=REPO, check=True)
    halfopen = os.path.join(bins, "halfopen")
    gens = {g: os.path.join(bins, "examples", g) for g in GENERATORS}
    for p in [halfopen, *gens.values()]:
        if not os.access(p, os.X_OK):
            sys.exit(f"missing {p}: build first (drop --no-build)")
    return halfopen, gens


def mem_available_mb():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) // 1024
    return 0


def status_kb(pid, key):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return None


def gen_summary(path):
    """The generator's last JSON line on stderr, or {}."""
    try:
        with open(path) as f:
            lines = [l for l in f.read().splitlines() if l.startswith("{")]
        return json.loads(lines[-1]) if lines else {}
    except (OSError, ValueError):
        return {}


SHRINK = 1  # --shrink: every size divided by this (to try the harness quickly)


def size_for(kind, scale):
    unit, big = BIG[kind]
    return unit, big * scale // 16 // SHRINK


def human(n, unit):
    if unit == "lines":
        return f"{n / 1e6:g} M lines"
    if n >= 1e9:
        return f"{n / 1e9:.3g} GB"
    if n >= 1e6:
        return f"{n / 1e6:.3g} MB"
    return f"{n / 1e3:.3g} kB"


class Run:
    """One analyzer run fed by generators, with a memory watchdog."""

    def __init__(self, label, cap_mb, workdir):
        self.label = label
        self.cap_mb = cap_mb
        self.workdir = workdir

    def go(self, gen_cmds, halfopen_cmd, pipe_from=None, prefix=()):
        """gen_cmds: argv lists started first; pipe_from: index of the generator whose stdout
        is the analyzer's stdin (None: the generators write FIFOs or nothing)."""
        gens, errs = [], []
        for i, cmd in enumerate(gen_cmds):
            err = os.path.join(self.workdir, f"gen{i}.err")
            errs.append(err)
            gens.append(subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE if i == pipe_from else subprocess.DEVNULL,
                stderr=open(err, "w"),
            ))
        stdin = gens[pipe_from].stdout if pipe_from is not None else subprocess.DEVNULL
        ho_err = os.path.join(self.workdir, "halfopen.err")
        start = time.monotonic()
        ho = subprocess.Popen(
            [*prefix, *halfopen_cmd],
            stdin=stdin,
            stdout=subprocess.DEVNULL,
            stderr=open(ho_err, "w"),
        )
        if pipe_from is not None:
            gens[pipe_from].stdout.close()
        killed_at = None
        killed_why = None
        read_done = None
        rss_at_read_done = None
        hwm = 0
        while True:
            pid, status, rusage = os.wait4(ho.pid, os.WNOHANG)
            if pid == ho.pid:
                break
            rss = status_kb(ho.pid, "VmRSS") or 0
            hwm = max(hwm, status_kb(ho.pid, "VmHWM") or 0)
            if read_done is None and all(g.poll() is not None for g in gens):
                read_done = time.monotonic() - start
                rss_at_read_done = rss // 1024
            low = mem_available_mb() < LOW_MEMORY_MB
            if killed_at is None and (rss // 1024 > self.cap_mb or low):
                killed_at = time.monotonic() - start
                killed_why = f"machine low on memory at {rss / 1024 / 1024:.1f} GB" if low else None
                os.kill(ho.pid, signal.SIGKILL)
            time.sleep(0.1)
        wall = time.monotonic() - start
        code = os.waitstatus_to_exitcode(status)
        ho.returncode = code
        # Generators: done, or stopped by the closed pipe; a FIFO nobody opened is killed.
        for g in gens:
            try:
                g.wait(timeout=5)
            except subprocess.TimeoutExpired:
                g.kill()
                g.wait()
        sums = [gen_summary(e) for e in errs]
        with open(ho_err) as f:
            ho_stderr = f.read()[-2000:]
        return {
            "label": self.label,
            "exit": code,
            "wall_s": wall,
            "peak_rss_mb": max(rusage.ru_maxrss, hwm) / 1024,
            "killed_at_s": killed_at,
            "killed_why": killed_why,
            "read_done_s": read_done,
            "rss_at_read_done_mb": rss_at_read_done,
            "generators": sums,
            "stderr": ho_stderr,
        }


def fw_stream(summary):
    """(lines, bytes) the generator handed over for the firewall or pcap input."""
    for key in ("firewall", "pcap"):
        if key in summary:
            return summary[key]["lines"], summary[key]["bytes"]
    return 0, 0


def plan(kind, scale, gens, halfopen, work, from_files=None):
    """The generator commands, the analyzer's command and which generator pipes to stdin.
    from_files: a dict of ready files (the one-core comparison) instead of streams."""
    unit, n = size_for(kind, scale)
    base = [halfopen, "analyze", "--format", "json"]
    if from_files:
        if kind == "flood":
            return [], base + ["--firewall", from_files["fw"], "--access", from_files["acc"]], None
        if kind == "ipfw":
            return [], base + ["--firewall", from_files["fw"], "--access", from_files["acc"]], None
        return [], base + ["--pcap", from_files["fw"]], None
    if kind == "flood":
        acc = os.path.join(work, "flood-access.log")
        with open(acc, "w") as f:
            subprocess.run([gens["gen_random_flood"], "--lines", str(n), "--access-only"],
                           stdout=f, stderr=subprocess.DEVNULL, check=True)
        return ([[gens["gen_random_flood"], "--lines", str(n)]],
                base + ["--firewall", "-", "--access", acc], 0)
    if kind == "ipfw":
        fw, acc = os.path.join(work, "ipfw.fifo"), os.path.join(work, "access.fifo")
        for p in (fw, acc):
            if os.path.exists(p):
                os.remove(p)
            os.mkfifo(p)
        return ([[gens["gen_ipfw_story"], "--bytes", str(n), "--ipfw", fw, "--access", acc]],
                base + ["--firewall", fw, "--access", acc], None)
    return ([[gens["gen_pcap"], "--bytes", str(n)]], base + ["--pcap", "-"], 0)


def row(kind, scale, res, fw_lines, fw_bytes, acc_bytes):
    unit, n = size_for(kind, scale)
    killed = res["killed_at_s"] is not None
    mbps = f"{fw_bytes / 1e6 / res['wall_s']:.1f}" if res["wall_s"] > 0 else "-"
    if killed:
        mbps += " (until killed)"
    if killed and res.get("killed_why"):
        note = f"**{res['killed_why']}** at {fw_lines:,} lines (killed at {res['killed_at_s']:.0f} s)"
    elif killed:
        if res["read_done_s"] is not None and res["read_done_s"] <= res["killed_at_s"]:
            note = (f"**over {res['cap_gb']:g} GB after reading all {fw_lines:,} "
                    f"{'packets' if kind == 'pcap' else 'lines'}** (killed at {res['killed_at_s']:.0f} s)")
        else:
            note = (f"**over {res['cap_gb']:g} GB at {fw_lines:,} "
                    f"{'packets' if kind == 'pcap' else 'lines'}** (killed at {res['killed_at_s']:.0f} s)")
    else:
        note = ""
    read = ""
    if res["read_done_s"] is not None:
        read = f"{res['read_done_s']:.1f} s, {res['rss_at_read_done_mb']:,} MB"
    return {
        "input": kind,
        "scale": f"{scale}x",
        "asked": human(n, unit),
        "lines": fw_lines,
        "bytes": fw_bytes,
        "access_bytes": acc_bytes,
        "peak_rss_mb": res["peak_rss_mb"],
        "wall_s": res["wall_s"],
        "mb_per_s": mbps,
        "exit": "killed" if killed else res["exit"],
        "read": read,
        "note": note,
    }


def table(rows):
    out = ["| input | scale | size asked | firewall/pcap input given (lines or packets; bytes) "
           "| access log | peak RSS (MB) | wall (s) | throughput (MB/s of firewall/pcap input) "
           "| input read by (s, RSS then) | exit | note |",
           "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        acc = human(r["access_bytes"], "bytes") if r["access_bytes"] else "-"
        out.append(
            f"| {r['input']} | {r['scale']} | {r['asked']} | {r['lines']:,}; {r['bytes'] / 1e6:,.0f} MB "
            f"| {acc} | {r['peak_rss_mb']:,.0f} | {r['wall_s']:.1f} | {r['mb_per_s']} "
            f"| {r['read'] or '-'} | {r['exit']} | {r['note']} |")
    return "\n".join(out)


def access_bytes(summary, kind, work):
    if "access" in summary:
        return summary["access"]["bytes"]
    if kind == "flood":
        p = os.path.join(work, "flood-access.log")
        return os.path.getsize(p) if os.path.exists(p) else 0
    return 0


def cap_now(cap_gb):
    """The cap for the next run: at most cap_gb, and 2 GB below what the machine has free."""
    avail = mem_available_mb()
    return max(64, min(int(cap_gb * 1024), avail - 2048))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="1x only, no one-core comparison")
    ap.add_argument("--scales", default="1,4,16", help="comma-separated multiples of 1/16 of the big size")
    ap.add_argument("--inputs", default="flood,ipfw,pcap")
    ap.add_argument("--cap-gb", type=float, default=20.0,
                    help="kill the analyzer above this RSS (lowered to stay 2 GB below MemAvailable)")
    ap.add_argument("--taskset", choices=["yes", "no"], default="yes",
                    help="also compare one core (taskset -c 0) with both on the 1x inputs read from files")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out", help="also write the report (markdown) here")
    ap.add_argument("--shrink", type=int, default=1, help="divide every size by this (a dry run of the harness)")
    a = ap.parse_args()
    global SHRINK
    SHRINK = max(1, a.shrink)
    scales = [1] if a.quick else [int(s) for s in a.scales.split(",")]
    kinds = [k for k in a.inputs.split(",") if k in BIG]
    halfopen, gens = build(a.no_build)
    work = os.path.join(target_dir(), "membench")
    os.makedirs(work, exist_ok=True)
    df = subprocess.run(["df", "-h", work], capture_output=True, text=True).stdout.strip()
    free_disk = shutil.disk_usage(work).free
    # The analyzer's code: the last commit that changed a crate (the benches do not count).
    rev = subprocess.run(["git", "log", "-1", "--format=%h", "--", "crates"], cwd=REPO,
                         capture_output=True, text=True).stdout.strip()
    header = [
        f"halfopen code at `{rev}`, {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start, "
        f"MemAvailable {mem_available_mb():,} MB",
        "",
        "```",
        df,
        "```",
    ]
    log("\n".join(header))
    rows = []
    for kind in kinds:
        for scale in scales:
            cap = cap_now(a.cap_gb)
            log(f"{kind} {scale}x: {DESCRIPTION[kind]} (cap {cap:,} MB) ...")
            gen_cmds, cmd, pipe = plan(kind, scale, gens, halfopen, work)
            res = Run(f"{kind} {scale}x", cap, work).go(gen_cmds, cmd, pipe)
            res["cap_gb"] = round(cap / 1024, 1)
            summ = res["generators"][0] if res["generators"] else {}
            lines, nbytes = fw_stream(summ)
            r = row(kind, scale, res, lines, nbytes, access_bytes(summ, kind, work))
            r["generator_mb_per_s"] = summ.get("mb_per_s")
            rows.append(r)
            log(table([r]).splitlines()[-1])
            if res["exit"] not in (0, 1) and res["killed_at_s"] is None:
                log(res["stderr"])
    report = header + ["", table(rows)]
    if a.taskset == "yes" and not a.quick:
        report += ["", one_core(kinds, gens, halfopen, work, a.cap_gb, free_disk)]
    text = "\n".join(report)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text + "\n")
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump(rows, f, indent=1)


def one_core(kinds, gens, halfopen, work, cap_gb, free_disk):
    """Both cores vs `taskset -c 0`, on the 1x inputs read from files (the page cache). An
    input whose analysis passes the cap at 1x is compared at 1/4 of it (then 1/16)."""
    out = ["| input | size | both cores: wall (s) | one core: wall (s) | one core / both | peak RSS (MB) |",
           "|---|---|---|---|---|---|"]
    for kind in kinds:
        for div in (1, 4, 16):
            label = "1x" if div == 1 else f"1x/{div}"
            unit, n = size_for(kind, 1)
            need = (n * 280 if unit == "lines" else n * 4) // div
            if need > free_disk - 10e9:
                out.append(f"| {kind} | {label}: skipped, not enough disk for {need / 1e9:.1f} GB | | | | |")
                break
            files = make_files_scaled(kind, div, gens, work)
            res = {}
            for name, prefix in (("both", ()), ("one", ("taskset", "-c", "0"))):
                cap = cap_now(cap_gb)
                log(f"{kind} {label} from files, {name} core(s) (cap {cap:,} MB) ...")
                _, cmd, _ = plan(kind, 1, gens, halfopen, work, from_files=files)
                res[name] = Run(f"{kind} {name}", cap, work).go([], cmd, None, prefix)
                if res[name]["killed_at_s"] is not None:
                    break
            for p in (files["fw"], files["acc"]):
                if os.path.exists(p):
                    os.remove(p)
            if all(k in res and res[k]["killed_at_s"] is None for k in ("both", "one")):
                lines, nbytes = fw_stream(files["summary"])
                b, o = res["both"]["wall_s"], res["one"]["wall_s"]
                out.append(f"| {kind} | {label}: {lines:,} {'packets' if kind == 'pcap' else 'lines'}, "
                           f"{nbytes / 1e6:,.0f} MB | {b:.1f} | {o:.1f} | **{o / b:.2f}** | "
                           f"{res['both']['peak_rss_mb']:,.0f} |")
                break
            log(f"{kind} {label}: over the cap")
            out.append(f"| {kind} | {label}: over the cap ({cap / 1024:.1f} GB), not compared | | | | |")
    return "\n".join(out)


def make_files_scaled(kind, div, gens, work):
    unit, n = size_for(kind, 1)
    n //= div
    fw = os.path.join(work, f"{kind}.input")
    acc = os.path.join(work, f"{kind}.access")
    if kind == "flood":
        cmd = [gens["gen_random_flood"], "--lines", str(n), "--out", fw, "--access", acc]
    elif kind == "ipfw":
        cmd = [gens["gen_ipfw_story"], "--bytes", str(n), "--ipfw", fw, "--access", acc]
    else:
        cmd = [gens["gen_pcap"], "--bytes", str(n), "--out", fw]
    r = subprocess.run(cmd, stderr=subprocess.PIPE, text=True, check=True)
    summary = json.loads([l for l in r.stderr.splitlines() if l.startswith("{")][-1])
    for p in (fw, acc):
        if os.path.exists(p):
            subprocess.run(["cat", p], stdout=subprocess.DEVNULL, check=True)  # page cache
    return {"fw": fw, "acc": acc, "summary": summary}


if __name__ == "__main__":
    main()
