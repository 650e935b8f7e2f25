// A Secondary's /dev/bsrN is locked to users: opens for reading fail with EMEDIUMTYPE, for writing
// with EROFS (so nobody reads blocks a Primary elsewhere is writing, or a SyncTarget's half-old
// data). A Primary cannot become Secondary while someone holds the device open, even read-only;
// a short-lived reader (udev's blkid) is waited for.
import { resourceState } from '../../../tools/lab/bsr-wait.js';
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

const EROFS = 30;
const EMEDIUMTYPE = 124;

/** Prints "opened" or the errno of an open of /dev/bsr1 with the given python flags. */
const tryOpen = (flags: string) =>
  `python3 -c "
import os
try:
    os.close(os.open('/dev/bsr1', ${flags})); print('opened')
except OSError as e:
    print(e.errno)"`;

export default scenario({
  title: "a Secondary's device refuses every open; an open device cannot be demoted",
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 300,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync();
    await t.sh('alpha', `${t.S} primary r0`);
    const w = await t.write('alpha', 8, 4);

    const read = (await t.sh('bravo', tryOpen('os.O_RDONLY'))).trim();
    const write = (await t.sh('bravo', tryOpen('os.O_WRONLY'))).trim();
    const mount = await t.exec('bravo', 'mkdir -p /tmp/m && mount -o ro /dev/bsr1 /tmp/m');
    const size = Number(await t.sh('bravo', 'cat /sys/block/bsr1/size'));
    lab.log(`bravo (Secondary): open for reading ${read}, for writing ${write}, mount -o ro exit ${mount.code}`);
    assert(read === String(EMEDIUMTYPE), `a read-only open of the Secondary fails with EMEDIUMTYPE (got ${read})`);
    assert(write === String(EROFS), `a write open of the Secondary fails with EROFS (got ${write})`);
    assert(mount.code !== 0, 'the Secondary cannot be mounted, not even read-only');
    assert(size > 0, 'the size stays visible in sysfs');

    // a reader that stays blocks the demotion, with a message naming the reason
    await t.sh(
      'alpha',
      `nohup python3 -c "
import os, time
fd = os.open('/dev/bsr1', os.O_RDONLY); open('/tmp/holding', 'w').close(); time.sleep(600)" > /dev/null 2>&1 &
echo $! > /tmp/holder.pid
while [ ! -e /tmp/holding ]; do sleep 0.1; done`,
    );
    const held = await t.exec('alpha', `${t.S} secondary r0`);
    lab.log(`secondary with a reader holding /dev/bsr1: exit ${held.code}: ${held.stderr.trim()}`);
    assert(held.code !== 0 && /held open for reading/.test(held.stderr), 'demotion refused while a reader holds it');
    assert((await resourceState(lab, 'alpha', t.S, 'r0'))?.role === 'Primary', 'alpha is still Primary');

    // a short-lived reader (as udev's blkid) is waited for
    await t.sh('alpha', 'kill $(cat /tmp/holder.pid)');
    const brief = await t.exec(
      'alpha',
      `python3 -c "
import os, time
fd = os.open('/dev/bsr1', os.O_RDONLY); open('/tmp/brief', 'w').close(); time.sleep(0.8)" &
while [ ! -e /tmp/brief ]; do sleep 0.05; done
${t.S} secondary r0`,
    );
    lab.log(`secondary during a 0.8 s read-only open: exit ${brief.code} ${brief.stderr.trim()}`);
    assert(brief.code === 0, 'a short-lived reader is waited for');
    const after = (await t.sh('alpha', tryOpen('os.O_RDONLY'))).trim();
    assert(after === String(EMEDIUMTYPE), `the demoted node refuses opens too (got ${after})`);

    // promoted, bravo opens and reads what alpha wrote
    await t.sh('bravo', `${t.S} primary r0`);
    assert((await t.sum('bravo', '/dev/bsr1', 8, 4)) === w, 'the new Primary reads the data');
    await t.sh('bravo', `${t.S} secondary r0`);
    await t.downAll();
  },
});
