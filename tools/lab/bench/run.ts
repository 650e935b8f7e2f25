// `lab bench --engine drbd84|bsr|both [--settings equal|default] [--phases ...] [--out FILE.json]`:
// the reference benchmark (docs/lab.md, "Bench").
//
// One two-node lab with two 1 GiB disks per node, both engines side by side: drbd84 on /dev/vda1,
// bsr on /dev/vdb1, each with the raw partition 2 of its own disk next to it. Phases:
//   initial_sync_s       random data on the primary's backing disk, forced promotion, full sync
//   seq_write_c_MBps     128 MiB of 1 MiB O_DIRECT writes (dd), protocol C
//   seq_write_c_integrity_MBps  the same with data-integrity-alg crc32c
//   seq_write_a_MBps     the same, protocol A
//   write_4k_qd1_lat_us  fio 4 KiB O_DIRECT random writes, QD1, protocol C, mean latency
//   resync_64M_s         link cut, 64 MiB written, link restored: time until both UpToDate
//   resync_64M_same_csums_s  the same with the data the 64 MiB held already, csums-alg crc32c
//   verify_s             online verify of the whole device
// Every phase runs in slots A-B-B-A (the next phase B-A-A-B): host drift cannot favour one engine.
// Every slot first measures the link (link-bench.py: TCP payload throughput, round trips) and the
// raw partition with the phase's load, then runs the engine: the engine's figures are also given
// against the raw disk and the link of their own slot (stats.ts).
// After every replicated phase the written range is read back on the peer (its backing disk,
// O_DIRECT) and must match the primary's checksum, else the bench fails.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { promisify } from 'node:util';
import { type LabImpl, labDown, labUp } from '../lab.js';
import { measureLink } from '../link-shape.js';
import { labStateDir } from '../paths.js';
import type { Lab, LinkShape, NodeName } from '../types.js';
import { sleep } from '../util.js';
import { BSR_DRIVER_IMPLEMENTED, BsrEngine, BsrEngineNotImplemented } from './bsr.js';
import { Drbd84Engine } from './drbd84.js';
import { type BenchContext, type BenchEngine, type BenchResult, type PhaseKey, RESULT_KEYS } from './engine.js';
import {
  type BenchSettings,
  benchSettings,
  bsrUnimplemented,
  DISK_MIB,
  DISK_SIZE,
  describeSettings,
  mbr,
  PARTITIONS,
  parseShowOptions,
  REPORTED_OPTIONS,
  type SettingsMode,
} from './settings.js';
import { aggregate, PHASES, ratios, ratiosOf, round, type SlotRecord, slotOrder, spreadOf } from './stats.js';

const MiB = 1024 * 1024;

/** Regions of the replicated device, in MiB (the 512 MiB partition minus internal meta data). */
const REGION = {
  initial: { at: 0, mib: 32 },
  seqC: { at: 64, mib: 128 },
  seqA: { at: 192, mib: 128 },
  lat: { at: 320, mib: 64 },
  resync: { at: 400, mib: 64 },
  ahead: { at: 464, mib: 32 },
};
/** Regions of the raw partition (511 MiB). */
const RAW = { seq: { at: 0, mib: 128 }, lat: { at: 128, mib: 64 } };
/** Net options a phase sets in both engines for its slots, and their values after it (the defaults). */
const PHASE_NET: Partial<Record<PhaseKey, { during: Record<string, string>; after: Record<string, string> }>> = {
  seq_write_c_integrity_MBps: { during: { 'data-integrity-alg': 'crc32c' }, after: { 'data-integrity-alg': '' } },
  resync_64M_same_csums_s: { during: { 'csums-alg': 'crc32c' }, after: { 'csums-alg': '' } },
  ahead_catchup_s: {
    during: { 'on-congestion': 'pull-ahead', 'congestion-fill': '2M' },
    after: { 'on-congestion': 'block', 'congestion-fill': '0' },
  },
};
/** Phases that run with protocol A (switched before, back to C after). */
const PROTOCOL_A: readonly PhaseKey[] = ['seq_write_a_MBps', 'ahead_catchup_s'];
const LAT_RUNTIME_S = 10;
/** The link figures' TCP port and round trips. */

