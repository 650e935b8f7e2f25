// CRAM-HMAC: a wrong shared secret is refused (StandAlone, reported); the right one connects.
// The secret stays secret: an unprivileged user reads the state and the options without it (bsr.ko
// sends it only to CAP_SYS_ADMIN) and cannot change anything; root's `show` has it.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'wrong shared secret refused',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 300,
  async run(lab) {
    const t = twoNodes(lab);
    await t.up('alpha', { net: '--cram-hmac-alg=sha256 --shared-secret=Hush-4711' });
    await t.up('bravo', { net: '--cram-hmac-alg=sha256 --shared-secret=wrong' });
    for (const n of ['alpha', 'bravo'] as const) {
      await lab.waitFor(
        `${n} refuses the peer`,
        async () => /authentication of the peer failed/.test(await lab.dmesg(n)),
        60_000,
        500,
      );
      await t.waitState(n, 'StandAlone', (r) => r.field('connection') === 'StandAlone', 30_000);
    }
    lab.log('wrong secret: both refused and StandAlone');
    await t.sh('bravo', `${t.S} net-options r0 0 --shared-secret=Hush-4711 && ${t.S} connect r0 0`);
    await t.sh('alpha', `${t.S} connect r0 1`);
    await t.waitConnected();
    const st = await t.status('alpha');
    assert(/connection:Connected/.test(st), 'the right secret connects');
    lab.log('right secret: connected');
    const nobody = (cmd: string) => t.exec('alpha', `setpriv --reuid=65534 --regid=65534 --clear-groups ${cmd}`);
    const rootShow = await t.sh('alpha', `${t.S} show r0`);
    const user = {
      show: await nobody(`${t.S} show r0`),
      status: await nobody(`${t.S} status r0`),
      events: await nobody(`${t.S} events2 --now r0`),
      primary: await nobody(`${t.S} primary r0`),
    };
    for (const [k, r] of Object.entries(user))
      lab.log(`as nobody, ${k}: exit ${r.code}${/Hush-4711/.test(r.stdout + r.stderr) ? ', SHOWS THE SECRET' : ''}`);
    assert(/Hush-4711/.test(rootShow), "root's show has the secret");
    assert(/cram-hmac-alg/.test(user.show.stdout), 'an unprivileged show has the net options');
    for (const k of ['show', 'status', 'events'] as const) {
      assert(user[k].code === 0, `an unprivileged ${k} works`);
      assert(!/Hush-4711/.test(user[k].stdout + user[k].stderr), `an unprivileged ${k} does not see the secret`);
    }
    assert(user.primary.code !== 0, 'an unprivileged user cannot change anything');
    await t.downAll();
  },
});
