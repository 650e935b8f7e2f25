// The blocks an xfs file system (v5, and v4) uses, read from its own on-disk structures, as a map
// of 4 KiB blocks for FastSync (docs/fastsync.md). Free are only the extents of each allocation
// group's by-block-number free-space B+tree (bnobt); everything else in the file system is used:
// AG headers, every btree, inodes, the internal log, the free list (AGFL), the data. Every field
// read is checked before it locates or sizes anything (magic numbers, v5 CRCs, self-describing
// block numbers, owners and UUIDs, geometry against the device, btree levels, sibling links,
// record order and bounds); a bad one refuses the map with its name, and the caller syncs all.
//
// On-disk facts (big-endian but the CRCs): the superblock in the first sector of each AG, the
// AGF in the second; a short-form btree block carries magic, level, record count and sibling
// links (v5 adds its own disk address, UUID, owning AG and a CRC-32C). An unmounted file system
// must have a clean log (its last record an unmount record): a dirty one may hold allocations the
// on-disk bnobt does not show yet.

import { crc32cStandardWithHole } from '../meta/crc32c.js';
import type { BlockIo } from '../meta/device.js';
import { fieldChecks, MapBuilder, type UsedMap } from './used-map.js';

const SB_MAGIC = 0x58465342; // XFSB
const AGF_MAGIC = 0x58414746; // XAGF
const BNOBT_MAGIC_V4 = 0x41425442; // ABTB
const BNOBT_MAGIC_V5 = 0x41423342; // AB3B
const LOG_HEADER_MAGIC = 0xfeedbabe;
const NULL_AGBLOCK = 0xffffffff;
const BB = 512;

const INCOMPAT_META_UUID = 0x4;
const INCOMPAT_NEEDSREPAIR = 0x10;
/** ftype, sparse inodes, meta_uuid, bigtime, needsrepair (refused below), nrext64. */
const INCOMPAT_KNOWN = 0x3f;
/** finobt, rmapbt, reflink, inobtcount: more btrees, none of them changes the bnobt. */
const RO_COMPAT_KNOWN = 0xf;
/** Btree heights xfs allows for its AG btrees (XFS_BTREE_MAXLEVELS in older kernels). */
const MAX_BTREE_LEVELS = 9;

const sb = fieldChecks('xfs superblock');

/** Whether `io` starts with an xfs superblock (its magic). */
export function hasXfsSuperblock(io: BlockIo): boolean {
  return io.size >= BB && io.read(0, 4).readUInt32BE(0) === SB_MAGIC;
}

const log2 = (n: number) => Math.log2(n);
const isPow2 = (n: number) => n > 0 && Number.isInteger(log2(n));

function u64(buf: Buffer, off: number, field: string, check: ReturnType<typeof fieldChecks>['check']): number {
  const v = buf.readBigUInt64BE(off);
  check(v <= BigInt(Number.MAX_SAFE_INTEGER), field, v, 'too large');
  return Number(v);
}

/** The v5 CRC-32C stored (little-endian) at `off` of `buf`, computed with that field zeroed. */
function crcOk(buf: Buffer, off: number): boolean {
  return crc32cStandardWithHole(buf, off) === buf.readUInt32LE(off);
}

interface Geometry {
  v5: boolean;
  bs: number;
  sectSize: number;
  agBlocks: number;
  agCount: number;
  agBlkLog: number;
  dblocks: number;
  uuid: Buffer;
}

