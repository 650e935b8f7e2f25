// The bsrmeta commands on one meta device. The CLI parses arguments and supplies output and the
// confirmation prompt; everything that touches the device is here.
import { readFileSync } from 'node:fs';
import { metaData } from '../abi/index.js';
import { CliError, EXIT } from '../common/errors.js';
import { formatBytes } from '../common/units.js';
import { AL_TYPE, alBlockOf, BITS_PER_EXTENT, encodeTransaction, replayAl, validTransactions } from './al.js';
import { clearSlot, setBits, writeBitmapFromRuns } from './bitmap.js';
import { CHUNK, firstNonZero, isZero, MetaDevice, zeroRange } from './device.js';
import { parseDump, runWords, writeDump } from './dump.js';
import { detectFilesystem, detectSignatures } from './fsdetect.js';
import { getGi, giPeer, setGi, showGi } from './gi.js';
import {
  type AlGeometry,
  BLOCK,
  BYTES_PER_BIT,
  computeLayout,
  coveredBits,
  formatIndex,
  INDEXED_SLOT_BYTES,
  type Layout,
  layoutFromFields,
  type MetaIndex,
  SECTOR,
  slotWords,
  superblockOffset,
} from './layout.js';
import {
  diskStateOf,
  emptyPeer,
  FLAGS,
  isKnownMagic,
  MAGIC_V09,
  NO_BITMAP,
  newSuperblock,
  parseSuperblock,
  type Superblock,
  serializeSuperblock,
  superblockLayout,
} from './superblock.js';

export const CONFIRM_QUESTION = "Do you want to proceed?\n[need to type 'yes' to confirm]";
/** drbdmeta's warning before create-md asks to write over something. */
export const FOUND_DATA_WARNING = 'Found some data\n\n ==> This might destroy existing data! <==\n\n';

export interface MetaContext {
  device: string;
  index: MetaIndex;
  force: boolean;
  /** Normal output (stdout). */
  out(text: string): void;
  /** Asks CONFIRM_QUESTION; the line typed, or undefined at end of input (nobody to answer). */
  ask(): string | undefined;
}

export interface CreateOptions extends AlGeometry {
  maxPeers: number;
  nodeId: number;
}

/** Meta data as read from the device. */
export interface OpenMeta {
  dev: MetaDevice;
  sb: Superblock;
  layout: Layout;
}

function describeDevice(device: string, index: MetaIndex): string {
  return `${device} (${formatIndex(index)})`;
}

function describe(ctx: MetaContext): string {
  return describeDevice(ctx.device, ctx.index);
}

/** Stops unless --force was given or the user typed "yes". */
function confirmOrDecline(ctx: MetaContext): void {
  if (ctx.force) return;
  const answer = ctx.ask();
  if (answer === undefined)
    throw new CliError(
      "No answer (end of input), and no --force: nothing was changed. Type 'yes' at the question, or give --force.",
      EXIT.DECLINED,
    );
  if (answer.trim() !== 'yes') throw new CliError('Operation canceled.', EXIT.DECLINED);
}

/** Reads the superblock block for this index, or undefined when the device is too small for one. */
function readSbBlock(dev: MetaDevice, index: MetaIndex): { offset: number; block: Buffer } | undefined {
  const offset = superblockOffset(index, dev.size);
  if (offset < 0 || offset + BLOCK > dev.size) return undefined;
  return { offset, block: dev.read(offset, BLOCK) };
}

/** Reads and checks the v09 superblock of an already open device. */
export function loadMeta(dev: MetaDevice, index: MetaIndex, what: string): OpenMeta {
  const found = readSbBlock(dev, index);
  const kind = found && isKnownMagic(found.block);
  if (!found || kind !== 'v09') {
    const magic =
      found && `0x${found.block.readUInt32BE(metaData.superblock.magic.offset).toString(16).padStart(8, '0')}`;
    const where = found ? ` at byte offset ${found.offset} (magic ${magic})` : '';
    const hint =
      kind !== undefined
        ? ` (found ${kind} meta data, which bsrmeta does not convert)`
        : index.kind === 'internal'
          ? '; if the device grew, run check-resize'
          : '';
    throw new CliError(`${what}: no valid v09 meta data found${where}${hint}`);
  }
  const sb = parseSuperblock(found.block);
  return { dev, sb, layout: superblockLayout(sb, dev.size, index) };
}

/** Opens `device` and reads its meta data; the caller closes `dev`. */
export function openMeta(device: string, index: MetaIndex, writable: boolean): OpenMeta {
  const dev = MetaDevice.open(device, writable);
  try {
    return loadMeta(dev, index, describeDevice(device, index));
  } catch (err) {
    dev.close();
    throw err;
  }
}

