// Option defaults, ranges and units have one source, native/abi/bsr-abi.json. These tests check
// that everything derived from it agrees: the TypeScript option table, the generated C header
// (T_<SET>_<FIELD>_DEFAULT/_MIN/_MAX, BSR_OPTION_RANGES), the kernel's call sites and the man page.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { abi, type FieldDef, netlinkDefault } from '../../src/abi/index';
import {
  type AbiOptionSet,
  defaultValue,
  kernelValue,
  OPTIONS,
  type OptionDef,
  type OptionUnit,
  optionsOfSet,
  parseOptionValue,
} from '../../src/config/options';
import { roff } from '../../src/docs/man';

const root = join(__dirname, '../..');
const OPTION_SETS: AbiOptionSet[] = ['disk_conf', 'peer_device_conf', 'net_conf', 'res_opts', 'node_opts'];
const UNITS: OptionUnit[] = ['bytes', 'KiB', 'KiB/s', 'sectors', 'ms', 's', '0.1s', 'count'];
const TYPE_RANGE: Record<string, [number, number]> = {
  u32: [0, 0xffffffff],
  s32: [-0x80000000, 0x7fffffff],
  u64: [0, Number.MAX_SAFE_INTEGER],
};

const optionFields = OPTION_SETS.flatMap((set) =>
  Object.entries(abi.sets[set] ?? {}).map(([field, def]) => ({ set, field, def })),
);
const isEnum = (field: string, def: FieldDef) => def.type === 'u32' && abi.enums[field] !== undefined;
const isNumber = (field: string, def: FieldDef) => ['u32', 's32', 'u64'].includes(def.type) && !isEnum(field, def);

/** The default as a config file writes it, worked out from the JSON alone. */
function configText(field: string, def: FieldDef): string | undefined {
  if (def.default === undefined || def.default === '') return undefined;
  if (def.type === 'u8') return def.default ? 'yes' : 'no';
  if (isEnum(field, def)) return abi.enums[field]?.[Number(def.default)];
  return String(def.default);
}

const cName = (s: string) => s.replace(/^_/, '').replace(/[-.]/g, '_').replace(/^(\d)/, '_$1').toUpperCase();

