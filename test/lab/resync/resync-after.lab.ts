// resync-after: volume 1 of r0 (minor 2, /dev/vdb) resyncs only while volume 0 (minor 1, /dev/vda)
// does not. The initial sync of both runs volume 0 first, volume 1 held PausedSync with
// resync-suspended:dependency (and peer: the peer holds it too) and not moving; it starts once volume 0 is in
// sync. A dependency removed at run time (disk-options --resync-after=-1) lets the held resync go
// at once; a chain that would come back to its start is refused.
import type { ResourceEvents } from '../../../tools/lab/bsr-wait.js';
import type { Lab, NodeName } from '../../../tools/lab/scenario.js';
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, NODES, twoNodes } from '../fixtures.js';

/** volume 0 at a fixed 4 MiB/s: its 32 MiB take about 8 s, long enough to look at volume 1 */
const SLOW = '--c-plan-ahead=0 --resync-rate=4M --c-min-rate=0';
const FAST = '--c-plan-ahead=0 --resync-rate=1000M --c-min-rate=0';

/** Guest time (s) of the first events2 line from `after` on where volume `vol`'s replication is `want`. */
function firstReplication(events: string, vol: number, want: string, after = 0): number {
  for (const l of events.split('\n')) {
    const m = /^(\S+) (?:exists|change) peer-device .*\bvolume:(\d+)\b.*\breplication:(\S+)/.exec(l);
    const at = m ? Date.parse(m[1]) / 1000 : Number.NaN;
    if (m && Number(m[2]) === vol && m[3] === want && at >= after) return at;
  }
  return Number.NaN;
}

export default scenario({
  title: 'resync-after holds a volume resync until the one it names is in sync',
  nodes: 2,
  diskSize: '32M',
  timeoutSec: 300,
  async run(lab: Lab) {
    const t = twoNodes(lab);
    const { S } = t;

    const volume = (n: NodeName, vol: number, what: string, check: (pd: Record<string, unknown>) => boolean) =>
      t.waitState(n, `volume ${vol} ${what}`, (r: ResourceEvents) => {
        const pd = r.peerDevice(vol);
        return pd !== undefined && check(pd) && pd;
      });
    async function waitBothSynced() {
      const both = (r: ResourceEvents) => r.devices().length === 2 && r.allUpToDate();
      await Promise.all(NODES.map((n) => t.waitState(n, 'both volumes in sync', both, 120_000)));
    }
    /** Volume 1 held back for volume 0: PausedSync, held here (dependency) and by the peer. */
    async function assertHeld(when: string) {
      const a = await volume('alpha', 1, 'held', (pd) => pd.replication === 'PausedSyncS');
      const b = await volume('bravo', 1, 'held', (pd) => pd.replication === 'PausedSyncT');
      lab.log(`${when}: alpha volume 1 ${JSON.stringify(a)}; bravo volume 1 resync-suspended:${b['resync-suspended']}`);
      // each node holds it for its own volume 0, and learns that its peer does
      assert(String(a['resync-suspended']).split(',').includes('dependency'), `${when}: alpha holds volume 1`);
      assert(String(b['resync-suspended']).split(',').includes('peer'), `${when}: bravo sees alpha's hold`);
      const v0 = await t.pdField('alpha', 'replication');
      assert(v0 === 'SyncSource', `${when}: volume 0 resyncs meanwhile (${v0})`);
    }
    const oos1 = async () => Number((await currentOos('alpha', 1)) ?? 'NaN');
    async function currentOos(n: NodeName, vol: number) {
      const st = await t.sh(n, `${S} status r0 -v -s`);
      const lines = st.split('\n');
      const i = lines.findIndex((l) => new RegExp(`^ {4}volume:${vol} replication:`).test(l));
      return /out-of-sync:(\d+)/.exec(lines[i + 1] ?? '')?.[1];
    }

    // 1. the initial sync: volume 0 first, volume 1 after it
    await Promise.all(
      NODES.map(async (n) => {
        await t.upTwoVolumes(n, {
          net: '--ping-int=2 --ping-timeout=20 --connect-int=2',
          pd: [SLOW, FAST],
          attach2: '--resync-after=1',
        });
        await t.sh(n, `nohup ${S} events2 r0 --timestamps > /tmp/ev 2>&1 &`);
      }),
    );
    await t.waitConnected();
    await t.sh('alpha', `${S} primary --force r0`);
    await assertHeld('initial sync');
    const held = await oos1();
    await new Promise((r) => setTimeout(r, 2000));
    const stillHeld = await oos1();
    lab.log(`volume 1 out-of-sync while held: ${held} KiB, 2 s later ${stillHeld} KiB`);
    assert(held > 0 && stillHeld === held, `volume 1 does not move while held (${held} -> ${stillHeld} KiB)`);
    await waitBothSynced();
    const ev = await t.sh('alpha', 'cat /tmp/ev');
    // (both volumes were Established, with no data, before the promotion)
    const v0Start = firstReplication(ev, 0, 'SyncSource');
    const v0Done = firstReplication(ev, 0, 'Established', v0Start);
    const v1Start = firstReplication(ev, 1, 'SyncSource');
    lab.log(`alpha: volume 0 SyncSource ${v0Start} to ${v0Done}, volume 1 SyncSource from ${v1Start}`);
    assert(v1Start >= v0Done, 'volume 1 resynced after volume 0, not before');
    for (const vol of [0, 1]) {
      const disk = vol === 0 ? '/dev/vda' : '/dev/vdb';
      const [a, b] = await Promise.all(NODES.map((n) => t.sum(n, disk, 0, 31)));
      assert(a === b, `volume ${vol} equal after the initial sync`);
    }

    // 2. cycles are refused: minor 1 after minor 2 (which is after 1), minor 1 after itself
    for (const minor of [2, 1]) {
      const r = await t.exec('alpha', `${S} disk-options 1 --resync-after=${minor}`);
      lab.log(`disk-options 1 --resync-after=${minor}: exit ${r.code}: ${(r.stdout + r.stderr).trim()}`);
      assert(r.code !== 0 && /RESYNC_AFTER_CYCLE/.test(r.stdout + r.stderr), `minor 1 after ${minor}: refused`);
    }

    // 3. full resyncs of both again, then the dependency dropped while volume 0 still resyncs
    await t.sh('alpha', `${S} invalidate-remote r0 1 0; ${S} invalidate-remote r0 1 1`);
    await assertHeld('invalidate-remote');
    await Promise.all(NODES.map((n) => t.sh(n, `${S} disk-options 2 --resync-after=-1`)));
    await volume('alpha', 1, 'in sync', (pd) => pd.replication === 'Established');
    const v0 = await t.pdField('alpha', 'replication');
    lab.log(`volume 1 in sync after the dependency was dropped; volume 0: ${v0}`);
    assert(v0 === 'SyncSource', `volume 1 went while volume 0 was still resyncing (${v0})`);
    await waitBothSynced();
    for (const n of NODES) {
      await t.sh(n, `${S} secondary r0; ${S} down r0 && rmmod bsr`);
      await t.checkDmesg(n);
    }
  },
});