/** Runs `fn` on the open meta data and always closes the device. */
function withMeta<T>(ctx: MetaContext, writable: boolean, fn: (m: OpenMeta) => T): T {
  const m = openMeta(ctx.device, ctx.index, writable);
  try {
    return fn(m);
  } finally {
    m.dev.close();
  }
}

function writeSuperblock(m: OpenMeta): void {
  m.dev.write(m.layout.sbOffset, serializeSuperblock(m.sb));
  m.dev.sync();
}

const kib = (bytes: number) => Math.floor(bytes / 1024);

export function createMd(ctx: MetaContext, opts: CreateOptions): void {
  if (!Number.isInteger(opts.nodeId) || opts.nodeId < -1 || opts.nodeId >= metaData.maxPeers)
    throw new CliError(`--node-id must be 0..${metaData.maxPeers - 1}`, EXIT.USAGE);
  const dev = MetaDevice.open(ctx.device, true);
  try {
    const layout = computeLayout(dev.size, ctx.index, opts.maxPeers, opts);
    const allZero = askAboutWhatIsInTheWay(ctx, dev, layout);
    const sb = newSuperblock(layout, opts.nodeId);
    // an area just read as all zero is not read again (a flexible bitmap can be the whole device)
    ctx.out('initializing activity log\n');
    if (!allZero.has('activity log')) zeroRange(dev, layout.alStart, layout.alSize);
    ctx.out(`initializing bitmap (${kib(layout.bmSize)} KB) to all zero\n`);
    if (!allZero.has('bitmap')) zeroRange(dev, layout.bmStart, layout.bmSize);
    dev.sync();
    ctx.out('Writing meta data...\n');
    dev.write(layout.sbOffset, serializeSuperblock(sb));
    dev.sync();
    ctx.out('New bsr meta data block successfully created.\n');
  } finally {
    dev.close();
  }
}

/**
 * What create-md would overwrite, whatever the kind of meta data: a file system that reaches into the
 * meta-data area is refused unless --force. Meta data already in place, a signature that claims the
 * device, or any non-zero byte where the superblock, AL or bitmap go (read in chunks, only those
 * areas) is named, and the user is asked. An all-zero area on an unclaimed device goes ahead.
 * Returns the areas read as all zero.
 */
function askAboutWhatIsInTheWay(ctx: MetaContext, dev: MetaDevice, layout: Layout): Set<string> {
  const found: string[] = [];
  const allZero = new Set<string>();
  const fs = detectFilesystem(dev);
  if (fs && fs.size > layout.areaStart) {
    ctx.out(
      `Found ${fs.type} file system of ${formatBytes(fs.size)} on ${ctx.device}; the meta data area starts at byte ${layout.areaStart}` +
        (layout.dataSize !== undefined ? ` (data area ${kib(layout.dataSize)} KiB)` : '') +
        ':\ncreating meta data would overwrite the end of that file system.\n',
    );
    if (!ctx.force)
      throw new CliError('Operation refused. Shrink the file system first, or use --force to overwrite it anyway.');
    ctx.out('--force given: overwriting it.\n');
  } else if (fs) {
    ctx.out(`Found ${fs.type} file system of ${formatBytes(fs.size)}; it ends before the meta data area.\n`);
  }
  const sbBlock = readSbBlock(dev, ctx.index);
  const existing = sbBlock && isKnownMagic(sbBlock.block);
  if (existing)
    found.push(
      `There appears to be a ${existing} meta data block already in place on ${ctx.device} at byte offset ${sbBlock.offset}.`,
    );
  for (const what of detectSignatures(dev)) found.push(`Found ${what} on ${ctx.device}.`);
  const parts: [string, number, number][] = [
    ['superblock', layout.sbOffset, BLOCK],
    ['activity log', layout.alStart, layout.alSize],
    ['bitmap', layout.bmStart, layout.bmSize],
  ];
  for (const [part, start, len] of parts) {
    const at = firstNonZero(dev, start, len);
    if (at !== undefined)
      found.push(`Found non-zero data in the ${part} area of the new meta data (first at byte ${at}).`);
    else allZero.add(part);
  }
  if (found.length === 0) return allZero;
  ctx.out(
    `You want me to create a v09 style ${formatIndex(ctx.index)} meta data block.\n${found.join('\n')}\n\n${FOUND_DATA_WARNING}`,
  );
  confirmOrDecline(ctx);
  return allZero;
}

