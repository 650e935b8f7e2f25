// The Primary goes Ahead where its peer cannot hear of it (the link cut first, protocol A,
// on-congestion pull-ahead), writes in its Ahead generation and crashes while still Ahead. Its
// peer never was Behind: it stays UpToDate, not Outdated. When the old Primary comes back (as
// Secondary, after its reboot), everything it wrote, the Ahead writes and those lost in the dead
// socket included, reaches the peer in the crashed Primary's resync: both disks end equal.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

// a ping slower than the steps from the cut to the crash (a few seconds): alpha is still
// Connected, and Ahead, when it crashes; bravo notices the loss 10-20 s after the cut
const NET = '--protocol=A --ping-int=10 --ping-timeout=100 --connect-int=2';

export default scenario({
  title: 'a crash while Ahead before the peer heard of it: every write reaches the peer after',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 300,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync({ net: `${NET} --on-congestion=pull-ahead --congestion-fill=1M --sndbuf-size=4M` });
    await t.sh('alpha', `${t.S} primary r0`);
    const size = Number((await t.sh('alpha', 'blockdev --getsize64 /dev/bsr1')).trim());

    // 1. 8 MiB while the link is up (alpha may pull ahead already: the writer outruns the link),
    // on bravo before the cut: both UpToDate, Established
    const before = await t.write('alpha', 0, 8);
    await t.waitSynced(60_000);

    // 2. the link cut (carrier down: nothing arrives, nothing is noticed before the ping), then
    // 16 MiB: the first MiB stays in the socket (4 MiB: a write that finds it full waits there,
    // whatever on-congestion says), past congestion-fill alpha goes Ahead
    const heardBefore = (await lab.dmesg('bravo')).split('\n').length;
    await lab.linkCut('alpha', 'bravo');
    const ahead = await t.write('alpha', 16, 16);

    // 3. alpha crashes in the command that sees it Ahead and still Connected
    await t.crashIf(
      'alpha',
      `st=$(${t.S} status r0 -v | tr '\\n' ' ')
case "$st" in *connection:Connected*replication:Ahead*) ;; *) echo "status: $st"; exit 3;; esac`,
    );
    await lab.linkRestore('alpha', 'bravo');

    // 4. bravo notices the loss: it never heard of this Ahead period, so it is not Outdated as a
    // Behind node would be
    await t.waitConnection('bravo', false, 60_000);
    const bravoLog = (await lab.dmesg('bravo'))
      .split('\n')
      .slice(heardBefore)
      .filter((l) => l.includes('bsr: '));
    assert(!bravoLog.some((l) => /Behind/.test(l)), `bravo heard of Behind:\n${bravoLog.slice(-20).join('\n')}`);
    const disk = await t.pdField('bravo', 'disk');
    assert(disk === 'UpToDate', `bravo after the loss: disk ${disk}`);

    // 5. alpha back as Secondary: its writes bravo missed are resynced to bravo
    await lab.boot('alpha');
    await t.up('alpha', { createMd: false, net: NET });
    await t.waitSynced(120_000);
    const resync = (await lab.dmesg('alpha'))
      .split('\n')
      .filter((l) => /uuids .* peer |resync as Sync/.test(l))
      .slice(-2);
    lab.log(`alpha: ${resync.join(' | ')}`);
    assert(
      resync.some((l) => /SyncSource/.test(l)),
      'alpha was the resync source',
    );
    assert((await t.sum('bravo', '/dev/vda', 0, 8)) === before, 'the first 8 MiB on bravo');
    assert((await t.sum('bravo', '/dev/vda', 16, 16)) === ahead, "alpha's writes after the cut on bravo");
    const [a, b] = await Promise.all([lab.diskSum('alpha', 'vda', 0, size), lab.diskSum('bravo', 'vda', 0, size)]);
    assert(a === b, `alpha and bravo differ after the resync (${a.slice(0, 12)} / ${b.slice(0, 12)})`);
    await t.downAll();
  },
});
