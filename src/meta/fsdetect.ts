// Recognizes what claims a device from its start, so that create-md does not silently overwrite it
// with meta data: file systems and how far they reach, and other signatures by name. On-disk facts
// used (all little-endian unless said): ext2/3/4 superblock at 1024 (magic 0xEF53 at +56, blocks at
// +4 and +0x150 (64bit), block size 1024 << [+24]); XFS "XFSB" at 0 (big-endian block size at +4,
// data blocks at +8); btrfs "_BHRfS_M" at 65536+64 (this device's size in dev_item.total_bytes at
// 65536+0xd1); LVM2 label "LABELONE" in one of sectors 0..3 with "LVM2 001" at +24; LUKS
// "LUKS\xba\xbe" at 0; swap "SWAPSPACE2" (or the old "SWAP-SPACE") ending at the end of the first
// page (4, 8, 16 or 64 KiB pages); GPT "EFI PART" in sector 1 (512 or 4096 byte sectors); NTFS
// "NTFS    " at 3; an MBR's 0x55 0xAA at 510 (also a boot sector's: named MBR unless NTFS or GPT).
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

/** Bytes at the start of the device that hold every signature detectSignatures knows. */
const HEAD = 65536;

/** Signatures other than the file systems above that claim the device, each by name ("an LVM2 ..."). */
export function detectSignatures(io: BlockIo): string[] {
  const head = io.read(0, Math.min(io.size, HEAD));
  const at = (pos: number, text: string) =>
    pos + text.length <= head.length && head.toString('latin1', pos, pos + text.length) === text;
  const found: string[] = [];
  if ([0, 1, 2, 3].some((s) => at(s * 512, 'LABELONE') && at(s * 512 + 24, 'LVM2 001')))
    found.push('an LVM2 physical volume');
  if (at(0, 'LUKS\xba\xbe')) found.push('a LUKS encrypted volume');
  if ([4096, 8192, 16384, 65536].some((page) => at(page - 10, 'SWAPSPACE2') || at(page - 10, 'SWAP-SPACE')))
    found.push('swap space');
  const ntfs = at(3, 'NTFS    ');
  if (ntfs) found.push('an NTFS file system');
  const gpt = at(512, 'EFI PART') || at(4096, 'EFI PART');
  if (gpt) found.push('a GPT partition table');
  else if (!ntfs && head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa)
    found.push('an MBR partition table');
  return found;
}