export function dumpMd(ctx: MetaContext): void {
  withMeta(ctx, false, (m) => {
    let pending = '';
    const flushAt = 64 * 1024;
    writeDump(
      m.sb,
      m.layout,
      m.dev,
      (text) => {
        pending += text;
        if (pending.length >= flushAt) {
          ctx.out(pending);
          pending = '';
        }
      },
      describe(ctx),
    );
    ctx.out(pending);
  });
}

/** A device size on which the dump's layout fields are valid (for checking a dump on its own). */
function impliedDeviceSize(sb: Superblock, index: MetaIndex): number {
  const area = sb.mdSizeSect * SECTOR;
  if (index.kind === 'indexed') return index.slot * INDEXED_SLOT_BYTES + area;
  if (index.kind === 'flexible') return area;
  // Internal: room in front of the meta data for the data the dump records, as far as its bitmap reaches.
  const bitmapSect = coveredBits(layoutFromFields(sb, area, index)) * (BYTES_PER_BIT / SECTOR);
  const dataSect = Math.min(Number(sb.effectiveSize), bitmapSect);
  return area + Math.ceil((dataSect * SECTOR) / BLOCK) * BLOCK;
}

function checkDumpFits(dump: ReturnType<typeof parseDump>, layout: Layout, file: string): void {
  dump.bitmap.forEach((runs, s) => {
    const have = slotWords(layout.bmSize, layout.maxPeers, s);
    if (runWords(runs) > have)
      throw new CliError(`${file}: bitmap[${s}] has ${runWords(runs)} words, the area holds ${have}`);
  });
}

function readDumpFile(file: string) {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`${file}: cannot read: ${(err as Error).message}`);
  }
  return parseDump(text, file);
}

export function verifyDump(ctx: MetaContext, file: string): void {
  const dump = readDumpFile(file);
  const layout = superblockLayout(dump.sb, impliedDeviceSize(dump.sb, ctx.index), ctx.index);
  checkDumpFits(dump, layout, file);
  const trs = validTransactions(dump.al, layout).length;
  ctx.out(
    `${file}: valid v09 meta data dump: max-peers ${dump.sb.bmMaxPeers}, ${layout.bmSize / 8} bitmap words, ` +
      `${trs} valid AL transactions\n`,
  );
}

export function restoreMd(ctx: MetaContext, file: string): void {
  const dump = readDumpFile(file);
  const dev = MetaDevice.open(ctx.device, true);
  try {
    const layout = superblockLayout(dump.sb, dev.size, ctx.index);
    checkDumpFits(dump, layout, file);
    const found = readSbBlock(dev, ctx.index);
    const existing = found && isKnownMagic(found.block);
    ctx.out(
      existing
        ? `Valid ${existing} meta data in place on ${ctx.device}: restoring overwrites it.\n`
        : `Restoring meta data onto ${ctx.device} overwrites ${formatBytes(layout.areaEnd - layout.areaStart)} of it.\n`,
    );
    confirmOrDecline(ctx);
    dev.write(layout.alStart, dump.al);
    writeBitmapFromRuns(dev, layout, dump.bitmap);
    dev.sync();
    dev.write(layout.sbOffset, serializeSuperblock(dump.sb));
    dev.sync();
    ctx.out('Successfully restored meta data\n');
  } finally {
    dev.close();
  }
}

export function wipeMd(ctx: MetaContext): void {
  const dev = MetaDevice.open(ctx.device, true);
  try {
    const found = readSbBlock(dev, ctx.index);
    const kind = found && isKnownMagic(found.block);
    if (!found || !kind) {
      ctx.out(`There appears to be no bsr meta data to wipe out on ${ctx.device}.\n`);
      return;
    }
    ctx.out(`Wiping the ${kind} meta data superblock at byte offset ${found.offset} of ${ctx.device}.\n`);
    confirmOrDecline(ctx);
    dev.write(found.offset, Buffer.alloc(BLOCK));
    dev.sync();
    ctx.out('bsr meta data block successfully wiped out.\n');
  } finally {
    dev.close();
  }
}

export function dstate(ctx: MetaContext): void {
  withMeta(ctx, false, (m) => ctx.out(`${diskStateOf(m.sb.flags)}\n`));
}

export function outdate(ctx: MetaContext): void {
  withMeta(ctx, true, (m) => {
    // Only consistent data can be outdated; inconsistent data is already worse than outdated.
    if (!(m.sb.flags & FLAGS.CONSISTENT)) return;
    m.sb.flags = (m.sb.flags & ~FLAGS.WAS_UP_TO_DATE) >>> 0;
    writeSuperblock(m);
  });
}

