// Single node: create-md, up without the peer, primary --force, ext4 with files,
// secondary, down, up again, primary: the files are intact. A Secondary refuses every open (a
// mount too), a mounted Primary refuses to demote, an Inconsistent disk refuses a plain primary.
// forget-peer frees the bitmap slot of a deleted peer.
import { scenario } from '../../../tools/lab/scenario.js';
import { singleNode } from '../fixtures.js';

const N = 'alpha' as const;

export default scenario({
  title: 'single node up/primary/ext4/secondary/down/up keeps the files',
  nodes: 2,
  timeoutSec: 1200,
  async run(lab) {
    const { S, M, sh, createMd, upScript, statsObject } = singleNode(lab, N);
    const expectFail = async (what: string, cmd: string, pattern: RegExp) => {
      const r = await lab.exec(N, ['sh', '-c', cmd]);
      const out = r.stdout + r.stderr;
      if (r.code === 0) throw new Error(`${what}: succeeded, expected a refusal:\n${out}`);
      if (!pattern.test(out)) throw new Error(`${what}: refused, but not with ${pattern}:\n${out}`);
      lab.log(`${what}: refused as expected (${out.trim().split('\n').at(-1)})`);
    };
    const up = upScript({ path: true });

    await sh('modprobe ext4 && grep -q "^version: " /proc/bsr');
    lab.log(await sh(createMd));
    await sh(up);
    const st = await sh(`${S} status r0 -v`);
    lab.log(st);
    if (!/disk:Inconsistent/.test(st)) throw new Error('a fresh disk should be Inconsistent');
    if (!/connection:StandAlone/.test(st)) throw new Error('the absent peer should be StandAlone');
    await expectFail('status of an unknown resource', `${S} status r9`, /NO_RESOURCE|unknown resource/);
    await expectFail('attach of an unknown minor', `${S} attach 9 /dev/vdb /dev/vdb internal`, /NO_MINOR/);
    await expectFail('primary without --force on Inconsistent data', `${S} primary r0`, /STATE_REFUSED_INCONSISTENT/);
    await expectFail(
      'Secondary opened for writing',
      'dd if=/dev/zero of=/dev/bsr1 bs=4k count=1 oflag=direct',
      /Read-only file system/,
    );

    await sh(`${S} primary r0 --force`);
    const st2 = await sh(`${S} status r0`);
    if (!/role:Primary/.test(st2) || !/disk:UpToDate/.test(st2)) throw new Error(`after primary --force:\n${st2}`);
    const gi = await sh(`${S} get-gi r0 1 0`);
    lab.log(`get-gi after primary --force: ${gi.trim()}`);
    if (/^0*4:/.test(gi.trim())) throw new Error('primary --force must generate a new current UUID');

    await sh('mkfs.ext4 -q -F /dev/bsr1 && mkdir -p /tmp/m && mount /dev/bsr1 /tmp/m');
    await sh(
      'for i in 1 2 3 4 5 6 7 8; do dd if=/dev/urandom of=/tmp/m/f$i bs=256k count=$((i * 4)) status=none; done\n' +
        'mkdir /tmp/m/dir && echo hello > /tmp/m/dir/hello && sync && (cd /tmp/m && md5sum f* dir/hello) > /tmp/sums',
    );
    const sums = await sh('cat /tmp/sums');
    await expectFail('demote while mounted', `${S} secondary r0`, /STATE_REFUSED_OPEN|held open/);
    await sh(`umount /tmp/m && ${S} secondary r0`);
    await expectFail(
      'write to a Secondary',
      'dd if=/dev/zero of=/dev/bsr1 bs=4k count=1 oflag=direct',
      /Read-only file system/,
    );
    // a Secondary cannot be mounted at all, not even read-only: its device refuses every open
    const mnt = await lab.exec(N, ['sh', '-c', 'mount /dev/bsr1 /tmp/m; r=$?; grep " /tmp/m " /proc/mounts; exit $r']);
    if (mnt.code === 0 || /\/tmp\/m/.test(mnt.stdout))
      throw new Error(`a Secondary was mounted:\n${mnt.stdout}${mnt.stderr}`);
    lab.log(`mount of a Secondary refused: ${mnt.stderr.trim()}`);
    await sh(`${S} down r0`);
    const md = await sh(`${M} 1 v09 /dev/vda internal dump-md`);
    const flags = Number.parseInt(/^flags (0x[0-9a-f]+);/m.exec(md)?.[1] ?? 'NaN', 16);
    // CONSISTENT | WAS_UP_TO_DATE | AL_CLEAN, not PRIMARY_IND after a clean down
    if ((flags & 0x91) !== 0x91 || flags & 0x2) throw new Error(`meta-data flags after down: 0x${flags.toString(16)}`);
    lab.log(`after down: flags 0x${flags.toString(16)}`);

    await sh(up);
    const st3 = await sh(`${S} status r0`);
    if (!/disk:UpToDate/.test(st3)) throw new Error(`after up again:\n${st3}`);
    await sh(`${S} primary r0`);
    await sh('mount /dev/bsr1 /tmp/m');
    const sums2 = await sh('cd /tmp/m && md5sum f* dir/hello');
    await sh(`umount /tmp/m && ${S} down r0`);
    if (sums2 !== sums) throw new Error(`files changed:\n${sums}\n---\n${sums2}`);
    lab.log('files intact after down/up');

    // a small activity log (67 extents) over 127 written extents: extents leave the AL, their
    // bitmap pages are written first; after down/up the bitmap still has every written block
    const oos = async () => Number((await statsObject('r0', 'peer-device')).o?.['out-of-sync']);
    await sh(`${createMd} >/dev/null
${upScript({ path: true, attach: '--al-extents=67' })}
${S} primary r0 --force
python3 -c "
import mmap, os
fd = os.open('/dev/bsr1', os.O_WRONLY | os.O_DIRECT)
block = mmap.mmap(-1, 4096)  # page aligned, as O_DIRECT wants
block.write(os.urandom(4096))
for i in range(127):
    os.pwrite(fd, block, i * 4 << 20)
os.close(fd)"`);
    const o1 = await oos();
    await sh(`${S} down r0\n${up}`);
    const o2 = await oos();
    lab.log(`AL eviction: out-of-sync ${o1} KiB before down, ${o2} KiB after down/up`);
    if (o1 !== 127 * 4 || o2 !== o1) throw new Error('the bitmap lost bits of extents that left the AL');

    // forget-peer frees the bitmap slot a deleted peer kept in the meta data
    const peerSlot = async () =>
      /peer\[1\] \{\s*bitmap-index (-?\d+);/.exec(await sh(`${M} 1 v09 /dev/vda internal dump-md`))?.[1];
    await sh(`${S} del-peer r0 1\n${S} down r0`);
    const kept = await peerSlot();
    await sh(`${up}\n${S} del-peer r0 1\n${S} forget-peer r0 1\n${S} down r0`);
    const freed = await peerSlot();
    lab.log(`peer 1's bitmap slot: ${kept} after del-peer, ${freed} after forget-peer`);
    if (kept !== '0' || freed !== '-1') throw new Error(`forget-peer: slot ${kept} -> ${freed}, expected 0 -> -1`);

    // meta data that records a larger device than the lower device offers is refused (flexible
    // meta data on 16 MiB of vdb: create-md reads and zeroes the whole meta device)
    await sh(`modprobe dm-mod
dmsetup create md16 --table "0 32768 linear /dev/vdb 0"
${M} --force 4 v09 /dev/mapper/md16 flexible create-md --max-peers=1 </dev/null >/dev/null
${S} new-resource r3 0
${S} new-minor r3 4 0
${S} attach 4 /dev/vda /dev/mapper/md16 flexible
${S} detach 4
dmsetup create small --table "0 524288 linear /dev/vda 0"`);
    await expectFail(
      'attach of a lower device smaller than the meta data records',
      `${S} attach 4 /dev/mapper/small /dev/mapper/md16 flexible`,
      /SIZE_MISMATCH/,
    );
    await sh(`${S} down r3\ndmsetup remove small\ndmsetup remove md16\nrmmod bsr`);
  },
});
