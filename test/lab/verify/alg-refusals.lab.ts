// verify-alg: a name the kernel's crypto API does not know is refused by net-options with a
// message naming it; two nodes with different verify-algs refuse each other in the handshake
// (both StandAlone, the kernel log naming both algorithms).
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, NODES, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'an unknown or mismatched verify-alg is refused',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 300,
  async run(lab) {
    const t = twoNodes(lab);
    const alg = { alpha: 'crc32c', bravo: 'sha256' };
    await Promise.all(
      NODES.map((n) => t.up(n, { net: `--verify-alg=${alg[n as 'alpha' | 'bravo']}`, connect: false })),
    );

    const bad = await t.exec('alpha', `cd ${lab.repoRoot} && ${t.S} net-options r0 1 --verify-alg=nosuchalg`);
    lab.log(`net-options --verify-alg=nosuchalg: exit ${bad.code}: ${bad.stderr.trim()}`);
    assert(bad.code !== 0 && bad.stderr.includes('verify-alg nosuchalg'), 'the unknown algorithm is refused, named');
    const show = await t.sh('alpha', `${t.S} show r0`);
    assert(show.includes('verify-alg') && show.includes('crc32c') && !show.includes('nosuchalg'), 'the old one stays');

    await Promise.all(NODES.map((n) => t.sh(n, `${t.S} connect r0 ${n === 'alpha' ? 1 : 0}`)));
    for (const n of NODES) {
      const other = n === 'alpha' ? 'bravo' : 'alpha';
      const line = `verify-alg differs: this node's "${alg[n as 'alpha' | 'bravo']}", the peer's "${alg[other]}"`;
      await lab.waitFor(`${n} to refuse the peer's verify-alg`, async () => (await lab.dmesg(n)).includes(line));
    }
    for (const n of NODES) {
      const c = await t.pdField(n, 'connection');
      assert(c === 'StandAlone', `${n}: the connection is StandAlone (${c})`);
    }
    await t.downAll();
  },
});
