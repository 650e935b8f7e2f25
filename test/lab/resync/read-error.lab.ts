// A resync read error on the SyncSource: the failed blocks are logged (rate limited), left out of sync and
// not retried forever; the resync ends with the target still Inconsistent and the blocks counted out of
// sync. `new-current-uuid --clear-bitmap` on the source then does not make the target skip its sync
// (only data as new as the source's may: DRBD's rule), so it stays Inconsistent. Once the disk is healed,
// a reconnect resyncs and both disks are equal.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

const MIB = 2048; // sectors

export default scenario({
  title: 'a resync read error leaves the blocks out of sync and ends the resync',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    await lab.disk.linear('alpha', 'src', '/dev/vda');
    const dev = `/dev/dm-${(await t.sh('alpha', 'dmsetup info -c --noheadings -o minor src')).trim()}`;
    const size = Number((await t.sh('alpha', `blockdev --getsz ${dev}`)).trim());
    await Promise.all([t.up('alpha', { disk: dev }), t.up('bravo')]);
    await t.waitConnected();
    await t.sh('alpha', `${t.S} new-current-uuid --clear-bitmap 1 && ${t.S} primary r0`);
    await t.waitSynced(30_000);
    const data = await t.write('alpha', 0, 16);

    // sectors [8 MiB, 9 MiB) of alpha's disk fail from now on
    const table = [
      `0 ${8 * MIB} linear /dev/vda 0`,
      `${8 * MIB} ${MIB} error`,
      `${9 * MIB} ${size - 9 * MIB} linear /dev/vda ${9 * MIB}`,
    ].join('\\n');
    await t.sh(
      'alpha',
      `printf '${table}\\n' | dmsetup load src && dmsetup suspend --noflush src && dmsetup resume src`,
    );
    await t.sh('alpha', `${t.S} invalidate-remote r0 1 0`);
    const end = await t.waitState(
      'alpha',
      'the resync to end',
      (r) => (r.field('replication') === 'Established' ? 'Established' : undefined),
      120_000,
    );
    const oos = await t.stat('alpha', 'out-of-sync');
    const bravoDisk = await t.pdField('bravo', 'disk');
    const log = (await lab.dmesg('alpha')).split('\n');
    const errors = log.filter((l) => /resync read error/.test(l)).length;
    const ended = log.find((l) => /could not be read and stay out of sync/.test(l));
    lab.log(`alpha ${end}: ${oos} KiB out of sync, bravo ${bravoDisk}; ${errors} read errors logged; ${ended}`);
    assert(oos === 1024, 'exactly the unreadable MiB stays out of sync');
    assert(bravoDisk === 'Inconsistent', 'the target is not UpToDate with blocks missing');
    assert(ended, 'the end of the resync names what could not be read');
    assert(errors > 0 && errors <= 20, 'read errors are logged, rate limited');

    // the source's "skip the initial sync" does not hold for a target that is only partly synced
    await t.sh('alpha', `${t.S} new-current-uuid --clear-bitmap 1`);
    await new Promise((res) => setTimeout(res, 2000));
    const afterSkip = await t.pdField('bravo', 'disk');
    lab.log(`new-current-uuid --clear-bitmap on alpha: bravo ${afterSkip}`);
    assert(afterSkip === 'Inconsistent', 'the target does not skip a resync it has not finished');

    // healed: a reconnect resyncs the rest (all of it: alpha no longer knows which blocks)
    await lab.disk.healNow('alpha', 'src', '/dev/vda');
    await t.sh('bravo', `${t.S} disconnect r0 0 && ${t.S} connect r0 0`);
    await t.waitSynced(120_000);
    assert((await t.sum('bravo', '/dev/vda', 0, 16)) === data, 'after the heal bravo has all the data');
    await t.sh('alpha', `${t.S} secondary r0`);
    await t.downAll();
    await lab.disk.remove('alpha', 'src');
  },
});
