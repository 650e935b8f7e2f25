// The Primary crashes during protocol C writes. Every write acknowledged before the
// crash (the writer logs the last acknowledged number on alpha's second disk) is on bravo after it
// is promoted; the old Primary comes back as Secondary and is resynced (its AL's extents included).
import { scenario } from '../../../tools/lab/scenario.js';
import { assert, FAST_NET, twoNodes } from '../fixtures.js';

const WRITER = `i=0
while [ $i -lt 20000 ]; do
  i=$((i+1))
  printf '%-4096s' "blk $i" | dd of=/dev/bsr1 bs=4096 seek=$((256+i)) iflag=fullblock oflag=direct,dsync status=none || exit 1
  printf '%-512s' "$i" | dd of=/dev/vdb bs=512 count=1 iflag=fullblock oflag=direct,dsync status=none
done`;

const CHECK = `import sys
last = int(sys.argv[1])
bad = []
with open('/dev/bsr1', 'rb', buffering=0) as f:
    for i in range(1, last + 1):
        f.seek((256 + i) * 4096)
        b = f.read(4096)
        if not b.startswith(('blk %d ' % i).encode()):
            bad.append(i)
print(len(bad), bad[:10])`;

export default scenario({
  title: 'failover after a Primary crash keeps every acknowledged write',
  nodes: 2,
  diskSize: '128M',
  timeoutSec: 500,
  async run(lab) {
    const t = twoNodes(lab);
    await t.upSkipSync({ net: FAST_NET });
    await t.sh('alpha', `${t.S} primary r0 && dd if=/dev/zero of=/dev/vdb bs=512 count=1 oflag=direct status=none`);
    await t.sh('alpha', `cat > /tmp/writer.sh <<'X'\n${WRITER}\nX\nnohup sh /tmp/writer.sh > /tmp/writer.log 2>&1 &`);
    // the crash comes once enough writes are acknowledged (a fixed time saw 10 on a loaded host)
    const record = () => t.sh('alpha', 'dd if=/dev/vdb bs=512 count=1 iflag=direct status=none | tr -d " \\0"');
    await lab.waitFor('16 acknowledged writes', async () => Number((await record()).trim()) >= 16, 60_000, 300);
    await lab.crash('alpha');
    lab.log('alpha crashed during the writes');
    await t.waitConnection('bravo', false);
    await t.sh('bravo', `${t.S} primary r0`);
    const extra = await t.write('bravo', 100, 8);
    await lab.boot('alpha');
    const last = Number((await record()).trim());
    lab.log(`last write acknowledged on alpha before the crash: ${last}`);
    assert(last > 10, 'the writer made progress');
    await t.sh('bravo', `cat > /tmp/check.py <<'X'\n${CHECK}\nX`);
    const res = (await t.sh('bravo', `python3 /tmp/check.py ${last}`)).trim();
    lab.log(`missing acknowledged writes on bravo: ${res}`);
    assert(res.startsWith('0 '), `every acknowledged write is on the new Primary (${res})`);
    // the old Primary comes back as Secondary and is resynced
    await t.up('alpha', { createMd: false, net: FAST_NET });
    const st = await t.status('alpha');
    assert(/role:Secondary/.test(st), 'alpha comes back Secondary');
    await t.waitSynced(240_000);
    lab.log(
      (await lab.dmesg('alpha'))
        .split('\n')
        .filter((l) => /bsr:/.test(l))
        .slice(-6)
        .join('\n'),
    );
    assert(extra === (await t.sum('alpha', '/dev/vda', 100, 8)), "bravo's writes reached alpha");
    assert(
      (await t.sum('alpha', '/dev/vda', 0, 100)) === (await t.sum('bravo', '/dev/vda', 0, 100)),
      'devices equal after the resync',
    );
    await t.downAll();
  },
});
