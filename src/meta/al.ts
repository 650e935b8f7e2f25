// Activity-log transactions: encoding, the striped ring, and replay into the set of active extents
// (docs/internals.md, "AL").
import { metaData } from '../abi/index.js';
import { getNum, setNum, viewOf } from './codec.js';
import { crc32cRaw } from './crc32c.js';
import { type AlGeometry, BLOCK, BYTES_PER_BIT, invalidField } from './layout.js';

const TR = metaData.alTransaction;
export const AL_MAGIC = metaData.alTransactionMagic;
export const AL_TYPE = metaData.alTransactionTypes;
export const AL_CONTEXT_SLOTS = metaData.alContextPerTransaction;
export const AL_MAX_UPDATES = metaData.alUpdatesPerTransaction;
/** The most AL slots (al-extents) a device can have; slot numbers are 0..AL_EXTENTS_MAX-1. */
export const AL_EXTENTS_MAX = 65534;
/** An unused AL slot. */
export const AL_FREE = 0xffffffff;
/** Bitmap bits one 4 MiB AL extent covers. */
export const BITS_PER_EXTENT = metaData.alExtentSize / BYTES_PER_BIT;

export interface AlUpdate {
  slot: number;
  extent: number;
}

export interface AlTransaction {
  trNumber: number;
  type: number;
  updates: AlUpdate[];
  contextStart: number;
  /** Extent numbers of slots contextStart.. (AL_FREE for unused ones). */
  context: number[];
}

export function ringSize(g: AlGeometry): number {
  return g.alStripes * g.alStripeSize4k;
}

/** 4 KiB block (within the AL area) holding transaction number `tr`: ring index striped over the stripes. */
export function alBlockOf(tr: number, g: AlGeometry): number {
  const i = (tr >>> 0) % ringSize(g);
  return (i % g.alStripes) * g.alStripeSize4k + Math.floor(i / g.alStripes);
}

/** The checksum stored in a transaction block: crc32c(0, block with the crc field zeroed). */
export function alChecksum(block: Uint8Array): number {
  const copy = Buffer.from(block.subarray(0, BLOCK));
  setNum(viewOf(copy), TR.crc32c, 0);
  return crc32cRaw(0, copy);
}

export function encodeTransaction(t: AlTransaction): Buffer {
  if (t.updates.length > AL_MAX_UPDATES) throw new Error(`at most ${AL_MAX_UPDATES} updates a transaction`);
  if (t.context.length > AL_CONTEXT_SLOTS) throw new Error(`at most ${AL_CONTEXT_SLOTS} context slots`);
  const block = Buffer.alloc(BLOCK);
  const v = viewOf(block);
  setNum(v, TR.magic, AL_MAGIC);
  setNum(v, TR.tr_number, t.trNumber);
  setNum(v, TR.transaction_type, t.type);
  setNum(v, TR.n_updates, t.updates.length);
  setNum(v, TR.context_size, t.context.length);
  setNum(v, TR.context_start_slot_nr, t.contextStart);
  for (let i = 0; i < TR.update_slot_nr.count; i++) {
    const u = t.updates[i];
    setNum(v, TR.update_slot_nr, u ? u.slot : 0, 0, i);
    setNum(v, TR.update_extent_nr, u ? u.extent : AL_FREE, 0, i);
  }
  for (let i = 0; i < TR.context.count; i++) setNum(v, TR.context, t.context[i] ?? AL_FREE, 0, i);
  setNum(v, TR.crc32c, alChecksum(block));
  return block;
}

/**
 * The transaction in `block`, or undefined when its magic or checksum is wrong (a block never
 * written, or a write torn by the crash: that transaction never completed). A transaction that
 * passes both but says what no writer writes cannot be replayed: it is refused, naming the field.
 */
