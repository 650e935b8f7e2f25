#!/usr/bin/env python3
# One short digest per 4 KiB block of DEV, blocks [FIRST, FIRST+COUNT), read with O_DIRECT (no stale page
# cache): for comparing two disks block by block.
#   block-digests.py DEV FIRST COUNT
import hashlib
import mmap
import os
import sys

dev, first, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
BS = 4096
CHUNK = 256
buf = mmap.mmap(-1, CHUNK * BS)
fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
out = []
for i in range(first, first + count, CHUNK):
    n = min(CHUNK, first + count - i)
    got = os.preadv(fd, [memoryview(buf)[: n * BS]], i * BS)
    assert got == n * BS, f'short read at block {i}'
    out += [hashlib.md5(buf[j * BS : (j + 1) * BS]).hexdigest()[:10] for j in range(n)]
os.close(fd)
print('\n'.join(out))
