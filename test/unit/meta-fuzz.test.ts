// bsrmeta trusts no on-disk field: every field of the v09 superblock and of an AL transaction is
// set to impossible values (0, all ones, the sign bit, beyond the device) on a real file, and every
// command that reads meta data either works or refuses cleanly (CliError, exit code 1, the field
// named), never with a RangeError, an out-of-memory abort or a half-done write.
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { metaData } from '../../src/abi/index.js';
import { CliError } from '../../src/common/errors.js';
import { applyAl, checkResize, createMd, dumpMd, getGiCmd, type MetaContext } from '../../src/meta/commands.js';
import {
  AL_TYPE,
  alBlockOf,
  alChecksum,
  computeLayout,
  coveredBits,
  encodeTransaction,
  type MetaIndex,
  parseSuperblock,
  serializeSuperblock,
} from '../../src/meta/index.js';
import { bsrmeta, buildCli, CLI, removeDir, tempDir } from './meta-helpers.js';

const SB = metaData.superblock;
const PEER = metaData.peerSlot;
const TR = metaData.alTransaction;
const F = metaData.flags;
const DEV = 4 << 20;
const DEV_SECT = DEV / 512;
const AL = { alStripes: 1, alStripeSize4k: 80 };

let dir: string;
beforeAll(async () => {
  dir = tempDir();
  await buildCli();
}, 60000);
afterAll(() => {
  removeDir(dir);
  removeDir(dirname(CLI));
});

function ctxFor(device: string, index: MetaIndex): MetaContext {
  return { device, index, force: true, out: () => {}, ask: () => undefined };
}

type FieldType = 'u16' | 'u32' | 's32' | 'u64';
const BITS: Record<FieldType, number> = { u16: 16, u32: 32, s32: 32, u64: 64 };

/** Writes the raw unsigned bits `value` into the field at byte `at`. */
function poke(buf: Buffer, type: FieldType, at: number, value: bigint): void {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const bits = BigInt.asUintN(BITS[type], value);
  if (type === 'u16') v.setUint16(at, Number(bits));
  else if (type === 'u64') v.setBigUint64(at, bits);
  else v.setUint32(at, Number(bits));
}

interface Probe {
  name: string;
  type: FieldType;
  at: number;
  /** Impossible values with "refused?" each: 0, all ones, the sign bit, beyond the device. */
  values: [bigint, boolean][];
}

/** The four fuzz values of a field; `beyond` is the field's "beyond the device" value. */
function values(type: FieldType, beyond: bigint, refused: [boolean, boolean, boolean, boolean]): [bigint, boolean][] {
  const bits = BITS[type];
  return [0n, (1n << BigInt(bits)) - 1n, 1n << BigInt(bits - 1), beyond].map((v, i) => [v, refused[i]]);
}

const ALL: [boolean, boolean, boolean, boolean] = [true, true, true, true];
const NONE: [boolean, boolean, boolean, boolean] = [false, false, false, false];

/**
 * Every superblock field (arrays: first and last element), with what each value must do.
 * `dataSect`: the sectors of data the meta data covers (internal: in front of it; external: what its
 * bitmap covers, as bsrmeta does not know the lower device).
 */
function superblockProbes(dataSect: number): Probe[] {
  const probes: Probe[] = [];
  const add = (name: string, def: { offset: number; type: string }, at: number, beyond: bigint, r = ALL) =>
    probes.push({ name, type: def.type as FieldType, at, values: values(def.type as FieldType, beyond, r) });
  add('effective_size', SB.effective_size, SB.effective_size.offset, BigInt(dataSect + 1), [false, true, true, true]);
  add('current_uuid', SB.current_uuid, SB.current_uuid.offset, 1n, NONE);
  add('device_uuid', SB.device_uuid, SB.device_uuid.offset, 1n, NONE);
  for (const i of [0, 3]) add(`reserved_u64[${i}]`, SB.reserved_u64, SB.reserved_u64.offset + i * 8, 1n, NONE);
  add('flags', SB.flags, SB.flags.offset, 0x12345678n, NONE);
  add('magic', SB.magic, SB.magic.offset, BigInt(metaData.magicV09 + 1));
  add('md_size_sect', SB.md_size_sect, SB.md_size_sect.offset, BigInt(2 * DEV_SECT));
  add('al_offset', SB.al_offset, SB.al_offset.offset, BigInt(-2 * DEV_SECT));
  add('al_nr_extents', SB.al_nr_extents, SB.al_nr_extents.offset, 65535n, [false, true, true, true]);
  add('bm_offset', SB.bm_offset, SB.bm_offset.offset, BigInt(-2 * DEV_SECT));
  add('bm_bytes_per_bit', SB.bm_bytes_per_bit, SB.bm_bytes_per_bit.offset, 8192n);
  add('la_peer_max_bio_size', SB.la_peer_max_bio_size, SB.la_peer_max_bio_size.offset, 2n << 20n, [
    false,
    true,
    true,
    true,
  ]);
  add('bm_max_peers', SB.bm_max_peers, SB.bm_max_peers.offset, 33n);
  add('node_id', SB.node_id, SB.node_id.offset, 32n, [false, false, true, true]);
  add('al_stripes', SB.al_stripes, SB.al_stripes.offset, 100n);
  add('al_stripe_size_4k', SB.al_stripe_size_4k, SB.al_stripe_size_4k.offset, 2048n);
  for (const i of [0, 1]) add(`reserved_u32[${i}]`, SB.reserved_u32, SB.reserved_u32.offset + i * 4, 1n, NONE);
  for (const p of [0, 1, 31]) {
    const base = SB.peers.offset + p * SB.peers.stride;
    add(`peers[${p}].bitmap_uuid`, PEER.bitmap_uuid, base + PEER.bitmap_uuid.offset, 1n, NONE);
    add(`peers[${p}].bitmap_dagtag`, PEER.bitmap_dagtag, base + PEER.bitmap_dagtag.offset, 1n, NONE);
    add(`peers[${p}].flags`, PEER.flags, base + PEER.flags.offset, 0xffn, NONE);
    // -1 (all ones) is "no bitmap"; the base meta data has 2 slots, so 2 is beyond them.
    add(`peers[${p}].bitmap_index`, PEER.bitmap_index, base + PEER.bitmap_index.offset, 2n, [false, false, true, true]);
    for (const i of [0, 1])
      add(`peers[${p}].reserved_u32[${i}]`, PEER.reserved_u32, base + PEER.reserved_u32.offset + i * 4, 1n, NONE);
  }
  for (const i of [0, 31]) add(`history_uuids[${i}]`, SB.history_uuids, SB.history_uuids.offset + i * 8, 1n, NONE);
  return probes;
}

