// Application writes during a resync are never lost: three writers of small O_DIRECT writes (512 bytes
// to 3 KiB, at odd sectors, straddling 4 KiB blocks, each sector written once) cover the Primary's device
// while `invalidate-remote` resyncs all of it to the peer. Then every 4 KiB block of both backing disks'
// data areas is compared. Both directions: alpha Primary and SyncSource, then bravo, two rounds each.

import type { NodeName } from '../../../tools/lab/scenario.js';
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_PD, ID, PEER, twoNodes } from '../fixtures.js';

const WRITERS = 3;
const ROUNDS = 2;

export default scenario({
  title: 'misaligned writes during a resync end identical on both disks',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 900,
  async run(lab) {
    const t = twoNodes(lab);
    const scripts = `${lab.repoRoot}/test/lab/scripts`;
    // c-min-rate 0: the writers run through the whole resync, which the application-I/O throttle
    // would hold to 250 KiB/s; this scenario is about the writes, not the rate
    await t.upSkipSync({ pd: FAST_PD });
    const blocks = Math.floor(Number(await t.sh('alpha', 'cat /sys/block/bsr1/size')) / 8);

    async function compare(what: string) {
      const digests = (n: NodeName) => t.sh(n, `python3 ${scripts}/block-digests.py /dev/vda 0 ${blocks}`);
      const [a, b] = (await Promise.all([digests('alpha'), digests('bravo')])).map((s) => s.trim().split('\n'));
      assert(a.length === blocks && b.length === blocks, `${what}: ${a.length} / ${b.length} digests`);
      const differ = a.flatMap((d, i) => (d === b[i] ? [] : [i]));
      lab.log(`${what}: ${blocks} blocks compared, ${differ.length} differ ${differ.slice(0, 8).join(' ')}`);
      assert(differ.length === 0, `${what}: blocks ${differ.slice(0, 8).join(', ')} differ between the disks`);
    }

    async function writesDuringResyncs(primary: NodeName) {
      const secondary = PEER[primary];
      await t.sh(primary, `${t.S} primary r0`);
      for (let round = 1; round <= ROUNDS; round++) {
        await t.sh(
          primary,
          `rm -f /tmp/stop /tmp/mw.*
for i in $(seq 1 ${WRITERS}); do
  nohup sh -c "python3 ${scripts}/misaligned-writer.py /dev/bsr1 ${round} $i ${WRITERS} 0 ${blocks * 8} /tmp/stop > /tmp/mw.$i 2>&1; echo rc=\\$? >> /tmp/mw.$i" > /dev/null 2>&1 &
done`,
        );
        await t.sh(primary, `${t.S} invalidate-remote r0 ${ID[secondary]} 0`);
        await t.waitSynced(180_000);
        await t.sh(primary, 'touch /tmp/stop');
        const out = await lab.waitFor(
          'the writers to stop',
          async () => {
            const o = await t.sh(primary, 'cat /tmp/mw.* 2>/dev/null');
            return (o.match(/rc=/g) ?? []).length === WRITERS ? o : undefined;
          },
          60_000,
          300,
        );
        lab.log(`${primary} Primary, round ${round}: writes per writer ${out.trim().replace(/\n/g, ' ')}`);
        assert(!/rc=[^0]/.test(out), `a writer failed:\n${out}`);
        await t.waitSynced(120_000);
        await compare(`${primary} Primary, round ${round}`);
      }
      await t.sh(primary, `${t.S} secondary r0`);
    }

    await writesDuringResyncs('alpha');
    await writesDuringResyncs('bravo');
    await t.downAll();
  },
});
