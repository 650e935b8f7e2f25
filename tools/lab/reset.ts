// Reusing a booted lab for the next scenario: the nodes are cleaned up after a scenario (its file
// systems unmounted, bsr/DRBD taken down and unloaded, dm and loop devices removed, disks wiped,
// writable folders emptied) and prepared for the next one (disk size, links, module), so that it
// starts as on freshly booted nodes without paying for the boots.
import { statSync } from 'node:fs';
import { RESET_WRITABLE_DIRS } from './guest.js';
import { LabImpl } from './lab.js';
import { guestCli } from './paths.js';
import { qmp } from './qmp.js';
import { nicIdOf } from './topology.js';
import { parseBytes, sleep } from './util.js';

const DISKS = ['vda', 'vdb'] as const;

/** A wiped disk image holds at most this much allocated space (the file system keeps a block or two). */
const WIPED_MAX_BYTES = 1 << 20;

/**
 * The guest side of the cleanup, then the writable folders made afresh (RESET_WRITABLE_DIRS). Run
 * by busybox's shell, whose own umount, rmmod, losetup, blkdiscard, sync... need no exec of a
 * dynamically linked program (~50 ms each in an emulated guest); dm and loop devices are looked
 * for in /sys first. Fails (and the runner then boots afresh) when something cannot be undone: a
 * module that will not unload, a disk still held.
 */
function cleanupScript(repoRoot: string): string {
  const S = guestCli(repoRoot, 'bsrsetup');
  return `cd /
# file systems on the lab's block devices, the latest mount (the deepest) first
mounts=
while read -r dev mnt rest; do
  case $dev in /dev/bsr* | /dev/drbd* | /dev/vd* | /dev/dm-* | /dev/mapper/* | /dev/loop*) mounts="$mnt $mounts" ;; esac
done < /proc/mounts
for m in $mounts; do
  umount "$m" || umount -l "$m"
done
if [ -d /sys/module/bsr ] && ! rmmod bsr 2>/dev/null; then
  for r in $(${S} status 2>/dev/null | awk '/^[^ ]/ {print $1}'); do ${S} down "$r"; done
  rmmod bsr
fi
if [ -d /sys/module/drbd ]; then
  drbdsetup down all 2>/dev/null || true
  rmmod drbd
fi
# links shaped by the scenario (lab link shape) or blocked on their way in (tc ingress)
if [ -d /sys/module/sch_netem ] || [ -d /sys/module/sch_ingress ]; then
  for d in /sys/class/net/*; do
    /sbin/tc qdisc del dev "\${d##*/}" root 2>/dev/null || true
    /sbin/tc qdisc del dev "\${d##*/}" ingress 2>/dev/null || true
  done
fi
if [ -e /dev/mapper/control ] && ls /sys/block | grep -q '^dm-'; then
  /sbin/dmsetup remove_all --force >/dev/null 2>&1 || true
  if ls /sys/block | grep -q '^dm-'; then echo 'dm devices left after dmsetup remove_all' >&2; exit 1; fi
fi
if ls /sys/block/loop*/loop >/dev/null 2>&1; then /sbin/losetup -D; fi
# punches holes into the sparse image files (discard=unmap): reads return zeros afterwards
blkdiscard /dev/vda
blkdiscard /dev/vdb
sync
${RESET_WRITABLE_DIRS}`;
}

/** Cleans every node up after a scenario; throws when a node cannot be brought back to a clean state. */
export async function cleanupLab(lab: LabImpl): Promise<void> {
  await Promise.all(
    lab.nodes.map(async (n) => {
      if (!lab.files.running(n)) throw new Error(`${n} is not running`);
      const r = await lab.exec(n, ['/bin/busybox', 'sh', '-ec', cleanupScript(lab.repoRoot)], {
        timeoutMs: 120_000,
      });
      if (r.code !== 0) throw new Error(`${n}: cleanup failed (exit ${r.code}): ${(r.stderr || r.stdout).trim()}`);
    }),
  );
  for (const n of lab.nodes) {
    for (const d of DISKS) {
      const used = statSync(lab.files.disk(n, d)).blocks * 512;
      if (used > WIPED_MAX_BYTES) throw new Error(`${n}: ${d} still holds ${used} bytes after the wipe`);
    }
  }
}

/**
 * Makes a cleaned-up lab what the next scenario asks for: disks of `diskSize`, every link up,
 * bsr.ko loaded or not. Returns the lab attached anew (its disk size changed).
 */
export async function prepareLab(lab: LabImpl, diskSize: string, loadBsr: boolean): Promise<LabImpl> {
  const files = lab.files;
  const bytes = parseBytes(diskSize);
  const state = lab.state();
  for (const n of lab.nodes) {
    for (const d of DISKS) await qmp(files.qmpSock(n), 'block_resize', { device: d, size: bytes });
    for (const p of lab.nodes) if (p !== n) await qmp(files.qmpSock(n), 'set_link', { name: nicIdOf(p), up: true });
  }
  files.writeState({ ...state, diskSize, cut: [], loadBsr });
  const next = LabImpl.attach(lab.repoRoot, lab.stateDir);
  next.logger = lab.logger;
  lab.close();
  await Promise.all(
    next.nodes.map(async (n) => {
      // the guest learns the new capacity from a virtio config interrupt: wait for it
      const check = `for d in vda vdb; do [ "$(blockdev --getsize64 /dev/$d)" = ${bytes} ] || exit 1; done`;
      for (let i = 0; ; i++) {
        if ((await next.exec(n, ['/bin/sh', '-c', check])).code === 0) break;
        if (i >= 50) throw new Error(`${n}: disks not resized to ${diskSize}`);
        await sleep(200);
      }
      await next.refreshCaches(n);
      if (loadBsr) await next.loadModule(n);
    }),
  );
  return next;
}