export const ENGINES: Record<string, { implemented: boolean; create(): BenchEngine; disk: string; port: number }> = {
  drbd84: { implemented: true, create: () => new Drbd84Engine(), disk: '/dev/vda', port: 7790 },
  bsr: { implemented: BSR_DRIVER_IMPLEMENTED, create: () => new BsrEngine(), disk: '/dev/vdb', port: 7791 },
};

/** The engine names of `--engine`, drbd84 first (it opens the first phase, and loads first). */
export function engineNames(engine: string): string[] {
  const names = engine === 'both' ? ['drbd84', 'bsr'] : [engine];
  for (const n of names) {
    const def = ENGINES[n];
    if (!def) throw new Error(`unknown engine ${n} (drbd84, bsr, both)`);
    if (!def.implemented) throw new BsrEngineNotImplemented();
  }
  return names;
}

function now(): number {
  return performance.now() / 1000;
}

/** Source data of the writes in the primary's memory: slot k of an engine writes /tmp/src{k}. */
const src = (k: number) => `/tmp/src${k % 2}`;
/** The link as the engines use it: 128 MiB from tmpfs (src), then 500 round trips of 64 bytes. */
const BENCH_LINK = { file: src(0), rttCount: 500, rttSize: 64 };
/** Over a WAN (--wan): 16 MiB and 50 round trips, so the probe does not outlast the phase. */
const WAN_LINK = { ...BENCH_LINK, bytes: 16 * MiB, rttCount: 50 };
type LinkProbe = typeof BENCH_LINK | typeof WAN_LINK;

async function sha(lab: Lab, node: NodeName, dev: string, atMiB: number, mib: number): Promise<string> {
  const out = await lab.sh(node, `dd if=${dev} bs=1M skip=${atMiB} count=${mib} iflag=direct status=none | sha256sum`, {
    timeoutMs: 300_000,
  });
  return out.split(' ')[0];
}

/** The primary's replicated device and the peer's copy of a region must match (retried a little: protocol A lags). */
async function checkPeer(lab: Lab, e: BenchEngine, ctx: BenchContext, phase: string, atMiB: number, mib: number) {
  const want = await sha(lab, ctx.primary, e.device, atMiB, mib);
  const pd = e.peerData(ctx);
  let got = '';
  for (let i = 0; i < 20; i++) {
    got = await sha(lab, ctx.secondary, pd.device, pd.offsetMiB + atMiB, mib);
    if (got === want) {
      ctx.log(`${phase}: peer data match (${mib} MiB at ${atMiB} MiB)`);
      return;
    }
    await sleep(500);
  }
  throw new Error(`${phase}: the peer's data differ (${mib} MiB at ${atMiB} MiB: ${got} vs ${want})`);
}

/** Times `dd` of `mib` MiB (1 MiB O_DIRECT writes) from `from` in the guest into `dev` at `atMiB`; MB/s. */
async function seqWrite(lab: Lab, node: NodeName, dev: string, atMiB: number, mib: number, from: string) {
  const out = await lab.sh(
    node,
    [
      `s=$(date +%s%N)`,
      `dd if=${from} of=${dev} bs=1M count=${mib} seek=${atMiB} oflag=direct conv=notrunc status=none`,
      `e=$(date +%s%N)`,
      'echo $((e - s))',
    ].join('\n'),
    { timeoutMs: 300_000 },
  );
  const ns = Number(out.trim().split('\n').at(-1));
  return (mib * MiB) / 1e6 / (ns / 1e9);
}

/** fio 4 KiB random O_DIRECT writes at queue depth 1 over `mib` MiB at `atMiB`; mean latency in µs. */
async function latency(lab: Lab, node: NodeName, dev: string, atMiB: number, mib: number): Promise<number> {
  const out = await lab.sh(
    node,
    [
      `fio --name=lat --filename=${dev}`,
      '--rw=randwrite --bs=4k --iodepth=1 --ioengine=psync --direct=1',
      `--offset=${atMiB}M --size=${mib}M --runtime=${LAT_RUNTIME_S} --time_based`,
      '--randrepeat=1 --norandommap --output-format=json',
    ].join(' '),
    { timeoutMs: 300_000 },
  );
  const json = JSON.parse(out.slice(out.indexOf('{'))) as {
    jobs: { write: { lat_ns?: { mean: number }; clat_ns?: { mean: number }; total_ios: number } }[];
  };
  const w = json.jobs[0].write;
  const mean = w.lat_ns?.mean ?? w.clat_ns?.mean;
  if (mean === undefined || w.total_ios === 0) throw new Error('fio reported no writes');
  return mean / 1000;
}

