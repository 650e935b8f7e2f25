// FastSync of the initial sync: alpha's disk holds ext4 (~15 % used, files of mixed sizes,
// some deleted) before the resource exists; `primary --force` checks it, hands the kernel the
// used-block map and the resync moves about the used bytes, not the 256 MiB device. bravo's
// copy passes e2fsck -fn and every file reads back equal after a switchover.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';
import { checkTargetCopy, forcePrimary, makeFilesystem, recordEvents, stopEvents } from './steps.js';

export default scenario({
  title: 'FastSync: the initial sync of ext4 moves only the used blocks',
  nodes: 2,
  diskSize: '256M',
  timeoutSec: 600,
  async run(lab) {
    const t = twoNodes(lab);
    const used = await makeFilesystem(t);
    await Promise.all(['alpha', 'bravo'].map((n) => t.up(n as 'alpha' | 'bravo')));
    await t.waitConnected();
    const sent0 = await t.stat('alpha', 'sent');
    await recordEvents(t);
    const t0 = Date.now();
    const p = await forcePrimary(lab, t);
    assert(p.code === 0, `primary --force succeeds:\n${p.out}`);
    assert(/file system check of \/dev\/vda: clean/.test(p.out), 'bsrsetup says the check passed');
    assert(/FastSync map of \/dev\/vda \(ext4\)/.test(p.out), 'bsrsetup says it handed over a FastSync map');
    await t.waitSynced(240_000);
    const secs = (Date.now() - t0) / 1000;
    const sentKiB = (await t.stat('alpha', 'sent')) - sent0;
    const ev = await stopEvents(t);
    const kind = /resync-kind:(\w+)/.exec(ev)?.[1];
    const mapBytes = Number(/map-bytes:(\d+)/.exec(ev)?.[1]);
    lab.log(
      `device 256 MiB, used ${(used / 1048576).toFixed(1)} MiB, map ${(mapBytes / 1048576).toFixed(1)} MiB, sent ${(sentKiB / 1024).toFixed(1)} MiB in ${secs.toFixed(1)} s, resync-kind ${kind}`,
    );
    assert(kind === 'Fast', `events2 shows resync-kind:Fast (${kind})`);
    assert(mapBytes === used, `map-bytes ${mapBytes} = the used bytes ${used}`);
    assert(Math.abs(sentKiB * 1024 - used) <= used * 0.1, `bytes on the wire within 10 % of the used bytes`);
    const dmesg = await lab.dmesg('alpha');
    assert(/FastSync: the file-system map covers \d+ KiB/.test(dmesg), 'the kernel log says FastSync');
    await checkTargetCopy(lab, t);

    // The same device resynced by invalidate-remote with the resource's fast-sync off, then on.
    const figures: Record<string, { kib: number; secs: number }> = {};
    for (const fast of ['no', 'yes']) {
      await t.sh('alpha', `${t.S} resource-options r0 --fast-sync=${fast}`);
      const s0 = await t.stat('alpha', 'sent');
      const t1 = Date.now();
      await t.sh('alpha', `${t.S} invalidate-remote r0 1 0`);
      await t.waitSynced(240_000);
      figures[fast] = { kib: (await t.stat('alpha', 'sent')) - s0, secs: (Date.now() - t1) / 1000 };
      lab.log(
        `invalidate-remote, fast-sync ${fast}: sent ${figures[fast].kib} KiB in ${figures[fast].secs.toFixed(1)} s`,
      );
    }
    const log = await lab.dmesg('alpha');
    assert(/full sync of the whole device: fast-sync is off/.test(log), 'fast-sync no: a full sync, said so');
    assert(figures.no.kib >= 250 * 1024, `fast-sync no: the whole device went over the wire (${figures.no.kib} KiB)`);
    assert(Math.abs(figures.yes.kib * 1024 - used) <= used * 0.1, 'fast-sync yes: about the used bytes');
    await checkTargetCopy(lab, t);
    await t.downAll();
  },
});