function readSuperblock(io: BlockIo, deviceBytes: number): Geometry {
  const { fail, check } = sb;
  const head = io.read(0, BB);
  const sectSize = head.readUInt16BE(102);
  check(isPow2(sectSize) && sectSize >= 512 && sectSize <= 32768, 'sb_sectsize', sectSize, 'expected 512..32768');
  check(head[121] === log2(sectSize), 'sb_sectlog', head[121], `expected ${log2(sectSize)}`);
  const s = sectSize === BB ? head : io.read(0, sectSize);
  const version = s.readUInt16BE(100) & 0xf;
  check(version === 4 || version === 5, 'sb_versionnum', s.readUInt16BE(100), 'expected version 4 or 5');
  const v5 = version === 5;
  if (v5) check(crcOk(s, 224), 'sb_crc', s.readUInt32LE(224), 'does not match the superblock');
  const bs = s.readUInt32BE(4);
  check(isPow2(bs) && bs >= 512 && bs <= 65536 && bs >= sectSize, 'sb_blocksize', bs, 'expected sectsize..65536');
  check(s[120] === log2(bs), 'sb_blocklog', s[120], `expected ${log2(bs)}`);
  const agBlocks = s.readUInt32BE(84);
  check(agBlocks >= 64 && agBlocks * bs <= 2 ** 40, 'sb_agblocks', agBlocks, 'expected 64 blocks to 1 TiB');
  const agBlkLog = s[124];
  check(agBlkLog === Math.ceil(log2(agBlocks)), 'sb_agblklog', agBlkLog, `expected ${Math.ceil(log2(agBlocks))}`);
  const agCount = s.readUInt32BE(88);
  const dblocks = u64(s, 8, 'sb_dblocks', check);
  check(agCount >= 1, 'sb_agcount', agCount, 'expected at least 1');
  check(
    dblocks > (agCount - 1) * agBlocks && dblocks <= agCount * agBlocks,
    'sb_dblocks',
    dblocks,
    `expected ${(agCount - 1) * agBlocks + 1}..${agCount * agBlocks} for ${agCount} AGs of ${agBlocks} blocks`,
  );
  check(
    dblocks * bs <= deviceBytes,
    'sb_dblocks',
    dblocks,
    `the file system (${dblocks * bs} bytes) is larger than the device (${deviceBytes} bytes)`,
  );
  const rblocks = u64(s, 16, 'sb_rblocks', check);
  check(rblocks === 0, 'sb_rblocks', rblocks, 'a realtime device is not supported by FastSync');
  if (v5) {
    const incompat = s.readUInt32BE(216);
    if (incompat & INCOMPAT_NEEDSREPAIR) fail('sb_features_incompat', incompat, 'needsrepair is set (xfs_repair)');
    check((incompat & ~INCOMPAT_KNOWN) === 0, 'sb_features_incompat', incompat, 'has features unknown to FastSync');
    const roCompat = s.readUInt32BE(212);
    check((roCompat & ~RO_COMPAT_KNOWN) === 0, 'sb_features_ro_compat', roCompat, 'has features unknown to FastSync');
  }
  const metaUuid = v5 && s.readUInt32BE(216) & INCOMPAT_META_UUID;
  const uuid = Buffer.from(s.subarray(metaUuid ? 248 : 32, (metaUuid ? 248 : 32) + 16));
  return { v5, bs, sectSize, agBlocks, agCount, agBlkLog, dblocks, uuid };
}

