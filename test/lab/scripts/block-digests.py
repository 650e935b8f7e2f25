#!/usr/bin/env python3
# One short digest per 4 KiB block of DEV, blocks [FIRST, FIRST+COUNT), read with O_DIRECT (no stale page
# cache): for comparing two disks block by block. COUNT `end` runs to the end of the device; a partial last
# block (a device size that is not a multiple of 4 KiB) is digested over the bytes it has, shown as
# DIGEST/BYTES. SECTORS: take the device to end there (a bsr device's data on its larger lower device).
#   block-digests.py DEV FIRST COUNT|end [SECTORS]
import hashlib
import mmap
import os
import sys

dev, first = sys.argv[1], int(sys.argv[2])
BS = 4096
CHUNK = 256
buf = mmap.mmap(-1, CHUNK * BS)
fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
size = int(sys.argv[4]) * 512 if len(sys.argv) > 4 else os.lseek(fd, 0, os.SEEK_END)
count = (size + BS - 1) // BS - first if sys.argv[3] == 'end' else int(sys.argv[3])
out = []
for i in range(first, first + count, CHUNK):
    n = min(CHUNK, first + count - i)
    want = min(n * BS, size - i * BS)
    got = os.preadv(fd, [memoryview(buf)[:want]], i * BS)
    assert got == want, f'short read at block {i}: {got} of {want} bytes'
    for j in range(n):
        part = min(BS, got - j * BS)
        d = hashlib.md5(buf[j * BS : j * BS + part]).hexdigest()[:10]
        out.append(d if part == BS else f'{d}/{part}')
os.close(fd)
print('\n'.join(out))
