// The other congestion policies on a slow WAN link (4 MB/s, 20 ms each way), protocol A, a writer
// faster than the link: `block` keeps replicating (the writer waits: it goes at the link's speed;
// nothing out of sync, the connection stays); a small congestion-highwater trips on the number of
// writes in flight alone (congestion-fill off), and so does congestion-extents on the activity log
// extents with writes in flight alone (fill and highwater off); `disconnect` drops the connection,
// which comes back and resyncs. Then c-min-rate, protocol C: a resync filling the link makes a QD1
// writer wait behind its data (about 0.4 s a write); the throttle brings that down to about the round
// trip. At the end both backing disks hold the same bytes.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, twoNodes } from '../fixtures.js';

const LINK = { rate: '32mbit', delay: '20ms' };
const LINK_MBPS = 4;
const MIB = 1 << 20;
const BLOCK_MIB = 12;

export default scenario({
  title: 'on-congestion block, disconnect and congestion-highwater on a slow link',
  nodes: 2,
  diskSize: '320M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync({ net: `--protocol=A ${FAST_NET}` });
    await t.sh('alpha', `${t.S} primary r0`);
    await lab.linkShape('alpha', 'bravo', LINK);
    const netOptions = (opts: string) => t.sh('alpha', `${t.S} net-options r0 1 ${opts}`);
    /** `count` O_DIRECT writes of `bs` bytes of fresh data at off MiB of alpha's /dev/bsr1 */
    const write = (offMiB: number, bs: number, count: number) =>
      t.sh(
        'alpha',
        `head -c ${bs * count} /dev/urandom > /tmp/data
dd if=/tmp/data of=/dev/bsr1 bs=${bs} seek=${offMiB * MIB} oflag=direct,seek_bytes status=none`,
      );
    const bsrLog = async () => (await lab.dmesg('alpha')).split('\n').filter((l) => l.includes('bsr: '));

    // the kernel refuses pull-ahead without protocol A, as the config check does, from
    // net-options and from connect (which takes net options too); nothing of it is stored
    for (const cmd of ['net-options', 'connect']) {
      const refused = await t.exec(
        'alpha',
        `cd ${lab.repoRoot} && ${t.S} ${cmd} r0 1 --on-congestion=pull-ahead --protocol=C`,
      );
      assert(
        refused.code !== 0 && /on-congestion pull-ahead needs protocol A/.test(refused.stderr),
        `${cmd}: pull-ahead with protocol C: exit ${refused.code} ${refused.stderr}`,
      );
    }
    // --show-defaults prints what was never set at its default (the kernel reports only what was)
    const shown = await t.sh('alpha', `${t.S} show r0 --show-defaults`);
    assert(/protocol\s+A;/.test(shown) && /on-congestion\s+block;/.test(shown), `refused options stored:\n${shown}`);

    // block: the writer waits for the link, every write reaches the peer
    await netOptions('--on-congestion=block --congestion-fill=1M');
    const ns = await t.sh(
      'alpha',
      `head -c ${BLOCK_MIB}M /dev/urandom > /tmp/data
s=$(date +%s%N)
dd if=/tmp/data of=/dev/bsr1 bs=1M oflag=direct status=none
echo $(( $(date +%s%N) - s ))`,
    );
    const took = Number(ns.trim()) / 1e9;
    const linkAlone = (BLOCK_MIB * MIB) / (LINK_MBPS * 1e6);
    lab.log(`block: ${BLOCK_MIB} MiB written in ${took.toFixed(2)} s (the link alone: ${linkAlone.toFixed(2)} s)`);
    // what the socket buffers hold goes at local speed, the rest at the link's
    assert(took >= 0.6 * linkAlone, `block: the writer did not wait for the link (${took.toFixed(2)} s)`);
    const oos = await t.stat('alpha', 'out-of-sync');
    const repl = await t.pdField('alpha', 'replication');
    lab.log(`block: alpha ${repl}, out-of-sync ${oos} KiB`);
    assert(repl === 'Established' && oos === 0, `block: alpha is ${repl} with ${oos} KiB out of sync`);
    await t.assertNoConnectionLoss();
    assert(!(await bsrLog()).some((l) => /reached/.test(l)), 'block: a congestion policy acted');

    // congestion-highwater alone: 4 KiB writes, far below any fill, more of them in flight than 8
    await netOptions('--on-congestion=pull-ahead --congestion-fill=0 --congestion-highwater=8');
    await write(4, 4096, 512);
    const tripped = await lab.waitFor('congestion-highwater to trip', async () =>
      (await bsrLog()).find((l) => /congestion-highwater reached: pulling ahead/.test(l)),
    );
    lab.log(`highwater: ${tripped.trim()}`);
    await t.waitSynced(120_000);

    // congestion-extents alone: 64 KiB into each of 76 activity-log extents (4 MiB apart), written
    // back at once, so more extents than its minimum (67) hold writes waiting for the slow link
    await netOptions('--on-congestion=pull-ahead --congestion-highwater=0 --congestion-extents=67');
    await t.sh(
      'alpha',
      `python3 -c "import os; f = os.open('/dev/bsr1', os.O_RDWR); b = os.urandom(65536)
for i in range(76): os.pwrite(f, b, i << 22)
os.fsync(f)"`,
    );
    const extents = await lab.waitFor('congestion-extents to trip', async () =>
      (await bsrLog()).find((l) => /congestion-extents reached: pulling ahead/.test(l)),
    );
    lab.log(`extents: ${extents.trim()}`);
    await t.waitSynced(120_000);

    // disconnect: the connection drops and comes back, the missed writes are resynced
    await netOptions(
      '--on-congestion=disconnect --congestion-fill=1M --congestion-highwater=20000 --congestion-extents=6001',
    );
    await write(8, MIB, 8);
    const dropped = await lab.waitFor('the congestion disconnect', async () =>
      (await bsrLog()).find((l) => /congestion-fill reached: disconnecting/.test(l)),
    );
    lab.log(`disconnect: ${dropped.trim()}`);
    await t.waitSynced(120_000);

    // c-min-rate: a resync that fills the link (the dynamic controller, 4 MiB in flight) makes a
    // QD1 protocol C writer wait behind its data; the throttle holds the resync to c-min-rate
    // while the application writes, and the writer's latency drops
    await netOptions('--on-congestion=block --congestion-fill=0');
    await t.setProtocol('C');
    const pdOptions = (opts: string) =>
      t.sh(
        'alpha',
        `${t.S} peer-device-options r0 1 0 --c-plan-ahead=20 --c-fill-target=8192 --c-max-rate=100M ${opts}`,
      );
    await pdOptions('--c-min-rate=0');
    await t.sh('alpha', `${t.S} disconnect r0 1`);
    await t.write('alpha', 240, 64);
    await t.sh('alpha', `${t.S} connect r0 1`);
    await t.waitState('alpha', 'SyncSource', (r) => r.field('replication') === 'SyncSource');
    const qd1 = async (what: string) => {
      const out = await t.sh(
        'alpha',
        `python3 -c "import mmap, os, time
f = os.open('/dev/bsr1', os.O_WRONLY | os.O_DIRECT)
b = mmap.mmap(-1, 4096)
took = []
end = time.monotonic() + 2
while time.monotonic() < end:
    t = time.monotonic()
    os.pwrite(f, b, (51200 + len(took) % 256) * 4096)
    took.append(time.monotonic() - t)
print(len(took), sum(took) / len(took) * 1000)"`,
      );
      const [n, avg] = out.trim().split(/\s+/).map(Number);
      const rate = await t.pdField('alpha', 'dbdt1');
      assert(rate !== undefined, `c-min-rate ${what}: the resync ended before the writer did`);
      lab.log(
        `c-min-rate ${what}: QD1 writes during the resync: ${n} in 2 s, avg ${avg.toFixed(1)} ms; resync ${rate} KiB/s`,
      );
      return avg;
    };
    const unthrottled = await qd1('0 (no throttle)');
    await pdOptions('--c-min-rate=250');
    await t.sh('alpha', 'sleep 1.5'); // what was in flight drains
    const throttled = await qd1('250 KiB/s');
    assert(
      throttled < unthrottled / 2,
      `c-min-rate: the throttled resync left the writer ${throttled.toFixed(1)} ms (unthrottled ${unthrottled.toFixed(1)} ms)`,
    );
    await lab.linkRestore('alpha', 'bravo');
    await t.waitSynced(120_000);
    const [a, b] = [await t.sum('alpha', '/dev/vda', 0, 304), await t.sum('bravo', '/dev/vda', 0, 304)];
    lab.log(`at the end: alpha ${a.slice(0, 12)} bravo ${b.slice(0, 12)}`);
    assert(a === b, 'the backing disks differ');
    await t.downAll();
  },
});
