// The blocks an ext2/3/4 file system uses, read from its own on-disk structures, as a map of
// 4 KiB blocks (bsr's bitmap granularity) for FastSync (docs/fastsync.md). Everything read from
// the disk is checked before it sizes or locates anything: a bad field refuses the map with an
// error naming it, and the caller falls back to a sync of the whole device.
//
// On-disk facts (little-endian): the superblock at byte 1024 (fields at the offsets below, as
// the kernel's struct ext4_super_block); the group descriptor table in the block after the one
// holding the superblock, desc_size bytes a group (32 without the 64bit feature); each group's
// block bitmap (one bit a block from the group's first block) unless the group is BLOCK_UNINIT,
// whose only used blocks are metadata: the superblock backup, the descriptor table and its
// reserved blocks where the group has a backup, and any group's bitmaps and inode table that
// lie in it (flex_bg packs them into other groups). Those metadata blocks are marked whatever
// the bitmaps say, so the map covers them even in an uninitialised group.
import type { BlockIo } from '../meta/device.js';
import { fieldChecks, MapBuilder, type UsedMap } from './used-map.js';

const SB_OFFSET = 1024;
const EXT_MAGIC = 0xef53;

const COMPAT_RESIZE_INODE = 0x10;
const COMPAT_SPARSE_SUPER2 = 0x200;
const RO_COMPAT_SPARSE_SUPER = 0x1;
const RO_COMPAT_BIGALLOC = 0x200;
const INCOMPAT_RECOVER = 0x4;
const INCOMPAT_JOURNAL_DEV = 0x8;
const INCOMPAT_META_BG = 0x10;
const INCOMPAT_64BIT = 0x80;
/** Features whose on-disk layout this reader understands (and needs_recovery, refused below). */
const INCOMPAT_KNOWN =
  0x2 |
  INCOMPAT_RECOVER |
  0x40 |
  INCOMPAT_64BIT |
  0x100 |
  0x200 |
  0x400 |
  0x1000 |
  0x2000 |
  0x4000 |
  0x8000 |
  0x10000 |
  0x20000;
const BG_BLOCK_UNINIT = 0x2;

const { fail, check } = fieldChecks('ext superblock');

const isPowerOf = (n: number, base: number) => {
  let x = n;
  while (x > 1 && x % base === 0) x /= base;
  return x === 1;
};

/** Whether group g holds a superblock backup (and descriptor table copy). */
function hasBackup(g: number, sparse: boolean, sparse2: number[] | undefined): boolean {
  if (g === 0) return true;
  if (sparse2) return sparse2.includes(g);
  if (!sparse) return true;
  return g === 1 || isPowerOf(g, 3) || isPowerOf(g, 5) || isPowerOf(g, 7);
}

/**
 * The runs of set bits among the first `count` bits of a block bitmap, as [first, length]:
 * one mark per extent instead of one per block (a 1 GiB file system has ~250 000 bits, and
 * this runs under emulation in the lab), whole bytes of 0 or 0xff taken at once.
 */
export function* usedRuns(bitmap: Uint8Array, count: number): Generator<[number, number]> {
  let runStart = -1;
  let i = 0;
  while (i < count) {
    const byte = bitmap[i >> 3];
    if ((i & 7) === 0 && i + 8 <= count && (byte === 0 || byte === 0xff)) {
      if (byte === 0xff && runStart < 0) runStart = i;
      if (byte === 0 && runStart >= 0) {
        yield [runStart, i - runStart];
        runStart = -1;
      }
      i += 8;
      continue;
    }
    const used = (byte & (1 << (i & 7))) !== 0;
    if (used && runStart < 0) runStart = i;
    if (!used && runStart >= 0) {
      yield [runStart, i - runStart];
      runStart = -1;
    }
    i++;
  }
  if (runStart >= 0) yield [runStart, count - runStart];
}

/** Whether `io` starts with an ext2/3/4 superblock (its magic). */
export function hasExtSuperblock(io: BlockIo): boolean {
  return io.size >= SB_OFFSET * 2 && io.read(SB_OFFSET + 56, 2).readUInt16LE(0) === EXT_MAGIC;
}

/**
 * The used-block map of the ext file system at the start of `io`, over a device of
 * `deviceBytes` bytes (the replicated data area, which the file system must fit in).
 * Returns undefined when there is no ext superblock; throws FsMapError on a bad field.
 */
