"""Write the test site served by the runs: index.html, a page with subresources, a large file.

Usage: www.py DOCROOT [SCHEME]   (SCHEME of the preconnect link: http, the default, or https)
page.html pulls style.css, app.js and eight 24 KB noise PNGs (valid images), so a browser fetches
about ten resources and may open several connections in parallel; it also asks the browser to
preconnect to http://static.testbed.example/, from which it loads nothing. big.bin (1 MiB of text lines) is for a slow
download that stays open for a while. Deterministic (fixed seed).
"""
import os, random, struct, sys, zlib

root = sys.argv[1]
scheme = sys.argv[2] if len(sys.argv) > 2 else "http"
os.makedirs(root, exist_ok=True)
rng = random.Random(20261206)


def write(name, data):
    with open(os.path.join(root, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def png(width, height):
    def chunk(kind, body):
        return struct.pack("!I", len(body)) + kind + body + struct.pack("!I", zlib.crc32(kind + body))

    rows = b"".join(b"\0" + bytes(rng.getrandbits(8) for _ in range(width * 3)) for _ in range(height))
    head = struct.pack("!IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


write("index.html", "hello\n")
imgs = "".join(f'<img src="img{i}.png" width="90" height="90">\n' for i in range(1, 9))
write("page.html", f"""<!doctype html>
<html><head><meta charset="utf-8"><title>testbed</title>
<link rel="preconnect" href="{scheme}://static.testbed.example/">
<link rel="stylesheet" href="style.css"><script src="app.js"></script></head>
<body><h1>testbed page</h1>
{imgs}</body></html>
""")
write("style.css", "body { font-family: sans-serif; }\nimg { margin: 2px; }\n")
write("app.js", "document.addEventListener('DOMContentLoaded', function () { document.title += ' ok'; });\n")
for i in range(1, 9):
    write(f"img{i}.png", png(90, 90))
# text, so that the captures of its downloads compress well
write("big.bin", "".join(f"{n:08d} testbed big.bin line .\n" for n in range(1 << 15)))  # 32-byte lines
