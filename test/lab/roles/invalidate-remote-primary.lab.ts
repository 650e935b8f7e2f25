// The peer cannot make a Primary a SyncTarget: invalidate-remote run on the Secondary toward the
// Primary is refused with a message naming the reason, and nothing changes: both stay UpToDate
// and Established, no resync starts, the Primary's data is untouched.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'invalidate-remote toward a Primary is refused, its data stays in place',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 300,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync();
    await t.sh('alpha', `${t.S} primary r0`);
    const w = await t.write('alpha', 8, 4);
    const r = await t.exec('bravo', `${t.S} invalidate-remote r0 0 0`);
    lab.log(`invalidate-remote on bravo: exit ${r.code}: ${(r.stderr || r.stdout).trim()}`);
    assert(r.code !== 0, 'invalidate-remote toward the Primary is refused');
    assert(/Primary/.test(r.stderr), 'the refusal says why');
    await new Promise((res) => setTimeout(res, 3000));
    for (const n of ['alpha', 'bravo'] as const) {
      const repl = await t.pdField(n, 'replication');
      const disk = await t.pdField(n, 'disk');
      lab.log(`${n}: replication ${repl}, disk ${disk}`);
      assert(repl === 'Established' && disk === 'UpToDate', `${n} stays Established and UpToDate`);
    }
    assert((await t.sum('alpha', '/dev/bsr1', 8, 4)) === w, "the Primary's data is unchanged");
    await t.sh('alpha', `${t.S} secondary r0`);
    await t.downAll();
  },
});
