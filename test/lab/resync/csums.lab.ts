// csums-alg: a checksum-based resync sends only the blocks that differ. Link cut, the same
// 64 MiB written again on the Primary (out of sync, but equal), reconnect: at most 5 % of it
// travels as resync data (bravo's received counter) and both nodes show it as same-csum. Then
// 64 MiB of new data: all of it travels, the backing disks end equal. For the figures, the
// same identical rewrite without csums-alg. An unknown csums-alg is refused by new-peer, naming
// it; different ones on the two nodes are refused in the handshake, both StandAlone.
import { randomBytes } from 'node:crypto';
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, NODES, twoNodes } from '../fixtures.js';

const MIB = 1024 * 1024;
const LEN = 64; // MiB rewritten while the link is cut
const OOS_KIB = LEN * 1024;

export default scenario({
  title: 'csums-alg: a resync of equal blocks sends no data',
  nodes: 2,
  diskSize: '128M',
  timeoutSec: 600,
  async run(lab) {
    const t = twoNodes(lab);
    const peerId = (n: string) => (n === 'alpha' ? 1 : 0);

    const unknown = await t.exec(
      'alpha',
      `cd ${lab.repoRoot} && ${t.S} new-resource r9 0 && ${t.S} new-peer r9 1 --_name=bravo --csums-alg=nosuchalg; rc=$?; ${t.S} down r9; exit $rc`,
    );
    lab.log(`new-peer --csums-alg=nosuchalg: exit ${unknown.code}: ${unknown.stderr.trim()}`);
    assert(
      unknown.code !== 0 && unknown.stderr.includes('csums-alg nosuchalg: not a hash algorithm'),
      'new-peer refuses the unknown csums-alg, naming it',
    );

    await t.upSkipSync({ net: `${FAST_NET} --csums-alg=crc32c` });
    await t.sh('alpha', `${t.S} primary r0`);
    const same = lab.shareFile(randomBytes(LEN * MIB));
    const writeFile = (file: string) => t.sh('alpha', `dd if=${file} of=/dev/bsr1 bs=4M oflag=direct status=none`);
    await writeFile(same);

    /** Cut, write `file` again over the first 64 MiB, reconnect: the resync's time and bytes. */
    const resyncAfterRewrite = async (what: string, file: string) => {
      await lab.linkCut('alpha', 'bravo');
      await t.waitConnection('alpha', false);
      await writeFile(file);
      const oos = await t.stat('alpha', 'out-of-sync');
      assert(oos === OOS_KIB, `${what}: ${LEN} MiB out of sync (${oos} KiB)`);
      const recv0 = await t.stat('bravo', 'received');
      await lab.linkRestore('alpha', 'bravo');
      const t0 = Date.now();
      await t.waitSynced(240_000);
      const secs = (Date.now() - t0) / 1000;
      const recv = (await t.stat('bravo', 'received')) - recv0;
      const sameKib = { alpha: await t.stat('alpha', 'same-csum'), bravo: await t.stat('bravo', 'same-csum') };
      lab.log(
        `${what}: resync in ${secs.toFixed(1)} s, bravo received ${recv} KiB, same-csum alpha ${sameKib.alpha} KiB bravo ${sameKib.bravo} KiB`,
      );
      return { secs, recv, sameKib };
    };

    /** Both nodes disconnect, take their csums-alg and connect again (one handshake, both set). */
    const reconnectWith = async (alg: Record<string, string>) => {
      await Promise.all(NODES.map((n) => t.sh(n, `${t.S} disconnect r0 ${peerId(n)}`)));
      await Promise.all(NODES.map((n) => t.sh(n, `${t.S} net-options r0 ${peerId(n)} --csums-alg=${alg[n]}`)));
      await Promise.all(NODES.map((n) => t.sh(n, `${t.S} connect r0 ${peerId(n)}`)));
    };

    const equal = await resyncAfterRewrite('identical data, csums-alg crc32c', same);
    assert(equal.recv <= OOS_KIB * 0.05, `at most 5 % of ${LEN} MiB travelled (${equal.recv} KiB)`);
    for (const n of NODES) {
      assert(equal.sameKib[n] >= OOS_KIB * 0.95, `${n} shows the equal blocks as same-csum (${equal.sameKib[n]} KiB)`);
    }
    const status = await t.status('alpha');
    assert(/same-csum:\d+/.test(status), `status -s shows same-csum:\n${status}`);

    const changed = await resyncAfterRewrite('new data, csums-alg crc32c', lab.shareFile(randomBytes(LEN * MIB)));
    assert(changed.recv >= OOS_KIB, `all ${LEN} MiB travelled (${changed.recv} KiB)`);
    assert(changed.sameKib.bravo < 1024, `hardly any block was equal (${changed.sameKib.bravo} KiB)`);
    assert(
      (await t.sum('alpha', '/dev/vda', 0, 120)) === (await t.sum('bravo', '/dev/vda', 0, 120)),
      'the backing disks are equal',
    );

    // the figures' other side: the same identical rewrite, csums-alg off on both
    await reconnectWith({ alpha: '', bravo: '' });
    await t.waitConnected();
    await t.waitSynced(60_000);
    const plain = await resyncAfterRewrite('identical data, no csums-alg', same);
    assert(plain.recv >= OOS_KIB, `without csums-alg all ${LEN} MiB travelled (${plain.recv} KiB)`);
    lab.log(
      `figures: identical ${LEN} MiB: csums-alg crc32c ${equal.secs.toFixed(1)} s, ${equal.recv} KiB; none ${plain.secs.toFixed(1)} s, ${plain.recv} KiB`,
    );

    // different csums-alg on the two nodes: refused at the handshake, on both
    await reconnectWith({ alpha: 'crc32c', bravo: 'sha256' });
    const mine: Record<string, string> = { alpha: 'crc32c', bravo: 'sha256' };
    for (const n of NODES) {
      const other = n === 'alpha' ? 'bravo' : 'alpha';
      const line = `csums-alg differs: this node's "${mine[n]}", the peer's "${mine[other]}"`;
      await lab.waitFor(`${n} to refuse the peer's csums-alg`, async () => (await lab.dmesg(n)).includes(line), 60_000);
      await lab.waitFor(`${n} StandAlone`, async () => (await t.pdField(n, 'connection')) === 'StandAlone', 30_000);
    }
    await t.downAll();
  },
});
