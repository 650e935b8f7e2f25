// A device holding no file system: `primary --force` finds nothing to map, says so, and the
// initial sync copies the whole device (resync-kind:Full, the kernel log says why).
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';
import { forcePrimary, recordEvents, stopEvents } from './steps.js';

export default scenario({
  title: 'FastSync: no file system, the whole device is synced and said so',
  nodes: 2,
  diskSize: '256M',
  timeoutSec: 600,
  async run(lab) {
    const t = twoNodes(lab);
    await t.sh('alpha', 'head -c 67108864 /dev/urandom | dd of=/dev/vda bs=1M oflag=direct status=none');
    await Promise.all(['alpha', 'bravo'].map((n) => t.up(n as 'alpha' | 'bravo')));
    await t.waitConnected();
    const { size, sent: sent0 } = await t.stats('alpha', ['size', 'sent']);
    await recordEvents(t);
    const t0 = Date.now();
    const p = await forcePrimary(lab, t);
    assert(p.code === 0, `primary --force succeeds:\n${p.out}`);
    assert(
      /no ext2\/3\/4 or xfs file system on \/dev\/vda: a full sync from here copies the whole device/.test(p.out),
      'bsrsetup says so',
    );
    await t.waitSynced(240_000);
    const secs = (Date.now() - t0) / 1000;
    const sentKiB = (await t.stat('alpha', 'sent')) - sent0;
    const ev = await stopEvents(t);
    const kind = /resync-kind:(\w+)/.exec(ev)?.[1];
    lab.log(`device ${size} KiB, sent ${sentKiB} KiB in ${secs.toFixed(1)} s, resync-kind ${kind}`);
    assert(kind === 'Full', `events2 shows resync-kind:Full (${kind})`);
    assert(sentKiB >= size, `the whole device went over the wire (${sentKiB} of ${size} KiB)`);
    const dmesg = await lab.dmesg('alpha');
    assert(/full sync of the whole device: no file-system map/.test(dmesg), 'the kernel log says why');
    assert((await t.sum('alpha', '/dev/vda', 0, 64)) === (await t.sum('bravo', '/dev/vda', 0, 64)), 'data equal');
    await t.downAll();
  },
});
