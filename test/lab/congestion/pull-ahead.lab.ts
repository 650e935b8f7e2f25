// on-congestion pull-ahead over a slow WAN link (4 MB/s, 20 ms each way), protocol A: a writer faster
// than the link makes the Primary go Ahead and the Secondary Behind (Outdated) within seconds; its writes
// then run at local speed (compared with the same writes on the unshaped link and with the link's own
// rate); once the writer stopped, the Secondary catches up by itself (a bitmap resync) and both
// backing disks hold the same bytes.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, twoNodes } from '../fixtures.js';

const LINK = { rate: '32mbit', delay: '20ms' };
const LINK_MBPS = 4;
const MIB = 16; // written at each step, 1 MiB O_DIRECT writes

export default scenario({
  title: 'pull-ahead: Ahead/Behind on a slow link, writes at local speed, automatic catch-up',
  nodes: 2,
  diskSize: '96M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync({ net: `--protocol=A --on-congestion=pull-ahead --congestion-fill=2M ${FAST_NET}` });
    await t.sh('alpha', `${t.S} primary r0`);

    /** Writes MIB MiB of fresh data at off MiB in 1 MiB O_DIRECT writes; returns ms per write. */
    async function timedWrite(off: number): Promise<number> {
      const out = await t.sh(
        'alpha',
        `head -c ${MIB}M /dev/urandom > /tmp/data
s=$(date +%s%N)
dd if=/tmp/data of=/dev/bsr1 bs=1M seek=${off} oflag=direct status=none
e=$(date +%s%N)
echo $(( (e - s) / 1000000 ))`,
      );
      return Number(out.trim()) / MIB;
    }

    const unshaped = await timedWrite(0);
    const afterUnshaped = await t.pdField('alpha', 'replication');
    assert(afterUnshaped === 'Established', `the unshaped link congested: alpha is ${afterUnshaped}`);

    await lab.linkShape('alpha', 'bravo', LINK);
    const ahead = t.waitState('alpha', 'Ahead and congested', (r) =>
      r.field('replication') === 'Ahead' ? (r.field('congested') ?? '?') : undefined,
    );
    const behind = t.waitState('bravo', 'Behind and Outdated', (r) =>
      r.field('replication') === 'Behind' && r.field('disk') === 'Outdated' ? true : undefined,
    );
    const started = Date.now();
    const shaped = await timedWrite(MIB);
    const congested = await ahead;
    await behind;
    lab.log(`Ahead/Behind within ${((Date.now() - started) / 1000).toFixed(1)} s of the first write`);
    assert(congested === 'yes', `alpha is Ahead but congested is ${congested}`);
    const linkMs = 1000 / LINK_MBPS;
    lab.log(
      `write latency per 1 MiB: unshaped ${unshaped.toFixed(1)} ms, shaped with pull-ahead ${shaped.toFixed(1)} ms (the link alone: ${linkMs} ms)`,
    );
    assert(shaped < linkMs / 2, `writes did not run at local speed while Ahead: ${shaped.toFixed(1)} ms per MiB`);

    // the writer stopped: the Secondary catches up by itself
    await t.waitSynced(240_000);
    const [a, b] = [await t.sum('alpha', '/dev/vda', 0, 2 * MIB), await t.sum('bravo', '/dev/vda', 0, 2 * MIB)];
    lab.log(`after the catch-up: alpha ${a.slice(0, 12)} bravo ${b.slice(0, 12)}`);
    assert(a === b, 'the backing disks differ after the catch-up');
    const log = (await lab.dmesg('alpha')).split('\n').filter((l) => l.includes('bsr: '));
    assert(
      log.some((l) => /congestion-fill reached: pulling ahead/.test(l)),
      `alpha did not log why it pulled ahead:\n${log.slice(-20).join('\n')}`,
    );
    await lab.linkRestore('alpha', 'bravo');
    await t.downAll();
  },
});
