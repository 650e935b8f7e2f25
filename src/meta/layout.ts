// Where the v09 meta data lives on the meta device (docs/internals.md, "Meta data v09 layout").
import { metaData } from '../abi/index.js';
import { CliError, EXIT } from '../common/errors.js';

export const BLOCK = metaData.blockSize;
export const SECTOR = 512;
/** Size of one indexed external meta-data slot. */
export const INDEXED_SLOT_BYTES = 128 * 1024 * 1024;
/** Data bytes one bitmap bit stands for. */
export const BYTES_PER_BIT = metaData.bmBytesPerBit;
/** Smallest AL we accept (as drbdmeta: 32 KiB, i.e. 8 transactions). */
export const MIN_AL_BYTES = 32 * 1024;
/** Largest AL we accept; the AL is read into memory whole. */
export const MAX_AL_BYTES = 1024 * 1024 * 1024;

export type MetaIndex = { kind: 'internal' } | { kind: 'flexible' } | { kind: 'indexed'; slot: number };

export interface AlGeometry {
  alStripes: number;
  alStripeSize4k: number;
}

export interface Layout extends AlGeometry {
  index: MetaIndex;
  maxPeers: number;
  /** Absolute byte offsets on the meta device. */
  sbOffset: number;
  alStart: number;
  alSize: number;
  bmStart: number;
  /** Bytes of the bitmap area (a multiple of 4 KiB). */
  bmSize: number;
  /** Superblock fields describing this layout. */
  mdSizeSect: number;
  alOffsetSect: number;
  bmOffsetSect: number;
  /** Internal meta data: data bytes in front of the bitmap. External: unknown (lower device). */
  dataSize: number | undefined;
  /** The bytes of the device the meta data owns: [areaStart, areaEnd). */
  areaStart: number;
  areaEnd: number;
}

export function parseIndex(text: string): MetaIndex {
  if (text === 'internal') return { kind: 'internal' };
  if (text === 'flexible' || text === 'flex-external') return { kind: 'flexible' };
  if (/^\d+$/.test(text)) return { kind: 'indexed', slot: Number(text) };
  throw new CliError(`invalid meta-data index "${text}": use internal, flexible or a slot number`, EXIT.USAGE);
}

export function formatIndex(index: MetaIndex): string {
  return index.kind === 'indexed' ? String(index.slot) : index.kind;
}

export function alBytes(g: AlGeometry): number {
  return g.alStripes * g.alStripeSize4k * BLOCK;
}

/** Bitmap bytes needed for `dataBytes` of data with `maxPeers` slots (internals.md formula). */
export function bitmapBytesFor(dataBytes: number, maxPeers: number): number {
  const blocks = Math.ceil(dataBytes / BYTES_PER_BIT);
  const words = Math.ceil(blocks / 64);
  return roundUp(words * 8 * maxPeers, BLOCK);
}

function roundUp(n: number, unit: number): number {
  return Math.ceil(n / unit) * unit;
}

function roundDown(n: number, unit: number): number {
  return Math.floor(n / unit) * unit;
}

/** Byte offset of the superblock for this index on a device of `devSize` bytes. */
export function superblockOffset(index: MetaIndex, devSize: number): number {
  switch (index.kind) {
    case 'internal':
      return roundDown(devSize, BLOCK) - BLOCK;
    case 'flexible':
      return 0;
    case 'indexed':
      return index.slot * INDEXED_SLOT_BYTES;
  }
}

export function checkAlGeometry(g: AlGeometry): void {
  if (!Number.isInteger(g.alStripes) || g.alStripes < 1)
    throw new CliError(`al-stripes must be at least 1 (got ${g.alStripes})`, EXIT.USAGE);
  if (!Number.isInteger(g.alStripeSize4k) || g.alStripeSize4k < 1)
    throw new CliError(`al-stripe-size must be a positive multiple of 4 KiB`, EXIT.USAGE);
  const size = alBytes(g);
  if (size < MIN_AL_BYTES || size > MAX_AL_BYTES)
    throw new CliError(`activity log size ${size / 1024} KiB is outside ${MIN_AL_BYTES / 1024} KiB..1 GiB`, EXIT.USAGE);
}