/** Bytes the node has sent on its link to `peer` (the replication link; every engine shares it). */
async function txBytes(lab: Lab, node: NodeName, peer: NodeName): Promise<number> {
  return Number((await lab.sh(node, `cat /sys/class/net/to-${peer}/statistics/tx_bytes`)).trim());
}

/** The engines' own account of the resync (both log its duration), next to the wall-clock figure. */
async function logKernelResync(lab: Lab, e: BenchEngine, ctx: BenchContext): Promise<void> {
  const mine = e.name === 'bsr' ? /\bbsr:/ : /\bdrbd/;
  for (const n of [ctx.primary, ctx.secondary]) {
    const lines = (await lab.dmesg(n))
      .split('\n')
      .filter((l) => /resync/i.test(l) && mine.test(l) && !/Feature flags/.test(l));
    for (const l of lines.slice(-2)) ctx.log(`${n} kernel: ${l.trim()}`);
  }
}

/** One engine in the lab: its driver, its context and how far it is. */
interface Runner {
  e: BenchEngine;
  ctx: BenchContext;
  /** The resource is up (set up, connected). */
  up: boolean;
  /** The primary has been promoted and the initial sync is over. */
  synced: boolean;
  /** Slots run so far in the current phase. */
  slots: number;
}

const execFileP = promisify(execFile);

/** The bench's lab: the engines (one of each, each on its own disk) and how their disks are laid out. */
export interface BenchLabSpec {
  engines: readonly BenchEngine[];
  /** With the partitions of settings.ts (PARTITIONS), else the engines use their whole disk. */
  partitioned: boolean;
}

/**
 * The lab: two nodes with two 1 GiB disks, written through once from the host (no sparse holes:
 * every guest write then overwrites allocated blocks of the image file, for the engines as for the
 * raw partitions), partitioned when asked (settings.ts, PARTITIONS); drbd.ko loaded before bsr.ko.
 */
export async function prepareLab(repoRoot: string, spec: BenchLabSpec, log: (m: string) => void): Promise<LabImpl> {
  const t0 = now();
  log(`booting a fresh two-node lab (two ${DISK_SIZE} disks per node)`);
  const lab = await labUp({ nodes: 2, diskSize: DISK_SIZE, loadBsr: false }, repoRoot);
  lab.logger = log;
  const disks = spec.engines.map((e) => ENGINES[e.name].disk);
  for (const n of lab.nodes) {
    for (const d of disks) {
      const file = lab.files.disk(n, d === '/dev/vda' ? 'vda' : 'vdb');
      await execFileP('dd', [
        'if=/dev/zero',
        `of=${file}`,
        'bs=4M',
        `count=${DISK_MIB / 4}`,
        'oflag=direct',
        'conv=notrunc',
        'status=none',
      ]);
    }
  }
  const table = mbr(PARTITIONS);
  for (const n of lab.nodes) {
    for (const d of spec.partitioned ? disks : []) {
      await lab.sh(
        n,
        [
          `dd of=${d} bs=512 count=1 conv=notrunc oflag=direct status=none`,
          `blockdev --rereadpt ${d}`,
          `for i in $(seq 50); do [ -b ${d}1 ] && [ -b ${d}2 ] && break; sleep 0.1; done`,
          `test "$(blockdev --getsize64 ${d}1)" = ${PARTITIONS[0].sizeMiB * MiB}`,
        ].join('\n'),
        { input: table },
      );
    }
    for (const e of spec.engines) await e.loadModule(lab, n);
  }
  log(`lab ready in ${(now() - t0).toFixed(1)} s (${lab.nodes.join(', ')})`);
  return lab;
}

/** The reference bench's sources of the writes, and a link measurement not counted. */
async function prepareSlots(lab: Lab, primary: NodeName, secondary: NodeName, probe: LinkProbe): Promise<void> {
  await lab.sh(
    primary,
    `head -c ${128 * MiB} /dev/urandom > ${src(0)}; head -c ${128 * MiB} /dev/urandom > ${src(1)}`,
    {
      timeoutMs: 300_000,
    },
  );
  // the first measurement after boot warms the guests' caches (python)
  await measureLink(lab, primary, secondary, probe);
}

