// The text form of v09 meta data (dump-md / restore-md / verify-dump). It is exact: superblock
// fields by name, every other superblock byte in `superblock-extra`, each bitmap slot as runs of
// 64-bit words, and the activity-log area as hex rows, so dump then restore is byte-identical.
import { CliError } from '../common/errors.js';
import { allSlotRuns, slotRuns, type WordRun } from './bitmap.js';
import type { BlockIo } from './device.js';
import { type AlGeometry, alBytes, BLOCK, type Layout } from './layout.js';
import { emptyPeer, MAGIC_V09, peerIsEmpty, type Superblock } from './superblock.js';

const ROW = 32;
const WORDS_PER_LINE = 4;

const hex64 = (v: bigint) => `0x${v.toString(16).padStart(16, '0')}`;
const hex32 = (v: number) => `0x${(v >>> 0).toString(16).padStart(8, '0')}`;

/** Rows of 32 bytes as `OFFSET HEX [* REPEAT];`; zero rows are left out. */
function* hexRows(buf: Uint8Array, indent: string): Generator<string> {
  let off = 0;
  const rows = Math.ceil(buf.length / ROW);
  for (let r = 0; r < rows; ) {
    const row = Buffer.from(buf.subarray(r * ROW, (r + 1) * ROW));
    let repeat = 1;
    while (r + repeat < rows && row.equals(buf.subarray((r + repeat) * ROW, (r + repeat + 1) * ROW))) repeat++;
    off = r * ROW;
    if (row.some((b) => b !== 0))
      yield `${indent}${hex32(off)} ${row.toString('hex')}${repeat > 1 ? ` * ${repeat}` : ''};\n`;
    r += repeat;
  }
}

/** Writes the dump of the meta data in `sb`/`layout` to `out`, streaming the bitmap. */
export function writeDump(sb: Superblock, layout: Layout, io: BlockIo, out: (text: string) => void, title: string) {
  out(
    `# bsr meta data dump of ${title}\n# bitmap: "N times WORD" repeats a 64-bit word; raw areas: "OFFSET HEX [* N]", absent rows are zero\n`,
  );
  out(`version "v09";\n`);
  out(`max-peers ${sb.bmMaxPeers};\n`);
  out(`node-id ${sb.nodeId};\n`);
  out(`current-uuid ${hex64(sb.currentUuid)};\n`);
  out(`flags ${hex32(sb.flags)};\n`);
  sb.peers.forEach((p, i) => {
    if (i >= sb.bmMaxPeers && peerIsEmpty(p)) return;
    out(`peer[${i}] {\n`);
    out(`    bitmap-index ${p.bitmapIndex};\n`);
    out(`    bitmap-uuid ${hex64(p.bitmapUuid)};\n`);
    out(`    bitmap-dagtag ${hex64(p.bitmapDagtag)};\n`);
    out(`    flags ${hex32(p.flags)};\n`);
    out(`}\n`);
  });
  out('history-uuids {\n');
  for (let i = 0; i < sb.historyUuids.length; i += WORDS_PER_LINE)
    out(
      `    ${sb.historyUuids
        .slice(i, i + WORDS_PER_LINE)
        .map(hex64)
        .join(' ')};\n`,
    );
  out('}\n');
  out(`la-size-sect ${sb.effectiveSize};\n`);
  out(`bm-byte-per-bit ${sb.bmBytesPerBit};\n`);
  out(`device-uuid ${hex64(sb.deviceUuid)};\n`);
  out(`la-peer-max-bio-size ${sb.laPeerMaxBioSize};\n`);
  out(`al-stripes ${sb.alStripes};\n`);
  out(`al-stripe-size-4k ${sb.alStripeSize4k};\n`);
  out(`al-nr-extents ${sb.alNrExtents};\n`);
  out(`md-size-sect ${sb.mdSizeSect};\n`);
  out(`al-offset ${sb.alOffset};\n`);
  out(`bm-offset ${sb.bmOffset};\n`);
  out('superblock-extra {\n');
  for (const line of hexRows(sb.extra, '    ')) out(line);
  out('}\n');
  // One pass over the bitmap for all slots when its runs fit in memory, else one pass per slot.
  const all = allSlotRuns(io, layout);
  for (let s = 0; s < layout.maxPeers; s++) {
    out(`bitmap[${s}] {\n`);
    let line: string[] = [];
    for (const run of all ? all[s] : slotRuns(io, layout, s)) {
      line.push(run.count > 1 ? `${run.count} times ${hex64(run.value)};` : `${hex64(run.value)};`);
      if (line.length === WORDS_PER_LINE) {
        out(`    ${line.join(' ')}\n`);
        line = [];
      }
    }
    if (line.length) out(`    ${line.join(' ')}\n`);
    out('}\n');
  }
  out('activity-log {\n');
  const al = io.read(layout.alStart, layout.alSize);
  for (const line of hexRows(al, '    ')) out(line);
  out('}\n');
}

