import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { abi, enumName, enumValue } from '../../src/abi/index.js';

const root = join(__dirname, '../..');
const header = readFileSync(join(root, 'native/kmod/bsr_abi.h'), 'utf8');

/** Reads `NAME = VALUE` / `#define NAME VALUE` constants out of the generated C header. */
function cConstant(name: string): number {
  const m = new RegExp(`(?:#define\\s+${name}\\s+|\\b${name}\\s*=\\s*)(0x[0-9a-f]+|-?\\d+)U?`, 'i').exec(header);
  if (!m) throw new Error(`${name} not in bsr_abi.h`);
  return Number(m[1]);
}

describe('ABI single source of truth', () => {
  it('the committed C header is what the JSON generates', () => {
    expect(() => execFileSync('node', [join(root, 'scripts/gen-abi.mjs'), '--check'], { stdio: 'pipe' })).not.toThrow();
  });

  it('the handlers marked as run are the ones the kernel calls, each by its BSR_HELPER_ name', () => {
    const kmod = join(root, 'native/kmod');
    const source = readdirSync(kmod)
      .filter((f) => f.endsWith('.c'))
      .map((f) => readFileSync(join(kmod, f), 'utf8'))
      .join('\n');
    const called = [...new Set(source.match(/\bBSR_HELPER_[A-Z_]+/g))].sort();
    const run = Object.keys(abi.handlers).filter((name) => abi.handlers[name]);
    expect(called).toEqual(run.map((name) => `BSR_HELPER_${name.toUpperCase().replace(/-/g, '_')}`).sort());
    // a name written out instead would bypass the list
    for (const name of Object.keys(abi.handlers)) expect(source).not.toContain(`"${name}"`);
  });

  it('command numbers agree between C and TypeScript and match the reference', () => {
    for (const [name, value] of Object.entries(abi.commands)) expect(cConstant(`BSR_ADM_${name}`)).toBe(value);
    expect(abi.commands.NEW_MINOR).toBe(5);
    expect(abi.commands.GET_PEER_DEVICES).toBe(33);
    expect(abi.commands.APPLY_PERSIST_ROLE).toBe(57);
    expect(abi.commands.SPLIT_BRAIN).toBe(54);
  });

  it('the control device uses the ioctl magic of the reference', () => {
    expect(abi.control.ioctlMagic).toBe(147);
    expect(cConstant('BSR_IOC_MAGIC')).toBe(147);
    expect(header).toContain(`#define BSR_CONTROL_DEVICE "${abi.control.device}"`);
    expect(header).toMatch(/#define BSR_IOC_GET_API_VERSION _IOR\(BSR_IOC_MAGIC, 0, __u32\)/);
  });

  it('meta-data magics and offsets agree', () => {
    expect(cConstant('BSR_MD_MAGIC_V09')).toBe(0x83740267 + 6);
    expect(cConstant('BSR_AL_TR_MAGIC')).toBe(0x69cb65a2);
    expect(cConstant('BSR_SB_OFF_MAGIC')).toBe(abi.metaData.superblock.magic.offset);
    expect(cConstant('BSR_SB_OFF_HISTORY_UUIDS')).toBe(1136);
    // 32 peer slots of 32 bytes each sit between the fixed fields and the history UUIDs.
    expect(abi.metaData.superblock.peers.offset + 32 * abi.metaData.superblock.peers.stride).toBe(1136);
    // An AL transaction fills exactly one 4 KiB block.
    expect(abi.metaData.alTransaction.context.offset + 4 * abi.metaData.alContextPerTransaction).toBe(4096);
  });

  it('the SIZES packet: the C header and struct follow the JSON layout of each protocol version', () => {
    const width: Record<string, number> = { u32: 4, u64: 8 };
    const net = readFileSync(join(root, 'native/kmod/bsr_net.h'), 'utf8');
    const lengths = new Map<number, number>();
    let end = 0;
    for (const [field, def] of Object.entries(abi.wire.sizes) as [
      string,
      { offset: number; type: string; since?: number },
    ][]) {
      expect(def.offset, `${field} follows the field before it`).toBe(end);
      expect(cConstant(`BSR_P_SIZES_OFF_${field.toUpperCase()}`)).toBe(def.offset);
      // bsr_net.h checks struct p_sizes against the generated offsets at compile time
      expect(net).toContain(`offsetof(struct p_sizes, ${field})`);
      end = def.offset + width[def.type];
      for (let v = def.since ?? abi.wire.protocolMin; v <= abi.wire.protocolMax; v++) lengths.set(v, end);
    }
    expect(lengths.get(1)).toBe(32);
    for (const [v, len] of lengths) expect(cConstant(`BSR_P_SIZES_LEN_V${v}`), `protocol ${v}`).toBe(len);
  });

  it('attribute ids are unique within each set', () => {
    for (const [set, fields] of Object.entries(abi.sets)) {
      const ids = Object.values(fields).map((f) => f.id);
      expect(new Set(ids).size, set).toBe(ids.length);
      for (const [field, def] of Object.entries(fields)) {
        const cname = `T_${set.toUpperCase()}_${field.replace(/^_/, '').replace(/[-.]/g, '_').toUpperCase()}`;
        expect(cConstant(cname), cname).toBe(def.id);
      }
    }
  });

  it('state enums map names and numbers both ways', () => {
    expect(enumName('disk', enumValue('disk', 'UpToDate'))).toBe('UpToDate');
    expect(cConstant('BSR_DISK_UPTODATE')).toBe(enumValue('disk', 'UpToDate'));
    expect(cConstant('BSR_REPLICATION_SYNCSOURCE')).toBe(enumValue('replication', 'SyncSource'));
    expect(cConstant('BSR_H100_MAGIC')).toBe(0x8620ec20);
  });
});