/** Random data in the first 32 MiB of the primary's backing disk (what the initial sync carries), then setup. */
async function setupFresh(lab: Lab, r: Runner, k: number): Promise<void> {
  const { e, ctx } = r;
  if (r.up) await e.teardown(lab, ctx);
  r.up = false;
  r.synced = false;
  await lab.sh(
    ctx.primary,
    `dd if=${src(k)} of=${ctx.backingDisk} bs=1M count=${REGION.initial.mib} oflag=direct conv=notrunc status=none`,
  );
  await e.setup(lab, ctx);
  r.up = true;
}

/** Without the initial sync phase: set up and synced, untimed. */
async function ensureSynced(lab: Lab, r: Runner): Promise<void> {
  if (r.synced) return;
  if (!r.up) await setupFresh(lab, r, 0);
  await r.e.forcePrimary(lab, r.ctx);
  await r.e.waitSynced(lab, r.ctx);
  await r.e.checkSynced(lab, r.ctx);
  r.synced = true;
}

interface SlotFigure {
  value: number;
  /** MB synced, for the duration phases. */
  syncedMB?: number;
}

/** The engine's part of a slot (the raw disk and the link are measured before, by runSlot). */
async function enginePhase(lab: LabImpl, r: Runner, phase: PhaseKey, k: number, others: Runner[]): Promise<SlotFigure> {
  const { e, ctx } = r;
  const p = ctx.primary;
  switch (phase) {
    case 'initial_sync_s': {
      const t = now();
      await e.forcePrimary(lab, ctx);
      const s = (await e.waitSynced(lab, ctx)) - t;
      await e.checkSynced(lab, ctx);
      r.synced = true;
      ctx.log(`initial sync: ${s.toFixed(2)} s`);
      await logKernelResync(lab, e, ctx);
      await checkPeer(lab, e, ctx, 'initial sync', REGION.initial.at, REGION.initial.mib);
      const bytes = Number((await lab.sh(p, `blockdev --getsize64 ${e.device}`)).trim());
      return { value: s, syncedMB: bytes / 1e6 };
    }
    case 'seq_write_c_MBps':
    case 'seq_write_c_integrity_MBps':
    case 'seq_write_a_MBps': {
      const region = phase === 'seq_write_a_MBps' ? REGION.seqA : REGION.seqC;
      const v = await seqWrite(lab, p, e.device, region.at, region.mib, src(k));
      const proto = phase === 'seq_write_a_MBps' ? 'A' : 'C';
      const extra = Object.entries(PHASE_NET[phase]?.during ?? {}).map(([k, x]) => `, ${k} ${x}`);
      ctx.log(`sequential writes, protocol ${proto}${extra.join('')}: ${v.toFixed(1)} MB/s`);
      if (proto === 'A') {
        await e.waitSynced(lab, ctx);
        await e.checkSynced(lab, ctx);
      }
      await checkPeer(lab, e, ctx, `protocol ${proto} writes`, region.at, region.mib);
      return { value: v };
    }
    case 'write_4k_qd1_lat_us': {
      const v = await latency(lab, p, e.device, REGION.lat.at, REGION.lat.mib);
      ctx.log(`4 KiB QD1 random writes, protocol C: ${v.toFixed(0)} us`);
      await checkPeer(lab, e, ctx, '4 KiB random writes', REGION.lat.at, REGION.lat.mib);
      return { value: v };
    }
    case 'resync_64M_s':
    case 'resync_64M_same_csums_s': {
      const write = `dd if=${src(k)} of=${e.device} bs=1M count=${REGION.resync.mib} seek=${REGION.resync.at} oflag=direct conv=notrunc status=none`;
      const same = phase === 'resync_64M_same_csums_s';
      // replicated before the cut: the write during the cut then changes nothing
      if (same) await lab.sh(p, write);
      for (const o of others) await o.e.disconnect(lab, o.ctx);
      await lab.linkCut(p, ctx.secondary);
      await e.waitDisconnected(lab, ctx);
      await lab.sh(p, write);
      const sent = await txBytes(lab, p, ctx.secondary);
      const t = now();
      await lab.linkRestore(p, ctx.secondary);
      const s = (await e.waitSynced(lab, ctx)) - t;
      const wireMB = ((await txBytes(lab, p, ctx.secondary)) - sent) / 1e6;
      await e.checkSynced(lab, ctx);
      ctx.log(
        `resync of 64 MiB${same ? ' rewritten with the same data, csums-alg crc32c' : ''}: ${s.toFixed(2)} s, ` +
          `${wireMB.toFixed(2)} MB sent by ${p}`,
      );
      await logKernelResync(lab, e, ctx);
      await checkPeer(lab, e, ctx, 'resync', REGION.resync.at, REGION.resync.mib);
      for (const o of others) await o.e.reconnect(lab, o.ctx);
      return { value: s, syncedMB: (REGION.resync.mib * MiB) / 1e6 };
    }
    case 'ahead_catchup_s': {
      const region = REGION.ahead;
      const before = await e.aheadCount(lab, ctx);
      const v = await seqWrite(lab, p, e.device, region.at, region.mib, src(k));
      const t = now();
      const s = (await e.waitSynced(lab, ctx)) - t;
      await e.checkSynced(lab, ctx);
      const ahead = (await e.aheadCount(lab, ctx)) - before;
      ctx.log(
        `pull-ahead, protocol A: ${region.mib} MiB written at ${v.toFixed(1)} MB/s, went Ahead ${ahead} times; ` +
          `both UpToDate ${s.toFixed(2)} s after the writer's end`,
      );
      await checkPeer(lab, e, ctx, 'writes while Ahead', region.at, region.mib);
      return { value: s, syncedMB: (region.mib * MiB) / 1e6 };
    }
    case 'verify_s': {
      const t = now();
      const { end, foundKiB } = await e.verify(lab, ctx);
      ctx.log(`online verify of the device: ${(end - t).toFixed(2)} s, ${foundKiB} KiB found out of sync`);
      if (foundKiB !== 0) throw new Error(`verify: ${foundKiB} KiB out of sync on nodes in sync`);
      const bytes = Number((await lab.sh(p, `blockdev --getsize64 ${e.device}`)).trim());
      return { value: end - t, syncedMB: bytes / 1e6 };
    }
  }
}

