// csums-alg: a checksum-based resync sends only the blocks that differ. Link cut, the same
// 64 MiB written again on the Primary (out of sync, but equal), reconnect: at most 5 % of it
// travels, counted as resync data (bravo's received counter) and as bytes on the wire (all
// that alpha, the SyncSource, sends on the link meanwhile: acks and headers included), and both
// nodes show it as same-csum. Then 64 MiB rewritten of which the last 8 MiB changed: all the
// changed blocks travel, the others not, the
// backing disks end equal. (A plain resync of the same rewrite sends all of it: shown by the
// csums-after-crash-only part without a crash, on 8 MiB to keep the CI short.) An unknown
// csums-alg is refused by new-peer, naming it; different ones on the two nodes are refused in
// the handshake, both StandAlone.
import { randomBytes } from 'node:crypto';
import { type NodeName, scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, FAST_PD, NODES, twoNodes } from '../fixtures.js';

const MIB = 1024 * 1024;
const LEN = 64; // MiB rewritten while the link is cut
const CHANGED = 8; // MiB of it with new data in the second round
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

    // the same data on both backing disks from the start: nothing to replicate first
    const base = randomBytes(LEN * MIB);
    const same = lab.shareFile(base);
    const dd = (n: NodeName, file: string, dev: string) =>
      t.sh(n, `dd if=${file} of=${dev} bs=4M oflag=direct status=none`);
    await Promise.all(NODES.map((n) => dd(n, same, '/dev/vda')));
    await t.upSkipSync({ net: `${FAST_NET} --csums-alg=crc32c` });
    await t.sh('alpha', `${t.S} primary r0`);
    const writeFile = (file: string) => dd('alpha', file, '/dev/bsr1');

    /**
     * Cut, write `file` again from the start of the device (`kib` long), `whileCut`, reconnect:
     * the resync's time and bytes.
     */
    const resyncAfterRewrite = async (what: string, file: string, kib = OOS_KIB, whileCut = async () => {}) => {
      await lab.linkCut('alpha', 'bravo');
      await t.waitConnection('alpha', false);
      await writeFile(file);
      const [oos, recv0] = await Promise.all([t.stat('alpha', 'out-of-sync'), t.stat('bravo', 'received')]);
      assert(oos === kib, `${what}: ${kib} KiB out of sync (${oos} KiB)`);
      await whileCut();
      const txBytes = async () =>
        Number(await t.sh('alpha', `cat /sys/class/net/${lab.iface('alpha', 'bravo')}/statistics/tx_bytes`));
      const tx0 = await txBytes();
      await lab.linkRestore('alpha', 'bravo');
      const t0 = Date.now();
      await t.waitSynced(240_000);
      const secs = (Date.now() - t0) / 1000;
      const wireKib = Math.round(((await txBytes()) - tx0) / 1024);
      const [a, b] = await Promise.all([t.stats('alpha', ['same-csum']), t.stats('bravo', ['same-csum', 'received'])]);
      const recv = b.received - recv0;
      const sameKib: Record<string, number> = { alpha: a['same-csum'], bravo: b['same-csum'] };
      lab.log(
        `${what}: resync in ${secs.toFixed(1)} s, bravo received ${recv} KiB, alpha sent ${wireKib} KiB on the wire, same-csum alpha ${sameKib.alpha} KiB bravo ${sameKib.bravo} KiB`,
      );
      return { secs, recv, wireKib, sameKib };
    };

    /** Both nodes disconnect, take their csums-alg and connect again (one handshake, both set). */
    const reconnectWith = async (alg: Record<string, string>, more = '') => {
      await Promise.all(NODES.map((n) => t.sh(n, `${t.S} disconnect r0 ${peerId(n)}`)));
      await Promise.all(NODES.map((n) => t.sh(n, `${t.S} net-options r0 ${peerId(n)} --csums-alg=${alg[n]} ${more}`)));
      await Promise.all(NODES.map((n) => t.sh(n, `${t.S} connect r0 ${peerId(n)}`)));
    };

    const equal = await resyncAfterRewrite('identical data, csums-alg crc32c', same);
    assert(equal.recv <= OOS_KIB * 0.05, `at most 5 % of ${LEN} MiB travelled (${equal.recv} KiB)`);
    assert(equal.wireKib <= OOS_KIB * 0.05, `at most 5 % of ${LEN} MiB on the wire (${equal.wireKib} KiB)`);
    for (const n of NODES) {
      assert(equal.sameKib[n] >= OOS_KIB * 0.95, `${n} shows the equal blocks as same-csum (${equal.sameKib[n]} KiB)`);
    }
    const status = await t.status('alpha');
    assert(/same-csum:\d+/.test(status), `status -s shows same-csum:\n${status}`);

    // the changed blocks last: their data are the resync's last answers, still being written on
    // bravo while its pass ends (bravo must not ask for them again)
    const mixedData = Buffer.concat([base.subarray(0, (LEN - CHANGED) * MIB), randomBytes(CHANGED * MIB)]);
    const mixed = lab.shareFile(mixedData);
    const changed = await resyncAfterRewrite(`${CHANGED} MiB new data, csums-alg crc32c`, mixed);
    const changedKib = CHANGED * 1024;
    assert(
      changed.recv >= changedKib && changed.recv <= changedKib + OOS_KIB * 0.05,
      `the ${CHANGED} MiB changed travelled, hardly more (${changed.recv} KiB)`,
    );
    assert(changed.wireKib >= changedKib, `the ${CHANGED} MiB changed went over the wire (${changed.wireKib} KiB)`);
    for (const n of NODES) {
      const want = OOS_KIB - changedKib;
      assert(
        changed.sameKib[n] >= want * 0.95 && changed.sameKib[n] <= want,
        `${n}: the unchanged blocks are same-csum (${changed.sameKib[n]} KiB)`,
      );
    }
    assert(
      (await t.sum('alpha', '/dev/vda', 0, 120)) === (await t.sum('bravo', '/dev/vda', 0, 120)),
      'the backing disks are equal',
    );

    // Application I/O on either node throttles the resync: here the Primary is the SyncSource,
    // which does not pace a checksum-based resync (bravo, its SyncTarget, does), so alpha reports
    // its application's I/O (APP_ACTIVE). A reader alone on alpha (QD1 O_DIRECT 4 KiB) holds
    // bravo to c-min-rate 250 KiB/s (resync-throttled); stopped, the resync speeds up again.
    // alpha is Secondary when the run starts and promoted during it (the reports start then:
    // a Secondary's device does not open, so a Secondary has none).
    const thr0 = Date.now();
    // out of sync while alpha is disconnected (bravo waits in Connecting; a cut would take the
    // ping timeout to notice); bravo's events2 log has its states and resync-throttled flips
    await t.sh(
      'bravo',
      `${t.S} peer-device-options r0 0 0 --c-plan-ahead=0 --resync-rate=1536k --c-min-rate=250k
nohup ${t.S} events2 r0 --timestamps > /tmp/thr.ev 2>&1 & echo $! > /tmp/thr.pid`,
    );
    await t.sh(
      'alpha',
      `${t.S} disconnect r0 1
dd if=${same} of=/dev/bsr1 bs=4M count=4 oflag=direct status=none
${t.S} secondary r0
${t.S} connect r0 1`,
    );
    await t.sh('bravo', 'timeout 30 sh -c "until grep -q replication:SyncTarget /tmp/thr.ev; do sleep 0.1; done"');
    await t.sh(
      'alpha',
      `${t.S} primary r0
setsid sh -c 'while :; do dd if=/dev/bsr1 of=/dev/null bs=4k skip=8192 iflag=direct status=none; done' >/dev/null 2>&1 & echo $! > /tmp/rd.pid`,
    );
    /** bravo's reads of the blocks it asks about (its backing disk, which nothing else reads): guest time, KiB. */
    const probe = `echo $(date +%s.%N) $(($(awk '{print $3}' /sys/block/vda/stat) / 2))`;
    const rate = (out: string) => {
      const [t0, k0, t1, k1] = out.trim().split(/\s+/).map(Number);
      return { rate: (k1 - k0) / (t1 - t0), end: t1 };
    };
    // from 1 s after the reader started: the requests in flight before the first report are answered
    const reading = rate(await t.sh('bravo', `sleep 1; ${probe}; sleep 2.5; ${probe}`));
    await t.sh('alpha', 'kill -- -$(cat /tmp/rd.pid)'); // the loop and its dd (a process group)
    // past the hold (0.5 s): the rate the controls allow; then full speed to the end
    const idle = rate(
      await t.sh('bravo', `sleep 0.7; ${probe}; sleep 1.5; ${probe}; ${t.S} peer-device-options r0 0 0 ${FAST_PD}`),
    );
    const ev = await t.sh(
      'bravo',
      `timeout 60 sh -c "until sed -n '/replication:SyncTarget/,\\$p' /tmp/thr.ev | grep -q 'change peer-device .*replication:Established'; do sleep 0.1; done"
kill $(cat /tmp/thr.pid); cat /tmp/thr.ev`,
    );
    const flips = [...ev.matchAll(/^(\S+) (?:exists|change) peer-device .*\bresync-throttled:(yes|no)\b/gm)];
    const throttled = (at: number) => flips.filter((m) => Date.parse(m[1]) / 1000 <= at).at(-1)?.[2];
    const [heldThr, idleThr] = [throttled(reading.end), throttled(idle.end)];
    lab.log(
      `checksum-based resync with a reader on the Primary SyncSource: ${reading.rate.toFixed(0)} KiB/s, ` +
        `resync-throttled:${heldThr}; reader stopped: ${idle.rate.toFixed(0)} KiB/s, resync-throttled:${idleThr}`,
    );
    assert(heldThr === 'yes', `the SyncTarget shows resync-throttled:yes with the source's reader (${heldThr})`);
    assert(
      reading.rate > 60 && reading.rate < 600,
      `the source's reader holds the resync to about c-min-rate 250 KiB/s (${reading.rate.toFixed(0)} KiB/s)`,
    );
    assert(
      idleThr === 'no' && idle.rate > reading.rate * 2,
      `reader stopped: the resync speeds up (${idle.rate.toFixed(0)} KiB/s), resync-throttled:${idleThr}`,
    );
    lab.log(`the throttle with the source's reader took ${((Date.now() - thr0) / 1000).toFixed(1)} s`);

    // csums-after-crash-only: a plain resync, unless a node crashed as Primary. alpha's crash is
    // left in its meta data as a crash leaves it (the crashed-primary flag, bsrmeta set-gi).
    const crashOnly = `${FAST_NET} --csums-alg=crc32c --csums-after-crash-only=yes`;
    await reconnectWith({ alpha: 'crc32c', bravo: 'crc32c' }, '--csums-after-crash-only=yes');
    await t.waitConnected();
    const SMALL_KIB = 8192;
    const small = lab.shareFile(mixedData.subarray(0, SMALL_KIB * 1024));
    const noCrash = await resyncAfterRewrite('csums-after-crash-only, no crash', small, SMALL_KIB);
    assert(noCrash.recv >= SMALL_KIB && noCrash.sameKib.alpha === 0, 'without a crash: a plain resync');
    lab.log(
      `figures: identical data: csums-alg ${LEN} MiB in ${equal.secs.toFixed(1)} s, ${equal.recv} KiB sent; plain ${SMALL_KIB / 1024} MiB in ${noCrash.secs.toFixed(1)} s, ${noCrash.recv} KiB sent`,
    );
    const crashed = await resyncAfterRewrite('csums-after-crash-only, alpha crashed', small, SMALL_KIB, async () => {
      await t.sh(
        'alpha',
        `${t.S} secondary r0\n${t.S} down r0\n${t.M} --force 1 v09 /dev/vda internal set-gi :::::::1`,
      );
      await t.up('alpha', { createMd: false, net: crashOnly });
    });
    assert(
      crashed.recv <= SMALL_KIB * 0.05 && crashed.sameKib.bravo >= SMALL_KIB * 0.95,
      'after a Primary crash: checksum-based',
    );

    // no resync above broke the protocol (a late request, an answer nobody asked for)
    for (const n of NODES) {
      const bad = (await lab.dmesg(n))
        .split('\n')
        .filter((l) => /checksum resync request|reported in sync while|not requested|resync announced by/.test(l));
      assert(bad.length === 0, `${n}: checksum-based resync protocol errors:\n${bad.join('\n')}`);
    }

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
