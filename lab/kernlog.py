"""Write a run's kernel messages as rsyslog writes /var/log/kern.log.

Usage: kernlog.py RAWFILE KERNLOG START_USEC SERVER_ADDRS DEVICES
RAWFILE is kmsg.py's record; only records at or after START_USEC (printk clock) are kept, and of
those only
  - netfilter LOG lines (`HO-IN: `/`HO-OUT: ` prefixes) whose IN= or OUT= is one of DEVICES
    (comma-separated; `lo` lines only when both ends are one of SERVER_ADDRS, comma-separated:
    the server talking to itself), and
  - the TCP stack's own lines (`TCP: ...`, e.g. `TCP: request_sock_TCP: Possible SYN flooding on
    port 192.0.2.10:80. Sending cookies.`) that name one of SERVER_ADDRS, a wildcard address
    (`[::]`, `0.0.0.0`: a listener bound to all addresses) or no address.
Output: `Mon dd HH:MM:SS testbed kernel: [ secs.usecs] TEXT`, local time (the machine is UTC).
Prints the number of kept lines and of records the ring buffer lost during the run.
"""
import ipaddress, re, sys, time

raw, out, start, addrs, devs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
servers = {ipaddress.ip_address(a) for a in addrs.split(",")}
devices = set(devs.split(","))
boot = None
kept = 0
lost = 0
ip_re = re.compile(r"(\d+\.\d+\.\d+\.\d+|\[[0-9a-f:]+\])(?::\d+)?")


def is_server(a):
    try:
        return ipaddress.ip_address(a.strip("[]")) in servers
    except ValueError:
        return False


def keep(text):
    if text.startswith(("HO-IN: ", "HO-OUT: ")):
        f = dict(re.findall(r"(\w+)=(\S*)", text))
        dev = f.get("IN") or f.get("OUT")
        if dev == "lo":
            return is_server(f.get("SRC", "")) and is_server(f.get("DST", ""))
        return dev in devices
    if text.startswith("TCP: "):
        named = ip_re.findall(text)
        return not named or any(is_server(a) or a in ("[::]", "0.0.0.0") for a in named)
    return False


with open(raw) as src, open(out, "w") as dst:
    for line in src:
        line = line.rstrip("\n")
        if line.startswith("# boot_epoch "):
            boot = float(line.split()[2])
            continue
        if line.startswith("# gap "):
            first, last = (int(x) for x in line.split()[2].split(".."))
            lost += last - first + 1
            continue
        if line.startswith("#"):
            continue
        head, _, text = line.partition(";")
        _pri, _seq, usec = head.split(",")
        usec = int(usec)
        if usec < start or not keep(text):
            continue
        stamp = time.strftime("%b %e %H:%M:%S", time.localtime(boot + usec / 1e6))
        dst.write(f"{stamp} testbed kernel: [{usec // 1000000:5d}.{usec % 1000000:06d}] {text}\n")
        kept += 1
print(f"kern.log: {kept} lines kept, {lost} kernel records lost by the ring buffer during the run")