/** One slot: the link, the raw partition with the phase's load, then the engine. */
async function runSlot(
  lab: LabImpl,
  r: Runner,
  phase: PhaseKey,
  slot: number,
  others: Runner[],
  t0: number,
  probe: LinkProbe,
): Promise<SlotRecord> {
  const { e, ctx } = r;
  const k = r.slots++;
  const kind = PHASES.find((x) => x.key === phase)?.kind ?? 'throughput';
  const at_s = now() - t0;
  const host_load = loadavg()[0];
  if (phase === 'initial_sync_s') {
    if (k > 0 || !r.up) await setupFresh(lab, r, k);
  } else {
    await ensureSynced(lab, r);
  }
  // Another engine's link cut would disconnect this one (resync phase): isolated in enginePhase.
  const link = await measureLink(lab, ctx.primary, ctx.secondary, probe);
  const raw =
    kind === 'latency'
      ? await latency(lab, ctx.primary, ctx.rawDisk, RAW.lat.at, RAW.lat.mib)
      : await seqWrite(lab, ctx.primary, ctx.rawDisk, RAW.seq.at, RAW.seq.mib, src(k));
  ctx.log(
    `slot ${slot + 1} of ${phase}: link ${link.tcp_MBps.toFixed(1)} MB/s, rtt ${link.rtt_us.toFixed(0)} us; ` +
      `raw ${ctx.rawDisk} ${kind === 'latency' ? `${raw.toFixed(0)} us` : `${raw.toFixed(1)} MB/s`}`,
  );
  const f = await enginePhase(lab, r, phase, k, others);
  const q = ratiosOf(kind, f.value, raw, link, f.syncedMB);
  return {
    phase,
    engine: e.name,
    slot,
    value: round(f.value, 3),
    ...(q.rate_MBps !== undefined ? { rate_MBps: round(q.rate_MBps, 2) } : {}),
    raw: round(raw, kind === 'latency' ? 1 : 2),
    link_tcp_MBps: round(link.tcp_MBps, 2),
    link_rtt_us: round(link.rtt_us, 1),
    link_rtt_median_us: round(link.rtt_median_us, 1),
    raw_ratio: round(q.raw_ratio, 4),
    link_ratio: round(q.link_ratio, 4),
    at_s: round(at_s, 1),
    host_load: round(host_load, 2),
  };
}

export interface BenchCommandOptions {
  repoRoot: string;
  engine: string;
  settings: SettingsMode;
  /** Phase keys to run (PHASES order); default all. */
  phases?: PhaseKey[];
  /** A WAN: the replication link shaped for the whole bench (both engines, every slot). */
  wan?: LinkShape;
  out?: string;
  log: (m: string) => void;
}