/** The free extents of AG `agno` (its bnobt), as [first block, count] in AG blocks. */
function freeExtents(io: BlockIo, g: Geometry, agno: number): [number, number][] {
  const agStart = agno * g.agBlocks * g.bs;
  const agLength = Math.min(g.agBlocks, g.dblocks - agno * g.agBlocks);
  const { fail, check } = fieldChecks(`xfs AG ${agno}`);
  const agf = io.read(agStart + g.sectSize, g.sectSize);
  check(agf.readUInt32BE(0) === AGF_MAGIC, 'agf_magicnum', agf.readUInt32BE(0), `expected ${AGF_MAGIC} (XAGF)`);
  if (g.v5) {
    check(crcOk(agf, 216), 'agf_crc', agf.readUInt32LE(216), 'does not match the AGF');
    check(
      agf.subarray(64, 80).equals(g.uuid),
      'agf_uuid',
      agf.subarray(64, 80).toString('hex'),
      'not this file system',
    );
  }
  check(agf.readUInt32BE(4) === 1, 'agf_versionnum', agf.readUInt32BE(4), 'expected 1');
  check(agf.readUInt32BE(8) === agno, 'agf_seqno', agf.readUInt32BE(8), `expected ${agno}`);
  check(agf.readUInt32BE(12) === agLength, 'agf_length', agf.readUInt32BE(12), `expected ${agLength}`);
  const root = agf.readUInt32BE(16);
  check(root > 0 && root < agLength, 'agf_bno_root', root, `expected 1..${agLength - 1}`);
  const levels = agf.readUInt32BE(28);
  check(levels >= 1 && levels <= MAX_BTREE_LEVELS, 'agf_bno_level', levels, `expected 1..${MAX_BTREE_LEVELS}`);
  const freeBlocks = agf.readUInt32BE(52);
  check(freeBlocks <= agLength, 'agf_freeblks', freeBlocks, `expected at most ${agLength}`);

  const hdr = g.v5 ? 56 : 16;
  const readNode = (agbno: number, level: number, leftSib: number) => {
    const where = `bnobt block ${agbno}`;
    check(agbno > 0 && agbno < agLength, `${where}`, agbno, `expected 1..${agLength - 1}`);
    const b = io.read(agStart + agbno * g.bs, g.bs);
    const magic = g.v5 ? BNOBT_MAGIC_V5 : BNOBT_MAGIC_V4;
    check(b.readUInt32BE(0) === magic, `${where} bb_magic`, b.readUInt32BE(0), `expected ${magic}`);
    if (g.v5) {
      check(crcOk(b, 52), `${where} bb_crc`, b.readUInt32LE(52), 'does not match the block');
      const daddr = ((agno * g.agBlocks + agbno) * g.bs) / BB;
      check(Number(b.readBigUInt64BE(16)) === daddr, `${where} bb_blkno`, b.readBigUInt64BE(16), `expected ${daddr}`);
      check(b.subarray(32, 48).equals(g.uuid), `${where} bb_uuid`, b.subarray(32, 48).toString('hex'), 'not this fs');
      check(b.readUInt32BE(48) === agno, `${where} bb_owner`, b.readUInt32BE(48), `expected ${agno}`);
    }
    check(b.readUInt16BE(4) === level, `${where} bb_level`, b.readUInt16BE(4), `expected ${level}`);
    check(b.readUInt32BE(8) === leftSib, `${where} bb_leftsib`, b.readUInt32BE(8), `expected ${leftSib}`);
    const maxRecs = Math.floor((g.bs - hdr) / (level === 0 ? 8 : 12));
    const numRecs = b.readUInt16BE(6);
    check(numRecs <= maxRecs, `${where} bb_numrecs`, numRecs, `expected at most ${maxRecs}`);
    return { b, numRecs, maxRecs, rightSib: b.readUInt32BE(12) };
  };

  // Down the leftmost path to the first leaf, then along the leaves by their right siblings.
  let agbno = root;
  for (let level = levels - 1; level > 0; level--) {
    const node = readNode(agbno, level, NULL_AGBLOCK);
    check(node.numRecs > 0, `bnobt block ${agbno} bb_numrecs`, 0, 'an interior node must have records');
    agbno = node.b.readUInt32BE(hdr + node.maxRecs * 8);
  }
  const extents: [number, number][] = [];
  let total = 0;
  // the AG headers (superblock, AGF, AGI, AGFL: a sector each) are never free
  let nextFree = Math.ceil((4 * g.sectSize) / g.bs);
  let leftSib = NULL_AGBLOCK;
  for (let leaves = 0; agbno !== NULL_AGBLOCK; leaves++) {
    check(leaves < agLength, `bnobt block ${agbno}`, agbno, 'the leaf chain loops');
    const leaf = readNode(agbno, 0, leftSib);
    for (let i = 0; i < leaf.numRecs; i++) {
      const start = leaf.b.readUInt32BE(hdr + i * 8);
      const count = leaf.b.readUInt32BE(hdr + i * 8 + 4);
      const rec = `bnobt block ${agbno} record ${i}`;
      check(start >= nextFree, `${rec} ar_startblock`, start, `expected from ${nextFree} on (ascending, no overlap)`);
      check(count > 0 && start + count <= agLength, `${rec} ar_blockcount`, count, `expected 1..${agLength - start}`);
      extents.push([start, count]);
      total += count;
      nextFree = start + count;
    }
    leftSib = agbno;
    agbno = leaf.rightSib;
  }
  if (total !== freeBlocks) fail('agf_freeblks', freeBlocks, `the bnobt holds ${total} free blocks`);
  return extents;
}

