"""Record the kernel log from now on, losslessly or saying what was lost.

Usage: kmsg.py RAWFILE   (root; stops on SIGTERM/SIGINT)
Reads /dev/kmsg (one record per read, `PRI,SEQ,USEC,FLAGS;TEXT`) from its current end and writes
`PRI,SEQ,USEC;TEXT` lines. Every record has a sequence number, so a record the ring buffer
overwrote before we read it shows as a `# gap FIRST..LAST` line (and /dev/kmsg returns EPIPE once).
The first line, `# boot_epoch E`, is the wall-clock time of monotonic zero, to turn USEC (the
printk clock, microseconds since boot) into syslog times.
"""
import errno, os, signal, sys, time

out = open(sys.argv[1], "w", buffering=1 << 16)
stop = False


def on_signal(_sig, _frame):
    global stop
    stop = True


signal.signal(signal.SIGTERM, on_signal)
signal.signal(signal.SIGINT, on_signal)
fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
os.lseek(fd, 0, os.SEEK_END)
out.write(f"# boot_epoch {time.time() - time.clock_gettime(time.CLOCK_MONOTONIC):.6f}\n")
out.flush()
last = None
lost = 0
idle = 0.0
while True:
    try:
        rec = os.read(fd, 8192)
    except BlockingIOError:
        if stop:
            break
        time.sleep(0.005)
        continue
    except OSError as e:
        if e.errno == errno.EPIPE:  # overwritten records; the next read resumes at the oldest kept
            continue
        raise
    head, _, text = rec.decode("utf-8", "replace").partition(";")
    fields = head.split(",")
    if len(fields) < 3:
        continue
    seq = int(fields[1])
    if last is not None and seq != last + 1:
        out.write(f"# gap {last + 1}..{seq - 1}\n")
        lost += seq - last - 1
    last = seq
    out.write(f"{fields[0]},{seq},{fields[2]};{text.split(chr(10), 1)[0]}\n")
out.write(f"# lost {lost}\n")
out.close()
