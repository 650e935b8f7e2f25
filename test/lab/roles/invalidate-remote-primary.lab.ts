// The peer cannot make a Primary a SyncTarget: invalidate-remote run on the Secondary toward the
// Primary is refused with a message naming the reason, and nothing changes: both stay UpToDate
// and Established, no resync starts, the Primary's data is untouched. Nor is a SyncTarget made
// Primary, not even with --force while its source is Secondary: it would serve blocks not resynced yet.
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

    // bravo resyncs slowly from the Secondary alpha: `primary --force` on bravo is refused
    const rate = (r: string) => `${t.S} peer-device-options r0 ${r} 0 --c-plan-ahead=0 --resync-rate=`;
    await t.sh('alpha', `${rate('1')}1M`);
    await t.sh('bravo', `${rate('0')}1M && ${t.S} invalidate 1`);
    await t.waitState('bravo', 'SyncTarget', (r) => r.field('replication') === 'SyncTarget', 30_000);
    const f = await t.exec('bravo', `${t.S} primary --force r0`);
    const role = (await t.sh('bravo', `${t.S} role r0`)).trim();
    lab.log(`primary --force on the SyncTarget: exit ${f.code}: ${(f.stderr || f.stdout).trim()}; bravo is ${role}`);
    assert(f.code !== 0 && /resync/.test(f.stderr), 'primary --force on a SyncTarget is refused, saying why');
    assert(role === 'Secondary', 'bravo stays Secondary');
    await t.sh('alpha', `${rate('1')}1000M`);
    await t.sh('bravo', `${rate('0')}1000M`);
    await t.waitSynced(120_000);
    assert((await t.sum('bravo', '/dev/vda', 8, 4)) === w, 'bravo has the data after its resync');
    await t.downAll();
  },
});
