// `lab bench-fastsync [--out FILE.json]`: FastSync's benchmark (docs/lab.md, "Bench"). The initial
// sync of a 1 GiB device holding ext4 at about 10 % used, by bsr with FastSync, by bsr with
// fast-sync off (the whole device) and by DRBD 8.4 (always the whole device), interleaved in one
// run: drbd84, bsr-full, bsr-fast, bsr-fast, bsr-full, drbd84 (host drift favours none).
// Every slot makes a fresh file system on the primary's whole disk (files of mixed sizes from
// /dev/urandom, some deleted), creates the meta data, brings the resource up and forces the
// primary: timed from the promotion (FastSync's file-system check and map included) until both
// are UpToDate, as the engine's state watching set up before the promotion reports it (no waiting
// CLI starts inside the timed window); the bytes are what the primary sent on the replication
// link (its NIC's tx_bytes). Then the target's copy must pass e2fsck -fn and hold every file, equal.
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { type LabImpl, labDown } from '../lab.js';
import { labStateDir } from '../paths.js';
import type { Lab, NodeName } from '../types.js';
import { BsrEngine } from './bsr.js';
import { Drbd84Engine } from './drbd84.js';
import type { BenchContext, BenchEngine } from './engine.js';
import { ENGINES, prepareLab } from './run.js';
import { benchSettings } from './settings.js';
import { round } from './stats.js';

/** The file system: 1000 MiB of the 1 GiB disk, the rest for the meta data at its end. */
const FS_MIB = 1000;
/** Files of these sizes (KiB), four of each, the second of each deleted; plus small ones. */
const FILE_KIB = [64, 256, 1024, 4096, 8192, 16384];
const SMALL_FILES = 400;
const MNT = '/tmp/fsb';

export type FastSyncVariant = 'drbd84' | 'bsr-full' | 'bsr-fast';
export const VARIANT_ORDER: readonly FastSyncVariant[] = [
  'drbd84',
  'bsr-full',
  'bsr-fast',
  'bsr-fast',
  'bsr-full',
  'drbd84',
];

export interface FastSyncSlot {
  variant: FastSyncVariant;
  slot: number;
  /** From the promotion until both nodes are UpToDate. */
  seconds: number;
  /** Bytes the primary sent on the replication link meanwhile (MB, 10^6 bytes). */
  wire_MB: number;
  /** Bytes the file system uses (df), MB. */
  used_MB: number;
  host_load: number;
}

export interface FastSyncSummary {
  /** Per variant: the mean seconds and MB on the wire of its slots. */
  mean: Record<FastSyncVariant, { seconds: number; wire_MB: number; used_MB: number }>;
  /** FastSync over the full sync of the same engine, and over DRBD 8.4's full sync. */
  fast_over_full_time: number;
  fast_over_drbd84_time: number;
  fast_over_full_bytes: number;
}

/** The means of each variant's slots and FastSync's ratios (pure: test/unit/bench.test.ts). */
export function summarizeFastSync(slots: readonly FastSyncSlot[]): FastSyncSummary {
  const meanOf = (v: FastSyncVariant) => {
    const mine = slots.filter((s) => s.variant === v);
    if (mine.length === 0) throw new Error(`no slot of ${v}`);
    const avg = (f: (s: FastSyncSlot) => number) => mine.reduce((a, s) => a + f(s), 0) / mine.length;
    return { seconds: avg((s) => s.seconds), wire_MB: avg((s) => s.wire_MB), used_MB: avg((s) => s.used_MB) };
  };
  const mean = { drbd84: meanOf('drbd84'), 'bsr-full': meanOf('bsr-full'), 'bsr-fast': meanOf('bsr-fast') };
  return {
    mean,
    fast_over_full_time: mean['bsr-fast'].seconds / mean['bsr-full'].seconds,
    fast_over_drbd84_time: mean['bsr-fast'].seconds / mean.drbd84.seconds,
    fast_over_full_bytes: mean['bsr-fast'].wire_MB / mean['bsr-full'].wire_MB,
  };
}

