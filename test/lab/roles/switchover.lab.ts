// Switchover both ways: the Primary demotes, the peer promotes and writes, the data
// are identical on both nodes each time; an ext4 file system moves over.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'switchover both ways',
  nodes: 2,
  diskSize: '128M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync();
    await t.sh(
      'alpha',
      `modprobe ext4; ${t.S} primary r0 && mkfs.ext4 -q -F /dev/bsr1 && mkdir -p /tmp/m && mount /dev/bsr1 /tmp/m`,
    );
    await t.sh(
      'alpha',
      'head -c 8388608 /dev/urandom > /tmp/m/a && sync && sha256sum /tmp/m/a > /tmp/a.sum && umount /tmp/m',
    );
    await t.sh('alpha', `${t.S} secondary r0`);
    // An operator switches over only between Connected, UpToDate nodes (a lost connection
    // in between leaves a resync running, and a SyncTarget without an UpToDate peer refuses).
    await t.waitSynced();
    await t.sh('bravo', `modprobe ext4; ${t.S} primary r0 && mkdir -p /tmp/m && mount /dev/bsr1 /tmp/m`);
    const a = (await t.sh('alpha', 'cut -d" " -f1 /tmp/a.sum')).trim();
    const b = (await t.sh('bravo', 'sha256sum /tmp/m/a')).split(' ')[0];
    assert(a === b, 'the file written on alpha reads back on bravo');
    await t.sh(
      'bravo',
      'head -c 8388608 /dev/urandom > /tmp/m/b && sync && sha256sum /tmp/m/b > /tmp/b.sum && umount /tmp/m',
    );
    await t.sh('bravo', `${t.S} secondary r0`);
    lab.log('alpha -> bravo: file intact');
    await t.waitSynced();
    await t.sh('alpha', `${t.S} primary r0 && mount /dev/bsr1 /tmp/m`);
    const b1 = (await t.sh('bravo', 'cut -d" " -f1 /tmp/b.sum')).trim();
    const b2 = (await t.sh('alpha', 'sha256sum /tmp/m/b')).split(' ')[0];
    assert(b1 === b2, 'the file written on bravo reads back on alpha');
    await t.sh('alpha', 'umount /tmp/m');
    lab.log('bravo -> alpha: file intact');
    const raw = await t.write('alpha', 100, 16);
    assert(raw === (await t.sum('bravo', '/dev/vda', 100, 16)), 'raw writes after switching back');
    assert((await t.sum('alpha', '/dev/vda', 0, 120)) === (await t.sum('bravo', '/dev/vda', 0, 120)), 'disks equal');
    // A plain switchover between connected nodes must not lose the connection.
    await t.assertNoConnectionLoss();
    await t.downAll();
  },
});