export function extUsedMap(io: BlockIo, deviceBytes: number): UsedMap | undefined {
  if (deviceBytes < SB_OFFSET * 2 || !hasExtSuperblock(io)) return undefined;
  const sb = io.read(SB_OFFSET, 1024);

  const logBlock = sb.readUInt32LE(24);
  check(logBlock <= 6, 's_log_block_size', logBlock, 'expected 0..6 (1 KiB to 64 KiB blocks)');
  const bs = 1024 << logBlock;
  const compat = sb.readUInt32LE(0x5c);
  const incompat = sb.readUInt32LE(0x60);
  const roCompat = sb.readUInt32LE(0x64);
  if (incompat & INCOMPAT_RECOVER)
    fail('s_feature_incompat', incompat, 'needs_recovery is set: the journal must be replayed first (e2fsck)');
  if (incompat & INCOMPAT_JOURNAL_DEV)
    fail('s_feature_incompat', incompat, 'an external journal device holds no files');
  if (incompat & INCOMPAT_META_BG) fail('s_feature_incompat', incompat, 'meta_bg is not supported by FastSync');
  if (incompat & ~INCOMPAT_KNOWN) fail('s_feature_incompat', incompat, 'has features unknown to FastSync');
  if (roCompat & RO_COMPAT_BIGALLOC) fail('s_feature_ro_compat', roCompat, 'bigalloc is not supported by FastSync');
  const is64 = (incompat & INCOMPAT_64BIT) !== 0;

  const blocksHi = is64 ? sb.readUInt32LE(0x150) : 0;
  const fsBlocks = blocksHi * 2 ** 32 + sb.readUInt32LE(4);
  check(fsBlocks > 0, 's_blocks_count', fsBlocks, 'expected at least one block');
  check(
    fsBlocks * bs <= deviceBytes,
    's_blocks_count',
    fsBlocks,
    `the file system (${fsBlocks * bs} bytes) is larger than the device (${deviceBytes} bytes)`,
  );
  const firstData = sb.readUInt32LE(20);
  check(firstData === (bs === 1024 ? 1 : 0), 's_first_data_block', firstData, `expected ${bs === 1024 ? 1 : 0}`);
  const perGroup = sb.readUInt32LE(32);
  check(perGroup > 0 && perGroup <= 8 * bs, 's_blocks_per_group', perGroup, `expected 1..${8 * bs}`);
  const inodesPerGroup = sb.readUInt32LE(40);
  check(inodesPerGroup > 0 && inodesPerGroup <= 8 * bs, 's_inodes_per_group', inodesPerGroup, `expected 1..${8 * bs}`);
  const revLevel = sb.readUInt32LE(76);
  const inodeSize = revLevel === 0 ? 128 : sb.readUInt16LE(88);
  check(
    inodeSize >= 128 && inodeSize <= bs && (inodeSize & (inodeSize - 1)) === 0,
    's_inode_size',
    inodeSize,
    `expected a power of two from 128 to ${bs}`,
  );
  const descSize = is64 ? sb.readUInt16LE(0xfe) : 32;
  check(
    !is64 || (descSize >= 64 && descSize <= 1024 && (descSize & (descSize - 1)) === 0),
    's_desc_size',
    descSize,
    'expected a power of two from 64 to 1024 with the 64bit feature',
  );
  const reservedGdt = compat & COMPAT_RESIZE_INODE ? sb.readUInt16LE(0xce) : 0;
  check(reservedGdt <= bs / 4, 's_reserved_gdt_blocks', reservedGdt, `expected at most ${bs / 4}`);
  const groups = Math.ceil((fsBlocks - firstData) / perGroup);
  const gdtBlocks = Math.ceil((groups * descSize) / bs);
  const sparse2 = compat & COMPAT_SPARSE_SUPER2 ? [sb.readUInt32LE(0x24c), sb.readUInt32LE(0x250)] : undefined;
  for (const [i, g] of (sparse2 ?? []).entries())
    check(g < groups, `s_backup_bgs[${i}]`, g, `expected a group below ${groups}`);
  const sparse = (roCompat & RO_COMPAT_SPARSE_SUPER) !== 0;
  const itableBlocks = Math.ceil((inodesPerGroup * inodeSize) / bs);

  const map = new MapBuilder(deviceBytes);
  const markFs = (first: number, count: number) => map.markUsed(first * bs, (first + count) * bs);
  const within = (field: string, g: number, first: number, count: number) =>
    check(
      first >= firstData && first + count <= fsBlocks,
      `group ${g} ${field}`,
      first,
      `expected within blocks ${firstData}..${fsBlocks - 1}`,
    );

  // The boot block and the primary superblock, whatever the block size.
  markFs(0, Math.ceil((SB_OFFSET * 2) / bs));
  const gdtStart = firstData + 1;
  const gdt = io.read(gdtStart * bs, gdtBlocks * bs);
  for (let g = 0; g < groups; g++) {
    const groupStart = firstData + g * perGroup;
    const groupBlocks = Math.min(perGroup, fsBlocks - groupStart);
    if (hasBackup(g, sparse, sparse2)) markFs(groupStart, Math.min(groupBlocks, 1 + gdtBlocks + reservedGdt));
    const d = gdt.subarray(g * descSize, (g + 1) * descSize);
    const hi = (off: number) => (is64 ? d.readUInt32LE(off) * 2 ** 32 : 0);
    const blockBitmap = hi(0x20) + d.readUInt32LE(0);
    const inodeBitmap = hi(0x24) + d.readUInt32LE(4);
    const inodeTable = hi(0x28) + d.readUInt32LE(8);
    within('bg_block_bitmap', g, blockBitmap, 1);
    within('bg_inode_bitmap', g, inodeBitmap, 1);
    within('bg_inode_table', g, inodeTable, itableBlocks);
    markFs(blockBitmap, 1);
    markFs(inodeBitmap, 1);
    markFs(inodeTable, itableBlocks);
    if (d.readUInt16LE(18) & BG_BLOCK_UNINIT) continue;
    const bitmap = io.read(blockBitmap * bs, bs);
    for (const [first, count] of usedRuns(bitmap, groupBlocks)) markFs(groupStart + first, count);
  }
  const fsType = incompat & (0x40 | INCOMPAT_64BIT | 0x200) ? 'ext4' : compat & 0x4 ? 'ext3' : 'ext2';
  return map.finish(fsType, bs, fsBlocks);
}