function engineOf(v: FastSyncVariant): BenchEngine {
  if (v === 'drbd84') return new Drbd84Engine();
  return new BsrEngine(v === 'bsr-full' ? '--fast-sync=no' : '');
}

/** The guest's monotonic clock (s), the one its kernel log is stamped with. */
async function guestUptime(lab: Lab, n: NodeName): Promise<number> {
  return Number((await lab.sh(n, 'cat /proc/uptime')).split(' ')[0]);
}

/**
 * Where a bsr slot's time went, from the primary's kernel log (seconds after the promotion was
 * sent; the guest clock read just before, so each is late by about one guest command's start).
 */
export function timeline(log: string, uptime0: number, promoted: number, total: number): string {
  const at = (re: RegExp) => {
    const m = log.split('\n').find((l) => re.test(l));
    const ts = m ? /^\[\s*([\d.]+)\]/.exec(m)?.[1] : undefined;
    return ts === undefined ? 'n/a' : `${(Number(ts) - uptime0).toFixed(2)} s`;
  };
  return (
    `timeline: primary --force returned ${promoted.toFixed(2)} s, resync started ${at(/resync as SyncSource/)}, ` +
    `done ${at(/resync done/)}, both UpToDate seen ${total.toFixed(2)} s`
  );
}

/**
 * A fresh ext4 on the primary's disk with ~10 % of it in files; its used bytes. nodiscard: mkfs
 * discards the device by default, which punches holes into the lab's image file (discard=unmap),
 * and a whole-device sync then reads 90 % of the disk from holes, at no cost a real disk has
 * (prepareLab wrote the images through for that reason).
 */
async function makeFileSystem(lab: Lab, node: NodeName, disk: string): Promise<number> {
  const out = await lab.sh(
    node,
    `modprobe ext4
mkfs.ext4 -q -F -b 4096 -E nodiscard,lazy_itable_init=0,lazy_journal_init=0 ${disk} ${FS_MIB}M
mkdir -p ${MNT} && mount -t ext4 ${disk} ${MNT} && mkdir ${MNT}/small
for kib in ${FILE_KIB.join(' ')}; do for j in 1 2 3 4; do head -c \${kib}K /dev/urandom > ${MNT}/f\${kib}.$j; done; rm ${MNT}/f\${kib}.2; done
for i in $(seq ${SMALL_FILES}); do head -c 16K /dev/urandom > ${MNT}/small/s$i; done
sync
(cd ${MNT} && find . -type f | sort | xargs sha256sum) > /tmp/fs.sums
df -B1 --output=used ${MNT} | tail -n 1
umount ${MNT}`,
    { timeoutMs: 300_000 },
  );
  return Number(out.trim().split('\n').at(-1));
}

/** The target's copy, read below the engine once it is down: a clean file system, every file equal. */
async function checkTargetCopy(lab: Lab, ctx: BenchContext, want: string): Promise<void> {
  const d = ctx.backingDisk;
  const fsck = await lab.exec(ctx.secondary, ['sh', '-c', `e2fsck -fn ${d} 2>&1`]);
  if (fsck.code !== 0)
    throw new Error(`the target's copy is not clean (e2fsck -fn exit ${fsck.code}):\n${fsck.stdout}`);
  const got = await lab.sh(
    ctx.secondary,
    `modprobe ext4 && mkdir -p ${MNT} && mount -t ext4 -o ro ${d} ${MNT} && (cd ${MNT} && find . -type f | sort | xargs sha256sum); umount ${MNT}`,
  );
  if (got !== want) throw new Error("the target's files differ from the primary's");
}

const txBytes = async (lab: Lab, ctx: BenchContext) =>
  Number(await lab.sh(ctx.primary, `cat /sys/class/net/${lab.iface(ctx.primary, ctx.secondary)}/statistics/tx_bytes`));

