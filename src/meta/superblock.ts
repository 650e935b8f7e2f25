// The v09 superblock: parse and serialize by the ABI JSON's field table (big-endian).
import { randomBytes } from 'node:crypto';
import { metaData } from '../abi/index.js';
import { AL_EXTENTS_MAX } from './al.js';
import { type FieldDef, fieldSpan, getBig, getNum, setBig, setNum, viewOf } from './codec.js';
import {
  BLOCK,
  BYTES_PER_BIT,
  coveredBits,
  invalidField,
  type Layout,
  layoutFromFields,
  type MetaIndex,
  SECTOR,
} from './layout.js';

const SB = metaData.superblock;
const PEER = metaData.peerSlot;
export const MAGIC_V09 = metaData.magicV09;
/**
 * DRBD-family meta-data magics are consecutive numbers below v09's (v07 = base+3, v08 = base+4,
 * v08 "unclean" = base+5, v09 = base+6); create-md treats any of them as existing meta data.
 */
export const KNOWN_MAGICS: Record<number, string> = {
  [MAGIC_V09 - 3]: 'v07',
  [MAGIC_V09 - 2]: 'v08',
  [MAGIC_V09 - 1]: 'v08 (unclean)',
  [MAGIC_V09]: 'v09',
};
export const FLAGS = metaData.flags;
export const PEER_FLAGS = metaData.peerFlags;
export const NO_BITMAP = -1;
/** create-md's current UUID: "just created, no data yet". */
export const UUID_JUST_CREATED = 4n;
/** The largest request the protocol carries (the kernel's BSR_MAX_BIO_SIZE); also create-md's value. */
const MAX_PEER_BIO = 1 << 20;

export interface PeerSlot {
  bitmapUuid: bigint;
  bitmapDagtag: bigint;
  flags: number;
  bitmapIndex: number;
}

export interface Superblock {
  effectiveSize: bigint;
  currentUuid: bigint;
  deviceUuid: bigint;
  flags: number;
  magic: number;
  mdSizeSect: number;
  alOffset: number;
  alNrExtents: number;
  bmOffset: number;
  bmBytesPerBit: number;
  laPeerMaxBioSize: number;
  bmMaxPeers: number;
  nodeId: number;
  alStripes: number;
  alStripeSize4k: number;
  peers: PeerSlot[];
  historyUuids: bigint[];
  /**
   * The 4 KiB block with every named field zeroed: reserved words and the unused tail. Kept so that
   * dump/restore and read-modify-write never lose bytes we do not interpret.
   */
  extra: Buffer;
}

type NumKey = 'flags' | 'magic' | 'mdSizeSect' | 'alOffset' | 'alNrExtents' | 'bmOffset' | 'bmBytesPerBit';
type NumKey2 = 'laPeerMaxBioSize' | 'bmMaxPeers' | 'nodeId' | 'alStripes' | 'alStripeSize4k';
const NUM_FIELDS: [NumKey | NumKey2, FieldDef][] = [
  ['flags', SB.flags],
  ['magic', SB.magic],
  ['mdSizeSect', SB.md_size_sect],
  ['alOffset', SB.al_offset],
  ['alNrExtents', SB.al_nr_extents],
  ['bmOffset', SB.bm_offset],
  ['bmBytesPerBit', SB.bm_bytes_per_bit],
  ['laPeerMaxBioSize', SB.la_peer_max_bio_size],
  ['bmMaxPeers', SB.bm_max_peers],
  ['nodeId', SB.node_id],
  ['alStripes', SB.al_stripes],
  ['alStripeSize4k', SB.al_stripe_size_4k],
];
const BIG_FIELDS: ['effectiveSize' | 'currentUuid' | 'deviceUuid', FieldDef][] = [
  ['effectiveSize', SB.effective_size],
  ['currentUuid', SB.current_uuid],
  ['deviceUuid', SB.device_uuid],
];
const PEER_COUNT = SB.peers.count;

function peerBase(i: number): number {
  return SB.peers.offset + i * SB.peers.stride;
}

/** Byte ranges of the named (interpreted) fields; everything else of the block is "extra". */
function namedSpans(): [number, number][] {
  const spans: [number, number][] = [...NUM_FIELDS, ...BIG_FIELDS].map(([, def]) => fieldSpan(def));
  spans.push(fieldSpan(SB.history_uuids));
  for (let i = 0; i < PEER_COUNT; i++) {
    for (const def of [PEER.bitmap_uuid, PEER.bitmap_dagtag, PEER.flags, PEER.bitmap_index])
      spans.push(fieldSpan(def, peerBase(i)));
  }
  return spans;
}
const NAMED_SPANS = namedSpans();

export function isKnownMagic(block: Uint8Array): string | undefined {
  return KNOWN_MAGICS[getNum(viewOf(block), SB.magic)];
}

export function parseSuperblock(block: Uint8Array): Superblock {
  if (block.length < BLOCK) throw new Error(`superblock needs ${BLOCK} bytes`);
  const view = viewOf(block);
  const extra = Buffer.from(block.subarray(0, BLOCK));
  for (const [start, end] of NAMED_SPANS) extra.fill(0, start, end);
  const sb = { extra, peers: [] as PeerSlot[], historyUuids: [] as bigint[] } as unknown as Superblock;
  for (const [key, def] of NUM_FIELDS) sb[key] = getNum(view, def);
  for (const [key, def] of BIG_FIELDS) sb[key] = getBig(view, def);
  for (let i = 0; i < PEER_COUNT; i++) {
    const base = peerBase(i);
    sb.peers.push({
      bitmapUuid: getBig(view, PEER.bitmap_uuid, base),
      bitmapDagtag: getBig(view, PEER.bitmap_dagtag, base),
      flags: getNum(view, PEER.flags, base),
      bitmapIndex: getNum(view, PEER.bitmap_index, base),
    });
  }
  for (let i = 0; i < SB.history_uuids.count; i++) sb.historyUuids.push(getBig(view, SB.history_uuids, 0, i));
  return sb;
}

