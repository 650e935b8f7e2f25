// on-congestion pull-ahead over a slow WAN link (4 MB/s, 20 ms each way), protocol A: a writer faster
// than the link makes the Primary go Ahead and the Secondary Behind (Outdated) within seconds; its writes
// then run at local speed (compared with the same writes on the unshaped link and with the link's own
// rate); once the writer stopped, the Secondary catches up by itself (a bitmap resync) and both
// backing disks hold the same bytes.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, twoNodes } from '../fixtures.js';

const LINK = { rate: '32mbit', delay: '20ms' };
const LINK_MBPS = 4;
const MIB = 12; // written at each step, 1 MiB O_DIRECT writes

export default scenario({
  title: 'pull-ahead: Ahead/Behind on a slow link, writes at local speed, automatic catch-up',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync({ net: `--protocol=A ${FAST_NET}` });
    await t.sh('alpha', `${t.S} primary r0`);
    try {
      await steps();
    } catch (err) {
      for (const n of ['alpha', 'bravo'] as const) {
        const log = (await lab.dmesg(n)).split('\n').filter((l) => l.includes('bsr: '));
        lab.log(`${n}:\n${log.slice(-25).join('\n')}`);
      }
      throw err;
    }
    await t.downAll();

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

    async function steps() {
      // the reference: the same writes on the unshaped link, on-congestion block
      const unshaped = await timedWrite(0);
      await t.sh('alpha', `${t.S} net-options r0 1 --on-congestion=pull-ahead --congestion-fill=2M`);
      await lab.linkShape('alpha', 'bravo', LINK);
      // both nodes record their notifications (events2) from before the first write on
      await Promise.all(
        (['alpha', 'bravo'] as const).map(async (n) => {
          await t.sh(
            n,
            `nohup ${t.S} events2 r0 --json --statistics > /tmp/events.json 2>&1 & echo $! > /tmp/events.pid`,
          );
          await lab.waitFor(`${n}: events2 running`, async () =>
            /"object":"-"/.test(await t.sh(n, 'cat /tmp/events.json')),
          );
        }),
      );
      const shaped = await timedWrite(MIB);
      const seen = async (n: 'alpha' | 'bravo', want: RegExp) =>
        (await t.sh(n, 'cat /tmp/events.json')).split('\n').find((l) => want.test(l));
      const ahead = await lab.waitFor('alpha Ahead', () => seen('alpha', /"replication":"Ahead"/), 60_000, 500);
      const congested = await seen('alpha', /"congested":"yes"/);
      const behind = await lab.waitFor('bravo Behind', () => seen('bravo', /"replication":"Behind"/), 60_000, 500);
      const outdated = await seen('bravo', /"disk":"Outdated"/);
      lab.log(`alpha: ${ahead}\nalpha: ${congested}\nbravo: ${behind}\nbravo: ${outdated}`);
      assert(congested, 'alpha never reported congested:yes');
      assert(outdated, 'bravo was Behind but its disk never Outdated');
      const linkMs = 1000 / LINK_MBPS;
      lab.log(
        `write latency per 1 MiB: unshaped ${unshaped.toFixed(1)} ms, shaped with pull-ahead ${shaped.toFixed(1)} ms (the link alone: ${linkMs} ms)`,
      );
      assert(shaped < linkMs * 0.8, `writes did not outrun the link while Ahead: ${shaped.toFixed(1)} ms per MiB`);

      // the writer stopped: the Secondary catches up by itself
      await t.waitSynced(240_000);
      await Promise.all((['alpha', 'bravo'] as const).map((n) => t.exec(n, 'kill $(cat /tmp/events.pid)')));
      const [a, b] = [await t.sum('alpha', '/dev/vda', 0, 2 * MIB), await t.sum('bravo', '/dev/vda', 0, 2 * MIB)];
      lab.log(`after the catch-up: alpha ${a.slice(0, 12)} bravo ${b.slice(0, 12)}`);
      assert(a === b, 'the backing disks differ after the catch-up');
      const log = (await lab.dmesg('alpha')).split('\n').filter((l) => l.includes('bsr: '));
      assert(
        log.some((l) => /congestion-fill reached: pulling ahead/.test(l)),
        `alpha did not log why it pulled ahead:\n${log.slice(-20).join('\n')}`,
      );
      await lab.linkRestore('alpha', 'bravo');
    }
  },
});