async function runSlot(
  lab: LabImpl,
  v: FastSyncVariant,
  slot: number,
  base: Omit<BenchContext, 'backingDisk' | 'rawDisk' | 'port'>,
) {
  const e = engineOf(v);
  const def = ENGINES[e.name];
  const ctx: BenchContext = {
    ...base,
    backingDisk: def.disk,
    rawDisk: '',
    port: def.port,
    log: (m) => base.log(`[${v}] ${m}`),
  };
  const host_load = loadavg()[0];
  const used = await makeFileSystem(lab, ctx.primary, ctx.backingDisk);
  const sums = await lab.sh(ctx.primary, 'cat /tmp/fs.sums');
  await e.setup(lab, ctx);
  await lab.sh(ctx.primary, 'dmesg -c > /dev/null');
  const tx0 = await txBytes(lab, ctx);
  const synced = await e.armSyncWait(lab, ctx);
  const uptime0 = await guestUptime(lab, ctx.primary);
  const t0 = performance.now() / 1000;
  await e.forcePrimary(lab, ctx);
  const promoted = performance.now() / 1000 - t0;
  const seconds = (await synced()) - t0;
  const wire = (await txBytes(lab, ctx)) - tx0;
  await e.checkSynced(lab, ctx);
  const log = await lab.dmesg(ctx.primary);
  if (v !== 'drbd84') ctx.log(timeline(log, uptime0, promoted, seconds));
  if (v === 'bsr-fast' && !/FastSync: the file-system map covers/.test(log)) throw new Error('bsr-fast: no FastSync');
  if (v === 'bsr-full' && !/fast-sync is off/.test(log)) throw new Error('bsr-full: not a full sync');
  await e.teardown(lab, ctx);
  await checkTargetCopy(lab, ctx, sums);
  const rec: FastSyncSlot = {
    variant: v,
    slot,
    seconds: round(seconds, 3),
    wire_MB: round(wire / 1e6, 1),
    used_MB: round(used / 1e6, 1),
    host_load: round(host_load, 2),
  };
  ctx.log(
    `${rec.seconds} s, ${rec.wire_MB} MB on the wire, ${rec.used_MB} MB used; the target's copy is clean and equal`,
  );
  return rec;
}

export async function runFastSyncBench(o: { repoRoot: string; out?: string; log: (m: string) => void }) {
  const t0 = performance.now() / 1000;
  const base = {
    primary: 'alpha' as NodeName,
    secondary: 'bravo' as NodeName,
    settings: benchSettings('equal'),
    log: o.log,
  };
  o.log(`FastSync bench: ext4 of ${FS_MIB} MiB on a 1 GiB disk, slots ${VARIANT_ORDER.join(', ')}`);
  const slots: FastSyncSlot[] = [];
  let lab: LabImpl | undefined;
  try {
    lab = await prepareLab(
      o.repoRoot,
      { engines: [engineOf('drbd84'), engineOf('bsr-fast')], partitioned: false },
      o.log,
    );
    for (const [i, v] of VARIANT_ORDER.entries()) slots.push(await runSlot(lab, v, i, base));
  } finally {
    lab?.close();
    await labDown(labStateDir(o.repoRoot));
  }
  const sum = summarizeFastSync(slots);
  const w = (t: string) => process.stderr.write(t);
  w(`${'variant'.padEnd(9)}  ${'seconds'.padStart(8)}  ${'wire MB'.padStart(8)}  ${'used MB'.padStart(8)}\n`);
  for (const [v, m] of Object.entries(sum.mean))
    w(
      `${v.padEnd(9)}  ${m.seconds.toFixed(2).padStart(8)}  ${m.wire_MB.toFixed(1).padStart(8)}  ${m.used_MB.toFixed(1).padStart(8)}\n`,
    );
  w(
    `FastSync / full sync (bsr): time ${sum.fast_over_full_time.toFixed(3)}, bytes ${sum.fast_over_full_bytes.toFixed(3)}; ` +
      `FastSync / DRBD 8.4 full sync: time ${sum.fast_over_drbd84_time.toFixed(3)}\n`,
  );
  const json = { ...sum, seconds: round(performance.now() / 1000 - t0, 1), settings: base.settings, slots };
  const text = `${JSON.stringify(json, null, 2)}\n`;
  process.stdout.write(text);
  if (o.out) writeFileSync(o.out, text);
  return 0;
}
