// Two nodes connect, primary --force starts the full initial sync, then 64 MiB
// written on the Primary with protocol C arrive unchanged on the Secondary's backing disk.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'initial sync, then 64 MiB replicated with protocol C',
  nodes: 2,
  diskSize: '128M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    // alpha connects (the lower node-id) and is refused until bravo listens: it asks again
    // within a second, not after its connect-int (here 30 s; DRBD's default is 10 s)
    await t.up('alpha', { net: '--connect-int=30' });
    // alpha's path: not established while it connects, then established (a change event)
    let firstLook: string | undefined;
    let looked = () => {};
    const lookedAt = new Promise<void>((resolve) => {
      looked = resolve;
    });
    const pathUp = t.waitState('alpha', 'its path established', (r) => {
      const established = r.paths()[0]?.established;
      if (firstLook === undefined) {
        firstLook = String(established);
        looked();
      }
      return established === 'yes';
    });
    await lookedAt;
    assert(firstLook === 'no', `alpha's path while connecting: established ${firstLook}`);
    await t.up('bravo');
    const upAt = Date.now();
    await t.waitConnected();
    await pathUp;
    const connectS = (Date.now() - upAt) / 1000;
    lab.log(`connected ${connectS.toFixed(1)} s after bravo's up (alpha's connect-int 30 s)`);
    assert(connectS < 8, `connected ${connectS.toFixed(1)} s after the peer listened: not within seconds`);
    lab.log((await t.status('alpha')).trim());
    await t.sh('alpha', `${t.S} primary r0 --force`);
    const during = await t.status('bravo');
    lab.log(`right after primary --force, bravo: ${during.replace(/\s+/g, ' ')}`);
    await t.waitSynced();
    lab.log('initial sync done');
    // 64 MiB made on the host, written with 4 MiB O_DIRECT writes; the disks are compared on the host
    const sum = await t.write('alpha', 16, 64);
    // the block layer's accounting (iostat, /sys/block/bsr1/stat: field 7 = sectors written)
    const stat = (await t.sh('alpha', 'cat /sys/block/bsr1/stat')).trim().split(/\s+/).map(Number);
    // pages under writeback stay unchanged (the peers read them later than the local disk)
    const stable = (await t.sh('alpha', 'cat /sys/block/bsr1/queue/stable_writes')).trim();
    assert(stable === '1', `/dev/bsr1 asks for stable pages (queue/stable_writes ${stable})`);
    lab.log(`/sys/block/bsr1/stat: ${stat.join(' ')}`);
    assert(stat[6] >= 131072, `64 MiB written show in /sys/block/bsr1/stat (write sectors ${stat[6]})`);
    const [a, b] = [await t.sum('alpha', '/dev/vda', 16, 64), await t.sum('bravo', '/dev/vda', 16, 64)];
    lab.log(`written ${sum} alpha ${a} bravo ${b}`);
    assert(a === sum && b === sum, 'both disks have the 64 MiB written on the Primary');
    const readBack = await t.sum('alpha', '/dev/bsr1', 16, 4);
    assert(readBack === (await t.sum('alpha', '/dev/vda', 16, 4)), '/dev/bsr1 reads back what was written');
    const whole = [await t.sum('alpha', '/dev/vda', 0, 120), await t.sum('bravo', '/dev/vda', 0, 120)];
    assert(whole[0] === whole[1], 'the first 120 MiB are identical');
    lab.log((await t.status('alpha')).trim());
    await t.assertNoConnectionLoss();
    await t.downAll();
  },
});
