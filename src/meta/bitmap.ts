// The on-disk bitmap: 64-bit little-endian words, bm_max_peers slots interleaved word by word
// (word w of slot s is word w * bm_max_peers + s of the area).
import { type BlockIo, CHUNK, isZero, zeroRange } from './device.js';
import { type Layout, slotWords } from './layout.js';

export interface WordRun {
  count: number;
  value: bigint;
}

/** Byte offset (within the bitmap area) of word `w` of slot `slot`. */
export function wordOffset(w: number, slot: number, maxPeers: number): number {
  return (w * maxPeers + slot) * 8;
}

/** Chunk size for bitmap passes: whole interleave rows so every chunk starts at slot 0. */
function chunkBytes(layout: Layout): number {
  const row = layout.maxPeers * 8;
  return Math.max(row, Math.floor(CHUNK / row) * row);
}

/** The bitmap area in chunks of whole interleave rows. */
function* bitmapChunks(io: BlockIo, layout: Layout): Generator<{ data: Buffer; zero: boolean }> {
  const step = chunkBytes(layout);
  for (let off = 0; off < layout.bmSize; off += step) {
    const data = io.read(layout.bmStart + off, Math.min(step, layout.bmSize - off));
    yield { data, zero: isZero(data) };
  }
}

/** Collects the runs of one slot, chunk by chunk; completed runs can be taken out while it goes on. */
class SlotRunBuilder {
  private done: WordRun[] = [];
  private open: WordRun | undefined;
  private left: number;

  constructor(
    private readonly slot: number,
    private readonly maxPeers: number,
    totalWords: number,
  ) {
    this.left = totalWords;
  }

  private add(value: bigint, count: number): void {
    if (this.open && this.open.value === value) this.open.count += count;
    else {
      if (this.open) this.done.push(this.open);
      this.open = { count, value };
    }
  }

  addChunk(data: Buffer, zero: boolean): void {
    // Chunks start at an interleave row, so this slot's words sit at j * maxPeers + slot.
    const n = Math.min(this.left, Math.max(0, Math.ceil((data.length / 8 - this.slot) / this.maxPeers)));
    this.left -= n;
    if (zero) {
      if (n > 0) this.add(0n, n);
      return;
    }
    for (let j = 0; j < n; j++) this.add(data.readBigUInt64LE((j * this.maxPeers + this.slot) * 8), 1);
  }

  /** Runs that can no longer grow. */
  takeCompleted(): WordRun[] {
    const out = this.done;
    this.done = [];
    return out;
  }

  get pending(): number {
    return this.done.length;
  }

  finish(): WordRun[] {
    const out = this.takeCompleted();
    if (this.open) out.push(this.open);
    this.open = undefined;
    return out;
  }
}

/** Run-length encoded words of one slot, streamed: one pass over the area per slot. */
export function* slotRuns(io: BlockIo, layout: Layout, slot: number): Generator<WordRun> {
  const b = new SlotRunBuilder(slot, layout.maxPeers, slotWords(layout.bmSize, layout.maxPeers, slot));
  for (const { data, zero } of bitmapChunks(io, layout)) {
    b.addChunk(data, zero);
    yield* b.takeCompleted();
  }
  yield* b.finish();
}

/**
 * The runs of every slot in a single pass over the area, or undefined once more than `maxRuns`
 * runs pile up (a noisy bitmap: the caller streams slot by slot instead, bounded in memory).
 */
export function allSlotRuns(io: BlockIo, layout: Layout, maxRuns = 1 << 20): WordRun[][] | undefined {
  const builders = Array.from(
    { length: layout.maxPeers },
    (_, s) => new SlotRunBuilder(s, layout.maxPeers, slotWords(layout.bmSize, layout.maxPeers, s)),
  );
  let runs = 0;
  for (const { data, zero } of bitmapChunks(io, layout)) {
    for (const b of builders) {
      runs -= b.pending;
      b.addChunk(data, zero);
      runs += b.pending;
    }
    if (runs > maxRuns) return undefined;
  }
  return builders.map((b) => b.finish());
}

