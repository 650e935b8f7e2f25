#!/usr/bin/env python3
# One O_DIRECT 4 KiB write into each given 4 MiB activity-log extent, each in its own thread
# started in the order given (a write that hangs below bsr does not stop the next), then waits for
# all. The block written into extent E is the text "extent E" padded with E's low byte, at the
# extent's first block. Prints one JSON line: the extents written and those that failed. With
# --check, reads those blocks back instead and prints the extents whose block is not that.
#   extent-writers.py [--check] DEV EXTENT...
import json
import mmap
import os
import sys
import threading

check = sys.argv[1] == '--check'
args = sys.argv[2:] if check else sys.argv[1:]
dev, extents = args[0], [int(x) for x in args[1:]]
BS = 4096
EXTENT = 4 << 20
failed = []


def block(e):
    return (b'extent %d\n' % e).ljust(BS, bytes([e & 0xFF]))


if check:
    fd = os.open(dev, os.O_RDONLY | os.O_DIRECT)
    buf = mmap.mmap(-1, BS)
    wrong = [e for e in extents if os.preadv(fd, [buf], e * EXTENT) != BS or buf[:] != block(e)]
    os.close(fd)
    print(json.dumps({'checked': len(extents), 'wrong': wrong}))
    sys.exit(0)


def write(e):
    buf = mmap.mmap(-1, BS)  # page aligned, as O_DIRECT wants
    buf[:] = block(e)
    fd = os.open(dev, os.O_WRONLY | os.O_DIRECT)
    try:
        os.pwrite(fd, buf, e * EXTENT)
    except OSError as err:
        failed.append([e, err.strerror])
    finally:
        os.close(fd)


threads = [threading.Thread(target=write, args=(e,)) for e in extents]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps({'written': len(extents) - len(failed), 'failed': failed}))
