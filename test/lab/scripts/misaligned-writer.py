#!/usr/bin/env python3
# O_DIRECT writer of small misaligned writes (resync/resync-write-conflict.lab.ts). The region is cut into
# segments of 1 to 6 sectors (so most start at an odd sector, many straddle a 4 KiB block); writer TAG of
# WRITERS writes every WRITERS-th segment once, in random order, until STOPFILE exists. No sector is written
# twice, so a write lost on one disk stays visible. Every write carries (ROUND, TAG, write number).
# Prints the number of writes done.
#   misaligned-writer.py DEV ROUND TAG WRITERS FIRST_SECTOR N_SECTORS STOPFILE
import mmap
import os
import random
import sys

dev = sys.argv[1]
rnd, tag, writers, first, nsect = map(int, sys.argv[2:7])
stop = sys.argv[7]

SECTOR = 512
segments = []
rng = random.Random(rnd)
s = first
while s < first + nsect:
    n = min(rng.randint(1, 6), first + nsect - s)
    segments.append((s, n))
    s += n
mine = segments[tag - 1 :: writers]
random.Random(rnd * 1000 + tag).shuffle(mine)

buf = mmap.mmap(-1, 8 * SECTOR)  # page aligned, as O_DIRECT wants
fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
done = 0
for s, n in mine:
    if done % 16 == 0 and os.path.exists(stop):
        break
    stamp = bytes([rnd, tag]) + done.to_bytes(6, 'little')
    buf[: n * SECTOR] = stamp * (n * SECTOR // len(stamp))
    os.pwrite(fd, memoryview(buf)[: n * SECTOR], s * SECTOR)
    done += 1
os.close(fd)
print(done)
