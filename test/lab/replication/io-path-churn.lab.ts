// The Primary's I/O path:
// 1. overlapping writes are ordered: four processes overwrite the same 16 blocks at once with
//    O_DIRECT writes of distinct patterns; after a clean demotion both disks hold the same bytes
//    (protocol C; replication/protocols-a-b does the same with protocols A and B);
// 2. peers come and go under a write load: the peer is disconnected and deleted (or deleted while
//    connected), added back and reconnected, several times while a writer runs; every write
//    completes, the kernel stays quiet and the final resync makes the data equal; a minor added
//    and deleted on the Secondary while connected leaves the connection working.
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, FAST_PD, twoNodes } from '../fixtures.js';

const BLOCKS = 16;
const WRITES = 250; // per writer and round
const ROUNDS = 1; // per protocol

export default scenario({
  title: 'I/O path orders overlapping writes and survives peers coming and going',
  nodes: 2,
  diskSize: '128M',
  timeoutSec: 1200,
  async run(lab) {
    const t = twoNodes(lab);
    // KiB written through /dev/bsr1 (a bio based device has no /sys/block/*/stat counters)
    const writesDone = () => t.stat('alpha', 'written');

    // 1. ordering of overlapping writes
    await t.upSkipSync({ net: FAST_NET });
    let first = 256;
    const mismatches: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await t.sh('alpha', `${t.S} primary r0`);
      const t0 = Date.now();
      const counts = await t.overlappingWriters(first, BLOCKS, WRITES);
      const secs = (Date.now() - t0) / 1000;
      await t.sh('alpha', `${t.S} secondary r0`);
      const a = await t.blocksSum('alpha', first, BLOCKS);
      const b = await t.blocksSum('bravo', first, BLOCKS);
      lab.log(
        `protocol C round ${round}: writes ${counts.join('+')} in ${secs.toFixed(1)} s; ` +
          `alpha ${a.slice(0, 12)} bravo ${b.slice(0, 12)} ${a === b ? 'equal' : 'DIFFERENT'}`,
      );
      if (a !== b) mismatches.push(`protocol C round ${round}`);
      first += 64;
    }
    assert(mismatches.length === 0, `overlapping writes ended differently on the peers: ${mismatches.join(', ')}`);

    // 2. del-peer / new-peer / disconnect / connect under a write load
    const peerUp = `${t.S} new-peer r0 1 --_name=bravo ${FAST_NET}
${t.S} new-path r0 1 ipv4:${lab.address('alpha', 'bravo')}:7789 ipv4:${lab.address('bravo', 'alpha')}:7789
${t.S} peer-device-options r0 1 0 ${FAST_PD}
${t.S} connect r0 1`;
    const region = { first: 4096, blocks: 2048 }; // 16 MiB at 16 MiB
    await t.sh('alpha', `${t.S} primary r0`);
    await t.startWriter(9, region.first, region.blocks, 16);
    for (let cycle = 0; cycle < 2; cycle++) {
      const before = await writesDone();
      if (cycle % 2 === 0) await t.sh('alpha', `${t.S} disconnect r0 1`);
      await t.sh('alpha', `${t.S} del-peer r0 1`);
      await t.sh('alpha', 'sleep 1');
      await t.sh('alpha', peerUp);
      await t.waitConnection('alpha', true);
      const after = await writesDone();
      lab.log(
        `cycle ${cycle} (${cycle % 2 === 0 ? 'disconnect, ' : ''}del-peer, new-peer, connect): ${after - before} KiB written meanwhile`,
      );
      assert(after > before, `cycle ${cycle}: writes kept completing`);
    }
    // a minor added and deleted on the Secondary while connected: the connection's threads use
    // its peer devices, so it is stopped around the deletion and comes back by itself
    const beforeMinor = await writesDone();
    await t.sh('bravo', `${t.S} new-minor r0 9 5 && ${t.S} del-minor 9`);
    await t.waitConnection('bravo', true);
    assert(!/volume:5/.test(await t.status('bravo')), 'volume 5 is gone on bravo');
    const afterMinor = await writesDone();
    lab.log(`new-minor + del-minor on bravo while connected: ${afterMinor - beforeMinor} KiB written meanwhile`);
    assert(afterMinor > beforeMinor, 'writes kept completing across del-minor');
    await t.stopWriter(60_000);
    await t.waitSynced(120_000);
    await t.sh('alpha', `${t.S} secondary r0`);
    const a = await t.blocksSum('alpha', region.first, region.blocks);
    const b = await t.blocksSum('bravo', region.first, region.blocks);
    lab.log(`after the churn: alpha ${a.slice(0, 12)} bravo ${b.slice(0, 12)}`);
    assert(a === b, 'the written region is equal on both disks after the resync');
    await t.downAll();
  },
});
