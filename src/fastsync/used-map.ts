// What every file-system reader of FastSync shares: the map of used 4 KiB blocks it builds
// (docs/fastsync.md), the error that refuses a bad on-disk field by name, and the checks that
// raise it.

/** bsr's bitmap granularity: one map bit per 4 KiB of the device. */
export const MAP_BLOCK = 4096;

/** A field read from the disk that cannot be trusted: no map, a full sync. */
export class FsMapError extends Error {}

export interface UsedMap {
  /** The file system's type: ext2, ext3, ext4, xfs. */
  fsType: string;
  /** One bit per 4 KiB block of the device (bit i of byte i>>3, LSB first), set = used. */
  bits: Uint8Array;
  /** 4 KiB blocks of the device the map spans. */
  mapBlocks: number;
  /** 4 KiB blocks set in the map. */
  usedBlocks: number;
  fsBlockSize: number;
  fsBlocks: number;
}

/** `fail` and `check` of one structure: errors read `WHERE FIELD = VALUE: EXPECTED`. */
export function fieldChecks(where: string) {
  const fail = (field: string, value: number | bigint | string, expected: string): never => {
    throw new FsMapError(`${where} ${field} = ${value}: ${expected}`);
  };
  const check = (ok: boolean, field: string, value: number | bigint | string, expected: string): void => {
    if (!ok) fail(field, value, expected);
  };
  return { fail, check };
}

/** BITS_SET[b]: how many bits of the byte b are set. */
const BITS_SET = Uint8Array.from({ length: 256 }, (_, b) => {
  let n = 0;
  for (let x = b; x; x &= x - 1) n++;
  return n;
});

/** The map of a device of `deviceBytes` bytes, built by byte ranges of the file system. */
export class MapBuilder {
  readonly mapBlocks: number;
  private readonly bits: Uint8Array;

  constructor(deviceBytes: number) {
    this.mapBlocks = Math.ceil(deviceBytes / MAP_BLOCK);
    this.bits = new Uint8Array(Math.ceil(this.mapBlocks / 8));
  }

  /** Marks every map block that holds any byte of [start, end). */
  markUsed(start: number, end: number): void {
    this.setBlocks(Math.floor(start / MAP_BLOCK), Math.ceil(end / MAP_BLOCK), true);
  }

  /** Clears the map blocks wholly inside [start, end): a block partly used stays marked. */
  markFree(start: number, end: number): void {
    this.setBlocks(Math.ceil(start / MAP_BLOCK), Math.floor(end / MAP_BLOCK), false);
  }

  /** Sets or clears the bits of blocks [first, last); whole bytes at once inside a long extent. */
  private setBlocks(first: number, last: number, used: boolean): void {
    const one = (b: number) => {
      if (used) this.bits[b >> 3] |= 1 << (b & 7);
      else this.bits[b >> 3] &= ~(1 << (b & 7));
    };
    let b = first;
    for (; b < last && b & 7; b++) one(b);
    if (last - b >= 8) {
      this.bits.fill(used ? 0xff : 0, b >> 3, last >> 3);
      b = last & ~7;
    }
    for (; b < last; b++) one(b);
  }

  finish(fsType: string, fsBlockSize: number, fsBlocks: number): UsedMap {
    let usedBlocks = 0;
    // an indexed loop and a table: the lab's emulated CPU runs this cold, before any JIT
    for (let i = 0; i < this.bits.length; i++) usedBlocks += BITS_SET[this.bits[i]];
    return { fsType, bits: this.bits, mapBlocks: this.mapBlocks, usedBlocks, fsBlockSize, fsBlocks };
  }
}
