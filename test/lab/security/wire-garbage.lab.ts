// Garbage on the replication port (random bytes, truncated packets, wrong magic, huge
// lengths, unknown packet types, bad volumes and sectors after a fake handshake, malformed
// volume lists and DATA for a volume the fake peer did not list): the node drops
// each connection and stays healthy; then the real peer connects and replicates.
import { abi } from '../../../src/abi/index.js';
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, twoNodes } from '../fixtures.js';

export default scenario({
  title: 'garbage on the replication port is dropped, the node stays healthy',
  nodes: 2,
  diskSize: '64M',
  timeoutSec: 400,
  async run(lab) {
    const t = twoNodes(lab);
    // bravo (node-id 1) accepts; alpha plays the peer with garbage from the peer's address
    await t.up('bravo', { net: '--connect-int=1' });
    const out = await t.sh(
      'alpha',
      `python3 ${lab.repoRoot}/test/lab/scripts/garbage-peer.py ${lab.address('bravo', 'alpha')} 7789`,
    );
    lab.log(out.trim().replace(/\n/g, ' | '));
    const d = await lab.dmesg('bravo');
    const drops = d
      .split('\n')
      .filter((l) =>
        /bsr:.*(dropped|bad length|bad packet header|unknown volume|beyond the end|unexpected|expected packet|node-id mismatch|while not|bitmap packet with|malformed compressed|malformed VOLUMES)/.test(
          l,
        ),
      );
    lab.log(`bravo logged ${drops.length} refusals, e.g. ${drops.slice(0, 3).join(' / ')}`);
    assert(drops.length >= 10, 'the malformed input was refused');
    const rle = drops.filter((l) => /bitmap packet with|malformed compressed/.test(l)).length;
    lab.log(`bravo refused ${rle} malformed compressed bitmaps`);
    assert(rle >= 7, 'the malformed compressed bitmaps were refused');
    // protocol 4's volume list: a wrong count, duplicates, disorder; then DATA for a volume the
    // fake peer did not list
    const vols = drops.filter((l) => /malformed VOLUMES|packet 256 with a bad length/.test(l));
    lab.log(`bravo refused ${vols.length} malformed volume lists: ${vols.join(' / ')}`);
    assert(vols.length >= 5, 'the malformed volume lists were refused');
    assert(
      drops.some((l) => /packet 0 for unknown volume 0/.test(l)),
      'DATA for a volume the peer did not list was refused',
    );
    // APP_ACTIVE (the throttle's report) only after the handshake agreed on it, and without payload
    assert(d.includes('APP_ACTIVE, which the handshake did not agree on'), 'APP_ACTIVE without the feature is refused');
    assert(
      new RegExp(`packet ${abi.wire.packets.APP_ACTIVE} with a bad length 8$`, 'm').test(d),
      'APP_ACTIVE with a payload is refused',
    );
    await t.checkDmesg('bravo');
    await t.waitState('bravo', 'back to Connecting', (r) => r.field('connection') === 'Connecting', 30_000);
    await t.up('alpha');
    await t.waitConnected();
    await t.sh('alpha', `${t.S} new-current-uuid --clear-bitmap 1 && sleep 1 && ${t.S} primary r0`);
    const w = await t.write('alpha', 8, 8);
    assert(w === (await t.sum('bravo', '/dev/vda', 8, 8)), 'replication works after the garbage');
    await t.downAll();
  },
});
