// A promotion while connected starts a new data generation; the one before it must stay in the
// Primary's UUID history. A Secondary that crashed before it stored the new generation comes back
// with the old one: the Primary must find it behind (a full sync), not "unrelated data" (a false
// split brain that leaves the nodes StandAlone). The crash is played by setting bravo's current UUID
// back with `bsrmeta set-gi` while it is down.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'promotion while connected keeps the old generation in the history',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 300,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync({ net: FAST_NET });
    const gi = async (n: 'alpha' | 'bravo', peer: number) =>
      (await t.sh(n, `${t.S} get-gi r0 ${peer} 0`)).trim().split(':');
    const [before] = await gi('alpha', 1);
    await t.sh('alpha', `${t.S} primary r0`);
    const after = await gi('alpha', 1);
    lab.log(`alpha before the promotion: ${before}; after: ${after.slice(0, 4).join(':')}`);
    assert(after[0] !== before, 'the promotion started a new data generation');
    assert(after.slice(2, 4).includes(before), `alpha's history keeps ${before}`);

    await t.down('bravo');
    await t.sh('bravo', `${t.M} --force 1 v09 /dev/vda internal set-gi ${before}`);
    const written = await t.write('alpha', 8, 4);
    const handshakes = async () => (await lab.dmesg('alpha')).split('\n').filter((l) => /uuids .* peer /.test(l));
    const seen = (await handshakes()).length;
    await t.up('bravo', { net: FAST_NET, createMd: false });
    const decision = await lab.waitFor(
      "alpha's handshake with the returning bravo",
      async () => (await handshakes()).slice(seen).at(-1),
      120_000,
      500,
    );
    lab.log(`alpha's handshake: ${decision.replace(/.*: uuids/, 'uuids')}`);
    assert(!/unrelated data|split brain/.test(decision), 'no false split brain');
    await t.waitSynced(120_000);
    assert(written === (await t.sum('bravo', '/dev/vda', 8, 4)), "alpha's writes reached bravo");
    assert((await t.sum('alpha', '/dev/vda', 0, 60)) === (await t.sum('bravo', '/dev/vda', 0, 60)), 'disks equal');
    await t.downAll();
  },
});