// ---- parsing ----

interface Token {
  text: string;
  line: number;
  quoted?: boolean;
}

interface Statement {
  key: Token;
  args: Token[];
  block?: Statement[];
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const re = /#[^\n]*|"([^"\n]*)"|[{};]|[^\s{};"#]+|\n/g;
  let line = 1;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    const t = m[0];
    if (t === '\n') line++;
    else if (t.startsWith('#')) continue;
    else if (m[1] !== undefined) tokens.push({ text: m[1], line, quoted: true });
    else tokens.push({ text: t, line });
  }
  return tokens;
}

class DumpSyntaxError extends CliError {}

function parseStatements(tokens: Token[], pos: { i: number }, file: string, nested: boolean): Statement[] {
  const out: Statement[] = [];
  while (pos.i < tokens.length) {
    const key = tokens[pos.i++];
    if (key.text === '}' && !key.quoted) {
      if (!nested) throw new DumpSyntaxError(`${file}:${key.line}: unexpected "}"`);
      return out;
    }
    if ((key.text === '{' || key.text === ';') && !key.quoted)
      throw new DumpSyntaxError(`${file}:${key.line}: unexpected "${key.text}"`);
    const args: Token[] = [];
    for (;;) {
      const t = tokens[pos.i++];
      if (!t) throw new DumpSyntaxError(`${file}:${key.line}: "${key.text}" is not terminated`);
      if (!t.quoted && t.text === ';') {
        out.push({ key, args });
        break;
      }
      if (!t.quoted && t.text === '{') {
        out.push({ key, args, block: parseStatements(tokens, pos, file, true) });
        break;
      }
      if (!t.quoted && t.text === '}') throw new DumpSyntaxError(`${file}:${t.line}: missing ";" before "}"`);
      args.push(t);
    }
  }
  if (nested) throw new DumpSyntaxError(`${file}: missing "}" at end of file`);
  return out;
}

function bigOf(t: Token, file: string, bits = 64, signed = false): bigint {
  if (!/^-?(0x[0-9a-fA-F]+|\d+)$/.test(t.text))
    throw new DumpSyntaxError(`${file}:${t.line}: "${t.text}" is not a number`);
  const neg = t.text.startsWith('-');
  const v = neg ? -BigInt(t.text.slice(1)) : BigInt(t.text);
  const min = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const max = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  if (v < min || v > max) throw new DumpSyntaxError(`${file}:${t.line}: ${t.text} is out of range`);
  return v;
}

export interface ParsedDump {
  sb: Superblock;
  /** Per bitmap slot, the runs of words (missing words are zero). */
  bitmap: WordRun[][];
  /** The whole activity-log area. */
  al: Buffer;
}

function parseRows(stmts: Statement[], size: number, file: string, what: string): Buffer {
  const buf = Buffer.alloc(size);
  for (const st of stmts) {
    const off = Number(bigOf(st.key, file, 32));
    const [hexTok, star, countTok] = st.args;
    const bad = () => new DumpSyntaxError(`${file}:${st.key.line}: bad ${what} row`);
    if (!hexTok || !/^([0-9a-f]{2})+$/i.test(hexTok.text)) throw bad();
    let repeat = 1;
    if (star) {
      if (star.text !== '*' || !countTok || st.args.length !== 3) throw bad();
      repeat = Number(bigOf(countTok, file, 32));
    } else if (st.args.length !== 1) throw bad();
    const row = Buffer.from(hexTok.text, 'hex');
    if (off + row.length * repeat > size)
      throw new DumpSyntaxError(`${file}:${st.key.line}: ${what} row beyond the ${size} byte area`);
    for (let r = 0; r < repeat; r++) row.copy(buf, off + r * row.length);
  }
  return buf;
}

function parseRuns(stmts: Statement[], file: string): WordRun[] {
  const runs: WordRun[] = [];
  for (const st of stmts) {
    if (st.args.length === 0) runs.push({ count: 1, value: bigOf(st.key, file) });
    else if (st.args.length === 2 && st.args[0].text === 'times')
      runs.push({ count: Number(bigOf(st.key, file, 53)), value: bigOf(st.args[1], file) });
    else throw new DumpSyntaxError(`${file}:${st.key.line}: bitmap entries are "WORD;" or "N times WORD;"`);
  }
  return runs;
}

