// verify --auto-sync: the blocks found (64 KiB corrupted on the Secondary's disk behind bsr's back)
// are resynced from the verify source right after the run, no reconnect; the data are equal.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'verify --auto-sync resyncs the blocks found right after the run',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 300,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync({ net: `${FAST_NET} --verify-alg=md5` });
    await t.sh('alpha', `${t.S} primary r0`);
    await t.write('alpha', 0, 4);
    await t.sh(
      'bravo',
      'dd if=/dev/urandom of=/dev/vda bs=4096 seek=300 count=16 oflag=direct conv=notrunc status=none',
    );
    const recv0 = await t.stat('bravo', 'received');
    await t.sh('alpha', `${t.S} verify r0 1 0 --auto-sync`);
    await lab.waitFor('bravo to be resynced', async () => (await lab.dmesg('bravo')).includes('resync done, UpToDate'));
    await t.waitSynced(60_000);
    const log = (await lab.dmesg('alpha')).split('\n').filter((l) => /online verify|auto-sync|resync/.test(l));
    lab.log(log.join('\n'));
    assert(
      log.some((l) => l.includes('64 KiB out of sync in 1 ranges')),
      'the verify found the 64 KiB',
    );
    assert(
      log.some((l) => l.includes('auto-sync of the 64 KiB found')),
      'auto-sync started',
    );
    const recv = (await t.stat('bravo', 'received')) - recv0;
    assert(recv === 64, `the resync moved exactly the 64 KiB found (${recv} KiB)`);
    assert((await t.blocksSum('alpha', 0, 2048)) === (await t.blocksSum('bravo', 0, 2048)), 'data equal');
    await t.downAll();
  },
});
