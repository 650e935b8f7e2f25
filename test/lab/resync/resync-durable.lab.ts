// A resync is declared done only after the SyncTarget's data is durable. The resync writes reach the
// lower disk without a flush; before the target stores "UpToDate" and its cleared bitmap it must
// flush the data disk, or a power loss right after could leave UpToDate meta data over data still in
// the disk's volatile cache. With external meta data (on /dev/vdb) the meta-data flushes do not cover
// the data disk, so the data disk's own flush counter (/sys/block/vda/stat, 16th field) must rise on
// bravo between the reconnect and the end of the resync; nothing else writes to bravo meanwhile.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'the SyncTarget flushes its data disk before it is UpToDate',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 300,
  async run(lab) {
    const t = twoNodes(lab);
    const opts = { net: FAST_NET, meta: { dev: '/dev/vdb', idx: 'flexible' } };
    await t.upSkipSync(opts);
    await t.sh('bravo', `${t.S} disconnect r0 0`);
    await t.sh('alpha', `${t.S} primary r0`);
    const written = await t.write('alpha', 8, 8);
    const flushes = async () => Number((await lab.sh('bravo', "awk '{print $16}' /sys/block/vda/stat")).trim());
    const before = await flushes();
    await t.sh('bravo', `${t.S} connect r0 0`);
    await t.waitSynced(120_000);
    const after = await flushes();
    lab.log(`bravo's data disk: ${after - before} flushes from the reconnect to UpToDate (8 MiB resynced)`);
    assert(after > before, 'bravo flushed its data disk before it became UpToDate');
    assert(written === (await t.sum('bravo', '/dev/vda', 8, 8)), "alpha's writes reached bravo");
    await t.downAll();
  },
});