export function serializeSuperblock(sb: Superblock): Buffer {
  const block = Buffer.from(sb.extra);
  const view = viewOf(block);
  for (const [key, def] of NUM_FIELDS) setNum(view, def, sb[key]);
  for (const [key, def] of BIG_FIELDS) setBig(view, def, sb[key]);
  for (let i = 0; i < PEER_COUNT; i++) {
    const base = peerBase(i);
    const p = sb.peers[i];
    setBig(view, PEER.bitmap_uuid, p.bitmapUuid, base);
    setBig(view, PEER.bitmap_dagtag, p.bitmapDagtag, base);
    setNum(view, PEER.flags, p.flags, base);
    setNum(view, PEER.bitmap_index, p.bitmapIndex, base);
  }
  for (let i = 0; i < SB.history_uuids.count; i++) setBig(view, SB.history_uuids, sb.historyUuids[i] ?? 0n, 0, i);
  return block;
}

export function emptyPeer(): PeerSlot {
  return { bitmapUuid: 0n, bitmapDagtag: 0n, flags: 0, bitmapIndex: NO_BITMAP };
}

export function randomUuid(): bigint {
  // A zero device UUID would read as "none": draw again in that (2^-64) case.
  for (;;) {
    const v = randomBytes(8).readBigUInt64BE(0);
    if (v !== 0n) return v;
  }
}

/** The superblock create-md writes (internals.md: create-md initial values). */
export function newSuperblock(layout: Layout, nodeId: number): Superblock {
  return {
    effectiveSize: 0n,
    currentUuid: UUID_JUST_CREATED,
    deviceUuid: randomUuid(),
    flags: FLAGS.AL_CLEAN,
    magic: MAGIC_V09,
    mdSizeSect: layout.mdSizeSect,
    alOffset: layout.alOffsetSect,
    alNrExtents: 0,
    bmOffset: layout.bmOffsetSect,
    bmBytesPerBit: BYTES_PER_BIT,
    laPeerMaxBioSize: MAX_PEER_BIO,
    bmMaxPeers: layout.maxPeers,
    nodeId,
    alStripes: layout.alStripes,
    alStripeSize4k: layout.alStripeSize4k,
    peers: Array.from({ length: PEER_COUNT }, emptyPeer),
    historyUuids: Array.from({ length: SB.history_uuids.count }, () => 0n),
    extra: Buffer.alloc(BLOCK),
  };
}

/**
 * The layout `sb` describes on a device of `devSize` bytes, after checking every field bsrmeta
 * interprets: nothing on disk is trusted. Every command that works on existing meta data goes
 * through here; a field with an impossible value is refused with its name and value.
 */
export function superblockLayout(sb: Superblock, devSize: number, index: MetaIndex): Layout {
  const layout = layoutFromFields(sb, devSize, index);
  if (sb.bmBytesPerBit !== BYTES_PER_BIT)
    throw invalidField('bm_bytes_per_bit', sb.bmBytesPerBit, `only ${BYTES_PER_BIT} is supported`);
  if (sb.nodeId < -1 || sb.nodeId >= metaData.maxPeers)
    throw invalidField('node_id', sb.nodeId, `must be -1 (none) or 0..${metaData.maxPeers - 1}`);
  if (sb.alNrExtents > AL_EXTENTS_MAX)
    throw invalidField('al_nr_extents', sb.alNrExtents, `must be 0..${AL_EXTENTS_MAX}`);
  if (sb.laPeerMaxBioSize > MAX_PEER_BIO || sb.laPeerMaxBioSize % SECTOR !== 0)
    throw invalidField('la_peer_max_bio_size', sb.laPeerMaxBioSize, `must be whole sectors up to ${MAX_PEER_BIO}`);
  sb.peers.forEach((p, i) => {
    if (p.bitmapIndex < NO_BITMAP || p.bitmapIndex >= layout.maxPeers)
      throw invalidField(
        `peers[${i}].bitmap_index`,
        p.bitmapIndex,
        `must be -1 (none) or a bitmap slot 0..${layout.maxPeers - 1} (bm_max_peers ${layout.maxPeers})`,
      );
  });
  // Internal meta data: the data in front of the bitmap; external: what the bitmap covers.
  const dataSect =
    layout.dataSize !== undefined ? layout.dataSize / SECTOR : coveredBits(layout) * (BYTES_PER_BIT / SECTOR);
  if (sb.effectiveSize > BigInt(dataSect))
    throw invalidField(
      'effective_size',
      sb.effectiveSize,
      `beyond the ${dataSect} sectors of data the meta data covers`,
    );
  return layout;
}

export function peerIsEmpty(p: PeerSlot): boolean {
  return p.bitmapUuid === 0n && p.bitmapDagtag === 0n && p.flags === 0 && p.bitmapIndex === NO_BITMAP;
}

/** Disk state as the meta data alone can tell it (no peer: "Consistent", never "UpToDate"). */
export function diskStateOf(flags: number): string {
  if (!(flags & FLAGS.CONSISTENT)) return 'Inconsistent';
  if (!(flags & FLAGS.WAS_UP_TO_DATE)) return 'Outdated';
  return 'Consistent';
}
