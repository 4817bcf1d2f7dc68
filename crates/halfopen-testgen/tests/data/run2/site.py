"""Writes the lab site for testbed2.sh: index.html with 14 sub-resources (a stylesheet, a script,
twelve images), page2.html and a favicon, so that a real browser opens parallel connections."""
import os, struct, sys, zlib
www = sys.argv[1]
os.makedirs(f"{www}/img", exist_ok=True)

def png(seed, size=24):
    rows = b"".join(b"\0" + bytes(((x * seed + y * 7) % 256) for x in range(size * 3)) for y in range(size))
    def chunk(t, d):
        return struct.pack("!I", len(d)) + t + d + struct.pack("!I", zlib.crc32(t + d) & 0xFFFFFFFF)
    ihdr = struct.pack("!IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows, 0)) + chunk(b"IEND", b"")

imgs = "".join(f'<img src="/img/a{i}.png" width="24" height="24">\n' for i in range(1, 13))
open(f"{www}/index.html", "w").write(
    '<!DOCTYPE html>\n<html><head><title>lab</title><link rel="stylesheet" href="/site.css">'
    '<script src="/app.js"></script><link rel="icon" href="/favicon.ico"></head>\n<body>\n'
    + imgs + '<a href="/page2.html">next</a>\n</body></html>\n')
open(f"{www}/page2.html", "w").write("<!DOCTYPE html>\n<html><body>page 2</body></html>\n")
open(f"{www}/site.css", "w").write("body { font-family: sans-serif; }\n" * 40)
open(f"{www}/app.js", "w").write("var x = 1;\n" * 300)
for i in range(1, 13):
    open(f"{www}/img/a{i}.png", "wb").write(png(i))
open(f"{www}/favicon.ico", "wb").write(png(99, 16))
