// before-resync-target and before-resync-source run before the resync, which waits for them (the
// target's handler is where an administrator snapshots the target's disk, e.g. with LVM, before
// its data become a mix of two generations). While bravo's handler runs (3 s), nothing of the
// resync reaches bravo's disk (the out-of-sync range reads the same at the handler's start and
// end) and alpha holds its side (PausedSyncS, resync-suspended:peer); then the resync completes
// and the data are equal. A target handler that fails (exit 5) drops the connection for good
// (StandAlone) before anything is resynced; connected again with a handler that succeeds, the
// resync runs.
import { type NodeName, scenario } from '../../../tools/lab/scenario.js';
import { assert, ID, NODES, twoNodes } from '../fixtures.js';

/** What the kernel runs (usermode_helper NAME RES): logs the call; see the header. */
const HELPER = `#!/bin/busybox sh
L=/newroot/tmp/helpers.log
sum() { /bin/busybox chroot /newroot /bin/sh -c 'dd if=/dev/vda bs=1M count=8 iflag=direct status=none | sha256sum | cut -d" " -f1'; }
echo "$1 $2 start" >> $L
code=0
if [ "$1" = before-resync-target ]; then
  first=$(sum)
  sleep 3
  echo "$1 sums $first $(sum)" >> $L
  code=$(cat /newroot/tmp/target-exit 2>/dev/null || echo 0)
fi
echo "$1 $2 end $code" >> $L
exit $code
`;

export default scenario({
  title:
    'before-resync-target/-source run before the resync, which waits; a failing target handler drops the connection',
  nodes: 2,
  diskSize: '128M',
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync();
    await t.sh('alpha', `${t.S} primary r0`);
    const helper = lab.shareFile(Buffer.from(HELPER));
    for (const n of NODES)
      await t.sh(
        n,
        `cp ${helper} /tmp/bsr-helper && chmod 755 /tmp/bsr-helper && rm -f /tmp/helpers.log /tmp/target-exit
echo /newroot/tmp/bsr-helper > /sys/module/bsr/parameters/usermode_helper`,
      );
    const log = async (n: NodeName) => (await t.sh(n, 'cat /tmp/helpers.log 2>/dev/null || true')).trim().split('\n');
    const logged = (n: NodeName, line: string) =>
      lab.waitFor(`${n}: helper log "${line}"`, async () => (await log(n)).includes(line), 30_000, 200);
    const bravoSum = () => t.sum('bravo', '/dev/vda', 0, 8);

    // 1. the resync after a disconnect waits for bravo's handler
    await t.sh('alpha', `${t.S} disconnect r0 ${ID.bravo}`);
    const before = await bravoSum();
    const want = await t.write('alpha', 0, 8);
    await t.sh('alpha', `${t.S} connect r0 ${ID.bravo}`);
    await logged('bravo', 'before-resync-target r0 start');
    const held = await t.waitState(
      'alpha',
      'PausedSyncS held by the peer',
      (r) =>
        r.field('replication') === 'PausedSyncS' && r.field('resync-suspended') === 'peer'
          ? r.field('out-of-sync')
          : false,
      10_000,
    );
    lab.log(`alpha while bravo's handler runs: PausedSyncS, resync-suspended:peer, out-of-sync ${held} KiB`);
    assert(Number(held) >= 8192, `alpha holds all 8 MiB out of sync (${held} KiB)`);
    await logged('bravo', 'before-resync-target r0 end 0');
    await t.waitSynced(60_000);
    const sums = (await log('bravo')).find((l) => l.startsWith('before-resync-target sums'))?.split(' ');
    assert(sums?.[2] === before && sums?.[3] === before, `bravo's disk unchanged while its handler ran: ${sums}`);
    assert((await bravoSum()) === want, "bravo's disk holds alpha's data after the resync");
    for (const line of ['before-resync-source r0 start', 'before-resync-source r0 end 0'])
      assert((await log('alpha')).includes(line), `alpha: helper log "${line}"`);
    const order = await log('bravo');
    assert(
      order.indexOf('before-resync-target r0 end 0') < order.indexOf('after-resync-target r0 start'),
      `bravo: before-resync-target ends before after-resync-target starts: ${order.join(' | ')}`,
    );

    // 2. a failing target handler: StandAlone, nothing resynced; connected again, resynced
    await t.sh('alpha', `${t.S} disconnect r0 ${ID.bravo}`);
    const want2 = await t.write('alpha', 0, 8);
    await t.sh('bravo', 'echo 5 > /tmp/target-exit; rm -f /tmp/helpers.log');
    await t.sh('alpha', `${t.S} connect r0 ${ID.bravo}`);
    await logged('bravo', 'before-resync-target r0 end 5');
    await t.waitState('bravo', 'StandAlone', (r) => r.field('connection') === 'StandAlone', 15_000);
    assert(
      (await lab.dmesg('bravo')).includes('before-resync-target returned 5: dropping the connection'),
      'bravo logs why it dropped the connection',
    );
    assert((await bravoSum()) === want, 'nothing was resynced to bravo');
    await t.sh('bravo', `rm /tmp/target-exit; ${t.S} connect r0 ${ID.alpha}`);
    await t.waitSynced(60_000);
    assert((await bravoSum()) === want2, "bravo's disk holds alpha's new data after the reconnect");
    lab.log(`bravo's handler calls: ${(await log('bravo')).join(' | ')}`);
  },
});
