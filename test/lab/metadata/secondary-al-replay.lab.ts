// The Secondary's replicated writes go through its own activity log. bravo is
// killed while alpha writes over 16 AL extents; after the reboot bravo's attach replays a
// non-empty activity log, the resync runs and both disks are equal.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, twoNodes } from '../fixtures.js';

const BLOCKS = 16384; // 64 MiB from 0: 16 AL extents

export default scenario({
  title: 'a crashed Secondary replays its activity log of replicated writes',
  nodes: 2,
  diskSize: '128M',
  timeoutSec: 900,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync({ net: FAST_NET });
    await t.sh('alpha', `${t.S} primary r0`);
    await t.startWriter(7, 0, BLOCKS, 16);
    // bravo has applied a few MiB of writes spread over the extents, and more are in flight
    const recv = await lab.waitFor(
      'bravo to receive 4 MiB of writes',
      async () => {
        const kib = await t.stat('bravo', 'received');
        return kib >= 4096 ? kib : undefined;
      },
      120_000,
      300,
    );
    await lab.crash('bravo');
    lab.log(`bravo crashed after receiving ${recv} KiB`);
    await t.sh('alpha', 'sleep 2');
    await t.stopWriter();

    await lab.boot('bravo');
    await t.up('bravo', { net: FAST_NET, createMd: false });
    const replay = /activity log replayed: (\d+) active extents/.exec(await lab.dmesg('bravo'));
    lab.log(`bravo's attach: ${replay ? `${replay[1]} active extents replayed` : 'no replay'}`);
    assert(replay && Number(replay[1]) > 0, "bravo's activity log held the extents of the replicated writes");
    await t.waitSynced(180_000);
    await t.sh('alpha', `${t.S} secondary r0`);
    const a = await t.sum('alpha', '/dev/vda', 0, 64);
    const b = await t.sum('bravo', '/dev/vda', 0, 64);
    lab.log(`alpha ${a.slice(0, 12)} bravo ${b.slice(0, 12)}`);
    assert(a === b, 'the written 64 MiB are equal after the resync');
    await t.downAll();
  },
});
