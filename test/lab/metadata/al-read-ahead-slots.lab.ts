// A write whose extent is missing from a full activity log, where the only idle slots hold the
// extents a stream reads ahead of it: it must take one of those slots, not wait for one to go
// idle. alpha alone, r4 on a dm-linear over /dev/vdb (128 extents of 4 MiB) with its meta data on
// a loop device, al-extents 67. Extents X+1..X+7 are written first (idle afterwards); with the
// data disk suspended, 60 writes hang in flight holding every other slot, X-1 among them. A write
// to X then finds X-1 active (a stream: read ahead to X+7) and no free slot: the module before
// this scenario excluded X+1..X+7 as victims and waited for "an idle slot", which they were, so
// the wait returned at once, round after round, without a transaction.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, singleNode } from '../fixtures.js';

const N = 'alpha' as const;
const AL_EXTENTS = 67;
/** the write that needs a slot: the last extent of the device is X + 7 */
const X = 120;

export default scenario({
  title: 'a write takes an AL slot of its read-ahead extents when no other slot is idle',
  nodes: 2,
  timeoutSec: 300,
  async run(lab) {
    const { sh, steps, statsObject } = singleNode(lab, N);
    const writers = `python3 ${lab.repoRoot}/test/lab/scripts/extent-writers.py`;
    const md = (
      await sh('modprobe -a loop dm-mod; truncate -s 64M /tmp/md4.img; losetup -f --show /tmp/md4.img')
    ).trim();
    const data = await lab.disk.linear(N, 'alslots', '/dev/vdb');
    await sh(
      steps([
        `bsrmeta --force 4 v09 ${md} flexible create-md --max-peers=1`,
        'bsrsetup new-resource r4 0',
        'bsrsetup new-minor r4 4 0',
        'bsrsetup new-peer r4 1 --_name=bravo',
        `bsrsetup attach 4 ${data} ${md} flexible --al-extents=${AL_EXTENTS}`,
        'bsrsetup primary r4 --force',
      ]),
    );
    const alWrites = async () => Number((await statsObject('r4', 'device')).o?.['al-writes']);

    // X+1..X+7, idle once written (their write reads ahead within them only: X is not active)
    const readAhead = [7, 6, 5, 4, 3, 2, 1].map((i) => X + i);
    await sh(`${writers} /dev/bsr4 ${readAhead.join(' ')}`);
    // 60 writes hang below bsr, each holding its extent's slot: X-1 and the even extents 0..116
    // (the extent before each is never active, so none reads ahead)
    const hung = [X - 1, ...Array.from({ length: 59 }, (_, i) => 116 - 2 * i)];
    assert(hung.length + readAhead.length === AL_EXTENTS, 'every slot is taken');
    const before = await alWrites();
    await sh(`dmsetup suspend alslots
nohup ${writers} /dev/bsr4 ${hung.join(' ')} > /tmp/hung.out 2>&1 &`);
    try {
      await lab.waitFor(
        `an AL transaction for each of the ${hung.length} hanging writes`,
        async () => (await alWrites()) >= before + hung.length,
        60_000,
        500,
      );
      await sh(`nohup ${writers} /dev/bsr4 ${X} > /tmp/x.out 2>&1 &`);
      const t0 = Date.now();
      let last = before + hung.length;
      const got = await lab
        .waitFor(
          'the transaction',
          async () => {
            last = await alWrites();
            return last > before + hung.length;
          },
          20_000,
          500,
        )
        .then(
          () => true,
          () => false,
        );
      lab.log(
        `al-writes ${before} before the hanging writes, ${before + hung.length} with them, ${last} ` +
          `${((Date.now() - t0) / 1000).toFixed(1)} s after the write to extent ${X}`,
      );
      assert(
        got,
        `the write to extent ${X} took a slot of its idle read-ahead extents ${X + 1}..${X + 7} ` +
          `(no AL transaction in 20 s: al-writes ${last})`,
      );
    } finally {
      await sh('dmsetup resume alslots');
    }
    const done = (f: string) =>
      lab.waitFor(
        `the writers' result in ${f}`,
        async () => /"written"/.test(await sh(`cat ${f} 2>/dev/null || true`)) && sh(`cat ${f}`),
        60_000,
        500,
      );
    const results = [await done('/tmp/hung.out'), await done('/tmp/x.out')].map(
      (o) => JSON.parse(o) as { written: number; failed: unknown[] },
    );
    assert(
      results[0].written === hung.length && results[1].written === 1,
      `every write completed once the disk was back: ${JSON.stringify(results)}`,
    );
    const check = JSON.parse(await sh(`${writers} --check /dev/bsr4 ${[...hung, X, ...readAhead].join(' ')}`)) as {
      checked: number;
      wrong: number[];
    };
    assert(check.wrong.length === 0, `the blocks read back as written (wrong in extents ${check.wrong.join(' ')})`);
    lab.log(`${check.checked} extents read back as written`);
    await sh(`${steps(['bsrsetup secondary r4', 'bsrsetup down r4'])}
dmsetup remove alslots
losetup -d ${md}`);
  },
});