export function invalidate(ctx: MetaContext): void {
  withMeta(ctx, true, (m) => {
    ctx.out(`Marking the data on ${ctx.device} Inconsistent: the next connection does a full sync to it.\n`);
    confirmOrDecline(ctx);
    m.sb.flags = (m.sb.flags & ~(FLAGS.CONSISTENT | FLAGS.WAS_UP_TO_DATE)) >>> 0;
    writeSuperblock(m);
  });
}

export function getGiCmd(ctx: MetaContext, nodeId: number | undefined): void {
  withMeta(ctx, false, (m) => ctx.out(`${getGi(m.sb, giPeer(m.sb, nodeId))}\n`));
}

export function showGiCmd(ctx: MetaContext, nodeId: number | undefined): void {
  withMeta(ctx, false, (m) => ctx.out(`${showGi(m.sb, giPeer(m.sb, nodeId))}\n`));
}

export function setGiCmd(ctx: MetaContext, nodeId: number | undefined, value: string): void {
  withMeta(ctx, true, (m) => {
    const peer = giPeer(m.sb, nodeId);
    const before = getGi(m.sb, peer);
    setGi(m.sb, peer, value);
    const after = getGi(m.sb, peer);
    ctx.out(`previously ${before}\nset GI to  ${after}\n`);
    if (before === after) return;
    confirmOrDecline(ctx);
    writeSuperblock(m);
  });
}

export function readDevUuid(ctx: MetaContext): void {
  withMeta(ctx, false, (m) => ctx.out(`${m.sb.deviceUuid.toString(16).toUpperCase().padStart(16, '0')}\n`));
}

export function writeDevUuid(ctx: MetaContext, value: string): void {
  if (!/^(0x)?[0-9a-fA-F]{1,16}$/.test(value))
    throw new CliError(`"${value}" is not a UUID (up to 16 hex digits)`, EXIT.USAGE);
  withMeta(ctx, true, (m) => {
    m.sb.deviceUuid = BigInt(value.startsWith('0x') ? value : `0x${value}`);
    writeSuperblock(m);
  });
}

export function forgetPeer(ctx: MetaContext, nodeIdText: string): void {
  const nodeId = Number(nodeIdText);
  if (!/^\d+$/.test(nodeIdText) || nodeId >= metaData.maxPeers)
    throw new CliError(`forget-peer: NODE_ID must be 0..${metaData.maxPeers - 1}`, EXIT.USAGE);
  withMeta(ctx, true, (m) => {
    const slot = m.sb.peers[nodeId].bitmapIndex;
    const hasSlot = slot >= 0 && slot < m.layout.maxPeers;
    ctx.out(`Forgetting peer node-id ${nodeId}${hasSlot ? ` and clearing its bitmap slot ${slot}` : ''}.\n`);
    confirmOrDecline(ctx);
    if (hasSlot) {
      clearSlot(m.dev, m.layout, slot);
      m.dev.sync();
    }
    m.sb.peers[nodeId] = emptyPeer();
    writeSuperblock(m);
  });
}

/** Bits of each bitmap slot that stand for data (extents past the end are clipped). */
function bitLimit(m: OpenMeta): number {
  if (m.layout.dataSize !== undefined) return Math.floor(m.layout.dataSize / BYTES_PER_BIT);
  if (m.sb.effectiveSize > 0n) return Math.ceil((Number(m.sb.effectiveSize) * SECTOR) / BYTES_PER_BIT);
  return coveredBits(m.layout);
}

export function applyAl(ctx: MetaContext): void {
  withMeta(ctx, true, (m) => {
    if (m.sb.flags & (FLAGS.AL_CLEAN | FLAGS.AL_DISABLED)) return;
    const area = m.dev.read(m.layout.alStart, m.layout.alSize);
    const replay = replayAl(area, m.layout, m.sb.alNrExtents);
    const slots = [
      ...new Set(
        m.sb.peers.map((p) => p.bitmapIndex).filter((s) => s !== NO_BITMAP && s >= 0 && s < m.layout.maxPeers),
      ),
    ];
    const limit = bitLimit(m);
    for (const e of replay.activeExtents) {
      setBits(m.dev, m.layout, slots, e * BITS_PER_EXTENT, Math.min((e + 1) * BITS_PER_EXTENT, limit));
    }
    m.dev.sync();
    // A fresh AL: one INITIALIZED transaction continuing the numbering, every other block invalid.
    const fresh = Buffer.alloc(m.layout.alSize);
    const tr = replay.lastTr === undefined ? 0 : (replay.lastTr + 1) >>> 0;
    encodeTransaction({ trNumber: tr, type: AL_TYPE.INITIALIZED, updates: [], contextStart: 0, context: [] }).copy(
      fresh,
      alBlockOf(tr, m.layout) * BLOCK,
    );
    m.dev.write(m.layout.alStart, fresh);
    m.dev.sync();
    m.sb.flags = (m.sb.flags | FLAGS.AL_CLEAN) >>> 0;
    writeSuperblock(m);
    ctx.out(
      `Replayed ${replay.transactions} AL transactions: ${replay.activeExtents.length} active extents marked out of sync` +
        ` in ${slots.length} bitmap slot(s).\n`,
    );
  });
}

