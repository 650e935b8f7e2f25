// CRAM-HMAC: a wrong shared secret is refused (StandAlone, reported); the right one connects.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'wrong shared secret refused',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 300,
  async run(lab) {
    const t = twoNodes(lab);
    await t.up('alpha', { net: '--cram-hmac-alg=sha256 --shared-secret=right' });
    await t.up('bravo', { net: '--cram-hmac-alg=sha256 --shared-secret=wrong' });
    for (const n of ['alpha', 'bravo'] as const) {
      await lab.waitFor(
        `${n} refuses the peer`,
        async () => /authentication of the peer failed/.test(await lab.dmesg(n)),
        60_000,
        500,
      );
      await lab.waitFor(`${n} StandAlone`, async () => /connection:StandAlone/.test(await t.status(n)), 30_000, 500);
    }
    lab.log('wrong secret: both refused and StandAlone');
    await t.sh('bravo', `${t.S} net-options r0 0 --shared-secret=right && ${t.S} connect r0 0`);
    await t.sh('alpha', `${t.S} connect r0 1`);
    await t.waitConnected();
    const st = await t.status('alpha');
    assert(/connection:Connected/.test(st), 'the right secret connects');
    lab.log('right secret: connected');
    await t.downAll();
  },
});
