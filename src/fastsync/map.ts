// FastSync's map on its way to the kernel: the device read without claiming it (bsr.ko holds
// it exclusively) and the map cut into FAST_SYNC_MAP messages.
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { abi } from '../abi/index.js';
import { type BlockIo, blockDeviceSize } from '../meta/device.js';
import type { UsedMap } from './used-map.js';

/**
 * 64-bit words a FAST_SYNC_MAP message carries at most (its fsm_words attribute's max / 8: the
 * map of 1 GiB, 4096 words, in one message; each message costs a round trip to the kernel).
 */
export const MAP_CHUNK_WORDS = chunkWords(abi.sets.fast_sync_map_parms.fsm_words.max);

function chunkWords(maxBytes: number | undefined): number {
  // without a maximum, mapChunks would never advance
  if (!maxBytes || maxBytes % 8) throw new Error(`bsr-abi.json: fsm_words max ${maxBytes}: a multiple of 8 expected`);
  return maxBytes / 8;
}

export interface ReadOnlyIo extends BlockIo {
  close(): void;
}

/** A device or image opened read-only and without O_EXCL, read at absolute offsets. */
export function fileIo(path: string): ReadOnlyIo {
  const fd = openSync(path, 'r');
  const st = fstatSync(fd);
  const size = st.isBlockDevice() ? blockDeviceSize(path) : st.size;
  return {
    size,
    read(pos: number, len: number): Buffer {
      const buf = Buffer.alloc(len);
      let done = 0;
      while (done < len) {
        const n = readSync(fd, buf, done, len - done, pos + done);
        if (n === 0) throw new Error(`${path}: short read at byte ${pos + done} (size ${size})`);
        done += n;
      }
      return buf;
    },
    write(): void {
      throw new Error(`${path}: opened read-only`);
    },
    close: () => closeSync(fd),
  };
}

export interface MapChunk {
  /** The 4 KiB block of the first bit (a multiple of 64). */
  firstBlock: number;
  /** Little-endian 64-bit words, bit i of word w = block firstBlock + 64 w + i. */
  words: Buffer;
  last: boolean;
}

/** The map in order, `wordsPerChunk` words a message; the last one flagged. */
export function* mapChunks(map: UsedMap, wordsPerChunk = MAP_CHUNK_WORDS): Generator<MapChunk> {
  const totalWords = Math.ceil(map.mapBlocks / 64);
  for (let w = 0; w < totalWords; w += wordsPerChunk) {
    const n = Math.min(wordsPerChunk, totalWords - w);
    const words = Buffer.alloc(n * 8);
    words.set(map.bits.subarray(w * 8, Math.min(map.bits.length, (w + n) * 8)));
    yield { firstBlock: w * 64, words, last: w + n === totalWords };
  }
}
