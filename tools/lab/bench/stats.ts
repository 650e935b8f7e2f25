// The bench's interleaving and arithmetic: the order of the slots of a phase, the ratios of a slot
// to the raw disk and the link measured in it, and the per-engine figures from the slots.
// Pure: no lab access (unit tests in test/unit/bench.test.ts).
import { type BenchResult, type PhaseKey, RESULT_KEYS } from './engine.js';

/** How a phase's figure relates to the raw disk and the link (see ratiosOf). */
export type PhaseKind = 'throughput' | 'latency' | 'duration';

export const PHASES: readonly { key: PhaseKey; kind: PhaseKind; name: string }[] = [
  { key: 'initial_sync_s', kind: 'duration', name: 'initial' },
  { key: 'seq_write_c_MBps', kind: 'throughput', name: 'seq-c' },
  { key: 'seq_write_c_integrity_MBps', kind: 'throughput', name: 'seq-c-integrity' },
  { key: 'seq_write_a_MBps', kind: 'throughput', name: 'seq-a' },
  { key: 'write_4k_qd1_lat_us', kind: 'latency', name: 'lat' },
  { key: 'resync_64M_s', kind: 'duration', name: 'resync' },
  { key: 'resync_64M_same_csums_s', kind: 'duration', name: 'csums' },
  { key: 'ahead_catchup_s', kind: 'duration', name: 'ahead' },
  { key: 'verify_s', kind: 'duration', name: 'verify' },
];

/** `--phases initial,seq-c`: the phase keys, in bench order (every phase when empty). */
export function parsePhases(text: string | undefined): PhaseKey[] {
  if (!text) return PHASES.map((p) => p.key);
  const names = text.split(',').map((s) => s.trim());
  for (const n of names) {
    if (!PHASES.some((p) => p.name === n || p.key === n))
      throw new Error(`--phases: unknown phase ${n} (${PHASES.map((p) => p.name).join(', ')})`);
  }
  return PHASES.filter((p) => names.includes(p.name) || names.includes(p.key)).map((p) => p.key);
}

/**
 * The engines of the slots of the `phaseIndex`-th phase: A-B-B-A, B-A-A-B for the next phase, and
 * so on (each engine gets one early and one late slot in every phase, and opens every other
 * phase); one engine alone runs twice.
 */
export function slotOrder(engines: readonly string[], phaseIndex: number): string[] {
  if (engines.length === 1) return [engines[0], engines[0]];
  if (engines.length !== 2) throw new Error('the bench compares one or two engines');
  const [a, b] = phaseIndex % 2 === 0 ? engines : [engines[1], engines[0]];
  return [a, b, b, a];
}

/** One slot: one engine through one phase, with the raw disk and the link measured just before. */
export interface SlotRecord {
  phase: PhaseKey;
  engine: string;
  /** Position in the phase (0..3). */
  slot: number;
  /** The engine's figure (the unit of `phase`). */
  value: number;
  /** For the duration phases: the bytes synced (MB, 10^6 bytes) divided by the time, MB/s. */
  rate_MBps?: number;
  /** The raw disk's figure in this slot: the 1 MiB sequential load (MB/s), or for the latency phase the 4 KiB QD1 load (µs). */
  raw: number;
  link_tcp_MBps: number;
  link_rtt_us: number;
  link_rtt_median_us: number;
  /** See ratiosOf. */
  raw_ratio: number;
  link_ratio: number;
  /** Seconds since the start of the bench. */
  at_s: number;
  /** The host's 1-minute load average at the start of the slot (2 cores: above 2, the guests wait for CPU). */
  host_load?: number;
}

/**
 * The ratios of a slot, each engine figure against the raw disk and the link of the same slot:
 * - throughput (MB/s): value / raw MB/s, value / link_tcp_MBps (1 = as fast as the disk, the link);
 * - latency (µs): value / raw µs, value / link_rtt_us (1 = as quick as the disk, one round trip);
 * - duration (s): the rate, MB synced / s, against raw MB/s and link_tcp_MBps as for throughput.
 */
