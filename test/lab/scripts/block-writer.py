#!/usr/bin/env python3
# O_DIRECT writer of the replication scenarios: overwrites a small set of 4 KiB blocks again and again with
# writes of 1..MAXB blocks at random places in it; every write carries (tag, write number), so
# two writers never write the same bytes. Prints the number of writes done.
#   block-writer.py DEV TAG FIRST_BLOCK N_BLOCKS MAXB COUNT|--until=STOPFILE
import mmap
import os
import random
import sys

dev, tag, first, nblocks, maxb, limit = sys.argv[1:7]
tag, first, nblocks, maxb = int(tag), int(first), int(nblocks), int(maxb)
stop = limit.split('=', 1)[1] if limit.startswith('--until=') else None
count = None if stop else int(limit)

BS = 4096
buf = mmap.mmap(-1, maxb * BS)  # page aligned, as O_DIRECT wants
fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
rng = random.Random(tag)
done = 0
while (count is None or done < count) and not (stop and os.path.exists(stop)):
    n = rng.randint(1, min(maxb, nblocks))
    b = first + rng.randint(0, nblocks - n)
    stamp = tag.to_bytes(4, 'little') + done.to_bytes(4, 'little')
    buf[: n * BS] = stamp * (n * BS // len(stamp))
    os.pwrite(fd, memoryview(buf)[: n * BS], b * BS)
    done += 1
os.close(fd)
print(done)
