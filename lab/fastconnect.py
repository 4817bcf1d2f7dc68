#!/usr/bin/env python3
"""Ordinary connect() calls at a flood's pace, by the host's own TCP stack.

Usage: fastconnect.py DST COUNT RATE [HOLD]
Opens COUNT non-blocking TCP connections to DST:80, RATE a second, each closed HOLD seconds
(default 0.3) after its connect() began, before the kernel would retransmit its SYN: every SYN
is the kernel's own (with its TCP options), every source port its allocator's. Bounded: COUNT
connections, then it exits.
"""
import socket
import sys
import time

dst, count, rate = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
hold = float(sys.argv[4]) if len(sys.argv) > 4 else 0.3
opened = []
start = time.monotonic()
for i in range(count):
    s = socket.socket()
    s.setblocking(False)
    s.connect_ex((dst, 80))
    opened.append((time.monotonic(), s))
    while opened and time.monotonic() - opened[0][0] >= hold:
        opened.pop(0)[1].close()
    time.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
for _, s in opened:
    s.close()
