"""Rewrite a lab run's timestamps as a server in ZONE would have written them, the run moved in
time so that its UTC instant PIVOT falls on TARGET (a UTC instant, e.g. a daylight-saving change).

Usage: dst-shift.py IN_DIR OUT_DIR PIVOT TARGET ZONE FILE...
  PIVOT, TARGET: YYYY-mm-ddTHH:MM:SS (UTC). FILE: names in IN_DIR (`.gz` read and written plain).

Only the stamps change, each as its writer writes it (the lab machine runs in UTC):
  - syslog lines (`Mon dd HH:MM:SS`, kern.log and the ipfw forms): local wall time, no zone, no year;
  - Apache/nginx access logs (`[dd/Mon/yyyy:HH:MM:SS +zzzz]`): local time with the offset in force;
  - Apache error logs (`[Www Mon dd HH:MM:SS.uuuuuu yyyy]`) and nginx's (`yyyy/mm/dd HH:MM:SS`):
    local time, no zone.
Every other byte, the kernel's uptime stamps included, is the lab run's.
"""
import sys, re, gzip, os
from datetime import datetime, timezone, timedelta
from zoneinfo import ZoneInfo
src, dst, pivot, target, zone = sys.argv[1:6]
files = sys.argv[6:]
Z = ZoneInfo(zone)
U = timezone.utc
delta = datetime.fromisoformat(target).replace(tzinfo=U) - datetime.fromisoformat(pivot).replace(tzinfo=U)
MON = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
DAY = "Mon Tue Wed Thu Fri Sat Sun".split()
YEAR = int(pivot[:4])
def loc(t):
    return (t + delta).astimezone(Z)
sys_re = re.compile(r'^(\w{3}) ([ \d]\d) (\d\d):(\d\d):(\d\d)')
def sysf(m):
    t = datetime(YEAR, MON.index(m[1]) + 1, int(m[2]), int(m[3]), int(m[4]), int(m[5]), tzinfo=U)
    l = loc(t)
    return f"{MON[l.month-1]} {l.day:2d} {l:%H:%M:%S}"
acc_re = re.compile(r'\[(\d\d)/(\w{3})/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-]\d{4})\]')
def accf(m):
    assert m[7] == "+0000"
    t = datetime(int(m[3]), MON.index(m[2]) + 1, int(m[1]), int(m[4]), int(m[5]), int(m[6]), tzinfo=U)
    l = loc(t)
    off = l.utcoffset()
    s = int(off.total_seconds()); sign = "+" if s >= 0 else "-"; s = abs(s)
    return f"[{l.day:02d}/{MON[l.month-1]}/{l.year}:{l:%H:%M:%S} {sign}{s//3600:02d}{s%3600//60:02d}]"
err_re = re.compile(r'^\[(\w{3}) (\w{3}) (\d\d) (\d\d):(\d\d):(\d\d)(\.\d+)? (\d{4})\]')
def errf(m):
    t = datetime(int(m[8]), MON.index(m[2]) + 1, int(m[3]), int(m[4]), int(m[5]), int(m[6]), tzinfo=U)
    l = loc(t)
    return f"[{DAY[l.weekday()]} {MON[l.month-1]} {l.day:02d} {l:%H:%M:%S}{m[7] or ''} {l.year}]"
# nginx: 2026/12/07 15:25:03 [
ngx_re = re.compile(r'^(\d{4})/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d) ')
def ngxf(m):
    t = datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6]), tzinfo=U)
    l = loc(t)
    return f"{l:%Y/%m/%d %H:%M:%S} "
os.makedirs(dst, exist_ok=True)
for f in files:
    p = os.path.join(src, f)
    data = (gzip.open(p, "rt") if f.endswith(".gz") else open(p)).read()
    out = []
    for line in data.splitlines(True):
        if f.startswith("access"):
            line = acc_re.sub(accf, line, count=1)
        elif f.startswith("error"):
            line = err_re.sub(errf, line, count=1)
            line = ngx_re.sub(ngxf, line, count=1)
        else:
            line = sys_re.sub(sysf, line, count=1)
        out.append(line)
    name = f[:-3] if f.endswith(".gz") else f
    with open(os.path.join(dst, name), "w") as o:
        o.write("".join(out))
