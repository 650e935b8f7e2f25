#!/usr/bin/env python3
# An application writer at queue depth 1: O_DIRECT 4 KiB writes, one at a time, cycling over
# N_BLOCKS blocks from FIRST_BLOCK, for SECONDS; with INTERVAL_MS > 0 one write starts every
# INTERVAL_MS (a paced writer), else back to back. Prints one JSON line: the writes, KiB/s, the
# write latency (average, 99th percentile, maximum, in ms) and when it wrote (start, end: epoch s).
# With QD1_STARTED=FILE in the environment, FILE is created once the first write is done; with
# QD1_HOLD=FILE, the writer goes on past SECONDS for as long as FILE exists (a probe that must
# see it running removes FILE when done).
#   qd1-writer.py DEV FIRST_BLOCK N_BLOCKS SECONDS [INTERVAL_MS]
import json
import mmap
import os
import sys
import time

dev, first, nblocks, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
interval = float(sys.argv[5]) / 1000 if len(sys.argv) > 5 else 0.0

BS = 4096
buf = mmap.mmap(-1, BS)  # page aligned, as O_DIRECT wants
buf[:] = os.urandom(BS)
fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
lat = []
wall = time.time()
start = time.monotonic()
end = start + seconds
hold = os.environ.get('QD1_HOLD')
while True:
    now = time.monotonic()
    if interval:
        due = start + len(lat) * interval
        if due > now:
            time.sleep(due - now)
            now = time.monotonic()
    if now >= end and not (hold and os.path.exists(hold)):
        break
    os.pwrite(fd, buf, (first + len(lat) % nblocks) * BS)
    lat.append(time.monotonic() - now)
    if len(lat) == 1 and os.environ.get('QD1_STARTED'):
        open(os.environ['QD1_STARTED'], 'w').close()
os.close(fd)
took = time.monotonic() - start
lat.sort()
ms = [x * 1000 for x in lat] or [0.0]
print(
    json.dumps(
        {
            'writes': len(lat),
            'kib_s': round(len(lat) * BS / 1024 / took, 1),
            'avg_ms': round(sum(ms) / len(ms), 3),
            'p99_ms': round(ms[min(len(ms) - 1, int(len(ms) * 0.99))], 3),
            'max_ms': round(ms[-1], 3),
            'start': wall,
            'end': wall + took,
        }
    )
)
