// FastSync of xfs: alpha's disk holds xfs (~10 % used with its 8 MiB log: files of mixed sizes,
// some deleted) before the resource exists; `primary --force` checks it (xfs_repair -n), hands
// the kernel the map of what the free-space btrees do not list, and the resync moves about the
// used bytes. bravo's copy passes xfs_repair -n and every file reads back equal after a
// switchover. Then the same xfs damaged (an AGF's longest free extent wrong, which xfs_repair -n
// reports): `primary --force` refuses it, --skip-check-fs goes on.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';
import { checkTargetCopy, forcePrimary, makeFilesystem, recordEvents, stopEvents } from './steps.js';

export default scenario({
  title: 'FastSync: xfs, the initial sync moves only the used blocks; a damaged xfs is refused',
  nodes: 2,
  diskSize: '256M',
  timeoutSec: 600,
  async run(lab) {
    const t = twoNodes(lab);
    const used = await makeFilesystem(t, 12, 'xfs');
    const upBoth = async () => {
      await Promise.all(['alpha', 'bravo'].map((n) => t.up(n as 'alpha' | 'bravo')));
      await t.waitConnected();
    };
    await upBoth();
    const { size, sent: sent0 } = await t.stats('alpha', ['size', 'sent']);
    await recordEvents(t);
    const t0 = Date.now();
    const p = await forcePrimary(lab, t);
    assert(p.code === 0, `primary --force succeeds:\n${p.out}`);
    assert(/file system check of \/dev\/vda: clean/.test(p.out), 'bsrsetup says the check passed');
    assert(/FastSync map of \/dev\/vda \(xfs\)/.test(p.out), 'bsrsetup says it handed over a FastSync map');
    await t.waitSynced(240_000);
    const secs = (Date.now() - t0) / 1000;
    const sentKiB = (await t.stat('alpha', 'sent')) - sent0;
    const ev = await stopEvents(t);
    const kind = /resync-kind:(\w+)/.exec(ev)?.[1];
    const mapBytes = Number(/map-bytes:(\d+)/.exec(ev)?.[1]);
    lab.log(
      `device ${size} KiB, used ${(used / 1048576).toFixed(1)} MiB (${((used / 1024 / size) * 100).toFixed(1)} %), map ${(mapBytes / 1048576).toFixed(1)} MiB, sent ${(sentKiB / 1024).toFixed(1)} MiB in ${secs.toFixed(1)} s, resync-kind ${kind}`,
    );
    assert(kind === 'Fast', `events2 shows resync-kind:Fast (${kind})`);
    assert(mapBytes === used, `map-bytes ${mapBytes} = the used bytes ${used}`);
    assert(Math.abs(sentKiB * 1024 - used) <= used * 0.1, 'bytes on the wire within 10 % of the used bytes');
    const dmesg = await lab.dmesg('alpha');
    assert(/FastSync: the file-system map covers \d+ KiB/.test(dmesg), 'the kernel log says FastSync');
    await checkTargetCopy(lab, t, 'xfs');

    // Damaged: both down, one AGF's longest free extent made wrong, fresh meta data on both.
    await Promise.all(['alpha', 'bravo'].map((n) => t.sh(n as 'alpha' | 'bravo', `${t.S} down r0`)));
    await t.sh('alpha', 'xfs_db -x -c "agf 1" -c "write -d longest 7" /dev/vda');
    await upBoth();
    const refused = await forcePrimary(lab, t);
    assert(refused.code !== 0, 'primary --force refuses a damaged xfs');
    assert(
      /the file system on \/dev\/vda \(minor 1\) failed its check \(xfs_repair -n exit 1\); nothing was changed/.test(
        refused.out,
      ),
      `a clear refusal:\n${refused.out}`,
    );
    assert(/Repair it with xfs_repair, or skip the check with --skip-check-fs/.test(refused.out), 'names what to do');
    assert(/agf_longest 7, counted \d+ in ag 1/.test(refused.out), `shows xfs_repair's finding:\n${refused.out}`);
    const st = await t.status('alpha');
    assert(/role:Secondary/.test(st) && /disk:Inconsistent/.test(st), `nothing changed on alpha:\n${st}`);
    const goes = await forcePrimary(lab, t, '--skip-check-fs');
    assert(goes.code === 0, `--skip-check-fs goes on:\n${goes.out}`);
    assert(!/file system check/.test(goes.out), 'no check with --skip-check-fs');
    assert(/role:Primary/.test(await t.status('alpha')), 'alpha is Primary');
    await t.downAll();
  },
});
