// Link cut, 64 MiB written on the Primary, link restored: the resync moves about
// 64 MiB (not the whole disk) and the data match.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'resync after a link cut moves only the blocks written meanwhile',
  nodes: 2,
  diskSize: '256M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync({ net: FAST_NET });
    await t.sh('alpha', `${t.S} primary r0`);
    const before = await t.write('alpha', 0, 8);
    assert(before === (await t.sum('bravo', '/dev/vda', 0, 8)), 'replicated before the cut');
    const recv0 = await t.stat('bravo', 'received');
    await lab.linkCut('alpha', 'bravo');
    await t.waitConnection('alpha', false);
    const w = await t.write('alpha', 100, 64);
    const oos = await t.stat('alpha', 'out-of-sync');
    lab.log(`out-of-sync on alpha while cut: ${oos} KiB`);
    assert(oos === 65536, `64 MiB out of sync (${oos} KiB)`);
    await lab.linkRestore('alpha', 'bravo');
    const t0 = Date.now();
    await t.waitSynced(240_000);
    const recv = (await t.stat('bravo', 'received')) - recv0;
    lab.log(`resync done in ${((Date.now() - t0) / 1000).toFixed(1)} s; bravo received ${recv} KiB`);
    assert(recv >= 65536 && recv < 65536 + 8192, `the resync moved about 64 MiB (${recv} KiB)`);
    assert(w === (await t.sum('bravo', '/dev/vda', 100, 64)), 'the written 64 MiB match on bravo');
    assert(
      (await t.sum('alpha', '/dev/vda', 0, 200)) === (await t.sum('bravo', '/dev/vda', 0, 200)),
      'first 200 MiB equal',
    );
    await t.downAll();
  },
});