interface SettingsReport {
  mode: SettingsMode;
  /** The options given to both engines (protocol aside: C, A for seq_write_a_MBps). */
  given: Record<string, string>;
  /** Each engine's running options (`show --show-defaults`), for the keys of REPORTED_OPTIONS. */
  effective: Record<string, Record<string, string>>;
  /** Options the engine's show left out (never set), with the engine's documented default. */
  unreported_defaults: Record<string, Record<string, string>>;
  /** Options bsr.ko does not implement yet: it runs them at its default, whatever was given. */
  bsr_unimplemented: readonly string[];
}

async function readSettings(lab: Lab, runners: Runner[], s: BenchSettings): Promise<SettingsReport> {
  const effective: Record<string, Record<string, string>> = {};
  const unreported: Record<string, Record<string, string>> = {};
  for (const r of runners) {
    const shown = parseShowOptions(await r.e.show(lab, r.ctx), REPORTED_OPTIONS);
    effective[r.e.name] = shown;
    unreported[r.e.name] = {};
    for (const k of REPORTED_OPTIONS) {
      const d = k in shown ? undefined : r.e.defaultOf?.(k);
      if (d !== undefined) unreported[r.e.name][k] = d;
    }
  }
  return {
    mode: s.mode,
    given: { ...s.disk, ...s.net, ...s.resync },
    effective,
    unreported_defaults: unreported,
    bsr_unimplemented: REPORTED_OPTIONS.filter(bsrUnimplemented),
  };
}

function printSettings(rep: SettingsReport, names: string[], w: (t: string) => void): void {
  const kw = Math.max(...REPORTED_OPTIONS.map((k) => k.length));
  w(
    `settings (${rep.mode}), as each engine's show --show-defaults reports them ` +
      "(*: not reported, the engine's documented default):\n",
  );
  w(`  ${'option'.padEnd(kw)}  ${names.map((n) => n.padStart(10)).join('  ')}\n`);
  for (const k of REPORTED_OPTIONS) {
    const vals = names.map((n) => {
      const d = rep.unreported_defaults[n]?.[k];
      return (rep.effective[n]?.[k] ?? (d !== undefined ? `${d}*` : '-')).padStart(10);
    });
    const note = [
      k in rep.given ? `given ${rep.given[k]}` : '',
      bsrUnimplemented(k) && names.includes('bsr') ? 'not implemented by bsr.ko: its default' : '',
    ]
      .filter(Boolean)
      .join('; ');
    w(`  ${k.padEnd(kw)}  ${vals.join('  ')}${note ? `  (${note})` : ''}\n`);
  }
}

const fmt = (x: number | undefined, d = 3) => (x === undefined || Number.isNaN(x) ? '-' : x.toFixed(d));

function printTable(results: BenchResult[], slots: SlotRecord[], w: (t: string) => void): void {
  const names = results.map((r) => r.engine);
  const both = results.length === 2;
  const rat = both ? ratios(results[1], results[0]) : {};
  const kw = Math.max(...RESULT_KEYS.map((k) => k.length));
  const head = [
    'key'.padEnd(kw),
    ...names.map((n) => n.padStart(10)),
    ...(both ? ['bsr/drbd84'] : []),
    ...names.map((n) => `${n}/raw`.padStart(11)),
    ...names.map((n) => `${n}/link`.padStart(12)),
    ...names.map((n) => `${n} slots`.padStart(16)),
  ];
  w(`${head.join('  ')}\n`);
  for (const k of RESULT_KEYS) {
    const phase = PHASES.find((p) => p.key === k)?.key;
    const cells = [
      k.padEnd(kw),
      ...results.map((r) => fmt(r[k], k.endsWith('_us') ? 1 : 2).padStart(10)),
      ...(both ? [fmt(rat[k]).padStart(10)] : []),
      ...results.map((r) => (phase ? fmt(r.raw_ratio[phase]) : '').padStart(11)),
      ...results.map((r) => (phase ? fmt(r.link_ratio[phase]) : '').padStart(12)),
      ...names.map((n) => (phase ? spreadOf(slots, n, phase) : '').padStart(16)),
    ];
    w(`${cells.join('  ')}\n`);
  }
}

