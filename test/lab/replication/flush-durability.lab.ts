// An application's flush and FUA reach stable storage on both nodes, whatever disk-flushes says:
// the lower disk's flush counter (/sys/block/vda/stat: flush I/Os, the 16th field) must rise on the Primary and on
// the Secondary after O_DSYNC writes, an fsync of the block device (an empty flush) and an fsync
// of a file on a mounted ext4. First with disk-flushes and md-flushes off (then no flush of the
// engine's own can hide a missing one), then with the defaults. status reports the write ordering
// of each phase (drain, then flush). max-epoch-size: the Secondary's flushes follow the epochs.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, NODES, twoNodes } from '../fixtures.js';

const EPOCH_WRITES = 64;

export default scenario({
  title: 'application flushes and FUA writes reach the lower disk on both nodes',
  nodes: 2,
  diskSize: '128M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    for (const n of NODES) {
      const mode = (await lab.sh(n, 'cat /sys/block/vda/queue/write_cache')).trim();
      assert(mode === 'write back', `${n}: vda has a volatile write cache (queue/write_cache: ${mode})`);
    }
    await t.upSkipSync();
    await t.sh('alpha', `${t.S} primary r0`);
    const flushes = async () =>
      Promise.all(NODES.map(async (n) => Number((await lab.sh(n, "awk '{print $16}' /sys/block/vda/stat")).trim())));
    /** Runs cmd on the Primary; both lower disks must have been flushed meanwhile. */
    const flushedBoth = async (what: string, cmd: string) => {
      const before = await flushes();
      await t.sh('alpha', cmd);
      const after = await flushes();
      lab.log(`${what}: flushes alpha ${before[0]} -> ${after[0]}, bravo ${before[1]} -> ${after[1]}`);
      assert(after[0] > before[0], `${what}: the Primary's lower disk was flushed`);
      assert(after[1] > before[1], `${what}: the Secondary's lower disk was flushed`);
    };
    for (const [phase, options, ordering] of [
      ['disk-flushes and md-flushes off', '--disk-flushes=no --md-flushes=no', 'drain'],
      ['the defaults', '--disk-flushes=yes --md-flushes=yes', 'flush'],
    ]) {
      await Promise.all(
        NODES.map(async (n) => {
          // status names the method the Secondary keeps the epochs in order with
          const status = await t.sh(n, `${t.S} disk-options 1 ${options}\n${t.S} status r0 --verbose --statistics`);
          const wo = /write-ordering:(\S+)/.exec(status)?.[1];
          assert(wo === ordering, `${n}, ${phase}: write-ordering:${ordering} in status, got ${wo}`);
        }),
      );
      lab.log(`${phase}: write-ordering:${ordering} on both nodes`);
      // write the blocks once, so that their activity-log extent is active before counting
      await t.sh('alpha', 'dd if=/dev/zero of=/dev/bsr1 bs=4k count=20 seek=16384 oflag=direct status=none; sync');
      await flushedBoth(
        `${phase}, O_DSYNC direct writes`,
        'dd if=/dev/urandom of=/dev/bsr1 bs=4k count=4 seek=16384 oflag=direct,dsync status=none',
      );
      await flushedBoth(
        `${phase}, fsync of the block device (an empty flush)`,
        'dd if=/dev/urandom of=/dev/bsr1 bs=4k count=1 seek=16400 conv=fsync status=none',
      );
      await t.sh('alpha', 'mkfs.ext4 -q -F /dev/bsr1 && mkdir -p /tmp/m && mount /dev/bsr1 /tmp/m && sync');
      await flushedBoth(
        `${phase}, fsync of a file on ext4`,
        'dd if=/dev/urandom of=/tmp/m/f bs=64k count=4 conv=fsync status=none',
      );
      await t.sh('alpha', 'umount /tmp/m');
    }
    // max-epoch-size: the Primary closes an epoch (a BARRIER) after that many writes, and the
    // Secondary flushes its disk at each epoch's end; plain O_DIRECT writes close none otherwise
    // (only the 10 s keep-alive of an idle link does). 64 writes into an active AL extent.
    const epochFlushes = async (maxEpoch: number) => {
      await t.sh('alpha', `${t.S} net-options r0 1 --max-epoch-size=${maxEpoch}`);
      const before = await flushes();
      await t.sh(
        'alpha',
        `python3 -c "import mmap, os
f = os.open('/dev/bsr1', os.O_WRONLY | os.O_DIRECT)
b = mmap.mmap(-1, 4096)
for i in range(${EPOCH_WRITES}): os.pwrite(f, b, (16384 + i) * 4096)"`,
      );
      const after = await flushes();
      lab.log(`max-epoch-size ${maxEpoch}: ${EPOCH_WRITES} writes, bravo's disk flushed ${after[1] - before[1]} times`);
      return after[1] - before[1];
    };
    const small = await epochFlushes(8);
    assert(small >= EPOCH_WRITES / 8, `max-epoch-size 8: bravo flushed ${small} times for ${EPOCH_WRITES} writes`);
    const large = await epochFlushes(2048);
    assert(large <= 2, `max-epoch-size 2048: bravo flushed ${large} times for ${EPOCH_WRITES} writes`);
    await t.downAll();
  },
});
