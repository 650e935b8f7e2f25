// Object lifetime under admin churn: paths, peers, connections and minors are deleted and added
// again while the connection is established under a write load, while it is connecting and while
// a resync runs (del-peer/new-peer and disconnect/connect while connected under writes are
// replication/io-path-churn's). Every write completes, the kernel stays quiet, the data end equal on both
// backing disks. A request stuck on a hung disk (a detach while the disk's dm table is suspended)
// holds only bsr's own configuration mutex: another generic netlink family (nlctrl) still
// answers. After `down` and `rmmod` the unreclaimable slab is back where it was.

import type { NodeName } from '../../../tools/lab/scenario.js';
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, FAST_PD, ID, NODES, PEER, twoNodes } from '../fixtures.js';

/** growth of SUnreclaim between module load and rmmod that counts as a leak */
const SLAB_TOLERANCE_KIB = 1024;
const WRITER = { first: 4096, blocks: 2048 }; // 16 MiB at 16 MiB, overwritten all along
const OOS_MIB = { off: 40, len: 24 }; // written while the peer is away: the resync's work
/**
 * The processes sleeping uninterruptibly (D) whose command line names a detach: one is inside the
 * kernel. One grep over every status file (a grep per process took ~17 s in a guest).
 */
const BLOCKED_DETACH = `grep -ls '^State:.*D' /proc/[0-9]*/status | while read -r f; do tr '\\0' ' ' < "\${f%/status}/cmdline"; echo; done | grep -c detach || true`;

