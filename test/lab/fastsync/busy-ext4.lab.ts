// FastSync on a mounted, busy ext4: a writer creates, appends to and deletes files while the
// initial sync runs (slowed to 8 MB/s) and again while an invalidate-remote of the mounted file
// system runs (bsrsetup freezes it while it reads the map). Blocks allocated after the map
// was taken are replicated as writes: the end state on bravo is clean and every file equal.
import type { Lab } from '../../../tools/lab/scenario.js';
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';
import { checkTargetCopy, forcePrimary, makeFilesystem } from './steps.js';

type Nodes = ReturnType<typeof twoNodes>;

const WRITER = `rm -f /tmp/stop /tmp/writer.done; nohup sh -c 'i=0; while [ ! -e /tmp/stop ]; do i=$((i+1));
head -c $((i % 40 * 8192 + 100)) /dev/urandom > /tmp/m/w$i; head -c 5000 /dev/urandom >> /tmp/m/f1;
[ $((i % 3)) = 0 ] && rm -f /tmp/m/w$((i-2)); done; echo $i > /tmp/writer.done' > /dev/null 2>&1 &`;

/** The resyncs alpha's kernel log shows started. */
async function resyncsStarted(lab: Lab): Promise<number> {
  return ((await lab.dmesg('alpha')).match(/: resync as /g) ?? []).length;
}

/**
 * Runs the writer on alpha's mounted file system until the resync is over, then stops it. A
 * resync started after `before` were seen: it may be over before a status poll sees it (8 MB/s).
 */
async function writeDuringSync(lab: Lab, t: Nodes, start: string, before: number) {
  await t.sh('alpha', WRITER);
  const p = await lab.exec('alpha', ['sh', '-c', `${start} 2>&1`]);
  assert(p.code === 0, `${start}: ${p.stdout}`);
  lab.log(`${start}: ${p.stdout.trim().replace(/\n/g, ' | ')}`);
  await lab.waitFor('a resync', async () => (await resyncsStarted(lab)) > before, 60_000, 300);
  await t.waitSynced(300_000);
  await t.sh('alpha', 'touch /tmp/stop; while [ ! -e /tmp/writer.done ]; do sleep 0.2; done');
  lab.log(`writer: ${(await t.sh('alpha', 'cat /tmp/writer.done')).trim()} rounds`);
}

/** The checksums of every file on alpha's mounted file system into /tmp/sums, then unmounted. */
async function recordSums(t: Nodes) {
  await t.sh(
    'alpha',
    `(cd /tmp/m && find . -type f ! -path './lost+found/*' | sort | xargs sha256sum) > /tmp/sums; umount /tmp/m`,
  );
}

export default scenario({
  title: 'FastSync: a mounted ext4 written during the sync ends equal and clean',
  nodes: 2,
  diskSize: '256M',
  timeoutSec: 900,
  async run(lab) {
    const t = twoNodes(lab);
    await makeFilesystem(t);
    await Promise.all(
      // c-min-rate 0: the writer runs through both syncs, which the application-I/O throttle would
      // hold to 250 KiB/s; the rate here is the fixed 8 MB/s that overlaps them with the writes
      ['alpha', 'bravo'].map((n) =>
        t.up(n as 'alpha' | 'bravo', { pd: '--c-plan-ahead=0 --resync-rate=8M --c-min-rate=0' }),
      ),
    );
    await t.waitConnected();
    // the resync starts at the promotion; the mount follows at once, the writer with it
    const first = await resyncsStarted(lab);
    const p = await forcePrimary(lab, t, '&& mount /dev/bsr1 /tmp/m');
    assert(p.code === 0, `primary --force and mount:\n${p.out}`);
    await writeDuringSync(lab, t, 'true', first);
    await t.sh('alpha', 'sync');
    const dmesg = await lab.dmesg('alpha');
    assert(/FastSync: the file-system map covers/.test(dmesg), 'the initial sync was a FastSync');
    await recordSums(t);
    await checkTargetCopy(lab, t);

    // invalidate-remote of the mounted file system: the map is read with it frozen
    await t.sh('alpha', `${t.S} primary r0 && mount /dev/bsr1 /tmp/m`);
    await writeDuringSync(lab, t, `${t.S} invalidate-remote r0 1 0`, await resyncsStarted(lab));
    await t.sh('alpha', 'sync');
    const maps = ((await lab.dmesg('alpha')).match(/FastSync: the file-system map covers/g) ?? []).length;
    assert(maps === 2, `the invalidate-remote was a FastSync too (${maps} FastSync log lines)`);
    await recordSums(t);
    await checkTargetCopy(lab, t);
    await t.downAll();
  },
});
