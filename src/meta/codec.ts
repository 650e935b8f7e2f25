// Reads and writes the fixed-size fields of on-disk structures at the offsets the ABI JSON gives
// (docs/internals.md: the JSON is the only place those numbers live). All on-disk integers here are
// big-endian.

export type FieldType = 'u16' | 'u32' | 's32' | 'u64';
export interface FieldDef {
  offset: number;
  type: string;
  count?: number;
}

const WIDTH: Record<FieldType, number> = { u16: 2, u32: 4, s32: 4, u64: 8 };

function fieldType(def: FieldDef): FieldType {
  if (!(def.type in WIDTH)) throw new Error(`unsupported on-disk field type ${def.type}`);
  return def.type as FieldType;
}

/** Bytes one element of the field occupies. */
export function fieldWidth(def: FieldDef): number {
  return WIDTH[fieldType(def)];
}

/** Byte range [start, end) of the whole field (all its elements) relative to `base`. */
export function fieldSpan(def: FieldDef, base = 0): [number, number] {
  const start = base + def.offset;
  return [start, start + fieldWidth(def) * (def.count ?? 1)];
}

function position(def: FieldDef, base: number, index: number): number {
  const count = def.count ?? 1;
  if (index < 0 || index >= count) throw new RangeError(`field index ${index} out of range 0..${count - 1}`);
  return base + def.offset + index * fieldWidth(def);
}

/** A 16/32-bit field (s32 sign-extended). */
export function getNum(view: DataView, def: FieldDef, base = 0, index = 0): number {
  const at = position(def, base, index);
  switch (fieldType(def)) {
    case 'u16':
      return view.getUint16(at, false);
    case 'u32':
      return view.getUint32(at, false);
    case 's32':
      return view.getInt32(at, false);
    default:
      throw new Error('64-bit field read as number; use getBig');
  }
}

export function setNum(view: DataView, def: FieldDef, value: number, base = 0, index = 0): void {
  const at = position(def, base, index);
  switch (fieldType(def)) {
    case 'u16':
      view.setUint16(at, value, false);
      return;
    case 'u32':
      view.setUint32(at, value >>> 0, false);
      return;
    case 's32':
      view.setInt32(at, value | 0, false);
      return;
    default:
      throw new Error('64-bit field written as number; use setBig');
  }
}

export function getBig(view: DataView, def: FieldDef, base = 0, index = 0): bigint {
  if (fieldType(def) !== 'u64') throw new Error('getBig on a field narrower than 64 bits');
  return view.getBigUint64(position(def, base, index), false);
}

export function setBig(view: DataView, def: FieldDef, value: bigint, base = 0, index = 0): void {
  if (fieldType(def) !== 'u64') throw new Error('setBig on a field narrower than 64 bits');
  view.setBigUint64(position(def, base, index), BigInt.asUintN(64, value), false);
}

export function viewOf(buf: Uint8Array): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
}
