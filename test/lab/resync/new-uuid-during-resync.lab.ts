// A new data generation is refused while a resync runs, on both ends. On the SyncSource
// `new-current-uuid --clear-bitmap` would clear the bits still to send: the resync would end "done"
// and the target UpToDate over blocks it never received. On the SyncTarget it would declare half-old
// data UpToDate. Both commands must fail saying why, the resync go on, and both disks end equal.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'new-current-uuid during a resync is refused on source and target',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 300,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync();
    await t.sh('bravo', `${t.S} disconnect r0 0`);
    await t.sh('alpha', `${t.S} primary r0`);
    const written = await t.write('alpha', 8, 16);
    // 16 MiB at 256 KiB/s: the resync still runs (64 s) while both commands are tried, even on a
    // busy host where each guest command takes seconds
    const rate = (peer: number, r: string) =>
      `${t.S} peer-device-options r0 ${peer} 0 --c-plan-ahead=0 --resync-rate=${r}`;
    await t.sh('alpha', rate(1, '256k'));
    await t.sh('bravo', `${rate(0, '256k')} && ${t.S} connect r0 0`);
    await t.waitState('bravo', 'SyncTarget', (r) => r.field('replication') === 'SyncTarget', 30_000);
    const tries = [];
    for (const n of ['bravo', 'alpha'] as const) {
      const r = await t.exec(n, `${t.S} new-current-uuid --clear-bitmap 1`);
      const disk = await t.pdField(n, 'disk');
      const repl = await t.pdField(n, 'replication');
      lab.log(
        `${n}: new-current-uuid --clear-bitmap: exit ${r.code}: ${(r.stderr || r.stdout).trim()}; now ${disk}, ${repl}`,
      );
      tries.push({ n, r, disk, repl });
    }
    await t.sh('alpha', rate(1, '1000M'));
    await t.sh('bravo', rate(0, '1000M'));
    await t.waitSynced(120_000);
    const onBravo = await t.sum('bravo', '/dev/vda', 8, 16);
    lab.log(
      `after the resync: bravo ${(await t.pdField('bravo', 'disk')) ?? '?'}, data ${onBravo === written ? 'equal' : 'DIFFERENT'}`,
    );
    for (const { n, r, disk, repl } of tries) {
      assert(r.code !== 0 && /resync/.test(r.stderr), `${n} refuses a new current UUID during the resync, saying why`);
      assert(n === 'alpha' || disk === 'Inconsistent', 'the SyncTarget stays Inconsistent');
      assert(/^(Paused)?Sync(Source|Target)$/.test(repl ?? ''), `${n} is still resyncing`);
    }
    assert(onBravo === written, "bravo holds alpha's writes after the resync");
    await t.downAll();
  },
});