export function ratiosOf(
  kind: PhaseKind,
  value: number,
  raw: number,
  link: { tcp_MBps: number; rtt_us: number },
  syncedMB?: number,
): { raw_ratio: number; link_ratio: number; rate_MBps?: number } {
  if (kind === 'latency') return { raw_ratio: value / raw, link_ratio: value / link.rtt_us };
  if (kind === 'throughput') return { raw_ratio: value / raw, link_ratio: value / link.tcp_MBps };
  if (syncedMB === undefined) throw new Error('a duration phase needs the amount synced');
  const rate = syncedMB / value;
  return { raw_ratio: rate / raw, link_ratio: rate / link.tcp_MBps, rate_MBps: rate };
}

export const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);

const DIGITS: Record<string, number> = {
  initial_sync_s: 3,
  resync_64M_s: 3,
  resync_64M_same_csums_s: 3,
  ahead_catchup_s: 3,
  verify_s: 3,
  write_4k_qd1_lat_us: 1,
  raw_write_4k_qd1_lat_us: 1,
  link_rtt_us: 1,
  ratio: 3,
};

/** A figure rounded for the JSON; NaN (phase not run) becomes null there. */
function fig(key: string, x: number): number {
  return Number.isNaN(x) ? Number.NaN : round(x, DIGITS[key] ?? 2);
}

/**
 * An engine's figures from its slots: each phase's figure and ratios are the means over the
 * engine's slots of that phase; raw_seq_write_MBps is the mean of the sequential raw loads of all
 * its slots (every phase but the latency one), raw_write_4k_qd1_lat_us that of its latency slots,
 * the link figures the mean over all its slots.
 */
export function aggregate(engine: string, slots: readonly SlotRecord[]): BenchResult {
  const mine = slots.filter((s) => s.engine === engine);
  const of = (key: PhaseKey) => mine.filter((s) => s.phase === key);
  const r = { engine } as BenchResult;
  const rawRatio = {} as BenchResult['raw_ratio'];
  const linkRatio = {} as BenchResult['link_ratio'];
  for (const key of PHASES.map((p) => p.key)) {
    r[key] = fig(key, mean(of(key).map((s) => s.value)));
    rawRatio[key] = fig('ratio', mean(of(key).map((s) => s.raw_ratio)));
    linkRatio[key] = fig('ratio', mean(of(key).map((s) => s.link_ratio)));
  }
  const seq = mine.filter((s) => s.phase !== 'write_4k_qd1_lat_us');
  r.raw_seq_write_MBps = fig('raw_seq_write_MBps', mean(seq.map((s) => s.raw)));
  r.raw_write_4k_qd1_lat_us = fig('raw_write_4k_qd1_lat_us', mean(of('write_4k_qd1_lat_us').map((s) => s.raw)));
  r.link_tcp_MBps = fig('link_tcp_MBps', mean(mine.map((s) => s.link_tcp_MBps)));
  r.link_rtt_us = fig('link_rtt_us', mean(mine.map((s) => s.link_rtt_us)));
  r.link_rtt_median_us = fig('link_rtt_us', mean(mine.map((s) => s.link_rtt_median_us)));
  r.raw_ratio = rawRatio;
  r.link_ratio = linkRatio;
  return r;
}

/** Ratios bsr/drbd84 for every figure (NaN where either is missing or the reference is 0). */
export function ratios(bsr: BenchResult, ref: BenchResult): Record<string, number> {
  const r: Record<string, number> = {};
  for (const k of RESULT_KEYS) r[k] = !ref[k] ? Number.NaN : round(bsr[k] / ref[k], 3);
  return r;
}

/** Spread of an engine's figure over its slots, for the table: "a..b" or the single value. */
export function spreadOf(slots: readonly SlotRecord[], engine: string, key: PhaseKey): string {
  const v = slots.filter((s) => s.engine === engine && s.phase === key).map((s) => s.value);
  if (v.length === 0) return '-';
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  const d = (DIGITS[key] ?? 2) > 1 && lo < 100 ? 1 : 0;
  return lo === hi ? lo.toFixed(d) : `${lo.toFixed(d)}..${hi.toFixed(d)}`;
}