/** The layout create-md writes for a device of `devSize` bytes. */
export function computeLayout(devSize: number, index: MetaIndex, maxPeers: number, g: AlGeometry): Layout {
  if (!Number.isInteger(maxPeers) || maxPeers < 1 || maxPeers > metaData.maxPeers)
    throw new CliError(`max-peers must be 1..${metaData.maxPeers} (got ${maxPeers})`, EXIT.USAGE);
  checkAlGeometry(g);
  const alSize = alBytes(g);
  const sbOffset = superblockOffset(index, devSize);
  const common = { index, maxPeers, alStripes: g.alStripes, alStripeSize4k: g.alStripeSize4k, sbOffset, alSize };
  if (index.kind === 'internal') {
    const alStart = sbOffset - alSize;
    // Smallest bitmap area b such that it covers the data in front of it (data = alStart - b):
    // that gives the largest data size, and the data ends exactly where the bitmap starts. For a few
    // device sizes (a 4 KiB window every 128 MiB per slot) b is one block more than the formula for
    // that data size; the extra block stays unused (bm_offset in the superblock says where it starts).
    let bmSize = bitmapBytesFor(Math.max(alStart, 0), maxPeers);
    while (bmSize > BLOCK && bmSize - BLOCK >= bitmapBytesFor(alStart - (bmSize - BLOCK), maxPeers)) bmSize -= BLOCK;
    const bmStart = alStart - bmSize;
    if (sbOffset < 0 || bmStart < BLOCK)
      throw new CliError(`device too small (${devSize} bytes) for internal meta data with ${alSize / 1024} KiB AL`);
    return {
      ...common,
      alStart,
      bmStart,
      bmSize,
      mdSizeSect: (BLOCK + alSize + bmSize) / SECTOR,
      alOffsetSect: -alSize / SECTOR,
      bmOffsetSect: -(alSize + bmSize) / SECTOR,
      dataSize: bmStart,
      areaStart: bmStart,
      areaEnd: sbOffset + BLOCK,
    };
  }
  const areaBytes = index.kind === 'flexible' ? roundDown(devSize, SECTOR) : INDEXED_SLOT_BYTES;
  if (sbOffset + areaBytes > devSize)
    throw new CliError(
      index.kind === 'indexed'
        ? `meta device too small for index ${index.slot}: needs ${sbOffset + areaBytes} bytes, has ${devSize}`
        : `meta device is empty`,
    );
  const bmSize = roundDown(areaBytes - BLOCK - alSize, BLOCK);
  if (bmSize < BLOCK) throw new CliError(`meta device too small (${devSize} bytes) for a ${alSize / 1024} KiB AL`);
  return {
    ...common,
    alStart: sbOffset + BLOCK,
    bmStart: sbOffset + BLOCK + alSize,
    bmSize,
    mdSizeSect: areaBytes / SECTOR,
    alOffsetSect: BLOCK / SECTOR,
    bmOffsetSect: (BLOCK + alSize) / SECTOR,
    dataSize: undefined,
    areaStart: sbOffset,
    areaEnd: sbOffset + areaBytes,
  };
}

/** Superblock fields that determine the layout. */
export interface LayoutFields extends AlGeometry {
  bmMaxPeers: number;
  mdSizeSect: number;
  alOffset: number;
  bmOffset: number;
}

/** The refusal of an on-disk field: names the field, its value and what it should be. */
export function invalidField(field: string, value: number | bigint, why: string): CliError {
  return new CliError(`invalid meta data: ${field} ${value}: ${why}`);
}

/**
 * The layout a superblock (found at its place for `index`) describes. Throws, naming the field, when
 * its fields are inconsistent or reach outside the device, so that nothing is ever read or written there.
 */
