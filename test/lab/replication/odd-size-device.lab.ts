// A device whose size is not a multiple of 4 KiB: bravo's data disk is a dm-linear of 4000 blocks and 3
// sectors with external meta data, alpha's a larger internal one. The device gets all 32003 sectors on
// both nodes (alpha shrinks to bravo's size, its bitmap with it); the bit of the partial last block covers
// its 3 sectors: the full sync, replicated writes and a resync after writes while disconnected copy
// them, no I/O goes past the end of the lower device, and every sector of both disks ends up equal.
import { type NodeName, scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

const ODD = 4000 * 8 + 3; // sectors: 15.6 MiB

export default scenario({
  title: 'a device size that is not a multiple of 4 KiB: the partial last block syncs and replicates',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 300,
  async run(lab) {
    const t = twoNodes(lab);
    const scripts = `${lab.repoRoot}/test/lab/scripts`;
    const odd = (
      await t.sh(
        'bravo',
        `dmsetup create odd --table "0 ${ODD} linear /dev/vda 0" && echo /dev/dm-$(dmsetup info -c --noheadings -o minor odd)`,
      )
    ).trim();
    await Promise.all([t.up('alpha'), t.up('bravo', { disk: odd, meta: { dev: '/dev/vdb', idx: 'flexible' } })]);
    await t.waitConnected();
    const size = async (n: NodeName) => Number(await t.sh(n, 'cat /sys/block/bsr1/size'));
    const sizes = [await size('alpha'), await size('bravo')];
    lab.log(`device size: alpha ${sizes[0]}, bravo ${sizes[1]} sectors (bravo's lower device ${ODD})`);

    // full sync alpha -> bravo; 1 MiB written up to the last sector replicates meanwhile
    await t.sh('alpha', `${t.S} primary r0 --force`);
    await t.sh(
      'alpha',
      `head -c 1048576 /dev/urandom > /tmp/tail && dd if=/tmp/tail of=/dev/bsr1 bs=1M seek=${(sizes[0] - 2048) * 512} oflag=direct,seek_bytes status=none`,
    );
    await t.waitSynced(90_000);
    assert(sizes[0] === ODD && sizes[1] === ODD, `both devices have all ${ODD} sectors (${sizes.join(', ')})`);

    // every sector: alpha's data on its lower disk up to the device's end, bravo's lower device
    const digests = async (n: NodeName) =>
      (await t.sh(n, `python3 ${scripts}/block-digests.py ${n === 'alpha' ? `/dev/vda 0 end ${ODD}` : `${odd} 0 end`}`))
        .trim()
        .split('\n');
    async function compare(what: string) {
      const [a, b] = [await digests('alpha'), await digests('bravo')];
      const diff = a.findIndex((d, i) => d !== b[i]);
      lab.log(`${what}: ${a.length} blocks, the last ${a[a.length - 1]} / ${b[b.length - 1]}`);
      assert(a.length === b.length && diff < 0, `${what}: the disks differ at block ${diff}`);
    }
    lab.log('synced');
    await compare('after the full sync');
    const tail = await t.sh(
      'alpha',
      `dd if=/dev/bsr1 bs=512 skip=${ODD - 3} count=3 iflag=direct status=none | sha256sum`,
    );
    assert(
      tail ===
        (await t.sh('bravo', `dd if=${odd} bs=512 skip=${ODD - 3} count=3 iflag=direct status=none | sha256sum`)),
      'the last 3 sectors written on alpha are on bravo',
    );

    // bravo Primary writes the partial block while alpha is disconnected: its bit is set, the resync
    // (bravo the SyncSource, reading from its odd lower device) copies those 3 sectors
    await t.sh('alpha', `${t.S} secondary r0`);
    await t.sh('bravo', `${t.S} primary r0`);
    await t.sh('alpha', `${t.S} disconnect r0 1`);
    await t.sh(
      'bravo',
      `head -c 1536 /dev/urandom > /tmp/p && dd if=/tmp/p of=/dev/bsr1 bs=512 seek=${ODD - 3} oflag=direct status=none`,
    );
    const oos = await lab.waitFor(
      'the write to count',
      async () => (await t.stat('bravo', 'out-of-sync')) || undefined,
    );
    lab.log(`bravo out-of-sync while disconnected: ${oos} KiB`);
    assert(oos === 4, `the partial last block is out of sync (${oos} KiB)`);
    await t.sh('alpha', `${t.S} connect r0 1`);
    await t.waitSynced(60_000);
    await compare('after the resync');
    // alpha's lower disk has more sectors: those past the device's end stay untouched (zero)
    const past = await t.sh(
      'alpha',
      `dd if=/dev/vda bs=512 skip=${ODD} count=5 iflag=direct status=none | tr -d '\\0' | wc -c`,
    );
    assert(Number(past) === 0, `alpha's 5 sectors past the device's end are untouched (${past.trim()} bytes not zero)`);
    for (const n of ['alpha', 'bravo'] as const) {
      const log = await lab.dmesg(n);
      assert(!/beyond end of device|resync read error|ProtocolError|bad packet/.test(log), `${n}: ${log.slice(-3000)}`);
    }
    await t.sh('bravo', `${t.S} secondary r0`);
    await t.downAll();
    await t.sh('bravo', 'dmsetup remove odd');
  },
});
