// A Secondary whose disk fails (on-io-error detach) goes Diskless and stays connected; the Primary
// keeps writing. Once the disk is healed, `attach` while connected goes through the size and UUID
// handshake and resyncs what the node missed: it never shows UpToDate with writes missing, and
// afterwards both disks hold the same data.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'attach while connected after an automatic detach resyncs what the node missed',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    await lab.disk.linear('bravo', 'bsrdisk', '/dev/vda');
    // bsrmeta finds the size through /sys/class/block, under the dm-N name
    const dev = `/dev/dm-${(await t.sh('bravo', 'dmsetup info -c --noheadings -o minor bsrdisk')).trim()}`;
    await Promise.all([t.up('alpha'), t.up('bravo', { disk: dev, attach: '--on-io-error=detach' })]);
    await t.waitConnected();
    await t.sh('alpha', `${t.S} new-current-uuid --clear-bitmap 1 && ${t.S} primary r0`);
    await t.waitSynced(30_000);
    const before = await t.write('alpha', 1, 4);

    await lab.disk.failNow('bravo', 'bsrdisk');
    const during = await t.write('alpha', 8, 4);
    await t.waitState('bravo', 'detached', (r) => r.field('disk') === 'Diskless', 30_000);
    const diskless = await t.write('alpha', 16, 4);
    assert(await t.connected('bravo'), 'bravo stays connected without its disk');
    const oos = await t.stat('alpha', 'out-of-sync');
    lab.log(`bravo Diskless and connected; alpha counts ${oos} KiB out of sync for it`);
    assert(oos >= 8192, 'the writes bravo missed are out of sync on alpha');

    await lab.disk.healNow('bravo', 'bsrdisk', '/dev/vda');
    await t.sh('bravo', `${t.S} attach 1 ${dev} ${dev} internal --on-io-error=detach`);
    await t.waitSynced(120_000);
    const state = `${await t.pdField('bravo', 'disk')} ${await t.pdField('alpha', 'replication')}`;
    lab.log(`after attach while connected: bravo ${state}`);
    for (const [off, sum] of [
      [1, before],
      [8, during],
      [16, diskless],
    ] as const) {
      assert((await t.sum('bravo', '/dev/vda', off, 4)) === sum, `bravo has what alpha wrote at ${off} MiB`);
    }
    await t.sh('alpha', `${t.S} secondary r0`);
    await t.downAll();
    await lab.disk.remove('bravo', 'bsrdisk');
  },
});
