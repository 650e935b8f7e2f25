// Single node: the node is killed (qemu SIGKILL) while a Primary writes with
// O_DSYNC; after the reboot, attach replays the activity log into the peer's bitmap slot, the
// meta data is consistent again, and every write that had been acknowledged is on the disk.
// Then again with al-updates no (set on the attached device): no transaction is written, and
// after the kill the attach marks the whole device out of sync.
import { scenario } from '../../../tools/lab/scenario.js';
import { singleNode } from '../fixtures.js';

const N = 'alpha' as const;
const SPREAD_BLOCKS = 64 * 1024; // writes spread over the first 256 MiB = 64 AL extents

const WRITER = `
const fs = require('fs');
const fd = fs.openSync('/dev/bsr1', fs.constants.O_RDWR | fs.constants.O_DSYNC);
const buf = Buffer.alloc(4096);
for (let i = 0; ; i++) {
  const blk = (i * 7919 + 13) % ${SPREAD_BLOCKS};
  buf.fill(0x5a);
  buf.write('bsr-crash seq=' + i + ' blk=' + blk + '\\n');
  fs.writeSync(fd, buf, 0, 4096, blk * 4096);
  process.stdout.write('ack ' + i + ' ' + blk + '\\n');
}
`;

const CHECKER = `
const fs = require('fs');
const acks = JSON.parse(fs.readFileSync(0, 'utf8'));
const fd = fs.openSync('/dev/vda', 'r');
const buf = Buffer.alloc(4096);
let bad = 0;
for (const [seq, blk] of acks) {
  fs.readSync(fd, buf, 0, 4096, blk * 4096);
  const m = /^bsr-crash seq=(\\d+) blk=(\\d+)\\n/.exec(buf.toString('latin1', 0, 64));
  if (!m || Number(m[2]) !== blk || Number(m[1]) < seq) {
    if (bad++ < 5) console.error('block ' + blk + ': expected seq>=' + seq + ', found ' + JSON.stringify(buf.toString('latin1', 0, 40)));
  }
}
console.log(JSON.stringify({ checked: acks.length, bad }));
`;

