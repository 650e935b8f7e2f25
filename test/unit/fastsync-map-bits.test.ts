// The bit work under FastSync's maps: runs of set bits in a block bitmap, and the map's marking
// of byte ranges with whole bytes in the middle, each against a bit-by-bit reference on random
// input (the fast paths take whole 0x00/0xff bytes; the edges must not be lost).
import { describe, expect, it } from 'vitest';
import { usedRuns } from '../../src/fastsync/ext.js';
import { MAP_BLOCK, MapBuilder } from '../../src/fastsync/used-map.js';

/** A deterministic pseudo-random generator (xorshift32), so a failure repeats. */
function rng(seed: number) {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** A bitmap of `bytes` bytes made of long runs of 0x00, 0xff and mixed bytes. */
function bitmapOf(rand: () => number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; ) {
    const len = 1 + Math.floor(rand() * 12);
    const kind = rand();
    for (let j = 0; j < len && i < bytes; j++, i++)
      out[i] = kind < 0.35 ? 0 : kind < 0.7 ? 0xff : Math.floor(rand() * 256);
  }
  return out;
}

const bitSet = (bits: Uint8Array, i: number) => (bits[i >> 3] & (1 << (i & 7))) !== 0;

describe('usedRuns', () => {
  it('covers exactly the set bits among the first count bits', () => {
    const rand = rng(7);
    for (let round = 0; round < 300; round++) {
      const bitmap = bitmapOf(rand, 1 + Math.floor(rand() * 64));
      const count = Math.floor(rand() * (bitmap.length * 8 + 1));
      const got = new Set<number>();
      let prevEnd = -1;
      for (const [first, length] of usedRuns(bitmap, count)) {
        expect(length).toBeGreaterThan(0);
        expect(first).toBeGreaterThan(prevEnd); // in order, never adjacent (merged)
        prevEnd = first + length;
        for (let i = first; i < first + length; i++) got.add(i);
      }
      const want = new Set<number>();
      for (let i = 0; i < count; i++) if (bitSet(bitmap, i)) want.add(i);
      expect(got).toEqual(want);
    }
  });

  it('gives a full bitmap as one run and an empty one as none', () => {
    expect([...usedRuns(new Uint8Array(4).fill(0xff), 30)]).toEqual([[0, 30]]);
    expect([...usedRuns(new Uint8Array(4), 32)]).toEqual([]);
  });
});

describe('MapBuilder', () => {
  it('marks and frees byte ranges as a block-by-block reference does', () => {
    const rand = rng(11);
    for (let round = 0; round < 200; round++) {
      const deviceBytes = MAP_BLOCK * (1 + Math.floor(rand() * 300));
      const map = new MapBuilder(deviceBytes);
      const ref = new Uint8Array(map.mapBlocks);
      for (let op = 0; op < 20; op++) {
        const a = Math.floor(rand() * deviceBytes);
        const b = a + Math.floor(rand() * (deviceBytes - a));
        if (rand() < 0.6) {
          map.markUsed(a, b);
          for (let k = Math.floor(a / MAP_BLOCK); k < Math.ceil(b / MAP_BLOCK); k++) ref[k] = 1;
        } else {
          map.markFree(a, b);
          for (let k = Math.ceil(a / MAP_BLOCK); k < Math.floor(b / MAP_BLOCK); k++) ref[k] = 0;
        }
      }
      const done = map.finish('ext4', 4096, map.mapBlocks);
      for (let k = 0; k < map.mapBlocks; k++) expect(bitSet(done.bits, k) ? 1 : 0).toBe(ref[k]);
      expect(done.usedBlocks).toBe(ref.reduce((s, x) => s + x, 0));
    }
  });
});
