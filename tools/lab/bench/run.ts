// `lab bench --engine drbd84|bsr|both [--out FILE.json]`: the reference benchmark.
// Every engine runs in its own fresh two-node lab with 512 MiB disks, through the same phases:
//   initial_sync_s       random data on the primary's backing disk, forced promotion, full sync
//   seq_write_c_MBps     128 MiB of 1 MiB O_DIRECT writes (dd), protocol C
//   seq_write_a_MBps     the same, protocol A
//   write_4k_qd1_lat_us  fio 4 KiB O_DIRECT random writes, QD1, protocol C, mean latency
//   raw_*                the same two loads on the primary's unused second disk /dev/vdb
//   resync_64M_s         link cut, 64 MiB written, link restored: time until both UpToDate
// After every replicated phase the written range is read back on the peer (its backing disk,
// O_DIRECT) and must match the primary's checksum, else the bench fails.
import { writeFileSync } from 'node:fs';
import { labDown, labUp } from '../lab.js';
import { labStateDir } from '../paths.js';
import type { Lab, NodeName } from '../types.js';
import { sleep } from '../util.js';
import { BSR_DRIVER_IMPLEMENTED, BsrEngine, BsrEngineNotImplemented } from './bsr.js';
import { Drbd84Engine } from './drbd84.js';
import { type BenchContext, type BenchEngine, type BenchResult, RESULT_KEYS } from './engine.js';

const MiB = 1024 * 1024;

/** Regions of the replicated device, in MiB (the 512 MiB disk minus internal meta data). */
const REGION = {
  initial: { at: 0, mib: 32 },
  seqC: { at: 64, mib: 128 },
  seqA: { at: 192, mib: 128 },
  lat: { at: 320, mib: 64 },
  resync: { at: 400, mib: 64 },
};
const LAT_RUNTIME_S = 10;

export const ENGINES: Record<string, { implemented: boolean; create(): BenchEngine }> = {
  drbd84: { implemented: true, create: () => new Drbd84Engine() },
  bsr: { implemented: BSR_DRIVER_IMPLEMENTED, create: () => new BsrEngine() },
};

function now(): number {
  return performance.now() / 1000;
}

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