export async function runBenchCommand(o: BenchCommandOptions): Promise<number> {
  const names = engineNames(o.engine);
  const settings = benchSettings(o.settings);
  const phases = o.phases ?? PHASES.map((p) => p.key);
  const started = new Date();
  const t0 = now();
  o.log(`bench ${names.join(' and ')}, settings ${describeSettings(settings)}`);
  o.log(`phases ${phases.join(', ')}, slots ${names.length === 2 ? 'A-B-B-A, then B-A-A-B, ...' : 'A-A'}`);
  const runners: Runner[] = names.map((n) => {
    const disk = ENGINES[n].disk;
    return {
      e: ENGINES[n].create(),
      up: false,
      synced: false,
      slots: 0,
      ctx: {
        primary: 'alpha',
        secondary: 'bravo',
        backingDisk: `${disk}1`,
        rawDisk: `${disk}2`,
        port: ENGINES[n].port,
        settings,
        log: (m) => o.log(`[${n}] ${m}`),
      },
    };
  });
  const slots: SlotRecord[] = [];
  let settingsReport: SettingsReport | undefined;
  let lab: LabImpl | undefined;
  const probe = o.wan ? WAN_LINK : BENCH_LINK;
  try {
    lab = await prepareLab(o.repoRoot, { engines: runners.map((r) => r.e), partitioned: true }, o.log);
    if (o.wan) {
      await lab.linkShape(runners[0].ctx.primary, runners[0].ctx.secondary, o.wan);
      o.log(`link shaped for the whole bench: rate ${o.wan.rate ?? '-'}, delay ${o.wan.delay ?? '-'} each way`);
    }
    await prepareSlots(lab, runners[0].ctx.primary, runners[0].ctx.secondary, probe);
    for (const [i, phase] of phases.entries()) {
      const order = slotOrder(names, i);
      o.log(`phase ${phase}: ${order.join('-')}`);
      for (const r of runners) r.slots = 0;
      if (phase === 'initial_sync_s') {
        for (const r of runners) await setupFresh(lab, r, 0);
        settingsReport = await readSettings(lab, runners, settings);
      } else {
        for (const r of runners) await ensureSynced(lab, r);
      }
      if (PROTOCOL_A.includes(phase)) for (const r of runners) await r.e.setProtocol(lab, r.ctx, 'A');
      const net = PHASE_NET[phase];
      if (net) for (const r of runners) await r.e.setNetOptions(lab, r.ctx, net.during);
      for (const [slot, n] of order.entries()) {
        const r = runners.find((x) => x.e.name === n) as Runner;
        slots.push(
          await runSlot(
            lab,
            r,
            phase,
            slot,
            runners.filter((x) => x !== r),
            t0,
            probe,
          ),
        );
      }
      if (net) for (const r of runners) await r.e.setNetOptions(lab, r.ctx, net.after);
      if (PROTOCOL_A.includes(phase)) for (const r of runners) await r.e.setProtocol(lab, r.ctx, 'C');
    }
    settingsReport ??= await readSettings(lab, runners, settings);
    for (const r of runners) await r.e.teardown(lab, r.ctx);
  } finally {
    lab?.close();
    await labDown(labStateDir(o.repoRoot));
  }
  const seconds = round(now() - t0, 1);
  const results = names.map((n) => aggregate(n, slots));
  const w = (t: string) => process.stderr.write(t);
  printSettings(settingsReport, names, w);
  printTable(results, slots, w);
  const meta = {
    started: started.toISOString(),
    seconds,
    host_load_at_end: round(loadavg()[0], 2),
    settings: settingsReport,
    order: names.length === 2 ? 'A-B-B-A per phase, alternating which engine opens' : 'A-A',
    wan: o.wan ?? null,
    slots,
  };
  const json =
    results.length === 1
      ? { ...results[0], ...meta }
      : {
          engine: 'both',
          drbd84: results[0],
          bsr: results[1],
          ratios_bsr_over_drbd84: ratios(results[1], results[0]),
          ...meta,
        };
  const loads = slots.map((x) => x.host_load ?? 0);
  o.log(
    `bench finished in ${seconds} s; host load average (1 min) over the slots ` +
      `${Math.min(...loads).toFixed(1)}..${Math.max(...loads).toFixed(1)} on ${availableParallelism()} CPUs`,
  );
  const text = `${JSON.stringify(json, null, 2)}\n`;
  process.stdout.write(text);
  if (o.out) writeFileSync(o.out, text);
  return 0;
}
