// A peer whose disk is smaller never shrinks a device holding good data: alpha, Primary with
// UpToDate data on 128 MiB, meets bravo with 64 MiB. alpha refuses the connection (StandAlone,
// "too small" in its log) and keeps its size and the data at its end; as DRBD does.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'a smaller peer disk is refused, the live device keeps its size and data',
  nodes: 2,
  diskSize: '128M',
  timeoutSec: 300,
  async run(lab) {
    const t = twoNodes(lab);
    await t.up('alpha');
    await t.sh('alpha', `${t.S} primary r0 --force`);
    const size = Number(await t.sh('alpha', 'cat /sys/block/bsr1/size'));
    const lastMiB = Math.floor(size / 2048) - 1;
    const tail = await t.write('alpha', lastMiB, 1);
    // bravo's disk: the first 64 MiB of its vda
    const small = await t.sh(
      'bravo',
      'dmsetup create small --table "0 131072 linear /dev/vda 0" && echo /dev/dm-$(dmsetup info -c --noheadings -o minor small)',
    );
    await t.up('bravo', { disk: small.trim() });
    await lab.waitFor(
      'alpha to refuse the smaller peer',
      async () => /too small/.test(await lab.dmesg('alpha')),
      60_000,
      500,
    );
    await t.waitState('alpha', 'StandAlone', (r) => r.field('connection') === 'StandAlone', 30_000);
    const after = Number(await t.sh('alpha', 'cat /sys/block/bsr1/size'));
    lab.log(`alpha: ${size} sectors before, ${after} after meeting the smaller peer`);
    assert(after === size, `the device kept its size (${size} -> ${after} sectors)`);
    assert((await t.sum('alpha', '/dev/bsr1', lastMiB, 1)) === tail, 'the data at the end is still there');
    await t.sh('alpha', `${t.S} secondary r0`);
    await t.downAll();
  },
});