/** Meta data made by create-md, in use: AL not clean, peer 1 on bitmap slot 0, size recorded. */
function baseImage(index: MetaIndex): { image: Buffer; sbOffset: number; alStart: number; file: string } {
  const file = join(dir, `base-${index.kind}.img`);
  writeFileSync(file, Buffer.alloc(0));
  writeFileSync(file, Buffer.alloc(DEV));
  createMd(ctxFor(file, index), { maxPeers: 2, nodeId: 0, ...AL });
  const layout = computeLayout(DEV, index, 2, AL);
  const image = readFileSync(file);
  const sb = parseSuperblock(image.subarray(layout.sbOffset, layout.sbOffset + 4096));
  sb.flags &= ~F.AL_CLEAN;
  sb.peers[1].bitmapIndex = 0;
  sb.effectiveSize = BigInt((layout.dataSize ?? DEV) / 512);
  serializeSuperblock(sb).copy(image, layout.sbOffset);
  return { image, sbOffset: layout.sbOffset, alStart: layout.alStart, file };
}

type Command = [string, (ctx: MetaContext) => void];
const COMMANDS: Command[] = [
  ['dump-md', dumpMd],
  ['get-gi', (ctx) => getGiCmd(ctx, undefined)],
  ['apply-al', applyAl],
  ['check-resize', checkResize],
];

/** Runs `fn`; returns the error it threw (undefined when none). */
function outcome(fn: () => void): unknown {
  try {
    fn();
    return undefined;
  } catch (err) {
    return err;
  }
}

/** What is wrong with the outcome `err` of a case (undefined: as expected). */
function judge(err: unknown, refused: boolean, field: string): string | undefined {
  if (!refused) return err === undefined ? undefined : `expected to work, got ${String(err)}`;
  if (!(err instanceof CliError)) return `expected a refusal naming ${field}, got ${String(err)}`;
  if (err.exitCode !== 1) return `exit code ${err.exitCode}: ${err.message}`;
  return err.message.includes(field) ? undefined : `refusal does not name ${field}: ${err.message}`;
}

describe('bsrmeta fuzz: superblock fields', { timeout: 120000 }, () => {
  for (const index of [{ kind: 'internal' }, { kind: 'flexible' }] as MetaIndex[]) {
    it(`${index.kind}: impossible values are refused naming the field; possible ones work`, () => {
      const base = baseImage(index);
      const layout = computeLayout(DEV, index, 2, AL);
      const dataSect = layout.dataSize !== undefined ? layout.dataSize / 512 : coveredBits(layout) * 8;
      const problems: string[] = [];
      for (const probe of superblockProbes(dataSect)) {
        for (const [value, refused] of probe.values) {
          for (const [cmd, run] of COMMANDS) {
            // check-resize reads only internal meta data, and looks for it elsewhere when the magic is wrong.
            if (cmd === 'check-resize' && (index.kind !== 'internal' || probe.name === 'magic')) continue;
            const image = Buffer.from(base.image);
            poke(image, probe.type, base.sbOffset + probe.at, value);
            writeFileSync(base.file, image);
            const what = `${index.kind} ${cmd} with ${probe.name} = 0x${BigInt.asUintN(BITS[probe.type], value).toString(16)}`;
            const err = outcome(() => run(ctxFor(base.file, index)));
            const wrong = judge(err, refused, probe.name);
            if (wrong) problems.push(`${what}: ${wrong}`);
            else if (refused && !readFileSync(base.file).equals(image)) problems.push(`${what}: device changed`);
          }
        }
      }
      expect(problems).toEqual([]);
    });
  }
});

