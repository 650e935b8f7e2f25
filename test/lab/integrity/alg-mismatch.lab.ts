// data-integrity-alg and verify-alg: a name the kernel's crypto API does not know is refused by
// new-peer and net-options with a message naming it; two nodes with different algorithms (or one
// without) refuse each other in the handshake, both StandAlone with the kernel log naming both.
// With the same algorithms they connect and replicate equal data.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, NODES, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'an unknown or mismatched data-integrity-alg or verify-alg is refused',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 300,
  async run(lab) {
    const t = twoNodes(lab);
    const peerId = (n: string) => (n === 'alpha' ? 1 : 0);

    const unknown = await t.exec(
      'alpha',
      `cd ${lab.repoRoot} && ${t.S} new-resource r9 0 && ${t.S} new-peer r9 1 --_name=bravo --data-integrity-alg=nosuchalg; rc=$?; ${t.S} down r9; exit $rc`,
    );
    lab.log(`new-peer --data-integrity-alg=nosuchalg: exit ${unknown.code}: ${unknown.stderr.trim()}`);
    assert(
      unknown.code !== 0 && unknown.stderr.includes('data-integrity-alg nosuchalg: not a hash algorithm'),
      'new-peer refuses the unknown algorithm, naming it',
    );

    const alg: Record<string, string> = { alpha: 'crc32c', bravo: 'sha256' };
    await Promise.all(NODES.map((n) => t.up(n, { net: `--data-integrity-alg=${alg[n]}`, connect: false })));
    const bad = await t.exec('alpha', `cd ${lab.repoRoot} && ${t.S} net-options r0 1 --data-integrity-alg=nosuchalg`);
    lab.log(`net-options --data-integrity-alg=nosuchalg: exit ${bad.code}: ${bad.stderr.trim()}`);
    assert(bad.code !== 0 && bad.stderr.includes('data-integrity-alg nosuchalg'), 'net-options refuses it, named');
    const badVerify = await t.exec('alpha', `cd ${lab.repoRoot} && ${t.S} net-options r0 1 --verify-alg=nosuchalg`);
    lab.log(`net-options --verify-alg=nosuchalg: exit ${badVerify.code}: ${badVerify.stderr.trim()}`);
    assert(badVerify.code !== 0 && badVerify.stderr.includes('verify-alg nosuchalg'), 'the unknown verify-alg too');
    const show = await t.sh('alpha', `${t.S} show r0`);
    assert(
      show.includes('data-integrity-alg') && show.includes('crc32c') && !show.includes('nosuchalg'),
      'the old one stays',
    );

    // different algorithms, then one node without any: refused at the handshake, on both
    const refused = async (mine: Record<string, string>, option = 'data-integrity-alg') => {
      await Promise.all(NODES.map((n) => t.sh(n, `${t.S} connect r0 ${peerId(n)}`)));
      for (const n of NODES) {
        const other = n === 'alpha' ? 'bravo' : 'alpha';
        const line = `${option} differs: this node's "${mine[n]}", the peer's "${mine[other]}"`;
        await lab.waitFor(`${n} to refuse the peer's ${option}`, async () => (await lab.dmesg(n)).includes(line));
      }
      for (const n of NODES) {
        await lab.waitFor(`${n} StandAlone`, async () => (await t.pdField(n, 'connection')) === 'StandAlone', 30_000);
      }
    };
    await refused(alg);
    await t.sh('bravo', `${t.S} net-options r0 0 --data-integrity-alg=`);
    await refused({ alpha: 'crc32c', bravo: '' });
    // the same data-integrity-alg, different verify-algs
    await t.sh('alpha', `${t.S} net-options r0 1 --verify-alg=crc32c`);
    await t.sh('bravo', `${t.S} net-options r0 0 --data-integrity-alg=crc32c --verify-alg=sha256`);
    await refused({ alpha: 'crc32c', bravo: 'sha256' }, 'verify-alg');

    // the same algorithms: connected, replicating, equal
    await t.sh('bravo', `${t.S} net-options r0 0 --verify-alg=crc32c`);
    await Promise.all(NODES.map((n) => t.sh(n, `${t.S} connect r0 ${peerId(n)}`)));
    await t.waitConnected();
    await t.sh('alpha', `${t.S} new-current-uuid --clear-bitmap 1\n${t.S} primary r0`);
    const sum = await t.write('alpha', 0, 8);
    await t.waitSynced(60_000);
    const sb = await t.sum('bravo', '/dev/vda', 0, 8);
    assert(sb === sum, 'bravo has what alpha wrote');
    await t.downAll();
  },
});
