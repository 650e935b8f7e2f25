// Lab self-test: device-mapper fault injection (dm-error, switching a live mapping, dm-delay, dm-flakey).
import type { Scenario } from '../../../tools/lab/scenario.js';

function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

const scenario: Scenario = {
  title: 'dm fault helpers (flakey, error, delay)',
  nodes: 2,
  timeoutSec: 600,
  async run(lab) {
    const n = 'alpha';
    // A linear mapping that works, then fails every I/O, then works again (same handle).
    const dev = await lab.disk.linear(n, 'lin', '/dev/vdb');
    await lab.sh(n, `dd if=/dev/zero of=${dev} bs=4096 count=16 oflag=direct status=none`);
    await lab.disk.failNow(n, 'lin');
    const bad = await lab.exec(n, `dd if=/dev/zero of=${dev} bs=4096 count=1 oflag=direct status=none`);
    assert(bad.code !== 0, 'writes fail on a failed mapping');
    await lab.disk.healNow(n, 'lin', '/dev/vdb');
    await lab.sh(n, `dd if=/dev/zero of=${dev} bs=4096 count=1 oflag=direct status=none`);
    await lab.disk.remove(n, 'lin');

    const err = await lab.disk.error(n, 'err', '/dev/vdb');
    const r = await lab.exec(n, `dd if=${err} of=/dev/null bs=4096 count=1 iflag=direct status=none`);
    assert(r.code !== 0, 'dm-error fails reads');
    await lab.disk.remove(n, 'err');

    const slow = await lab.disk.delay(n, 'slow', '/dev/vdb', { ms: 200 });
    const t0 = Date.now();
    await lab.sh(n, `dd if=${slow} of=/dev/null bs=4096 count=3 iflag=direct status=none`);
    const took = Date.now() - t0;
    assert(took >= 550, `dm-delay delays (${took} ms for 3 reads)`);
    await lab.disk.remove(n, 'slow');

    const flaky = await lab.disk.flakey(n, 'flaky', '/dev/vdb', { upSec: 0, downSec: 5, errorWrites: true });
    const w = await lab.exec(n, `dd if=/dev/zero of=${flaky} bs=4096 count=1 oflag=direct status=none`);
    assert(w.code !== 0, 'dm-flakey (down) fails writes');
    await lab.disk.remove(n, 'flaky');
  },
};
export default scenario;