/** Parses a dump. `file` names it in error messages (FILE:LINE: ...). */
export function parseDump(text: string, file: string): ParsedDump {
  const stmts = parseStatements(tokenize(text), { i: 0 }, file, false);
  const scalars = new Map<string, Token>();
  const peers = new Map<number, Statement[]>();
  const bitmaps = new Map<number, Statement[]>();
  let history: Token[] | undefined;
  let extraRows: Statement[] = [];
  let alRows: Statement[] = [];
  const sections = new Set<string>();
  for (const st of stmts) {
    const k = st.key.text;
    const indexed = /^(peer|bitmap)\[(\d+)\]$/.exec(k);
    if (st.block) {
      if (sections.has(k)) throw new DumpSyntaxError(`${file}:${st.key.line}: section "${k}" given twice`);
      sections.add(k);
      if (indexed) (indexed[1] === 'peer' ? peers : bitmaps).set(Number(indexed[2]), st.block);
      else if (k === 'history-uuids') history = st.block.flatMap((s) => [s.key, ...s.args]);
      else if (k === 'superblock-extra') extraRows = st.block;
      else if (k === 'activity-log') alRows = st.block;
      else throw new DumpSyntaxError(`${file}:${st.key.line}: unknown section "${k}"`);
    } else {
      if (st.args.length !== 1) throw new DumpSyntaxError(`${file}:${st.key.line}: "${k}" takes one value`);
      if (scalars.has(k)) throw new DumpSyntaxError(`${file}:${st.key.line}: "${k}" given twice`);
      scalars.set(k, st.args[0]);
    }
  }
  const need = (k: string): Token => {
    const t = scalars.get(k);
    if (!t) throw new DumpSyntaxError(`${file}: "${k}" is missing`);
    return t;
  };
  const version = need('version');
  if (version.text !== 'v09') throw new DumpSyntaxError(`${file}:${version.line}: only version "v09" is supported`);
  const u32 = (k: string) => Number(bigOf(need(k), file, 32));
  const s32 = (k: string) => Number(bigOf(need(k), file, 32, true));
  const u64 = (k: string) => bigOf(need(k), file, 64);
  const maxPeers = u32('max-peers');
  const peerList = Array.from({ length: 32 }, emptyPeer);
  for (const [i, block] of peers) {
    if (i >= peerList.length) throw new DumpSyntaxError(`${file}: peer[${i}] beyond the ${peerList.length} slots`);
    const fields = new Map(block.map((s) => [s.key.text, s.args[0]]));
    const get = (k: string) => {
      const t = fields.get(k);
      if (!t) throw new DumpSyntaxError(`${file}: peer[${i}] lacks "${k}"`);
      return t;
    };
    peerList[i] = {
      bitmapIndex: Number(bigOf(get('bitmap-index'), file, 32, true)),
      bitmapUuid: bigOf(get('bitmap-uuid'), file),
      bitmapDagtag: bigOf(get('bitmap-dagtag'), file),
      flags: Number(bigOf(get('flags'), file, 32)),
    };
  }
  const historyUuids = Array.from({ length: 32 }, () => 0n);
  if (history) {
    if (history.length > historyUuids.length) throw new DumpSyntaxError(`${file}: more than 32 history UUIDs`);
    history.forEach((t, i) => {
      historyUuids[i] = bigOf(t, file);
    });
  }
  const geometry: AlGeometry = { alStripes: u32('al-stripes'), alStripeSize4k: u32('al-stripe-size-4k') };
  const sb: Superblock = {
    effectiveSize: u64('la-size-sect'),
    currentUuid: u64('current-uuid'),
    deviceUuid: u64('device-uuid'),
    flags: u32('flags'),
    magic: MAGIC_V09,
    mdSizeSect: u32('md-size-sect'),
    alOffset: s32('al-offset'),
    alNrExtents: u32('al-nr-extents'),
    bmOffset: s32('bm-offset'),
    bmBytesPerBit: u32('bm-byte-per-bit'),
    laPeerMaxBioSize: u32('la-peer-max-bio-size'),
    bmMaxPeers: maxPeers,
    nodeId: s32('node-id'),
    alStripes: geometry.alStripes,
    alStripeSize4k: geometry.alStripeSize4k,
    peers: peerList,
    historyUuids,
    extra: parseRows(extraRows, BLOCK, file, 'superblock-extra'),
  };
  if (maxPeers < 1 || maxPeers > 32) throw new DumpSyntaxError(`${file}: max-peers ${maxPeers} is not 1..32`);
  const bitmap: WordRun[][] = Array.from({ length: maxPeers }, () => []);
  for (const [s, block] of bitmaps) {
    if (s >= maxPeers) throw new DumpSyntaxError(`${file}: bitmap[${s}] but max-peers is ${maxPeers}`);
    bitmap[s] = parseRuns(block, file);
  }
  const alSize = alBytes(geometry);
  if (alSize > 1024 * 1024 * 1024) throw new DumpSyntaxError(`${file}: activity log geometry too large`);
  return { sb, bitmap, al: parseRows(alRows, alSize, file, 'activity-log') };
}

/** Words in a run list. */
export function runWords(runs: WordRun[]): number {
  return runs.reduce((n, r) => n + r.count, 0);
}
