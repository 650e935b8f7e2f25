// Recognizes file systems at the start of a device and how far they reach, so that create-md does
// not silently overwrite the end of one with meta data. On-disk facts used (all little-endian unless
// said): ext2/3/4 superblock at 1024 (magic 0xEF53 at +56, blocks at +4 and +0x150 (64bit), block
// size 1024 << [+24]); XFS "XFSB" at 0 (big-endian block size at +4, data blocks at +8); btrfs
// "_BHRfS_M" at 65536+64 (this device's size in dev_item.total_bytes at 65536+0xd1).
import type { BlockIo } from './device.js';

export interface FoundFs {
  type: string;
  /** Bytes from the start of the device the file system claims. */
  size: number;
}

const EXT_SB = 1024;
const EXT_MAGIC = 0xef53;
const EXT_INCOMPAT_64BIT = 0x80;
const EXT4_INCOMPAT = 0x40 | 0x80 | 0x200; // extents, 64bit, flex_bg
const EXT3_COMPAT_JOURNAL = 0x4;
const BTRFS_SB = 65536;
const BTRFS_MAGIC = '_BHRfS_M';

function ext(io: BlockIo): FoundFs | undefined {
  if (io.size < EXT_SB + 1024) return undefined;
  const sb = io.read(EXT_SB, 1024);
  if (sb.readUInt16LE(56) !== EXT_MAGIC) return undefined;
  const incompat = sb.readUInt32LE(0x60);
  const blockSize = 1024 * 2 ** sb.readUInt32LE(24);
  const hi = incompat & EXT_INCOMPAT_64BIT ? sb.readUInt32LE(0x150) : 0;
  const blocks = hi * 2 ** 32 + sb.readUInt32LE(4);
  const type = incompat & EXT4_INCOMPAT ? 'ext4' : sb.readUInt32LE(0x5c) & EXT3_COMPAT_JOURNAL ? 'ext3' : 'ext2';
  return { type, size: blocks * blockSize };
}

function xfs(io: BlockIo): FoundFs | undefined {
  if (io.size < 512) return undefined;
  const sb = io.read(0, 16);
  if (sb.toString('latin1', 0, 4) !== 'XFSB') return undefined;
  return { type: 'xfs', size: Number(sb.readBigUInt64BE(8)) * sb.readUInt32BE(4) };
}

function btrfs(io: BlockIo): FoundFs | undefined {
  if (io.size < BTRFS_SB + 4096) return undefined;
  const sb = io.read(BTRFS_SB, 4096);
  if (sb.toString('latin1', 0x40, 0x48) !== BTRFS_MAGIC) return undefined;
  return { type: 'btrfs', size: Number(sb.readBigUInt64LE(0xc9 + 8)) };
}

/** The file system starting at offset 0 of the device, if any is recognized. */
export function detectFilesystem(io: BlockIo): FoundFs | undefined {
  return ext(io) ?? xfs(io) ?? btrfs(io);
}