/** Expands runs word by word (missing words are zero). */
class RunCursor {
  private i = 0;
  private left: number;
  constructor(private readonly runs: WordRun[]) {
    this.left = runs[0]?.count ?? 0;
  }
  private settle(): void {
    while (this.i < this.runs.length && this.left === 0) {
      this.i++;
      this.left = this.runs[this.i]?.count ?? 0;
    }
  }
  next(): bigint {
    this.settle();
    if (this.i >= this.runs.length) return 0n;
    this.left--;
    return this.runs[this.i].value;
  }
  /** Consumes `n` words if they are all zero; false (nothing consumed) otherwise. */
  skipZeros(n: number): boolean {
    this.settle();
    if (this.i >= this.runs.length) return true;
    if (this.runs[this.i].value !== 0n || this.left < n) return false;
    this.left -= n;
    return true;
  }
}

/** Writes the whole bitmap area from per-slot runs (restore-md). */
export function writeBitmapFromRuns(io: BlockIo, layout: Layout, slots: WordRun[][]): void {
  const mp = layout.maxPeers;
  const step = chunkBytes(layout);
  const cursors = Array.from({ length: mp }, (_, s) => new RunCursor(slots[s] ?? []));
  for (let off = 0; off < layout.bmSize; off += step) {
    const len = Math.min(step, layout.bmSize - off);
    const words = (s: number) => Math.max(0, Math.ceil((len / 8 - s) / mp));
    // Zero stretches of every slot (the common case) are checked in bulk, not word by word. A slot
    // whose check fails has consumed nothing, and the ones before it are zero for this chunk.
    const zeroUpTo = cursors.findIndex((c, s) => !c.skipZeros(words(s)));
    if (zeroUpTo < 0) {
      zeroRange(io, layout.bmStart + off, len);
      continue;
    }
    const chunk = Buffer.alloc(len);
    for (let k = 0; k < len / 8; k++) {
      const s = k % mp;
      if (s < zeroUpTo) continue;
      const v = cursors[s].next();
      if (v !== 0n) chunk.writeBigUInt64LE(v, k * 8);
    }
    io.write(layout.bmStart + off, chunk);
  }
}

/** Sets bits [lo, hi) of the given slots, reading and writing only the words involved. */
export function setBits(io: BlockIo, layout: Layout, slots: number[], lo: number, hi: number): void {
  if (hi <= lo || slots.length === 0) return;
  const mp = layout.maxPeers;
  const firstWord = Math.floor(lo / 64);
  const lastWord = Math.floor((hi - 1) / 64);
  const start = wordOffset(firstWord, 0, mp);
  const end = Math.min(wordOffset(lastWord + 1, 0, mp), layout.bmSize);
  const buf = io.read(layout.bmStart + start, end - start);
  for (const s of slots) {
    for (let w = firstWord; w <= lastWord; w++) {
      const at = wordOffset(w, s, mp) - start;
      if (at + 8 > buf.length) break;
      const a = Math.max(lo, w * 64) - w * 64;
      const b = Math.min(hi, w * 64 + 64) - w * 64;
      if (a === 0 && b === 64) buf.fill(0xff, at, at + 8);
      else for (let bit = a; bit < b; bit++) buf[at + (bit >> 3)] |= 1 << (bit & 7);
    }
  }
  io.write(layout.bmStart + start, buf);
}

/** Zeroes every word of one slot (forget-peer), leaving the other slots untouched. */
export function clearSlot(io: BlockIo, layout: Layout, slot: number): void {
  const step = chunkBytes(layout);
  for (let off = 0; off < layout.bmSize; off += step) {
    const len = Math.min(step, layout.bmSize - off);
    const chunk = io.read(layout.bmStart + off, len);
    if (isZero(chunk)) continue;
    for (let at = slot * 8; at + 8 <= len; at += layout.maxPeers * 8) chunk.fill(0, at, at + 8);
    io.write(layout.bmStart + off, chunk);
  }
}

/** Number of set bits in one slot (for messages and tests). */
export function countBits(io: BlockIo, layout: Layout, slot: number): number {
  let n = 0;
  for (const run of slotRuns(io, layout, slot)) {
    let v = run.value;
    let ones = 0;
    while (v) {
      ones += Number(v & 1n);
      v >>= 1n;
    }
    n += ones * run.count;
  }
  return n;
}