/** Refuses a log that is not clean: its last record must be an unmount record ending at its head. */
function checkLogClean(io: BlockIo, g: Geometry, sbuf: Buffer) {
  const { fail, check } = fieldChecks('xfs log');
  const logStart = u64(sbuf, 48, 'sb_logstart', sb.check);
  sb.check(logStart !== 0, 'sb_logstart', 0, 'an external log is not supported by FastSync');
  const logBlocks = sbuf.readUInt32BE(96);
  const agno = Math.floor(logStart / 2 ** g.agBlkLog);
  const agbno = logStart % 2 ** g.agBlkLog;
  sb.check(
    agno < g.agCount && agbno + logBlocks <= Math.min(g.agBlocks, g.dblocks - agno * g.agBlocks) && logBlocks > 0,
    'sb_logstart',
    logStart,
    `a log of ${logBlocks} blocks there does not fit in its AG`,
  );
  const base = (agno * g.agBlocks + agbno) * g.bs;
  const bbs = (logBlocks * g.bs) / BB;
  const cycleOf = (buf: Buffer, off: number) => {
    const w = buf.readUInt32BE(off);
    return w === LOG_HEADER_MAGIC ? buf.readUInt32BE(off + 4) : w;
  };
  // The head: where the cycle number of the basic blocks drops from c to c - 1 (0: none does).
  const chunk = 1 << 20;
  let first = -1;
  let head = 0;
  for (let pos = 0; pos < bbs * BB; pos += chunk) {
    const buf = io.read(base + pos, Math.min(chunk, bbs * BB - pos));
    for (let off = 0; off < buf.length; off += BB) {
      const c = cycleOf(buf, off);
      const blk = (pos + off) / BB;
      if (first < 0) first = c;
      else if (head === 0 && c !== first) {
        check(c === first - 1, `block ${blk} cycle`, c, `expected ${first} or ${first - 1}: the log needs recovery`);
        head = blk;
      } else if (head !== 0) {
        check(c === first - 1, `block ${blk} cycle`, c, `expected ${first - 1}: the log needs recovery`);
      }
    }
  }
  // The last record: the nearest header before the head.
  const at = (blk: number) => base + (((blk % bbs) + bbs) % bbs) * BB;
  let rec = -1;
  for (let back = 1; back <= Math.min(bbs, 1024) && rec < 0; back++)
    if (io.read(at(head - back), 4).readUInt32BE(0) === LOG_HEADER_MAGIC) rec = head - back;
  if (rec < 0) fail('head', head, 'no record header before it: the log needs recovery');
  const h = io.read(at(rec), BB);
  const version = h.readUInt32BE(8);
  check(version === 1 || version === 2, 'record h_version', version, 'expected 1 or 2');
  const headerBbs = version === 2 ? Math.max(1, Math.ceil(h.readUInt32BE(320) / 32768)) : 1;
  const end = rec + headerBbs + Math.ceil(h.readUInt32BE(12) / BB);
  check(((end % bbs) + bbs) % bbs === head, 'record h_len', h.readUInt32BE(12), `does not end at the head ${head}`);
  const op = io.read(at(rec + headerBbs), 16);
  const unmount = h.readUInt32BE(40) === 1 && op[8] === 0xaa && (op[9] & 0x20) !== 0;
  if (!unmount)
    fail('last record', rec, 'not an unmount record: the log needs recovery (mount and unmount, or xfs_repair)');
}

/**
 * The used-block map of the xfs at the start of `io` over a device of `deviceBytes` bytes.
 * `frozen`: the file system is mounted and frozen, its metadata on disk and its log covered
 * (no unmount record); otherwise its log must be clean. Returns undefined when there is no xfs
 * superblock; throws FsMapError on a bad field.
 */
export function xfsUsedMap(io: BlockIo, deviceBytes: number, frozen = false): UsedMap | undefined {
  if (deviceBytes < BB || !hasXfsSuperblock(io)) return undefined;
  const g = readSuperblock(io, deviceBytes);
  if (!frozen) checkLogClean(io, g, io.read(0, BB));
  const map = new MapBuilder(deviceBytes);
  map.markUsed(0, g.dblocks * g.bs);
  for (let agno = 0; agno < g.agCount; agno++) {
    const agStart = agno * g.agBlocks * g.bs;
    for (const [start, count] of freeExtents(io, g, agno))
      map.markFree(agStart + start * g.bs, agStart + (start + count) * g.bs);
  }
  return map.finish(g.v5 ? 'xfs' : 'xfs v4', g.bs, g.dblocks);
}