export function decodeTransaction(block: Uint8Array): AlTransaction | undefined {
  const v = viewOf(block);
  if (getNum(v, TR.magic) !== AL_MAGIC) return undefined;
  if (getNum(v, TR.crc32c) !== alChecksum(block)) return undefined;
  const trNumber = getNum(v, TR.tr_number);
  const bad = (field: string, value: number, why: string) =>
    invalidField(`activity log transaction ${trNumber}: ${field}`, value, why);
  const type = getNum(v, TR.transaction_type);
  if (type !== AL_TYPE.UPDATE && type !== AL_TYPE.INITIALIZED)
    throw bad('transaction_type', type, `must be ${AL_TYPE.UPDATE} (update) or ${AL_TYPE.INITIALIZED} (initialized)`);
  const nUpdates = getNum(v, TR.n_updates);
  if (nUpdates > AL_MAX_UPDATES) throw bad('n_updates', nUpdates, `at most ${AL_MAX_UPDATES} fit in a transaction`);
  const contextSize = getNum(v, TR.context_size);
  if (contextSize > AL_CONTEXT_SLOTS)
    throw bad('context_size', contextSize, `at most ${AL_CONTEXT_SLOTS} fit in a transaction`);
  const contextStart = getNum(v, TR.context_start_slot_nr);
  if (contextStart >= AL_EXTENTS_MAX || contextStart + contextSize > AL_EXTENTS_MAX)
    throw bad(
      'context_start_slot_nr',
      contextStart,
      `with context_size ${contextSize} it reaches past slot ${AL_EXTENTS_MAX - 1}`,
    );
  const updates: AlUpdate[] = [];
  for (let i = 0; i < nUpdates; i++) {
    const slot = getNum(v, TR.update_slot_nr, 0, i);
    if (slot >= AL_EXTENTS_MAX) throw bad(`update_slot_nr[${i}]`, slot, `slots are 0..${AL_EXTENTS_MAX - 1}`);
    updates.push({ slot, extent: getNum(v, TR.update_extent_nr, 0, i) });
  }
  const context: number[] = [];
  for (let i = 0; i < contextSize; i++) context.push(getNum(v, TR.context, 0, i));
  return { trNumber, type, updates, contextStart, context };
}

/** All valid transactions of an AL area, oldest first (tr_number order, wrap-safe). */
export function validTransactions(area: Uint8Array, g: AlGeometry): AlTransaction[] {
  const found: AlTransaction[] = [];
  for (let b = 0; b < ringSize(g); b++) {
    const t = decodeTransaction(area.subarray(b * BLOCK, (b + 1) * BLOCK));
    if (t) found.push(t);
  }
  if (found.length < 2) return found;
  // tr_number wraps at 2^32: the oldest one follows the largest gap on the 32-bit circle.
  found.sort((a, b) => a.trNumber - b.trNumber);
  let start = 0;
  let widest = -1;
  for (let i = 0; i < found.length; i++) {
    const prev = found[(i + found.length - 1) % found.length].trNumber;
    const gap = (found[i].trNumber - prev + 2 ** 32) % 2 ** 32;
    if (gap > widest) {
      widest = gap;
      start = i;
    }
  }
  return [...found.slice(start), ...found.slice(0, start)];
}

export interface AlReplay {
  transactions: number;
  /** Highest tr_number replayed (undefined when there was none). */
  lastTr: number | undefined;
  /** Slot array after replay. */
  slots: number[];
  /** Distinct active extent numbers, ascending. */
  activeExtents: number[];
}

/**
 * Rebuilds the AL slot array. Each transaction's context is a snapshot of slots taken before its
 * updates were committed, so the context is applied first and the updates after it. An INITIALIZED
 * transaction starts from an empty AL.
 */
export function replayAl(area: Uint8Array, g: AlGeometry, nrSlots: number): AlReplay {
  const trs = validTransactions(area, g);
  const slots = new Map<number, number>();
  for (const t of trs) {
    if (t.type === AL_TYPE.INITIALIZED) slots.clear();
    t.context.forEach((extent, i) => {
      slots.set(t.contextStart + i, extent);
    });
    for (const u of t.updates) slots.set(u.slot, u.extent);
  }
  let size = nrSlots;
  for (const k of slots.keys()) size = Math.max(size, k + 1);
  const array = Array.from({ length: size }, (_, i) => slots.get(i) ?? AL_FREE);
  const active = [...new Set(array.filter((e) => e !== AL_FREE))].sort((a, b) => a - b);
  return { transactions: trs.length, lastTr: trs.at(-1)?.trNumber, slots: array, activeExtents: active };
}
