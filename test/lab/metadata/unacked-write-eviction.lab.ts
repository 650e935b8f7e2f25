// A protocol A write that the peer never got must survive a crash of the Primary in its activity
// log. With the link cut, alpha writes a block in extent 0, then a block in each of 70 more
// extents: the activity log has 67 slots, so extent 0 could only be evicted (its bitmap bits
// written) if its write had counted as done once sent. alpha crashes before it notices the lost
// link; after the reboot the resync it makes as the crashed Primary brings bravo every block it
// wrote: both disks equal, extent 0 included.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

const EXTENTS = 71; // 4 MiB activity-log extents written, 67 slots
// a long ping timeout: alpha must not see the cut (and write the bitmap at the teardown) before
// its crash, at least 15 s after the cut; a large socket buffer: protocol A writes complete
// although nothing reaches bravo
const NET = '--protocol=A --ping-int=2 --ping-timeout=150 --connect-int=2 --sndbuf-size=2M';

const WRITER = `import os
fd = os.open('/dev/bsr1', os.O_WRONLY | os.O_DSYNC)
b = os.urandom(4096)
for i in range(${EXTENTS}):
    os.pwrite(fd, b, (i << 22) + 8192)
    print(i, flush=True)
print('done', flush=True)`;

export default scenario({
  title: 'a sent, unacknowledged protocol A write stays in the activity log until a crash',
  nodes: 2,
  diskSize: '320M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync({ net: NET, attach: '--al-extents=67' });
    await t.sh('alpha', `${t.S} primary r0`);
    await lab.linkCut('alpha', 'bravo');
    await t.sh('alpha', `cat > /tmp/w.py <<'X'\n${WRITER}\nX\nnohup python3 /tmp/w.py > /tmp/w.log 2>&1 &`);
    // the writes either all complete (the old behaviour: extent 0 evicted) or stop at a full log
    const progress = async () => (await t.sh('alpha', 'tail -n 1 /tmp/w.log')).trim();
    let wrote = '';
    for (let changed = Date.now(), start = changed; wrote !== 'done' && (!wrote || Date.now() - changed < 2000); ) {
      const now = await progress();
      if (now !== wrote) [wrote, changed] = [now, Date.now()];
      assert(Date.now() - start < 12_000, `the writer is still writing after 12 s (${wrote})`);
      await new Promise((r) => setTimeout(r, 300));
    }
    assert(wrote === 'done' || Number(wrote) >= 60, `the writer stopped at "${wrote}", before the log was full`);
    const cstate = await t.pdField('alpha', 'replication');
    await lab.crash('alpha');
    lab.log(`alpha crashed: writer at "${wrote}", replication ${cstate} (not noticed the cut)`);
    assert(cstate === 'Established', `alpha noticed the cut before its crash (${cstate})`);

    await lab.linkRestore('alpha', 'bravo');
    await Promise.all([t.waitConnection('bravo', false, 60_000), lab.boot('alpha')]);
    await t.up('alpha', { createMd: false, net: NET, attach: '--al-extents=67' });
    await t.waitSynced(120_000);
    const replay = /activity log replayed: (\d+) active extents/.exec(await lab.dmesg('alpha'));
    lab.log(`alpha's attach: ${replay?.[0] ?? 'no replay'}`);
    const mib = EXTENTS * 4;
    const [a, b] = await Promise.all([t.sum('alpha', '/dev/vda', 0, mib), t.sum('bravo', '/dev/vda', 0, mib)]);
    if (a !== b) {
      const differ: number[] = [];
      for (let e = 0; e < EXTENTS; e++) {
        const [x, y] = await Promise.all([
          t.blocksSum('alpha', e * 1024 + 2, 1),
          t.blocksSum('bravo', e * 1024 + 2, 1),
        ]);
        if (x !== y) differ.push(e);
      }
      assert(false, `after the resync the disks differ in the blocks written to extents ${differ.join(' ')}`);
    }
    await t.downAll();
  },
});
