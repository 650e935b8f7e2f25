// Net options whose effect shows only on the sockets, on the wire or when a peer stalls:
// - sndbuf-size / rcvbuf-size: every socket of the connection, on both nodes, has exactly those
//   buffers (ss -tm: tb and rb);
// - ko-count: bravo's disk hangs (its dm table suspended) while bravo still answers pings: alpha
//   drops bravo after timeout x ko-count and its protocol C write completes, then resyncs it.
//   bravo pings every second, alpha every 5 s: bravo's pings keep alpha's meta socket busy, so
//   alpha must watch the deadline itself, not only when its link falls idle;
// - use-rle: the bitmap sent on reconnect is run-length encoded with yes (the default) and plain
//   with no (the kernel log's "bitmap sent ... (N compressed)");
// - max-buffers: bravo's disk writes late while alpha writes back many separate 4 KiB blocks at
//   once (protocol C, all in flight). bravo's unacked (the writes it received and has not
//   answered, one page each) stays within max-buffers 32, set on the live connection, and goes
//   far above it at the default. The SyncSource of a full sync, bravo's disk hanging, keeps its
//   resync data in flight within max-buffers pages too;
// - ping-timeout, raised on the live connection, applies to the next PING even when the meta
//   thread slept through the change.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, NODES, twoNodes } from '../fixtures.js';

const SNDBUF = 524288;
const RCVBUF = 393216;
// max-buffers: alpha writes back WRITES separate 4 KiB blocks at once (every other one from
// 16 MiB), all in flight (they fit the socket buffers)
const WRITES = 160;
const BLOCK_WRITER =
  'python3 -c \'import os, sys\nfd = os.open("/dev/bsr1", os.O_WRONLY)\n' +
  "for i in range(int(sys.argv[1])): os.pwrite(fd, os.urandom(4096), (4096 + 2 * i) * 4096)\nos.fsync(fd)'";

