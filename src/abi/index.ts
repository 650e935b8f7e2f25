// The kernel ABI as TypeScript sees it: the same JSON that generates native/kmod/bsr_abi.h.
import abiJson from '../../native/abi/bsr-abi.json';

export type AttrType = 'u8' | 'u16' | 'u32' | 's32' | 'u64' | 'string' | 'binary';
export interface FieldDef {
  id: number;
  type: AttrType;
  /** A string's or binary's length in bytes (NUL included); a number's largest accepted value. */
  max?: number;
  /** A number's smallest accepted value. */
  min?: number;
  /** The value the kernel uses while the attribute was never given, in netlink form. */
  default?: number | string;
  /** The base unit of a number (the option table's OptionUnit). */
  unit?: string;
  /** No default: the command creating the object needs it. */
  required?: boolean;
  /** bsr.ko does not implement the option yet and takes only its default. */
  unimplemented?: boolean;
  /** Of an enum option: the values bsr.ko does not implement yet (refused); the others work. */
  unimplementedValues?: string[];
  /** A secret: bsr.ko sends it only to CAP_SYS_ADMIN requesters; the tools mask it in logs. */
  sensitive?: boolean;
}
export type AttrSet = Record<string, FieldDef>;

export const abi = abiJson as unknown as {
  genl: {
    family: string;
    version: number;
    mcastGroup: string;
    userHeaderSize: number;
    headerFlags: Record<string, number>;
  };
  control: {
    device: string;
    ioctlMagic: number;
    ioctls: Record<string, { nr: number; dir: 'read' | 'write' | 'readwrite'; type: string }>;
  };
  commands: Record<string, number>;
  topAttributes: Record<string, { id: number; set: string }>;
  sets: Record<string, AttrSet>;
  notificationTypes: Record<string, number>;
  enums: Record<string, string[]>;
  /** handlers {} names: true when bsr.ko runs the handler (bsr_abi.h's BSR_HELPER_*). */
  handlers: Record<string, boolean>;
  retCodes: Record<string, number>;
  metaData: typeof abiJson.metaData;
  wire: typeof abiJson.wire;
};

export const commands = abi.commands;
export const retCodes = abi.retCodes;
export const enums = abi.enums;
export const metaData = abi.metaData;

/** Name of a numeric state or option value, e.g. enumName('disk', 9) === 'UpToDate'. */
export function enumName(kind: string, value: number): string {
  return abi.enums[kind]?.[value] ?? `Unknown(${value})`;
}

/** Numeric value of a state or option name, or -1. */
export function enumValue(kind: string, name: string): number {
  return abi.enums[kind]?.indexOf(name) ?? -1;
}

export function retCodeName(code: number): string {
  for (const [name, value] of Object.entries(abi.retCodes)) if (value === code) return name;
  return `ERROR_${code}`;
}

/** A field of an attribute set, or an error naming it: the table and the ABI must agree. */
export function abiField(set: string, field: string): FieldDef {
  const def = abi.sets[set]?.[field];
  if (!def) throw new Error(`bsr-abi.json has no field ${field} in set ${set}`);
  return def;
}

/**
 * The value bsr.ko uses for a field never given, in netlink form (booleans 0/1, an enum's index,
 * a number in its base unit, a string, '' meaning unset); undefined for a required field.
 */
export function netlinkDefault(set: string, field: string): number | string | undefined {
  return abiField(set, field).default;
}

/** The longest resource name the kernel takes (ctx_resource_name, NUL included in its max). */
export const RESOURCE_NAME_MAX = (abi.sets.cfg_context.ctx_resource_name.max ?? 128) - 1;
/** The longest host (connection) name the kernel takes (net_conf _name). */
export const HOST_NAME_MAX = (abi.sets.net_conf._name.max ?? 64) - 1;

/** Why the kernel would refuse `name` as a resource name, or undefined when it is fine. */
export function resourceNameProblem(name: string): string | undefined {
  if (name === '' || /[\s/]/.test(name)) return "no white space or '/' allowed";
  if (Buffer.byteLength(name) > RESOURCE_NAME_MAX)
    return `longer than ${RESOURCE_NAME_MAX} characters (the kernel's limit)`;
  return undefined;
}

/** Why `name` cannot be a host name (an `on` section, a peer's name in the kernel), or undefined. */
export function hostNameProblem(name: string): string | undefined {
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) return "only letters, digits, '-', '_' and '.' allowed";
  if (name.length > HOST_NAME_MAX) return `longer than ${HOST_NAME_MAX} characters (the kernel's limit)`;
  return undefined;
}
