// The Primary crashes while it is Ahead (on-congestion pull-ahead, protocol A, a writer faster than
// a slow link into a mounted ext4), its peer Behind: the Behind node is Outdated, refuses a plain
// `primary`, takes `primary --force` and holds a consistent older state (fsck clean before and after
// the journal replay, the files synced before the Ahead period intact). The old Primary comes back
// with writes of its Ahead generation that the new Primary never saw, which wrote in its own: the
// handshake sees both changed the data and overwrites neither (no write is dropped silently); once
// the admin discards the old Primary's data it is resynced from the new one and both end equal.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

const LINK = { rate: '32mbit', delay: '20ms' };
const FILES = 4; // 1 MiB files written and synced before the Ahead period
// a slow ping: the backlog on the slow link and 3 s on the way back (see 2.) must not drop it
const NET = '--protocol=A --ping-int=2 --ping-timeout=200 --connect-int=2';

export default scenario({
  title: 'a crash of the Ahead Primary: failover to the Behind node, consistent, nothing overwritten',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    // pull-ahead from the start (RECV_ACKs count what the peer has); the fill trips only once shaped
    await t.upSkipSync({ net: `${NET} --on-congestion=pull-ahead --congestion-fill=48M` });
    const bsrLog = async (n: 'alpha' | 'bravo') => (await lab.dmesg(n)).split('\n').filter((l) => l.includes('bsr: '));
    try {
      await steps();
    } catch (err) {
      for (const n of ['alpha', 'bravo'] as const) {
        if (lab.info().nodes[n]?.running) lab.log(`${n}:\n${(await bsrLog(n).catch(() => [])).slice(-25).join('\n')}`);
      }
      throw err;
    }

    async function steps() {
      // 1. a file system with files written, synced and on bravo before any congestion
      await t.sh(
        'alpha',
        `${t.S} primary r0
modprobe ext4
mkfs.ext4 -q -F -E lazy_itable_init=0,lazy_journal_init=0 /dev/bsr1
mkdir -p /tmp/m && mount -o noatime /dev/bsr1 /tmp/m
for i in $(seq ${FILES}); do head -c 1M /dev/urandom > /tmp/m/keep$i; done
sync`,
      );
      const sums = await t.sh('alpha', 'cd /tmp/m && sha256sum keep*');
      await lab.waitFor(
        'the synced files on bravo',
        async () => {
          const [a, b] = await Promise.all([
            t.stats('alpha', ['ap-in-flight', 'out-of-sync']),
            t.stat('bravo', 'pending'),
          ]);
          return a['ap-in-flight'] === 0 && a['out-of-sync'] === 0 && b === 0;
        },
        60_000,
        500,
      );

      // 2. a slow link, a writer faster than it: alpha goes Ahead and bravo Behind. bravo's acks
      // take 3 s back, so alpha stays Ahead for seconds after bravo went Behind; then alpha drops
      // whatever arrives from bravo (tc ingress: the acks still on their way are lost too, where
      // bravo's own queue may still deliver them), so it stays Ahead until its ping timeout and
      // surely crashes while both are in their states. Both record their notifications.
      await t.sh('alpha', `${t.S} net-options r0 1 --congestion-fill=2M`);
      await lab.linkShape('alpha', 'bravo', LINK);
      await t.sh('bravo', `tc qdisc replace dev ${lab.iface('bravo', 'alpha')} root netem delay 3s limit 10000`);
      const last = `grep -o '"replication":"[A-Za-z]*"' /tmp/ev.json | tail -n 1`;
      await Promise.all(
        (['alpha', 'bravo'] as const).map(async (n) => {
          await t.sh(n, `nohup ${t.S} events2 r0 --json > /tmp/ev.json 2>&1 & echo $! > /tmp/ev.pid`);
          await lab.waitFor(`${n}: events2 running`, async () =>
            /"object":"-"/.test(await t.sh(n, 'cat /tmp/ev.json')),
          );
        }),
      );
      await t.sh(
        'alpha',
        `head -c 4M /dev/urandom > /tmp/data
nohup sh -c 'i=0; while :; do i=$((i + 1)); dd if=/tmp/data of=/tmp/m/w$((i % 2)) bs=1M oflag=direct status=none || exit; done' > /dev/null 2>&1 &`,
      );
      await lab.waitFor(
        'bravo Behind',
        async () => (await t.sh('bravo', last)).trim() === '"replication":"Behind"',
        120_000,
        200,
      );
      const from = lab.iface('alpha', 'bravo');
      await t.sh(
        'alpha',
        `modprobe -a sch_ingress cls_matchall act_gact
tc qdisc add dev ${from} ingress && tc filter add dev ${from} parent ffff: matchall action drop`,
      );

      // 3. alpha crashes: in one command its status shows Ahead, its latest notification says so,
      // the evidence goes to its vdb and it panics (panic=-1, -no-reboot: qemu ends)
      await t.crashIf(
        'alpha',
        `st=$(${t.S} status r0 -v | tr '\\n' ' ')
case "$st" in *replication:Ahead*) ;; *) echo "status: $st"; exit 3;; esac
[ "$(${last})" = '"replication":"Ahead"' ] || { echo "latest: $(${last})"; exit 3; }
printf '%-4096s' "crash while Ahead: $st" | dd of=/dev/vdb bs=4096 count=1 oflag=direct,dsync status=none`,
      );
      // the backlog a long ping timeout had to cover went with alpha: notice the loss soon
      await lab.linkRestore('alpha', 'bravo');
      await t.sh('bravo', `${t.S} net-options r0 0 --ping-timeout=10`);

      // 4. bravo was Behind up to the crash; now Outdated: a plain promotion refused, --force taken
      await t.waitConnection('bravo', false, 60_000);
      const bravoEv = await t.sh('bravo', 'kill $(cat /tmp/ev.pid); cat /tmp/ev.json');
      const bravoRepl = [...bravoEv.matchAll(/"replication":"([A-Za-z]+)"/g)].map((m) => m[1]);
      const lastBefore = bravoRepl.filter((r) => r !== 'Off').at(-1);
      lab.log(`bravo's replication states: ${bravoRepl.join(' ')}`);
      assert(lastBefore === 'Behind', `bravo was ${lastBefore} when the connection was lost, not Behind`);
      const disk = await t.pdField('bravo', 'disk');
      lab.log(`bravo after the crash: disk ${disk}`);
      assert(disk === 'Outdated', `bravo is ${disk} after the crash of the Ahead Primary`);
      const plain = await t.exec('bravo', `cd ${lab.repoRoot} && ${t.S} primary r0`);
      assert(
        plain.code !== 0 && /Outdated/.test(plain.stderr),
        `a plain primary on the Outdated node: exit ${plain.code} ${plain.stderr}`,
      );
      await t.sh('bravo', `${t.S} primary r0 --force`);

      // 5. the older state is consistent: clean as found, and clean once a mount replayed its
      // journal (as at a boot), where the files synced before the Ahead period are
      const fsck = async () => {
        const out = await t.sh('bravo', 'fsck.ext4 -fn /dev/bsr1 2>&1; echo rc=$?');
        lab.log(`bravo: fsck.ext4 -fn: ${out.trim().split('\n').slice(-2).join(' | ')}`);
        assert(/rc=0$/.test(out.trim()), `bravo's file system is not clean:\n${out}`);
        return out;
      };
      await t.sh('bravo', 'modprobe ext4');
      await fsck();
      await t.sh('bravo', 'mkdir -p /tmp/m && mount /dev/bsr1 /tmp/m && umount /tmp/m');
      const replayed = await fsck();
      const inodes = Number(/: (\d+)\/\d+ files/.exec(replayed)?.[1]);
      assert(inodes >= 11 + FILES, `the replayed file system has ${inodes} inodes in use`);
      const bravoSums = await t.sh(
        'bravo',
        'mkdir -p /tmp/m && mount /dev/bsr1 /tmp/m && cd /tmp/m && sha256sum keep*; head -c 1M /dev/urandom > /tmp/m/after; sync',
      );
      assert(bravoSums === sums, `the files synced before the Ahead period differ:\n${sums}\n${bravoSums}`);
      await t.sh('bravo', 'umount /tmp/m');

      // 6. alpha comes back as Secondary. It wrote in a generation bravo never saw (the Ahead one)
      // and bravo in its own: the handshake must see both changed the data, and overwrite neither
      await lab.boot('alpha');
      const record = await t.sh('alpha', 'dd if=/dev/vdb bs=4096 count=1 status=none | tr -d "\\0"');
      lab.log(`alpha before the crash: ${record.trim().slice(0, 200)}`);
      assert(/replication:Ahead/.test(record), 'alpha recorded Ahead before the crash');
      const size = Number((await t.sh('bravo', 'blockdev --getsize64 /dev/bsr1')).trim());
      const disks = () => Promise.all([lab.diskSum('alpha', 'vda', 0, size), lab.diskSum('bravo', 'vda', 0, size)]);
      const before = await disks();
      const seen = (await bsrLog('bravo')).length;
      await t.up('alpha', { createMd: false, net: NET });
      const decision = await lab.waitFor(
        "bravo's handshake with alpha",
        async () => (await bsrLog('bravo')).slice(seen).find((l) => /uuids .* peer /.test(l)),
        120_000,
        500,
      );
      lab.log(`bravo's handshake: ${decision.replace(/.*: uuids/, 'uuids')}`);
      assert(/both changed the data independently/.test(decision), `not seen as a split brain: ${decision}`);
      for (const n of ['alpha', 'bravo'] as const)
        await t.waitState(n, 'StandAlone', (r) => r.field('connection') === 'StandAlone', 60_000);
      const after = await disks();
      assert(before[0] === after[0], "alpha's data changed at the split brain");
      assert(before[1] === after[1], "bravo's data changed at the split brain");

      // 7. the admin drops alpha's Ahead writes: resynced from bravo, both end equal
      const seen2 = (await bsrLog('bravo')).length;
      await t.sh('alpha', `${t.S} connect r0 1 --discard-my-data`);
      await t.sh('bravo', `${t.S} connect r0 0`);
      await t.waitSynced(120_000);
      const since = (await bsrLog('bravo')).slice(seen2);
      lab.log(`bravo: ${since.filter((l) => /uuids|resync/.test(l)).join(' | ')}`);
      assert(
        since.some((l) => /resync as SyncSource/.test(l)),
        `bravo was not the resync source:\n${since.join('\n')}`,
      );
      const [a, b] = await disks();
      lab.log(`after the resync: alpha ${a.slice(0, 12)} bravo ${b.slice(0, 12)} (${size} bytes)`);
      assert(a === b, 'alpha and bravo differ after the resync');
      await t.downAll();
    }
  },
});
