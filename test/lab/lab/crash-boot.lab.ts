// Lab self-test: a crash (qemu killed) keeps what reached the disks; boot brings the node back on
// the same disks with its link; both disks are separate.
import type { Scenario } from '../../../tools/lab/scenario.js';

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

const scenario: Scenario = {
  title: 'crash and boot keep the disks',
  nodes: 2,
  timeoutSec: 600,
  async run(lab) {
    // 8 MiB of random data at 100 MiB on vda, a marker on vdb, written with O_DIRECT.
    const sum = (
      await lab.sh(
        'bravo',
        [
          'head -c 8388608 /dev/urandom > /tmp/data',
          'dd if=/tmp/data of=/dev/vda bs=1M seek=100 oflag=direct status=none',
          'echo vdb-marker | dd of=/dev/vdb bs=4096 conv=sync oflag=direct status=none',
          'sha256sum < /tmp/data',
        ].join('\n'),
      )
    ).split(' ')[0];
    await lab.crash('bravo');
    assert(!lab.info().nodes.bravo?.running, 'bravo stopped');
    let failed = false;
    try {
      await lab.exec('bravo', 'true');
    } catch {
      failed = true;
    }
    assert(failed, 'exec on a crashed node fails');
    const t0 = Date.now();
    await lab.boot('bravo');
    lab.log(`bravo booted again in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const after = (
      await lab.sh('bravo', 'dd if=/dev/vda bs=1M skip=100 count=8 iflag=direct status=none | sha256sum')
    ).split(' ')[0];
    assert(after === sum, `vda contents kept across crash/boot (${after} vs ${sum})`);
    const marker = await lab.sh('bravo', 'head -c 10 /dev/vdb');
    assert(marker === 'vdb-marker', `vdb kept (${marker})`);
    assert((await lab.sh('bravo', 'hostname')).trim() === 'bravo', 'hostname after boot');
    await lab.waitFor(
      'the link after the reboot',
      async () => (await lab.exec('alpha', ['ping', '-c', '1', '-W', '1', lab.address('bravo', 'alpha')])).code === 0,
      30_000,
    );
    // The other side crashes too (the UDP links need no listen/connect roles).
    await lab.crash('alpha');
    await lab.boot('alpha');
    await lab.waitFor(
      'the link after alpha rebooted',
      async () => (await lab.exec('bravo', ['ping', '-c', '1', '-W', '1', lab.address('alpha', 'bravo')])).code === 0,
      30_000,
    );
    const empty = (
      await lab.sh('alpha', 'dd if=/dev/vda bs=1M skip=100 count=8 status=none | tr -d "\\0" | wc -c')
    ).trim();
    assert(empty === '0', "alpha's disk is its own (still empty)");
  },
};
export default scenario;
