// bsr attributes: top-level nested attributes whose members come from the ABI attribute sets.
import { type AttrSet, type AttrType, abi, type FieldDef } from '../abi/index.js';
import { attrString, decodeAttrs, encodeAttr, NetlinkParseError, stringValue } from './wire.js';

/** u8/u16/u32/s32 -> number, u64 -> bigint, string -> string, binary -> Buffer. */
export type AttrValue = number | bigint | string | Buffer;
export type SetValues = Record<string, AttrValue>;
export type TopName = keyof typeof abi.topAttributes & string;

const INT_RANGE: Record<string, [number, number]> = {
  u8: [0, 0xff],
  u16: [0, 0xffff],
  u32: [0, 0xffffffff],
  s32: [-0x80000000, 0x7fffffff],
};

export function setOf(top: string): AttrSet {
  const t = abi.topAttributes[top];
  if (!t) throw new Error(`unknown top-level attribute ${top}`);
  const set = abi.sets[t.set];
  if (!set) throw new Error(`ABI set ${t.set} missing`);
  return set;
}

/** Encodes one member value; range and length checks happen here so the kernel never sees junk. */
export function encodeField(name: string, def: FieldDef, value: AttrValue): Buffer {
  const fail = (why: string): never => {
    throw new RangeError(`${name}: ${why}`);
  };
  switch (def.type) {
    case 'u8':
    case 'u16':
    case 'u32':
    case 's32': {
      const n = typeof value === 'bigint' ? Number(value) : value;
      if (typeof n !== 'number' || !Number.isInteger(n)) return fail(`expected an integer, got ${String(value)}`);
      const [lo, hi] = INT_RANGE[def.type];
      if (n < lo || n > hi) fail(`${n} out of range for ${def.type}`);
      const b = Buffer.alloc(def.type === 'u8' ? 1 : def.type === 'u16' ? 2 : 4);
      if (def.type === 'u8') b.writeUInt8(n);
      else if (def.type === 'u16') b.writeUInt16LE(n);
      else if (def.type === 'u32') b.writeUInt32LE(n);
      else b.writeInt32LE(n);
      return b;
    }
    case 'u64': {
      let v: bigint;
      if (typeof value === 'bigint') v = value;
      else if (typeof value === 'number' && Number.isSafeInteger(value)) v = BigInt(value);
      else return fail(`expected an integer, got ${String(value)}`);
      if (v < 0n || v > 0xffffffffffffffffn) fail(`${v} out of range for u64`);
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(v);
      return b;
    }
    case 'string': {
      if (typeof value !== 'string') return fail('expected a string');
      const b = stringValue(value);
      // max counts the terminating NUL, as the kernel's NLA_NUL_STRING policy does
      if (def.max !== undefined && b.length > def.max) fail(`longer than ${def.max - 1} bytes`);
      return b;
    }
    case 'binary': {
      if (!Buffer.isBuffer(value)) return fail('expected binary data');
      if (def.max !== undefined && value.length > def.max) fail(`longer than ${def.max} bytes`);
      return value;
    }
  }
}

const FIXED_SIZE: Partial<Record<AttrType, number>> = { u8: 1, u16: 2, u32: 4, s32: 4, u64: 8 };

export function decodeField(name: string, def: FieldDef, raw: Buffer): AttrValue {
  const size = FIXED_SIZE[def.type];
  if (size !== undefined && raw.length !== size) {
    throw new NetlinkParseError(`${name}: ${def.type} attribute has ${raw.length} bytes`);
  }
  switch (def.type) {
    case 'u8':
      return raw.readUInt8(0);
    case 'u16':
      return raw.readUInt16LE(0);
    case 'u32':
      return raw.readUInt32LE(0);
    case 's32':
      return raw.readInt32LE(0);
    case 'u64':
      return raw.readBigUInt64LE(0);
    case 'string':
      if (def.max !== undefined && raw.length > def.max) throw new NetlinkParseError(`${name}: string too long`);
      return attrString(raw);
    case 'binary':
      if (def.max !== undefined && raw.length > def.max) throw new NetlinkParseError(`${name}: binary too long`);
      return Buffer.from(raw);
  }
}

/** Encodes the members of one set (field name -> value) in field-id order. */
export function encodeSet(setName: string, set: AttrSet, values: SetValues): Buffer {
  const parts: Buffer[] = [];
  const entries = Object.entries(values).map(([name, value]) => {
    const def = set[name];
    if (!def) throw new RangeError(`${name} is not a member of attribute set ${setName}`);
    return { def, name, value };
  });
  entries.sort((a, b) => a.def.id - b.def.id);
  for (const e of entries) parts.push(encodeAttr(e.def.id, encodeField(e.name, e.def, e.value)));
  return Buffer.concat(parts);
}

/** Decodes a set's members; ids this ABI does not know are skipped (a newer kernel may add some). */
export function decodeSet(set: AttrSet, payload: Buffer): SetValues {
  const byId = new Map<number, [string, FieldDef]>();
  for (const [name, def] of Object.entries(set)) byId.set(def.id, [name, def]);
  const out: SetValues = {};
  for (const a of decodeAttrs(payload)) {
    const known = byId.get(a.type);
    if (known) out[known[0]] = decodeField(known[0], known[1], a.value);
  }
  return out;
}

export type TopAttrs = Partial<Record<TopName, SetValues>>;

/** Encodes top-level nested attributes (each flagged NLA_F_NESTED, as strict kernels require). */
export function encodeTop(attrs: TopAttrs): Buffer {
  const parts: Buffer[] = [];
  const names = Object.keys(attrs) as TopName[];
  names.sort((a, b) => abi.topAttributes[a].id - abi.topAttributes[b].id);
  for (const name of names) {
    const values = attrs[name];
    if (!values) continue;
    const top = abi.topAttributes[name];
    parts.push(encodeAttr(top.id, encodeSet(top.set, setOf(name), values), true));
  }
  return Buffer.concat(parts);
}

export interface DecodedTop {
  /** First occurrence of each top-level attribute. */
  attrs: TopAttrs;
  /** Every occurrence in order (some, like PATH_PARMS, may repeat). */
  all: Array<{ name: TopName; values: SetValues }>;
}

const topById = new Map<number, TopName>(Object.entries(abi.topAttributes).map(([name, t]) => [t.id, name as TopName]));

export function decodeTop(payload: Buffer): DecodedTop {
  const attrs: TopAttrs = {};
  const all: DecodedTop['all'] = [];
  for (const a of decodeAttrs(payload)) {
    const name = topById.get(a.type);
    if (!name) continue;
    const values = decodeSet(setOf(name), a.value);
    all.push({ name, values });
    if (!attrs[name]) attrs[name] = values;
  }
  return { attrs, all };
}
