// Protocols A and B: writes on the Primary, a clean demotion, the peer has the data. Write-after-write
// order holds on the Secondary's disk although the Primary completes a write before the peer has it:
// four processes overwrite the same 16 blocks with O_DIRECT writes of distinct patterns, and after the
// demotion both disks hold the same bytes there (the Primary parks a write overlapping an earlier one
// until that one is done with the peer, and the Secondary submits a peer write overlapping one still in
// flight only after it).
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

const BLOCKS = 16;
const WRITES = 250; // per writer

export default scenario({
  title: 'protocols A and B, data correct after a clean demotion',
  nodes: 2,
  diskSize: '128M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync({ net: '--protocol=A' });
    let off = 0;
    for (const proto of ['A', 'B']) {
      if (proto === 'B') await t.setProtocol('B');
      await t.sh('alpha', `${t.S} primary r0`);
      const w = await t.write('alpha', off, 32);
      const first = (off + 36) * 256; // 4 KiB blocks in the gap after this round's data
      const counts = await t.overlappingWriters(first, BLOCKS, WRITES);
      await t.sh('alpha', `${t.S} secondary r0`);
      const peer = await t.sum('bravo', '/dev/vda', off, 32);
      const [a, b] = [await t.blocksSum('alpha', first, BLOCKS), await t.blocksSum('bravo', first, BLOCKS)];
      lab.log(
        `protocol ${proto}: ${w.slice(0, 12)} / ${peer.slice(0, 12)}; overlapping writes ${counts.join('+')}: alpha ${a.slice(0, 12)} bravo ${b.slice(0, 12)}`,
      );
      assert(w === peer, `protocol ${proto}: the peer has the data after the demotion`);
      assert(a === b, `protocol ${proto}: overlapping writes ended differently on the two disks`);
      off += 40;
    }
    await t.downAll();
  },
});
