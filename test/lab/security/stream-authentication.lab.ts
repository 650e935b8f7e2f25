// CRAM-HMAC on both TCP streams. A wrong shared secret is refused on both nodes and retried at
// connect-int (never StandAlone: an impostor must not stop the connecting); the right one, set with
// net-options, connects without a new `connect`. A forger on alpha's address that opens a meta stream
// to bravo before the real alpha connects is challenged to prove the secret and never has its ping
// answered; the real pair then connects and replicates. The secret stays secret: an unprivileged user
// reads the state and the options without it (bsr.ko sends it only to CAP_SYS_ADMIN) and cannot
// change anything; root's `show` has it.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

const FAILED = /authentication of the peer failed/g;

export default scenario({
  title: 'CRAM-HMAC on both streams: wrong secret retried, forged meta stream challenged, secret kept',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 300,
  async run(lab) {
    const t = twoNodes(lab);
    const net = (secret: string) => `--cram-hmac-alg=sha256 --shared-secret=${secret} --connect-int=2`;
    await t.up('alpha', { net: net('Hush-4711') });
    await t.up('bravo', { net: net('wrong') });
    for (const n of ['alpha', 'bravo'] as const) {
      await lab.waitFor(
        `${n} refuses the peer twice (retrying)`,
        async () => ((await lab.dmesg(n)).match(FAILED)?.length ?? 0) >= 2,
        60_000,
        500,
      );
      const connection = await t.pdField(n, 'connection');
      lab.log(`${n}: wrong secret refused twice, connection ${connection}`);
      assert(connection !== 'StandAlone', `${n} keeps connecting after a failed authentication`);
    }
    await t.sh('bravo', `${t.S} net-options r0 0 --shared-secret=Hush-4711`);
    await t.waitConnected();
    lab.log('right secret: connected, without a new connect');

    // bravo accepts in rounds of connect-int: 20 s keep the forger's stream in place while the
    // real alpha connects right after it (a dropped forged stream is opened again at once). The
    // real pair can still win the race (the forged stream dropped, alpha's own meta stream in
    // first): then the forger is never used and the attempt is repeated, at most 3 times.
    await t.sh('bravo', `${t.S} net-options r0 0 --connect-int=20`);
    let verdict = '';
    for (let attempt = 1; attempt <= 3 && verdict !== 'CHALLENGED'; attempt++) {
      await t.sh('alpha', `${t.S} disconnect r0 1; rm -f /tmp/forger.sent`);
      await t.waitConnection('bravo', false);
      const forger = t.exec(
        'alpha',
        `python3 ${lab.repoRoot}/test/lab/scripts/meta-forger.py ${lab.address('bravo', 'alpha')} 7789 30 /tmp/forger.sent`,
      );
      await t.sh('alpha', `while [ ! -e /tmp/forger.sent ]; do sleep 0.1; done; ${t.S} connect r0 1`);
      const forged = await forger;
      const lines = forged.stdout.trim().split('\n');
      verdict = lines[1] ?? '';
      lab.log(
        `forged meta stream from alpha's address, try ${attempt}: ${verdict} (attempts: ${lines[0]}) ${forged.stderr.trim()}`,
      );
      assert(verdict !== 'USED', 'bravo took the forged meta stream for the peer');
      await t.waitConnected();
    }
    assert(verdict === 'CHALLENGED', 'a meta stream has to prove the secret before bravo uses it');
    await t.waitConnected();
    await t.sh('alpha', `${t.S} new-current-uuid --clear-bitmap 1 && ${t.S} primary r0`);
    await t.waitSynced(30_000);
    const data = await t.write('alpha', 0, 8);
    const [a, b] = await Promise.all([t.sum('alpha', '/dev/vda', 0, 8), t.sum('bravo', '/dev/vda', 0, 8)]);
    assert(a === data && b === data, 'the real pair replicates after the forger');
    await t.sh('alpha', `${t.S} secondary r0`);
    lab.log('the real pair connected and replicated 8 MiB, equal');

    const st = await t.status('alpha');
    assert(/connection:Connected/.test(st), 'the right secret connects');
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

    const refusals = {
      'an empty secret': await t.exec('alpha', `${t.S} net-options r0 1 --shared-secret=`),
      'an unknown algorithm': await t.exec('alpha', `${t.S} net-options r0 1 --cram-hmac-alg=nosuchhash`),
    };
    for (const [what, r] of Object.entries(refusals)) {
      lab.log(`net-options with ${what}: exit ${r.code}: ${(r.stdout + r.stderr).trim()}`);
      assert(r.code !== 0, `${what} with cram-hmac-alg is refused`);
    }
    assert(/needs a shared-secret/.test(refusals['an empty secret'].stderr), 'the refusal says why');
    assert(/Hush-4711/.test(await t.sh('alpha', `${t.S} show r0`)), 'a refused change changes nothing');
    await t.downAll();
  },
});