export default scenario({
  title: 'crash during writes, AL replay, acknowledged writes survive',
  nodes: 2,
  timeoutSec: 900,
  async run(lab) {
    const { S, M, sh, createMd, upScript, statsObject } = singleNode(lab, N);
    const up = upScript();

    await sh(createMd);
    await sh(`${up}\n${S} primary r0 --force`);

    // write until enough writes are acknowledged, then kill the node mid-stream
    const acked = new Map<number, number>(); // blk -> highest acknowledged seq
    let count = 0;
    let partial = '';
    let resolveEnough: () => void = () => {};
    const enough = new Promise<void>((r) => {
      resolveEnough = r;
    });
    const writer = lab
      .exec(N, ['node', '-e', WRITER], {
        timeoutMs: 600_000,
        onStdout: (chunk) => {
          partial += chunk.toString();
          const lines = partial.split('\n');
          partial = lines.pop() ?? '';
          for (const l of lines) {
            const m = /^ack (\d+) (\d+)$/.exec(l);
            if (!m) continue;
            const seq = Number(m[1]);
            const blk = Number(m[2]);
            if ((acked.get(blk) ?? -1) < seq) acked.set(blk, seq);
            count++;
            if (count === 400) resolveEnough();
          }
        },
      })
      .catch(() => undefined);
    await enough;
    await lab.crash(N);
    await writer;
    const extents = new Set([...acked.keys()].map((b) => Math.floor(b / 1024)));
    lab.log(`killed the node after ${count} acknowledged writes in ${extents.size} AL extents`);

    await lab.boot(N);
    await sh('grep -q "^version" /proc/bsr || insmod native/kmod/bsr.ko');
    const before = await sh(`${M} 1 v09 /dev/vda internal dump-md | grep -E "^(flags|current-uuid)"`);
    lab.log(`meta data after the crash: ${before.replace(/\n/g, ' ')}`);
    const flagsBefore = Number.parseInt(/^flags (0x[0-9a-f]+);/m.exec(before)?.[1] ?? 'NaN', 16);
    if (flagsBefore & 0x80) throw new Error('AL_CLEAN set after a crash of an attached node');
    if (!(flagsBefore & 0x2)) throw new Error('PRIMARY_IND not set after a crash of a Primary');

    await sh(up);
    const dmesg = await lab.dmesg(N);
    const m = /activity log replayed: (\d+) active extents/.exec(dmesg);
    if (!m) throw new Error('no activity log replay in the kernel log');
    const replayed = Number(m[1]);
    lab.log(`AL replay: ${replayed} active extents`);
    if (replayed < extents.size) throw new Error(`replayed ${replayed} extents, writes touched ${extents.size}`);

    const pd = (await statsObject('r0', 'peer-device')).o;
    const oos = Number(pd?.['out-of-sync']);
    lab.log(`peer bitmap after replay: out-of-sync ${oos} KiB`);
    // every replayed extent is out of sync, whole (4 MiB) but for the device's partial last one
    if (oos > replayed * 4096 || oos <= (replayed - 1) * 4096)
      throw new Error(`out-of-sync ${oos} KiB, expected ${replayed} x 4096 KiB (the last extent may be partial)`);
    const st = await sh(`${S} status r0`);
    if (!/disk:UpToDate/.test(st)) throw new Error(`disk state after the crash:\n${st}`);

    await sh(`${S} down r0`);
    const after = await sh(`${M} 1 v09 /dev/vda internal dump-md | grep -E "^flags"`);
    const flagsAfter = Number.parseInt(/^flags (0x[0-9a-f]+);/m.exec(after)?.[1] ?? 'NaN', 16);
    lab.log(`meta data after down: ${after.trim()}`);
    if ((flagsAfter & 0x91) !== 0x91) throw new Error(`flags after down 0x${flagsAfter.toString(16)}`);

    const res = await lab.exec(N, ['node', '-e', CHECKER], {
      input: JSON.stringify([...acked].map(([b, s]) => [s, b])),
    });
    lab.log(`acknowledged writes check: ${res.stdout.trim()} ${res.stderr.trim()}`);
    const r = JSON.parse(res.stdout.trim().split('\n').at(-1) ?? '{}') as { checked?: number; bad?: number };
    if (r.bad !== 0 || r.checked !== acked.size) throw new Error('acknowledged writes are missing');

    // al-updates no, set on the attached device: writes enter new extents without a transaction,
    // so after an unclean stop the attach marks the whole device out of sync
    await sh(`${up}\n${S} primary r0\n${S} disk-options 1 --al-updates=no`);
    const alWrites = async () => Number((await statsObject('r0', 'device')).o?.['al-writes']);
    const al0 = await alWrites();
    await sh('dd if=/dev/urandom of=/dev/bsr1 bs=1M count=16 seek=100 oflag=direct status=none');
    const al1 = await alWrites();
    lab.log(`al-updates no: al-writes ${al0} -> ${al1} over 16 MiB in 4+ new extents`);
    if (al1 !== al0) throw new Error(`al-updates no: activity log transactions written (${al0} -> ${al1})`);
    await lab.crash(N);
    await lab.boot(N);
    await sh('grep -q "^version" /proc/bsr || insmod native/kmod/bsr.ko');
    const flagsCrash = await sh(`${M} 1 v09 /dev/vda internal dump-md | grep -E "^flags"`);
    if (!(Number.parseInt(/^flags (0x[0-9a-f]+);/m.exec(flagsCrash)?.[1] ?? 'NaN', 16) & 0x100))
      throw new Error(`AL_DISABLED (0x100) not on disk after the crash: ${flagsCrash.trim()}`);
    await sh(up);
    if (!/stopped uncleanly with al-updates no: every block marked out of sync/.test(await lab.dmesg(N)))
      throw new Error('no "stopped uncleanly with al-updates no" in the kernel log');
    const kib = Number(await sh('cat /sys/block/bsr1/size')) / 2;
    const oosAll = Number((await statsObject('r0', 'peer-device')).o?.['out-of-sync']);
    lab.log(`after the crash with al-updates no: out-of-sync ${oosAll} KiB of ${kib} KiB`);
    // the whole device: its last 4 KiB bit may cover a partial block
    if (oosAll < kib || oosAll >= kib + 4)
      throw new Error(`out-of-sync ${oosAll} KiB, expected the whole device (${kib} KiB)`);
    await sh(`${S} down r0`);
  },
});
