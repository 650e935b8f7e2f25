// Reference peer check: the guest kernel's DRBD 8.4, driven by drbd-utils, replicates between
// alpha and bravo (full sync, protocol C writes, a file system moved over, resync after a cut).
import {
  type Drbd84Resource,
  deviceChecksum,
  drbd84Down,
  drbd84State,
  drbd84Up,
  drbd84WaitConnected,
  drbd84WaitSynced,
} from '../../../tools/lab/drbd84.js';
import type { Scenario } from '../../../tools/lab/scenario.js';

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

const scenario: Scenario = {
  title: "the guest kernel's DRBD 8.4 replicates between two nodes (the bench reference)",
  nodes: 2,
  diskSize: '128M',
  // Generous: a busy host slows the emulated guests a lot (idle: about a minute).
  timeoutSec: 900,
  bsrModule: false,
  async run(lab) {
    const r: Drbd84Resource = {
      name: 'r0',
      nodes: ['alpha', 'bravo'],
      disk: '/dev/vda',
      minor: 0,
      port: 7789,
      protocol: 'C',
    };
    await drbd84Up(lab, r);
    await drbd84WaitConnected(lab, r);
    await lab.sh('alpha', 'drbdadm primary --force r0');
    await drbd84WaitSynced(lab, r);
    lab.log('initial sync done');

    // Protocol C writes: the peer's backing disk holds the same bytes.
    await lab.sh(
      'alpha',
      'head -c 16777216 /dev/urandom > /tmp/d && dd if=/tmp/d of=/dev/drbd0 bs=1M seek=8 oflag=direct status=none',
    );
    const mine = await deviceChecksum(lab, 'alpha', '/dev/drbd0', 8, 16);
    const peer = await deviceChecksum(lab, 'bravo', '/dev/vda', 8, 16);
    assert(mine === peer, `peer data after protocol C writes (${mine} vs ${peer})`);

    // A file system moves over: alpha demotes, bravo promotes and reads the file.
    await lab.sh(
      'alpha',
      'mkfs.ext4 -q -F /dev/drbd0 && mkdir -p /tmp/m && mount /dev/drbd0 /tmp/m && cp /tmp/d /tmp/m/file && umount /tmp/m',
    );
    await lab.sh('alpha', 'drbdadm secondary r0');
    await lab.sh('bravo', 'drbdadm primary r0 && mkdir -p /tmp/m && mount -o ro /dev/drbd0 /tmp/m');
    const onBravo = (await lab.sh('bravo', 'sha256sum < /tmp/m/file')).split(' ')[0];
    const orig = (await lab.sh('alpha', 'sha256sum < /tmp/d')).split(' ')[0];
    assert(onBravo === orig, 'file replicated through the file system');
    await lab.sh('bravo', 'umount /tmp/m && drbdadm secondary r0');
    await lab.sh('alpha', 'drbdadm primary r0');

    // Cut the link, write while disconnected, restore: the resync brings bravo up to date.
    await lab.linkCut('alpha', 'bravo');
    await lab.waitFor('alpha to notice the cut', async () => {
      const s = await drbd84State(lab, 'alpha', 0);
      return s !== undefined && s.cs !== 'Connected';
    });
    await lab.sh('alpha', 'dd if=/dev/urandom of=/dev/drbd0 bs=1M seek=40 count=8 oflag=direct status=none');
    const oos = (await drbd84State(lab, 'alpha', 0))?.oos ?? 0;
    assert(oos >= 8192, `out-of-sync tracked while disconnected (${oos} KiB)`);
    await lab.linkRestore('alpha', 'bravo');
    await drbd84WaitSynced(lab, r, 120_000);
    const a2 = await deviceChecksum(lab, 'alpha', '/dev/drbd0', 40, 8);
    const b2 = await deviceChecksum(lab, 'bravo', '/dev/vda', 40, 8);
    assert(a2 === b2, 'peer data after resync');
    await lab.sh('alpha', 'drbdadm secondary r0');
    await drbd84Down(lab, r);
  },
};
export default scenario;