/** AL transaction fields, set in a transaction whose crc is then made right again. */
function alProbes(): Probe[] {
  const probes: Probe[] = [];
  const add = (name: string, def: { offset: number; type: string }, at: number, beyond: bigint, r = ALL) =>
    probes.push({ name, type: def.type as FieldType, at, values: values(def.type as FieldType, beyond, r) });
  // A block without the magic is no transaction (never written); nothing to refuse.
  add('magic', TR.magic, TR.magic.offset, BigInt(metaData.alTransactionMagic + 1), NONE);
  add('tr_number', TR.tr_number, TR.tr_number.offset, 1000n, NONE);
  // 0 and 0xffff are UPDATE and INITIALIZED.
  add('transaction_type', TR.transaction_type, TR.transaction_type.offset, 1n, [false, false, true, true]);
  add('n_updates', TR.n_updates, TR.n_updates.offset, BigInt(TR.update_slot_nr.count + 1), [false, true, true, true]);
  add('context_size', TR.context_size, TR.context_size.offset, BigInt(TR.context.count + 1), [false, true, true, true]);
  // The transaction has a context of 2 slots: starting at 65533 it reaches past the last slot (65533).
  add('context_start_slot_nr', TR.context_start_slot_nr, TR.context_start_slot_nr.offset, 65533n, [
    false,
    true,
    false,
    true,
  ]);
  for (const i of [0, 3]) add(`reserved_u32[${i}]`, TR.reserved_u32, TR.reserved_u32.offset + i * 4, 1n, NONE);
  // Update 0 is in use (n_updates 1); slots are 0..65533.
  add('update_slot_nr[0]', TR.update_slot_nr, TR.update_slot_nr.offset, 65534n, [false, true, false, true]);
  // Extents past the data are clipped (the data may have shrunk): never impossible.
  add('update_extent_nr[0]', TR.update_extent_nr, TR.update_extent_nr.offset, 1n << 20n, NONE);
  for (const i of [0, 918]) add(`context[${i}]`, TR.context, TR.context.offset + i * 4, 1n << 20n, NONE);
  return probes;
}

describe('bsrmeta fuzz: activity log transaction fields', { timeout: 120000 }, () => {
  it('apply-al refuses a transaction it cannot replay, naming the field, and changes nothing', () => {
    const index: MetaIndex = { kind: 'internal' };
    const base = baseImage(index);
    const layout = computeLayout(DEV, index, 2, AL);
    const tr = encodeTransaction({
      trNumber: 7,
      type: AL_TYPE.UPDATE,
      updates: [{ slot: 0, extent: 0 }],
      contextStart: 0,
      context: [0, 1],
    });
    const at = base.alStart + alBlockOf(7, layout) * 4096;
    const problems: string[] = [];
    for (const probe of alProbes()) {
      for (const [value, refused] of probe.values) {
        const block = Buffer.from(tr);
        poke(block, probe.type, probe.at, value);
        block.writeUInt32BE(alChecksum(block), TR.crc32c.offset);
        const image = Buffer.from(base.image);
        block.copy(image, at);
        writeFileSync(base.file, image);
        const what = `apply-al with ${probe.name} = 0x${value.toString(16)}`;
        const err = outcome(() => applyAl(ctxFor(base.file, index)));
        const wrong = judge(err, refused, probe.name);
        const after = readFileSync(base.file);
        const sb = parseSuperblock(after.subarray(base.sbOffset, base.sbOffset + 4096));
        if (wrong) problems.push(`${what}: ${wrong}`);
        else if (refused && !after.equals(image)) problems.push(`${what}: device changed`);
        else if (!refused && !(sb.flags & F.AL_CLEAN)) problems.push(`${what}: AL not marked clean`);
      }
    }
    expect(problems).toEqual([]);
  });
});

describe('bsrmeta fuzz: the command line', { timeout: 60000 }, () => {
  it('prints one line naming the field and exits 1: no stack trace, no RangeError', async () => {
    const index: MetaIndex = { kind: 'internal' };
    const base = baseImage(index);
    const cases: [string, string, number, bigint][] = [
      ['apply-al', 'al_nr_extents', SB.al_nr_extents.offset, 0xffffffffn],
      ['dump-md', 'bm_offset', SB.bm_offset.offset, 0x80000000n],
      ['get-gi', 'peers[31].bitmap_index', SB.peers.offset + 31 * SB.peers.stride + PEER.bitmap_index.offset, 7n],
    ];
    for (const [cmd, field, at, value] of cases) {
      const image = Buffer.from(base.image);
      poke(image, 'u32', base.sbOffset + at, value);
      writeFileSync(base.file, image);
      const r = await bsrmeta(['0', 'v09', base.file, 'internal', cmd]);
      expect(r.status, `${cmd} ${field}: ${r.stderr}`).toBe(1);
      expect(r.stderr).toContain(field);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(r.stderr).not.toMatch(/RangeError|\n\s+at /);
    }
  });
});
