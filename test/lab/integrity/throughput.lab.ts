// The cost of data-integrity-alg crc32c: 16 MiB of 1 MiB O_DIRECT writes through protocol C, with
// and without it, in slots A-B-B-A of one run (a drift of the host's speed cancels in the means).
// The figures are logged; the data must be equal on both nodes after every slot. A benchmark: npm
// test leaves it out; `npm run lab -- test integrity/throughput` runs it.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, NODES, twoNodes } from '../fixtures.js';

const MIB = 16;

export default scenario({
  title: 'protocol C write throughput with and without data-integrity-alg crc32c',
  nodes: 2,
  diskSize: '256M',
  timeoutSec: 900,
  benchmark: true,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync();
    await t.sh('alpha', `${t.S} primary r0\nhead -c ${MIB}M /dev/urandom > /tmp/src`);
    const src = (await t.sh('alpha', 'sha256sum /tmp/src')).split(' ')[0];
    const peerId = (n: string) => (n === 'alpha' ? 1 : 0);
    let current = '';
    const setAlg = async (alg: string) => {
      if (alg === current) return;
      await Promise.all(NODES.map((n) => t.sh(n, `${t.S} disconnect r0 ${peerId(n)}`)));
      await Promise.all(
        NODES.map((n) =>
          t.sh(n, `${t.S} net-options r0 ${peerId(n)} --data-integrity-alg=${alg}\n${t.S} connect r0 ${peerId(n)}`),
        ),
      );
      await t.waitSynced(60_000);
      current = alg;
    };
    const results: Record<string, number[]> = { none: [], crc32c: [] };
    for (const alg of ['', 'crc32c', 'crc32c', '']) {
      await setAlg(alg);
      const ms = Number(
        await t.sh(
          'alpha',
          `s=$(date +%s%N); dd if=/tmp/src of=/dev/bsr1 bs=1M oflag=direct status=none; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))`,
        ),
      );
      const mbs = (MIB * 1.048576) / (ms / 1000);
      results[alg || 'none'].push(mbs);
      lab.log(`data-integrity-alg ${alg || '(none)'}: ${MIB} MiB in ${ms} ms, ${mbs.toFixed(1)} MB/s`);
      await t.waitSynced(60_000);
      const sb = await t.sum('bravo', '/dev/vda', 0, MIB);
      assert(sb === src, `bravo's data differ after the ${alg || 'plain'} slot`);
    }
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    lab.log(
      `protocol C, ${MIB} MiB O_DIRECT 1 MiB writes: without ${mean(results.none).toFixed(1)} MB/s (${results.none.map((v) => v.toFixed(1)).join(', ')}), crc32c ${mean(results.crc32c).toFixed(1)} MB/s (${results.crc32c.map((v) => v.toFixed(1)).join(', ')})`,
    );
    const errors = Number((await t.pdField('bravo', 'integrity-errors')) ?? 'NaN');
    assert(errors === 0, `integrity-errors ${errors} on a clean link`);
    await t.downAll();
  },
});