/** Times `dd` of 128 MiB (1 MiB O_DIRECT writes) from the guest's /tmp/src into `dev` at `atMiB`; MB/s. */
async function seqWrite(lab: Lab, node: NodeName, dev: string, atMiB: number, mib: number): Promise<number> {
  const out = await lab.sh(
    node,
    [
      `s=$(date +%s%N)`,
      `dd if=/tmp/src of=${dev} bs=1M count=${mib} seek=${atMiB} oflag=direct conv=notrunc status=none`,
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

/** The engines' own account of the resync (both log its duration), next to the wall-clock figure. */
async function logKernelResync(lab: Lab, ctx: BenchContext): Promise<void> {
  for (const n of [ctx.primary, ctx.secondary]) {
    const lines = (await lab.dmesg(n)).split('\n').filter((l) => /resync/i.test(l));
    for (const l of lines.slice(-3)) ctx.log(`${n} kernel: ${l.trim()}`);
  }
}

const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/** One engine, one fresh lab, every phase. */
export async function benchEngine(repoRoot: string, e: BenchEngine, log: (m: string) => void): Promise<BenchResult> {
  const ctx: BenchContext = {
    primary: 'alpha',
    secondary: 'bravo',
    backingDisk: '/dev/vda',
    port: 7790,
    log: (m) => log(`[${e.name}] ${m}`),
  };
  const t0 = now();
  ctx.log('booting a fresh two-node lab (512 MiB disks)');
  const lab = await labUp({ nodes: 2, diskSize: '512M', loadBsr: e.usesBsrModule }, repoRoot);
  lab.logger = ctx.log;
  try {
    const p = ctx.primary;
    // Source data in guest memory; random data in the primary's first 32 MiB for the initial sync to carry.
    await lab.sh(p, `head -c ${128 * MiB} /dev/urandom > /tmp/src`, { timeoutMs: 120_000 });
    await lab.sh(p, `dd if=/tmp/src of=${ctx.backingDisk} bs=1M count=${REGION.initial.mib} oflag=direct status=none`);
    ctx.log(`lab ready in ${(now() - t0).toFixed(1)} s; setting up ${e.name}`);
    await e.setup(lab, ctx);

    let t = now();
    await e.forcePrimary(lab, ctx);
    await e.waitSynced(lab, ctx);
    const initial_sync_s = now() - t;
    await e.checkSynced(lab, ctx);
    ctx.log(`initial sync: ${initial_sync_s.toFixed(2)} s`);
    await logKernelResync(lab, ctx);
    await checkPeer(lab, e, ctx, 'initial sync', REGION.initial.at, REGION.initial.mib);

    const seq_write_c_MBps = await seqWrite(lab, p, e.device, REGION.seqC.at, REGION.seqC.mib);
    ctx.log(`sequential writes, protocol C: ${seq_write_c_MBps.toFixed(1)} MB/s`);
    await checkPeer(lab, e, ctx, 'protocol C writes', REGION.seqC.at, REGION.seqC.mib);

    await e.setProtocol(lab, ctx, 'A');
    const seq_write_a_MBps = await seqWrite(lab, p, e.device, REGION.seqA.at, REGION.seqA.mib);
    ctx.log(`sequential writes, protocol A: ${seq_write_a_MBps.toFixed(1)} MB/s`);
    await e.waitSynced(lab, ctx);
    await e.checkSynced(lab, ctx);
    await checkPeer(lab, e, ctx, 'protocol A writes', REGION.seqA.at, REGION.seqA.mib);

    await e.setProtocol(lab, ctx, 'C');
    const write_4k_qd1_lat_us = await latency(lab, p, e.device, REGION.lat.at, REGION.lat.mib);
    ctx.log(`4 KiB QD1 random writes, protocol C: ${write_4k_qd1_lat_us.toFixed(0)} us`);
    await checkPeer(lab, e, ctx, '4 KiB random writes', REGION.lat.at, REGION.lat.mib);

    const raw_seq_write_MBps = await seqWrite(lab, p, '/dev/vdb', REGION.seqC.at, REGION.seqC.mib);
    const raw_write_4k_qd1_lat_us = await latency(lab, p, '/dev/vdb', REGION.lat.at, REGION.lat.mib);
    ctx.log(`raw disk: ${raw_seq_write_MBps.toFixed(1)} MB/s, ${raw_write_4k_qd1_lat_us.toFixed(0)} us`);

    await lab.linkCut(p, ctx.secondary);
    await e.waitDisconnected(lab, ctx);
    await lab.sh(
      p,
      `dd if=/tmp/src of=${e.device} bs=1M count=${REGION.resync.mib} seek=${REGION.resync.at} oflag=direct status=none`,
    );
    t = now();
    await lab.linkRestore(p, ctx.secondary);
    await e.waitSynced(lab, ctx);
    const resync_64M_s = now() - t;
    await e.checkSynced(lab, ctx);
    ctx.log(`resync of 64 MiB: ${resync_64M_s.toFixed(2)} s`);
    await checkPeer(lab, e, ctx, 'resync', REGION.resync.at, REGION.resync.mib);

    await e.teardown(lab, ctx);
    ctx.log(`done in ${(now() - t0).toFixed(1)} s`);
    return {
      engine: e.name,
      initial_sync_s: round(initial_sync_s, 3),
      seq_write_c_MBps: round(seq_write_c_MBps),
      seq_write_a_MBps: round(seq_write_a_MBps),
      write_4k_qd1_lat_us: round(write_4k_qd1_lat_us, 1),
      raw_seq_write_MBps: round(raw_seq_write_MBps),
      raw_write_4k_qd1_lat_us: round(raw_write_4k_qd1_lat_us, 1),
      resync_64M_s: round(resync_64M_s, 3),
    };
  } finally {
    lab.close();
  }
}

export interface BenchCommandOptions {
  repoRoot: string;
  engine: string;
  out?: string;
  log: (m: string) => void;
}

/** Ratios bsr/drbd84 for every key. */
export function ratios(bsr: BenchResult, ref: BenchResult): Record<string, number> {
  const r: Record<string, number> = {};
  for (const k of RESULT_KEYS) r[k] = ref[k] === 0 ? Number.NaN : round(bsr[k] / ref[k], 3);
  return r;
}

export async function runBenchCommand(o: BenchCommandOptions): Promise<number> {
  const names = o.engine === 'both' ? ['drbd84', 'bsr'] : [o.engine];
  for (const n of names) {
    const def = ENGINES[n];
    if (!def) throw new Error(`unknown engine ${n} (drbd84, bsr, both)`);
    if (!def.implemented) throw new BsrEngineNotImplemented();
  }
  const t0 = now();
  const results: BenchResult[] = [];
  try {
    for (const n of names) results.push(await benchEngine(o.repoRoot, ENGINES[n].create(), o.log));
  } finally {
    await labDown(labStateDir(o.repoRoot));
  }
  const seconds = round(now() - t0, 1);
  let json: unknown;
  if (results.length === 1) {
    json = results[0];
  } else {
    const [ref, bsr] = results;
    const r = ratios(bsr, ref);
    json = { engine: 'both', drbd84: ref, bsr, ratios_bsr_over_drbd84: r };
    const w = Math.max(...RESULT_KEYS.map((k) => k.length));
    process.stderr.write(`${'key'.padEnd(w)}  ${'drbd84'.padStart(10)}  ${'bsr'.padStart(10)}  bsr/drbd84\n`);
    for (const k of RESULT_KEYS) {
      process.stderr.write(
        `${k.padEnd(w)}  ${String(ref[k]).padStart(10)}  ${String(bsr[k]).padStart(10)}  ${r[k].toFixed(3)}\n`,
      );
    }
  }
  o.log(`bench finished in ${seconds} s`);
  const text = `${JSON.stringify(json, null, 2)}\n`;
  process.stdout.write(text);
  if (o.out) writeFileSync(o.out, text);
  return 0;
}