export default scenario({
  title: 'sndbuf-size, rcvbuf-size, ko-count, use-rle, max-buffers and ping-timeout act on the connection',
  nodes: 2,
  diskSize: '128M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    const hanging = await lab.disk.linear('bravo', 'hanging', '/dev/vda');
    // timeout 1 s, ko-count 3: a write bravo does not finish drops it after about 3 s
    const net = (pingInt: number) =>
      `--ping-int=${pingInt} --ping-timeout=20 --connect-int=2 --sndbuf-size=${SNDBUF} --rcvbuf-size=${RCVBUF} --timeout=10 --ko-count=3`;
    await Promise.all([t.up('alpha', { net: net(5) }), t.up('bravo', { net: net(1), disk: hanging })]);
    await t.waitConnected();
    await t.sh('alpha', `${t.S} new-current-uuid --clear-bitmap 1\n${t.S} primary r0`);
    await t.waitSynced(30_000);

    for (const n of NODES) {
      const sockets = (await t.sh(n, 'ss -Htnm state established "( sport = :7789 or dport = :7789 )"')).trim();
      const buffers = [...sockets.matchAll(/skmem:\(r\d+,rb(\d+),t\d+,tb(\d+)/g)].map((m) => [+m[1], +m[2]]);
      lab.log(`${n}: ${buffers.length} sockets, rb/tb ${buffers.map((b) => b.join('/')).join(' ')}`);
      assert(buffers.length === 2, `${n}: the data and meta sockets of the connection:\n${sockets}`);
      assert(
        buffers.every(([rb, tb]) => rb === RCVBUF && tb === SNDBUF),
        `${n}: every socket has rcvbuf ${RCVBUF} and sndbuf ${SNDBUF}`,
      );
    }

    await t.sh('bravo', 'dmsetup suspend hanging');
    const ms = Number(
      await t.sh(
        'alpha',
        // gives up waiting after 25 s (the write itself stays until bravo's disk resumes)
        's=$(date +%s%N); (dd if=/dev/urandom of=/dev/bsr1 bs=4k count=16 oflag=direct status=none; touch /tmp/ko-done) >/dev/null 2>&1 & ' +
          'for i in $(seq 250); do [ -e /tmp/ko-done ] && break; sleep 0.1; done; e=$(date +%s%N); echo $(( (e - s) / 1000000 ))',
      ),
    );
    const dropped = (await lab.dmesg('alpha')).split('\n').filter((l) => /ko-count|did not finish/.test(l));
    lab.log(`protocol C write with bravo's disk hung: ${ms} ms; ${dropped.join(' | ')}`);
    assert(ms >= 2500 && ms < 20_000, `alpha dropped bravo after about timeout x ko-count = 3 s (${ms} ms)`);
    assert(!(await t.connected('alpha')) || dropped.length > 0, 'alpha lost the connection to bravo');
    await t.sh('bravo', 'dmsetup resume hanging');
    await t.waitSynced(60_000);
    const compressed = async () =>
      [...(await lab.dmesg('alpha')).matchAll(/bitmap sent: .* in (\d+) packets \((\d+) compressed\)/g)].map((m) => [
        +m[1],
        +m[2],
      ]);
    const withRle = (await compressed()).at(-1);
    lab.log(`bitmap after the ko-count drop (use-rle yes): ${withRle?.join(' packets, ')} compressed`);
    assert(withRle && withRle[1] > 0, 'use-rle yes: the bitmap went run-length encoded');

    await Promise.all(NODES.map((n) => t.sh(n, `${t.S} net-options r0 ${n === 'alpha' ? 1 : 0} --use-rle=no`)));
    await lab.linkCut('alpha', 'bravo');
    await t.waitConnection('alpha', false);
    await t.write('alpha', 8, 1);
    await lab.linkRestore('alpha', 'bravo');
    await t.waitSynced(60_000);
    const plain = (await compressed()).at(-1);
    lab.log(`bitmap after a link cut (use-rle no): ${plain?.join(' packets, ')} compressed`);
    assert(plain && plain !== withRle && plain[1] === 0, 'use-rle no: the bitmap went plain');

    // bravo's disk is suspended while alpha writes: bravo takes what max-buffers allows (each
    // 4 KiB write one page, nothing freed meanwhile, so the count only grows) and leaves the rest
    // in the socket. ko-count off, so that alpha keeps waiting; a first write makes the blocks'
    // activity log extent active on both nodes.
    const lostBefore = (await lab.dmesg('bravo')).split('connection lost').length;
    await Promise.all([
      t.sh('alpha', `${t.S} net-options r0 1 --ko-count=0\n${BLOCK_WRITER} 1`),
      t.sh('bravo', `${t.S} net-options r0 0 --max-buffers=32`),
    ]);
    // what bravo holds with max-buffers maxBuffers, set by `first` (a command) when not yet
    const heldByBravo = async (maxBuffers: number, first = '') => {
      await t.sh('bravo', `${first}\ndmsetup suspend hanging`);
      const writing = t.sh('alpha', `${BLOCK_WRITER} ${WRITES}`);
      // sampled until it reaches what bravo may take (or 10 times), then the disk resumes
      const held = await t.sh(
        'bravo',
        `for i in $(seq 10); do u=$(${t.S} status r0 -v -s | grep -o 'unacked:[0-9]*' | cut -d: -f2); ` +
          `[ "$u" -ge ${Math.min(WRITES, maxBuffers)} ] && break; done; dmsetup resume hanging; echo $u`,
      );
      await writing;
      return Number(held);
    };
    const limited = await heldByBravo(32);
    const unlimited = await heldByBravo(16000, `${t.S} net-options r0 0 --max-buffers=16000`);
    lab.log(`max-buffers 32: bravo unacked max ${limited}; default: max ${unlimited} (of ${WRITES} writes)`);
    assert(limited > 0 && limited <= 32, `max-buffers 32: bravo held at most 32 writes (${limited})`);
    assert(unlimited >= 4 * 32, `default max-buffers: bravo held far more (${unlimited})`);
    assert(
      (await lab.dmesg('bravo')).split('connection lost').length === lostBefore,
      'max-buffers changed without a reconnect',
    );
    assert((await t.sum('alpha', '/dev/vda', 0, 20)) === (await t.sum('bravo', '/dev/vda', 0, 20)), 'data equal');

    // max-buffers also bounds what the side driving a resync has in flight: alpha, SyncSource of
    // a full sync, while bravo's disk hangs (nothing is acknowledged) stops at max-buffers pages
    // of resync data; raised on the live connection, it sends more
    // (the disk hangs once the resync runs: bravo's bitmap is on it; 2 MiB/s keeps it running)
    await t.sh('alpha', `${t.S} net-options r0 1 --max-buffers=32`);
    await t.sh('alpha', `${t.S} peer-device-options r0 1 0 --resync-rate=2M`);
    await t.sh('alpha', `${t.S} invalidate-remote r0 1 0`);
    await t.waitState('alpha', 'SyncSource', (r) => r.field('replication') === 'SyncSource');
    await t.sh('bravo', 'dmsetup suspend hanging');
    const inFlight = async () => {
      let most = 0;
      for (let i = 0; i < 6; i++) most = Math.max(most, await t.stat('alpha', 'rs-in-flight'));
      return most;
    };
    const capped = await inFlight();
    await t.sh('alpha', `${t.S} net-options r0 1 --max-buffers=16000`);
    const raised = await inFlight();
    await t.sh('bravo', 'dmsetup resume hanging');
    await t.sh('alpha', `${t.S} peer-device-options r0 1 0 --resync-rate=1000M`);
    lab.log(`resync in flight while bravo's disk hangs: max-buffers 32: ${capped} KiB; 16000: ${raised} KiB`);
    assert(capped > 0 && capped <= 32 * 4, `max-buffers 32: alpha had ${capped} KiB of resync data in flight`);
    assert(raised >= 4 * 32 * 4, `max-buffers 16000: alpha had only ${raised} KiB of resync data in flight`);
    await t.waitSynced(60_000);
    assert((await t.sum('alpha', '/dev/vda', 0, 20)) === (await t.sum('bravo', '/dev/vda', 0, 20)), 'data equal');

    // ping-timeout raised on the live connection covers alpha's very next PING. bravo stops
    // pinging (so alpha's meta thread sleeps until its own keep-alive, 5 s), alpha's
    // ping-timeout goes from 2 to 8 s, then bravo's packets to alpha are held back 3 s.
    await t.sh('bravo', `${t.S} net-options r0 0 --ping-int=120`);
    await new Promise((r) => setTimeout(r, 1500));
    const pingLostBefore = (await lab.dmesg('alpha')).split('PingAck did not arrive').length;
    await t.sh('alpha', `${t.S} net-options r0 1 --ping-timeout=80`);
    const iface = lab.iface('bravo', 'alpha');
    await t.sh('bravo', `tc qdisc replace dev ${iface} root netem delay 3s`);
    await new Promise((r) => setTimeout(r, 9000));
    const pingLost = (await lab.dmesg('alpha')).split('PingAck did not arrive').length - pingLostBefore;
    const conn = await t.pdField('alpha', 'connection');
    lab.log(`ping-timeout 8 s with bravo's packets 3 s late for 9 s: alpha ${conn}, PingAck timeouts ${pingLost}`);
    assert(pingLost === 0 && conn === 'Connected', 'the raised ping-timeout covered the next PING');
    await t.sh('bravo', `tc qdisc del dev ${iface} root`);
    await t.downAll();
  },
});
