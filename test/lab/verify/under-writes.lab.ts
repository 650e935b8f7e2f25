// Online verify while the Primary's application rewrites blocks over and over (O_DIRECT writer
// in the verified range): no write makes a false positive, verify ends, nothing out of sync.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'online verify under application writes finds nothing',
  nodes: 2,
  diskSize: '128M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    // 8 MiB/s: the verify takes about 15 s, the writer runs through all of it
    await t.upSkipSync({ net: `${FAST_NET} --verify-alg=crc32c`, pd: '--c-plan-ahead=0 --resync-rate=8M' });
    await t.sh('alpha', `${t.S} primary r0`);
    await t.startWriter(1, 0, 8192, 8);
    await t.sh('alpha', `${t.S} verify r0 1 0 && ${t.S} wait-sync-volume r0 1 0 --wait-timeout=200`);
    await t.stopWriter();
    const done = (await lab.dmesg('alpha')).split('\n').filter((l) => l.includes('online verify done'));
    lab.log(done.join('\n'));
    assert(done.length === 1 && done[0].includes(': 0 KiB out of sync in 0 ranges'), 'no false positive');
    assert((await t.stat('alpha', 'out-of-sync')) === 0, 'nothing out of sync on alpha');
    assert(
      (await t.blocksSum('alpha', 0, 8192)) === (await t.blocksSum('bravo', 0, 8192)),
      'the written blocks are equal',
    );
    await t.downAll();
  },
});
