// Protocols A and B: writes on the Primary, a clean demotion, the peer has the data.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

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
      await t.sh('alpha', `${t.S} secondary r0`);
      const peer = await t.sum('bravo', '/dev/vda', off, 32);
      lab.log(`protocol ${proto}: ${w} / ${peer}`);
      assert(w === peer, `protocol ${proto}: the peer has the data after the demotion`);
      off += 40;
    }
    await t.downAll();
  },
});
