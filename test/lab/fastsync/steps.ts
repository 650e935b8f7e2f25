// Shared steps of the FastSync scenarios: an ext4 or xfs file system with files of mixed sizes
// (some deleted) made on alpha's backing disk before the resource exists, the initial sync
// started by `primary --force` while events2 records it, and the check of the target's copy
// after a switchover (e2fsck -fn / xfs_repair -n clean, every file's checksum equal).
import type { Lab } from '../../../tools/lab/scenario.js';
import { assert, type twoNodes } from '../fixtures.js';

type Nodes = ReturnType<typeof twoNodes>;

/** Bytes of the file system: the rest of the 256 MiB disk is left to the meta data and unused. */
export const FS_MIB = 224;

export type Fs = 'ext4' | 'xfs';

// mkfs.xfs 6.x refuses file systems under 300 MB and logs under 64 MB outside fstests; its
// fstests escape (these variables) keeps the lab's disks small. An 8 MiB log is legal for 6.1.
const MKFS: Record<Fs, string> = {
  ext4: `mkfs.ext4 -q -F -b 4096 /dev/vda ${FS_MIB}M`,
  xfs: `TEST_DIR=/tmp TEST_DEV=/dev/vda QA_CHECK_FS=1 mkfs.xfs -q -f -b size=4096 -l size=8m -d size=${FS_MIB}m /dev/vda`,
};
const CHECK: Record<Fs, string> = { ext4: 'e2fsck -fn', xfs: 'xfs_repair -n' };

/**
 * Makes `fs` on alpha's /dev/vda with `files` files of 4 KiB..6 MiB, deletes every third one,
 * records their checksums in /tmp/sums and unmounts; returns the used bytes (dumpe2fs, xfs_db).
 */
export async function makeFilesystem(t: Nodes, files = 24, fs: Fs = 'ext4'): Promise<number> {
  await t.sh(
    'alpha',
    `modprobe ${fs}
${MKFS[fs]}
mkdir -p /tmp/m && mount /dev/vda /tmp/m && mkdir -p /tmp/m/d
i=0; for kib in 4 36 700 6144 128 2048 12 3000 512 64 4096 256; do
  i=$((i+1)); head -c $((kib * 1024 + i)) /dev/urandom > /tmp/m/f$i
  head -c $((kib * 512)) /dev/urandom > /tmp/m/d/g$i
done
i=12; while [ $i -lt ${files} ]; do i=$((i+1)); head -c $((i * 37000)) /dev/urandom > /tmp/m/d/h$i; done
rm -f /tmp/m/f3 /tmp/m/f6 /tmp/m/f9 /tmp/m/d/g4 /tmp/m/d/g10 /tmp/m/d/h15
(cd /tmp/m && find . -type f ! -path './lost+found/*' | sort | xargs sha256sum) > /tmp/sums
umount /tmp/m`,
  );
  return fs === 'xfs' ? xfsUsedBytes(t, '/dev/vda') : usedBytes(t, '/dev/vda');
}

export async function usedBytes(t: Nodes, dev: string): Promise<number> {
  const h = await t.sh('alpha', `dumpe2fs -h ${dev} 2>/dev/null`);
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(h)?.[1]);
  return (field('Block count') - field('Free blocks')) * field('Block size');
}

/**
 * The bytes xfs uses by its AGFs: all blocks but those in the free-space btrees (xfs_db's
 * freesp also counts the AG free lists as free; FastSync copies them, they are metadata).
 */
export async function xfsUsedBytes(t: Nodes, dev: string): Promise<number> {
  const agCount = Number(/agcount = (\d+)/.exec(await t.sh('alpha', `xfs_db -r -c "sb 0" -c "p agcount" ${dev}`))?.[1]);
  const cmds = Array.from({ length: agCount }, (_, ag) => `-c "agf ${ag}" -c "p freeblks"`).join(' ');
  const out = await t.sh('alpha', `xfs_db -r -c "sb 0" -c "p dblocks" -c "p blocksize" ${cmds} ${dev}`);
  const num = (name: string) => [...out.matchAll(new RegExp(`^${name} = (\\d+)`, 'gm'))].map((m) => Number(m[1]));
  const free = num('freeblks').reduce((a, b) => a + b, 0);
  assert(num('freeblks').length === agCount, `xfs_db printed the free blocks of ${agCount} AGs:\n${out}`);
  return (num('dblocks')[0] - free) * num('blocksize')[0];
}

/** Starts recording alpha's events2 of r0 into /tmp/ev (stopped by stopEvents). */
export async function recordEvents(t: Nodes) {
  await t.sh('alpha', `rm -f /tmp/ev; nohup ${t.S} events2 r0 > /tmp/ev 2>&1 & echo $! > /tmp/ev.pid`);
}

export async function stopEvents(t: Nodes): Promise<string> {
  return t.sh('alpha', 'kill $(cat /tmp/ev.pid) 2>/dev/null || true; cat /tmp/ev');
}

/** `primary r0 --force ARGS` on alpha: its exit code and output. */
export async function forcePrimary(lab: Lab, t: Nodes, args = ''): Promise<{ code: number; out: string }> {
  const r = await lab.exec('alpha', ['sh', '-c', `${t.S} primary r0 --force ${args} 2>&1`]);
  lab.log(`primary --force ${args}: exit ${r.code}: ${r.stdout.trim().replace(/\n/g, ' | ')}`);
  return { code: r.code, out: r.stdout + r.stderr };
}

/**
 * Switchover to bravo once in sync: its copy passes e2fsck -fn (xfs_repair -n) and every file
 * of /tmp/sums (taken on alpha) has the same checksum there.
 */
export async function checkTargetCopy(lab: Lab, t: Nodes, fs: Fs = 'ext4') {
  const sums = await t.sh('alpha', 'cat /tmp/sums');
  await t.sh('alpha', `${t.S} secondary r0`);
  await t.sh('bravo', `modprobe ${fs}; ${t.S} primary r0`);
  const fsck = await lab.exec('bravo', ['sh', '-c', `${CHECK[fs]} /dev/bsr1 2>&1`]);
  assert(fsck.code === 0, `${CHECK[fs]} of bravo's copy is clean (exit ${fsck.code}):\n${fsck.stdout}`);
  const check = await lab.exec('bravo', [
    'sh',
    '-c',
    `mkdir -p /tmp/m && mount -o ro /dev/bsr1 /tmp/m && cd /tmp/m && sha256sum -c <<'EOF'\n${sums}EOF`,
  ]);
  assert(check.code === 0, `every file's checksum is equal on bravo:\n${check.stdout}${check.stderr}`);
  lab.log(`bravo: ${CHECK[fs]} clean, ${sums.trim().split('\n').length} files equal`);
  await t.sh('bravo', `umount /tmp/m; ${t.S} secondary r0`);
}
