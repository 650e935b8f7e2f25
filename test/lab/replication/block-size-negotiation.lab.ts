// Backing disks of different logical block sizes: alpha's takes 512-byte blocks, bravo's (a loop device
// with 4 KiB sectors) only 4 KiB ones. Connected, both /dev/bsr1 expose 4096 (each node sends its disk's
// size in SIZES), so a 512-byte O_DIRECT write on the Primary is refused (EINVAL) and 4 KiB writes
// replicate. A Primary in use when the peer connects keeps its 512 (its users chose their I/O sizes by
// it): bravo then refuses the 512-byte write it cannot take (not handed to its disk, no I/O error), the
// block is out of sync on alpha and the next resync, once alpha is no longer in use, copies it.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'the logical block size is the larger of both disks; what a disk cannot take is not half-applied',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 300,
  async run(lab) {
    const t = twoNodes(lab);
    const loop = (await t.sh('bravo', 'modprobe loop; losetup --sector-size 4096 -f --show /dev/vda')).trim();
    await Promise.all([t.up('alpha', { net: FAST_NET }), t.up('bravo', { disk: loop, net: FAST_NET })]);
    await t.waitConnected();
    await t.sh('alpha', `${t.S} new-current-uuid --clear-bitmap 1`);
    await t.waitSynced(30_000);
    const lbs = async () =>
      Promise.all(['alpha', 'bravo'].map((n) => t.sh(n as 'alpha', 'cat /sys/block/bsr1/queue/logical_block_size')));
    const sizes = (await lbs()).map(Number);
    lab.log(`logical block size: alpha ${sizes[0]}, bravo ${sizes[1]} (bravo's disk ${loop}: 4096)`);
    assert(sizes[0] === 4096 && sizes[1] === 4096, 'both devices expose the larger logical block size');

    await t.sh('alpha', `${t.S} primary r0`);
    const small =
      'head -c 512 /dev/urandom > /tmp/s && dd if=/tmp/s of=/dev/bsr1 bs=512 seek=1 oflag=direct status=none';
    const refused = await t.exec('alpha', small);
    lab.log(`512-byte O_DIRECT write at sector 1: exit ${refused.code} ${refused.stderr.trim()}`);
    assert(refused.code !== 0 && /Invalid argument/.test(refused.stderr), 'the 512-byte write is refused (EINVAL)');
    const data = await t.write('alpha', 1, 4);
    await t.sh(
      'alpha',
      'head -c 65536 /dev/urandom > /tmp/w4 && dd if=/tmp/w4 of=/dev/bsr1 bs=4096 seek=2048 count=16 oflag=direct status=none',
    );
    assert(data === (await t.sum('bravo', loop, 1, 4)), '4 MiB of 4 KiB-aligned writes replicated');
    const sum8 = `dd if=DEV bs=4096 skip=2048 count=16 iflag=direct status=none | sha256sum`;
    assert(
      (await t.sh('alpha', sum8.replace('DEV', '/dev/bsr1'))) === (await t.sh('bravo', sum8.replace('DEV', loop))),
      '16 single 4 KiB writes replicated',
    );

    // alpha again with its own 512, Primary and in use when bravo connects
    await t.sh('bravo', `${t.S} disconnect r0 0`);
    await t.down('alpha');
    await t.up('alpha', { createMd: false, connect: false, net: FAST_NET });
    await t.sh('alpha', `${t.S} primary r0`);
    const holder = (await t.sh('alpha', 'sleep 600 < /dev/bsr1 > /dev/null 2>&1 & echo $!')).trim();
    await t.sh('alpha', `${t.S} connect r0 1`);
    await t.sh('bravo', `${t.S} connect r0 0`);
    await t.waitConnected();
    await t.waitSynced(30_000);
    const inUse = (await lbs()).map(Number);
    lab.log(`alpha in use: logical block size alpha ${inUse[0]}, bravo ${inUse[1]}`);
    assert(inUse[0] === 512 && inUse[1] === 4096, 'a device in use keeps its logical block size');
    const oos0 = await t.stat('alpha', 'out-of-sync');
    await t.sh('alpha', small);
    const oos = await lab.waitFor('the refusal to count', async () => {
      const v = await t.stat('alpha', 'out-of-sync');
      return v > oos0 ? v : undefined;
    });
    const refusal = (await lab.dmesg('bravo')).split('\n').find((l) => /not aligned to the 4096-byte blocks/.test(l));
    lab.log(`alpha out-of-sync ${oos} KiB; bravo: ${refusal}`);
    assert(oos === 4, `the refused block is out of sync on alpha (${oos} KiB)`);
    assert(refusal, 'bravo says why it refused the write');
    assert((await t.pdField('bravo', 'disk')) === 'UpToDate', 'no I/O error: bravo keeps its disk');
    assert(!/lower device I\/O error/.test(await lab.dmesg('bravo')), 'bravo did not hand the write to its disk');

    // no longer in use: the next handshake raises alpha's block size and the resync copies the block
    await t.sh('alpha', `kill ${holder}`);
    await t.sh('bravo', `${t.S} disconnect r0 0 && ${t.S} connect r0 0`);
    await t.waitConnected();
    await t.waitSynced(30_000);
    const after = (await lbs()).map(Number);
    lab.log(
      `after the reconnect: alpha ${after[0]}, bravo ${after[1]}; out-of-sync ${await t.stat('alpha', 'out-of-sync')} KiB`,
    );
    assert(after[0] === 4096, 'alpha, no longer in use, takes the larger block size');
    assert(
      (await t.sum('alpha', '/dev/bsr1', 0, 1)) === (await t.sum('bravo', loop, 0, 1)),
      'the first MiB (the refused block) is equal',
    );
    await t.downAll();
    await t.sh('bravo', `losetup -d ${loop}`);
  },
});