export default scenario({
  title: 'paths, peers, connections and minors come and go while connecting, writing and resyncing',
  nodes: 2,
  diskSize: '96M',
  timeoutSec: 900,
  async run(lab) {
    const t = twoNodes(lab);
    const S = t.S;
    const path = (n: NodeName, port: number) =>
      `ipv4:${lab.address(n, PEER[n])}:${port} ipv4:${lab.address(PEER[n], n)}:${port}`;
    /** the connection moves to a second path and back (each del-path of the used path reconnects) */
    const pathSwap = (n: NodeName) => {
      const peer = ID[PEER[n]];
      return `${S} new-path r0 ${peer} ${path(n, 7790)}
${S} del-path r0 ${peer} ${path(n, 7789)}
${S} new-path r0 ${peer} ${path(n, 7789)}
${S} del-path r0 ${peer} ${path(n, 7790)}`;
    };
    const peerAgain = (n: NodeName, pd: string) => {
      const p = PEER[n];
      return `${S} del-peer r0 ${ID[p]}
${S} new-peer r0 ${ID[p]} --_name=${p} ${FAST_NET}
${S} new-path r0 ${ID[p]} ${path(n, 7789)}
${S} peer-device-options r0 ${ID[p]} 0 ${pd}
${S} connect r0 ${ID[p]}`;
    };
    const reconnect = (n: NodeName) => `${S} disconnect r0 ${ID[PEER[n]]}\n${S} connect r0 ${ID[PEER[n]]}`;
    const minorAgain = `${S} new-minor r0 9 5\n${S} del-minor 9`;
    const unreclaimableKiB = async (n: NodeName) =>
      Number(/SUnreclaim:\s+(\d+)/.exec(await t.sh(n, 'cat /proc/meminfo'))?.[1]);
    const writesDone = () => t.stat('alpha', 'written');
    const step = async (what: string, scripts: Partial<Record<NodeName, string>>) => {
      const t0 = Date.now();
      await Promise.all(Object.entries(scripts).map(([n, s]) => t.sh(n as NodeName, s as string)));
      lab.log(`${what}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    };

    const slabBefore: Partial<Record<NodeName, number>> = {};
    for (const n of NODES) slabBefore[n] = await unreclaimableKiB(n);
    // dm-linear over /dev/vda, its table suspended at the end to hang the disk; bsrmeta finds
    // the size under the dm-N name
    const disks = await Promise.all(
      NODES.map(async (n) => {
        await lab.disk.linear(n, 'churn', '/dev/vda');
        return `/dev/dm-${(await t.sh(n, 'dmsetup info -c --noheadings -o minor churn')).trim()}`;
      }),
    );
    assert(disks[0] === disks[1], `the same dm device on both nodes (${disks.join(', ')})`);
    await t.upSkipSync({ net: FAST_NET, disk: disks[0] });
    await t.sh('alpha', `${S} primary r0`);
    await t.startWriter(7, WRITER.first, WRITER.blocks, 16);

    // 1. established, under the writer
    const written0 = await writesDone();
    await step('connected: path swap on alpha; new-minor/del-minor on bravo', {
      alpha: pathSwap('alpha'),
      bravo: minorAgain,
    });
    await t.waitConnection('alpha', true, 120_000);
    const written1 = await writesDone();
    assert(written1 > written0, 'writes kept completing while connected');

    // 2. alpha connecting (bravo went away); what it writes meanwhile is the resync's work
    await t.sh('bravo', `${S} disconnect r0 0`);
    await t.waitConnection('alpha', false);
    await t.write('alpha', OOS_MIB.off, OOS_MIB.len);
    await step('connecting: path swap, new-minor/del-minor, del-peer/new-peer on alpha', {
      alpha: `${pathSwap('alpha')}\n${minorAgain}\n${peerAgain('alpha', '--c-plan-ahead=0 --resync-rate=1M')}`,
    });

    // 3. resyncing slowly to bravo
    await t.sh('bravo', `${S} peer-device-options r0 0 0 --c-plan-ahead=0 --resync-rate=1M\n${S} connect r0 0`);
    const repl = await t.waitState(
      'alpha',
      'a resync',
      (r) => /^(SyncSource|PausedSyncS|WFBitMapS)$/.test(r.field('replication') ?? '') && r.field('replication'),
      120_000,
    );
    lab.log(`alpha ${repl}, out-of-sync ${await t.stat('alpha', 'out-of-sync')} KiB`);
    await step(
      'resyncing: new-minor/del-minor, disconnect/connect on alpha; new-minor/del-minor, del-peer/new-peer on bravo',
      {
        alpha: `${minorAgain}\n${reconnect('alpha')}`,
        bravo: `${minorAgain}\n${peerAgain('bravo', FAST_PD)}`,
      },
    );
    await t.sh('alpha', `${S} peer-device-options r0 1 0 ${FAST_PD}`);

    // 4. everything back: the writer's writes all succeeded, the disks are equal
    await t.stopWriter(120_000);
    const written = (await writesDone()) - written0;
    await t.waitSynced(240_000);
    await t.sh('alpha', `${S} secondary r0`);
    const sums = await Promise.all(NODES.map((n) => t.sum(n, '/dev/vda', 0, 64)));
    lab.log(`${written} KiB written during the churn; alpha ${sums[0].slice(0, 12)} bravo ${sums[1].slice(0, 12)}`);
    assert(sums[0] === sums[1], 'the first 64 MiB of the backing disks are equal');

    // 5. a detach (of a disconnected disk) stuck on bravo's hung disk must not stall generic netlink
    await t.sh(
      'bravo',
      `${S} disconnect r0 0
dmsetup suspend churn
nohup sh -c '${S} detach 1 > /tmp/detach.out 2>&1; echo rc=$? >> /tmp/detach.out' > /dev/null 2>&1 &`,
    );
    await lab.waitFor(
      'the detach to wait for the hung disk',
      async () => {
        const done = await t.sh('bravo', 'cat /tmp/detach.out 2>/dev/null || true');
        assert(!/rc=/.test(done), `the detach returned at once: ${done}`);
        return Number(await t.sh('bravo', BLOCKED_DETACH)) > 0;
      },
      60_000,
      500,
    );
    // in the background: a genl stuck in the genl mutex cannot be killed until the disk is back
    const t0 = Date.now();
    await t.sh('bravo', `nohup sh -c 'genl ctrl list > /dev/null 2>&1; echo rc=$? > /tmp/genl.out' > /dev/null 2>&1 &`);
    const ctrl = await lab
      .waitFor('nlctrl to answer', () => t.sh('bravo', 'cat /tmp/genl.out 2>/dev/null || true'), 10_000, 200)
      .catch(() => 'no answer');
    const ctrlSecs = (Date.now() - t0) / 1000;
    await t.sh('bravo', 'dmsetup resume churn');
    lab.log(`nlctrl while a detach hangs on the disk: ${ctrl.trim()} after ${ctrlSecs.toFixed(1)} s`);
    assert(/rc=0/.test(ctrl), 'generic netlink (nlctrl) answers while a bsr request waits for a hung disk');
    const detach = await lab.waitFor(
      'the detach to finish',
      async () => /rc=\d+/.exec(await t.sh('bravo', 'cat /tmp/detach.out 2>/dev/null || true'))?.[0],
      60_000,
      500,
    );
    assert(detach === 'rc=0', `the detach finished once the disk came back (${detach})`);

    await t.downAll();
    for (const n of NODES) {
      const before = slabBefore[n] ?? Number.NaN;
      const after = await unreclaimableKiB(n);
      lab.log(`${n}: SUnreclaim ${before} KiB at module load, ${after} KiB after rmmod`);
      assert(after - before < SLAB_TOLERANCE_KIB, `${n}: ${after - before} KiB more unreclaimable slab after rmmod`);
    }
  },
});