export function layoutFromFields(f: LayoutFields, devSize: number, index: MetaIndex): Layout {
  if (f.bmMaxPeers < 1 || f.bmMaxPeers > metaData.maxPeers)
    throw invalidField('bm_max_peers', f.bmMaxPeers, `must be 1..${metaData.maxPeers}`);
  if (f.alStripes < 1) throw invalidField('al_stripes', f.alStripes, 'must be at least 1');
  if (f.alStripeSize4k < 1) throw invalidField('al_stripe_size_4k', f.alStripeSize4k, 'must be at least 1');
  const alSize = alBytes(f);
  const geometry = `al_stripes ${f.alStripes} x al_stripe_size_4k ${f.alStripeSize4k}`;
  if (alSize < MIN_AL_BYTES || alSize > MAX_AL_BYTES)
    throw invalidField('al_stripes', f.alStripes, `${geometry} x 4 KiB is outside ${MIN_AL_BYTES / 1024} KiB..1 GiB`);
  const sbOffset = superblockOffset(index, devSize);
  const alStart = sbOffset + f.alOffset * SECTOR;
  const bmStart = sbOffset + f.bmOffset * SECTOR;
  let bmSize: number;
  let areaStart: number;
  let areaEnd: number;
  if (index.kind === 'internal') {
    if (f.alOffset !== -alSize / SECTOR)
      throw invalidField('al_offset', f.alOffset, `${geometry} x 4 KiB needs ${-alSize / SECTOR}`);
    if (f.bmOffset >= f.alOffset || f.bmOffset % (BLOCK / SECTOR) !== 0)
      throw invalidField('bm_offset', f.bmOffset, `must be below al_offset ${f.alOffset}, in whole 4 KiB blocks`);
    if (bmStart < 0)
      throw invalidField('bm_offset', f.bmOffset, `the bitmap would start ${-bmStart} bytes before the device`);
    bmSize = alStart - bmStart;
    if (f.mdSizeSect * SECTOR !== BLOCK + alSize + bmSize)
      throw invalidField(
        'md_size_sect',
        f.mdSizeSect,
        `al_offset and bm_offset give ${(BLOCK + alSize + bmSize) / SECTOR}`,
      );
    // The data ends where the bitmap starts, so the bitmap must cover everything in front of it.
    if (bmSize < bitmapBytesFor(bmStart, f.bmMaxPeers))
      throw invalidField(
        'bm_offset',
        f.bmOffset,
        `a ${bmSize} byte bitmap cannot cover ${bmStart} bytes of data for bm_max_peers ${f.bmMaxPeers}`,
      );
    areaStart = bmStart;
    areaEnd = sbOffset + BLOCK;
  } else {
    if (f.alOffset !== BLOCK / SECTOR) throw invalidField('al_offset', f.alOffset, `must be ${BLOCK / SECTOR}`);
    if (f.bmOffset !== f.alOffset + alSize / SECTOR)
      throw invalidField('bm_offset', f.bmOffset, `${geometry} x 4 KiB needs ${f.alOffset + alSize / SECTOR}`);
    if (index.kind === 'indexed' && f.mdSizeSect !== INDEXED_SLOT_BYTES / SECTOR)
      throw invalidField('md_size_sect', f.mdSizeSect, `indexed meta data takes ${INDEXED_SLOT_BYTES / SECTOR}`);
    areaStart = sbOffset;
    areaEnd = sbOffset + f.mdSizeSect * SECTOR;
    if (areaEnd > devSize)
      throw invalidField(
        'md_size_sect',
        f.mdSizeSect,
        `the meta data would end ${areaEnd - devSize} bytes beyond the device`,
      );
    bmSize = roundDown(areaEnd - bmStart, BLOCK);
    if (bmSize < BLOCK)
      throw invalidField('md_size_sect', f.mdSizeSect, `leaves no room for a bitmap after the ${alSize / 1024} KiB AL`);
  }
  return {
    index,
    maxPeers: f.bmMaxPeers,
    alStripes: f.alStripes,
    alStripeSize4k: f.alStripeSize4k,
    sbOffset,
    alStart,
    alSize,
    bmStart,
    bmSize,
    mdSizeSect: f.mdSizeSect,
    alOffsetSect: f.alOffset,
    bmOffsetSect: f.bmOffset,
    dataSize: index.kind === 'internal' ? bmStart : undefined,
    areaStart,
    areaEnd,
  };
}

/** Data bits every bitmap slot of `layout` has room for. */
export function coveredBits(layout: Layout): number {
  return slotWords(layout.bmSize, layout.maxPeers, layout.maxPeers - 1) * 64;
}

/** Number of 64-bit words of bitmap slot `slot` in a bitmap area of `bmSize` bytes (interleaved). */
export function slotWords(bmSize: number, maxPeers: number, slot: number): number {
  const total = bmSize / 8;
  return Math.max(0, Math.ceil((total - slot) / maxPeers));
}