/** How far below the expected place check-resize looks for the old superblock. */
const MAX_RESIZE_SCAN = 64 * 1024 * 1024 * 1024;

/** The newest-looking internal superblock below `below`, scanning downwards in large chunks. */
function findOldInternal(dev: MetaDevice, below: number): OpenMeta | undefined {
  const low = Math.max(0, below - MAX_RESIZE_SCAN);
  const magicAt = metaData.superblock.magic.offset;
  for (let end = below; end > low; end -= CHUNK) {
    const start = Math.max(low, end - CHUNK);
    const chunk = dev.read(start, end - start);
    for (let off = chunk.length - BLOCK; off >= 0; off -= BLOCK) {
      if (chunk.readUInt32BE(off + magicAt) !== MAGIC_V09) continue;
      const sb = parseSuperblock(chunk.subarray(off, off + BLOCK));
      try {
        // As if the device ended right after this superblock: its fields must describe a valid layout there.
        const layout = superblockLayout(sb, start + off + BLOCK, { kind: 'internal' });
        return { dev, sb, layout };
      } catch {
        // Not a superblock (or a broken one): keep looking.
      }
    }
  }
  return undefined;
}

export function checkResize(ctx: MetaContext): void {
  if (ctx.index.kind !== 'internal') {
    ctx.out('no resize needed (external meta data does not move)\n');
    return;
  }
  const dev = MetaDevice.open(ctx.device, true);
  try {
    const here = readSbBlock(dev, ctx.index);
    if (here && isKnownMagic(here.block) === 'v09') {
      // In place already; but broken meta data is never reported as fine.
      loadMeta(dev, ctx.index, describe(ctx));
      ctx.out('no resize needed\n');
      return;
    }
    const old = findOldInternal(dev, here ? here.offset : Math.floor(dev.size / BLOCK) * BLOCK);
    if (!old) throw new CliError(`${describe(ctx)}: no v09 internal meta data found to move`);
    const next = computeLayout(dev.size, ctx.index, old.layout.maxPeers, old.layout);
    if (next.bmSize < old.layout.bmSize || next.bmStart < old.layout.bmStart)
      throw new CliError(`${describe(ctx)}: the device did not grow enough to move the meta data`);
    const al = dev.read(old.layout.alStart, old.layout.alSize);
    // The bitmap keeps its word positions; it only moves up, so copy from the top down (memmove).
    const delta = next.bmStart - old.layout.bmStart;
    for (let end = old.layout.bmSize; end > 0; end -= CHUNK) {
      const start = Math.max(0, end - CHUNK);
      const data = dev.read(old.layout.bmStart + start, end - start);
      // Zero chunks only need a zero destination: sparse files stay sparse.
      if (isZero(data)) zeroRange(dev, next.bmStart + start, data.length);
      else dev.write(next.bmStart + start, data);
    }
    zeroRange(dev, next.bmStart + old.layout.bmSize, next.bmSize - old.layout.bmSize);
    dev.write(next.alStart, al);
    dev.sync();
    const sb = { ...old.sb, mdSizeSect: next.mdSizeSect, alOffset: next.alOffsetSect, bmOffset: next.bmOffsetSect };
    dev.write(next.sbOffset, serializeSuperblock(sb));
    dev.sync();
    // The old superblock now lies in the data area: clear it so it is never mistaken for live meta data.
    if (old.layout.sbOffset + BLOCK <= next.areaStart) {
      dev.write(old.layout.sbOffset, Buffer.alloc(BLOCK));
      dev.sync();
    }
    ctx.out(
      `Moved internal meta data up by ${delta} bytes: superblock at byte ${next.sbOffset}, ` +
        `data area ${kib(next.dataSize ?? 0)} KiB (was ${kib(old.layout.dataSize ?? 0)} KiB).\n`,
    );
  } finally {
    dev.close();
  }
}