/** `#define T_<SET>_<FIELD>_<KIND> value` of the generated header, values as numbers or strings. */
function headerDefines(): Map<string, number | string> {
  const text = readFileSync(join(root, 'native/kmod/bsr_abi.h'), 'utf8');
  const out = new Map<string, number | string>();
  for (const m of text.matchAll(/^#define (T_\w+_(?:DEFAULT|MIN|MAX)) (.+)$/gm)) {
    const [, name = '', raw = ''] = m;
    out.set(name, raw.startsWith('"') ? (JSON.parse(raw) as string) : Number(raw.replace(/[()]|U?L*$/g, '')));
  }
  return out;
}

describe('bsr-abi.json: every option set field has a default, numbers a range and a unit', () => {
  it.each(optionFields.map((f) => [`${f.set} ${f.field}`, f] as const))('%s', (_name, { field, def }) => {
    if (def.required) {
      expect(def.default, 'a required field has no default').toBeUndefined();
    } else {
      expect(def.default, 'default').toBeDefined();
      expect(typeof def.default).toBe(def.type === 'string' ? 'string' : 'number');
    }
    if (def.type === 'u8') expect([0, 1]).toContain(def.default);
    if (isEnum(field, def)) expect(abi.enums[field]?.[Number(def.default)]).toBeDefined();
    if (def.unimplemented !== undefined) expect(def.unimplemented).toBe(true);
    if (!isNumber(field, def)) {
      expect(def.min, 'only numbers have a range').toBeUndefined();
      return;
    }
    const [lo, hi] = TYPE_RANGE[def.type] ?? [0, 0];
    expect(def.min).toBeGreaterThanOrEqual(lo);
    expect(def.max).toBeLessThanOrEqual(hi);
    expect(def.min).toBeLessThanOrEqual(def.max ?? Number.NaN);
    if (def.default !== undefined) {
      expect(def.default).toBeGreaterThanOrEqual(def.min ?? Number.NaN);
      expect(def.default).toBeLessThanOrEqual(def.max ?? Number.NaN);
    }
    expect(UNITS).toContain(def.unit);
  });

  it('node-id is the only required option and its range is the peers the meta data holds', () => {
    expect(optionFields.filter((f) => f.def.required).map((f) => f.field)).toEqual(['node-id']);
    expect(abi.sets.res_opts?.['node-id']?.max).toBe(abi.metaData.maxPeers - 1);
  });
});

describe('the option table takes defaults, ranges and units from the JSON', () => {
  const kernelOptions = OPTIONS.filter((d): d is OptionDef & { abiSet: AbiOptionSet } => d.abiSet !== undefined);

  it('covers exactly the option set fields', () => {
    for (const set of OPTION_SETS) {
      expect(
        optionsOfSet(set)
          .map((d) => d.keyword)
          .sort(),
      ).toEqual(Object.keys(abi.sets[set] ?? {}).sort());
    }
  });

  it.each(kernelOptions.map((d) => [`${d.abiSet} ${d.keyword}`, d] as const))('%s', (_name, d) => {
    const field = abi.sets[d.abiSet]?.[d.keyword] as FieldDef;
    const dflt = defaultValue(d);
    const inNetlinkForm = dflt === undefined ? undefined : kernelValue(d, dflt);
    const expected = netlinkDefault(d.abiSet, d.keyword);
    if (d.kind === 'flag') expect(expected).toBe(0);
    else if (d.kind === 'string' && expected === '') expect(d.default).toBeUndefined();
    else expect(typeof inNetlinkForm === 'bigint' ? Number(inNetlinkForm) : inNetlinkForm).toBe(expected);
    expect(d.min).toBe(field.min);
    expect(d.max).toBe(d.kind === 'numeric' ? field.max : undefined);
    expect(d.unit).toBe(field.unit);
  });
});

describe('the tools refuse what the kernel refuses, before sending', () => {
  const ranged = OPTIONS.filter((d) => d.abiSet !== undefined && d.kind === 'numeric');

  it.each(ranged.map((d) => [d.keyword, d] as const))('%s: min and max taken, one beyond refused', (_k, d) => {
    const field = abi.sets[d.abiSet as string]?.[d.keyword] as FieldDef;
    const [min, max] = [field.min as number, field.max as number];
    // an unimplemented option takes only its default: its bounds are refused for that reason instead
    if (!field.unimplemented) {
      expect(parseOptionValue(d, String(min))).toBe(min);
      expect(parseOptionValue(d, String(max))).toBe(max);
    }
    expect(() => parseOptionValue(d, String(max + 1))).toThrow(`${d.keyword}: ${max + 1} is out of range`);
    expect(() => parseOptionValue(d, String(min - 1))).toThrow(`${d.keyword}: ${min - 1} is out of range`);
  });
});

describe('the generated header carries the same defaults and ranges', () => {
  const defines = headerDefines();

  it.each(Object.keys(abi.sets).map((set) => [set] as const))('%s', (set) => {
    for (const [field, def] of Object.entries(abi.sets[set] ?? {})) {
      const F = `T_${cName(set)}_${cName(field)}`;
      expect(defines.get(`${F}_DEFAULT`), `${F}_DEFAULT`).toBe(def.default);
      expect(defines.get(`${F}_MIN`), `${F}_MIN`).toBe(def.min);
      const numberMax = def.type === 'string' || def.type === 'binary' ? undefined : def.max;
      expect(defines.get(`${F}_MAX`), `${F}_MAX`).toBe(numberMax);
    }
  });

  it('BSR_OPTION_RANGES lists every number with a range, once per top attribute carrying it', () => {
    const text = readFileSync(join(root, 'native/kmod/bsr_abi.h'), 'utf8');
    const table = /#define BSR_OPTION_RANGES \{ \\\n([\s\S]*?)\n\}/.exec(text)?.[1] ?? '';
    const listed = [...table.matchAll(/\{ BSR_NLA_(\w+), (T_\w+), NLA_\w+, "([^"]+)", \2_MIN, \2_MAX \}/g)].map(
      (m) => `${m[1]} ${m[3]}`,
    );
    const expected = Object.entries(abi.topAttributes).flatMap(([top, { set }]) =>
      Object.entries(abi.sets[set] ?? {})
        .filter(([, def]) => def.min !== undefined)
        .map(([field]) => `${top} ${field}`),
    );
    expect(listed).toEqual(expected);
    expect(listed.length).toBeGreaterThan(20);
  });
});

describe('the kernel has no literal default', () => {
  /** The argument lists of every call of `name(` in `text`, split at top-level commas. */
  function calls(text: string, name: RegExp): string[][] {
    const out: string[][] = [];
    for (const m of text.matchAll(name)) {
      let depth = 0;
      let arg = '';
      const args: string[] = [];
      for (let i = (m.index ?? 0) + m[0].length; i < text.length; i++) {
        const c = text[i];
        if (c === '(') depth++;
        if (c === ')' && depth-- === 0) break;
        if (c === ',' && depth === 0) {
          args.push(arg.trim());
          arg = '';
        } else arg += c;
      }
      out.push([...args, arg.trim()]);
    }
    return out;
  }

  const kernelCalls = (name: RegExp) => {
    const dir = join(root, 'native/kmod');
    return readdirSync(dir)
      .filter((f) => f.endsWith('.c'))
      .flatMap((f) => calls(readFileSync(join(dir, f), 'utf8'), name));
  };

  it('every bsr_conf / bsr_conf_str read names one option attribute', () => {
    const sites = kernelCalls(/\bbsr_conf\(/g);
    expect(sites.length).toBeGreaterThanOrEqual(30);
    for (const args of sites) {
      expect(args, args.join(', ')).toHaveLength(2);
      expect(args[1]).toMatch(/^T_[A-Z0-9_]+$/);
    }
    for (const args of kernelCalls(/\bbsr_conf_str\(/g)) {
      expect(args, args.join(', ')).toHaveLength(4);
      expect(args[1]).toMatch(/^T_[A-Z0-9_]+$/);
    }
  });

  it('the typed option sets hold exactly the implemented fields, with their defaults', () => {
    const header = readFileSync(join(root, 'native/kmod/bsr_abi.h'), 'utf8');
    const abi = JSON.parse(readFileSync(join(root, 'native/abi/bsr-abi.json'), 'utf8'));
    const cName = (s: string) => s.replace(/^_/, '').replace(/[-.]/g, '_').toUpperCase();
    for (const set of abi.storedSets as string[]) {
      const S = cName(set);
      for (const [f, d] of Object.entries(abi.sets[set] as Record<string, { unimplemented?: boolean }>)) {
        const member = `#define BSR_MEMBER_T_${S}_${cName(f)} ${set}.${cName(f).toLowerCase()}`;
        if (d.unimplemented) expect(header, f).not.toContain(member);
        else expect(header, f).toContain(member);
      }
    }
  });
});

describe('bsr.conf(5) shows the same defaults, ranges and units', () => {
  const page = readFileSync(join(root, 'man/bsr.conf.5'), 'utf8').split('\n');

  const inConfig = optionFields.filter(
    ({ set, field }) => !OPTIONS.find((d) => d.abiSet === set && d.keyword === field)?.notInConfig,
  );
  it.each(inConfig.map((f) => [`${f.set} ${f.field}`, f] as const))('%s', (_name, { field, def }) => {
    const at = page.findIndex((l) => l.startsWith(`\\fB${roff(field)}\\fR`));
    expect(at, `${field} has an entry`).toBeGreaterThan(0);
    const text = page[at + 1] ?? '';
    const dflt = configText(field, def);
    if (dflt !== undefined) expect(text).toContain(roff(`default ${dflt}`));
    else expect(text).not.toContain('default');
    if (isNumber(field, def)) {
      expect(text).toContain(roff(`${def.min} .. ${def.max}`));
      expect(text).toContain(roff(`unit ${def.unit}`));
    }
  });
});
