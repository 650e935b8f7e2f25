// The on-disk bitmap: 64-bit little-endian words, bm_max_peers slots interleaved word by word
// (word w of slot s is word w * bm_max_peers + s of the area).
import { type BlockIo, CHUNK, isZero } from './device.js';
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

/** Run-length encoded words of one slot, read in big chunks. */
export function* slotRuns(io: BlockIo, layout: Layout, slot: number): Generator<WordRun> {
  const step = chunkBytes(layout);
  const total = slotWords(layout.bmSize, layout.maxPeers, slot);
  let run: WordRun | undefined;
  let seen = 0;
  for (let off = 0; off < layout.bmSize && seen < total; off += step) {
    const len = Math.min(step, layout.bmSize - off);
    const chunk = io.read(layout.bmStart + off, len);
    // Chunks start at an interleave row, so this slot's words sit at j * maxPeers + slot.
    const inChunk = Math.min(total - seen, Math.max(0, Math.ceil((len / 8 - slot) / layout.maxPeers)));
    if (isZero(chunk)) {
      if (run && run.value === 0n) run.count += inChunk;
      else {
        if (run) yield run;
        run = { count: inChunk, value: 0n };
      }
    } else {
      for (let j = 0; j < inChunk; j++) {
        const value = chunk.readBigUInt64LE((j * layout.maxPeers + slot) * 8);
        if (run && run.value === value) run.count++;
        else {
          if (run) yield run;
          run = { count: 1, value };
        }
      }
    }
    seen += inChunk;
  }
  if (run) yield run;
}

/** Expands runs to the given number of words (missing words are zero). */
class RunCursor {
  private i = 0;
  private left: number;
  constructor(private readonly runs: WordRun[]) {
    this.left = runs[0]?.count ?? 0;
  }
  next(): bigint {
    while (this.i < this.runs.length && this.left === 0) {
      this.i++;
      this.left = this.runs[this.i]?.count ?? 0;
    }
    if (this.i >= this.runs.length) return 0n;
    this.left--;
    return this.runs[this.i].value;
  }
}

/** Writes the whole bitmap area from per-slot runs (restore-md). */
export function writeBitmapFromRuns(io: BlockIo, layout: Layout, slots: WordRun[][]): void {
  const step = chunkBytes(layout);
  const cursors = Array.from({ length: layout.maxPeers }, (_, s) => new RunCursor(slots[s] ?? []));
  for (let off = 0; off < layout.bmSize; off += step) {
    const len = Math.min(step, layout.bmSize - off);
    const chunk = Buffer.alloc(len);
    for (let k = 0; k < len / 8; k++) {
      const v = cursors[k % layout.maxPeers].next();
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
