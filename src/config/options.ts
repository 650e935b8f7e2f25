// The one list of configuration options. The config parser, the zod schema, bsradm's planner and
// bsrsetup's `--name=value` -> netlink mapping all read this table; nothing else lists options.
import { abi } from '../abi/index';

export type OptionSection = 'global' | 'disk' | 'peer-device' | 'net' | 'resource' | 'node' | 'startup' | 'handlers';
export type AbiOptionSet = 'disk_conf' | 'peer_device_conf' | 'net_conf' | 'res_opts' | 'node_opts';
export type OptionKind = 'numeric' | 'boolean' | 'enum' | 'string' | 'flag';
/**
 * The unit of a bare number. Sizes and plain counts take drbdsetup's suffixes (see SUFFIX_SHIFT);
 * time units take none (an `s` there would read as seconds but mean sectors).
 */
export type OptionUnit = 'bytes' | 'KiB' | 'KiB/s' | 'sectors' | 'ms' | 's' | '0.1s' | 'count';

export interface OptionDef {
  keyword: string;
  section: OptionSection;
  /** The netlink attribute set that carries the option; absent for options only the tools use. */
  abiSet?: AbiOptionSet;
  kind: OptionKind;
  unit?: OptionUnit;
  /** Default in the config's value syntax (base unit for numbers, yes/no, enum name). */
  default?: string;
  min?: number;
  max?: number;
  /** Allowed names of an enum (in ABI index order when the ABI has the enum). */
  values?: readonly string[];
  /** Kernel plumbing carried in the option set but never written in a config file. */
  notInConfig?: boolean;
  /** A value bsr refuses although the kernel field could carry it, with the reason. */
  refused?: { value: string; reason: string };
  /** Only given when attaching; changed later through `resize`, not through disk-options. */
  attachOnly?: boolean;
  /**
   * In a config file the value names a volume, `RES` or `RES/VOL`, as in drbdadm; the model turns
   * it into that volume's minor on the same host, the number bsrsetup and the kernel take.
   */
  namesVolume?: boolean;
}

/**
 * A secret (bsr-abi.json `sensitive`): logs and error messages show `***` instead of the value, and
 * the kernel sends it only to CAP_SYS_ADMIN callers.
 */
export function isSensitive(def: OptionDef): boolean {
  return def.abiSet !== undefined && abi.sets[def.abiSet]?.[def.keyword]?.sensitive === true;
}

/** A parsed option value: numbers in the base unit, booleans, enum names, strings; flags are true. */
export type OptionValue = number | boolean | string;

/**
 * A bare number's unit as a power of two of bytes: drbdsetup's scale of the option ('1', 'k',
 * 's'). A plain count scales like bytes, so `max-buffers 8k` is 8192, as drbdsetup reads it.
 */
const UNIT_SHIFT: Partial<Record<OptionUnit, number>> = { bytes: 0, count: 0, KiB: 10, 'KiB/s': 10, sectors: 9 };
/** The suffixes drbdsetup takes, as powers of two of bytes. */
const SUFFIX_SHIFT: Record<string, number> = { k: 10, K: 10, m: 20, M: 20, g: 30, G: 30, s: 9 };
const U32_MAX = 0xffffffff;

function abiEnum(name: string): readonly string[] {
  const values = abi.enums[name];
  if (!values) throw new Error(`bsr-abi.json has no enum ${name}`);
  return values;
}

function numeric(
  keyword: string,
  section: OptionSection,
  abiSet: AbiOptionSet | undefined,
  unit: OptionUnit,
  defaultValue: number | undefined,
  min: number,
  max: number,
): OptionDef {
  return {
    keyword,
    section,
    abiSet,
    kind: 'numeric',
    unit,
    default: defaultValue === undefined ? undefined : String(defaultValue),
    min,
    max,
  };
}

function boolean(keyword: string, section: OptionSection, abiSet: AbiOptionSet | undefined, dflt: boolean): OptionDef {
  return { keyword, section, abiSet, kind: 'boolean', default: dflt ? 'yes' : 'no' };
}

function enumeration(
  keyword: string,
  section: OptionSection,
  abiSet: AbiOptionSet | undefined,
  dflt: string,
): OptionDef {
  // The ABI enum is the list of names and their wire numbers; "_" marks an unused slot.
  const values = abiEnum(keyword).filter((v) => v !== '_');
  return { keyword, section, abiSet, kind: 'enum', default: dflt, values };
}

function text(keyword: string, section: OptionSection, abiSet: AbiOptionSet | undefined, dflt?: string): OptionDef {
  return { keyword, section, abiSet, kind: 'string', default: dflt };
}

function flag(keyword: string, section: OptionSection, abiSet?: AbiOptionSet): OptionDef {
  return { keyword, section, abiSet, kind: 'flag' };
}

/** Handler names: `handlers {}` keywords, and the bsradm commands the kernel runs them through. */
export const HANDLERS = [
  'pri-on-incon-degr',
  'pri-lost-after-sb',
  'pri-lost',
  'initial-split-brain',
  'split-brain',
  'outdate-peer',
  'fence-peer',
  'unfence-peer',
  'local-io-error',
  'before-resync-target',
  'after-resync-target',
  'before-resync-source',
  'out-of-sync',
  'before-promote',
  'after-promote',
  'before-demote',
  'after-demote',
];

export const OPTIONS: readonly OptionDef[] = [
  // global {}
  { keyword: 'usage-count', section: 'global', kind: 'enum', default: 'no', values: ['yes', 'no', 'ask'] },
  numeric('minor-count', 'global', undefined, 'count', 32, 1, 255),
  numeric('dialog-refresh', 'global', undefined, 's', 1, 0, 600),
  flag('disable-ip-verification', 'global'),
  flag('udev-always-use-vnr', 'global'),
  numeric('cmd-timeout-short', 'global', undefined, 's', 5, 0, 3600),
  numeric('cmd-timeout-medium', 'global', undefined, 's', 121, 0, 3600),
  numeric('cmd-timeout-long', 'global', undefined, 's', 600, 0, 3600),
  text('hostname', 'global', undefined),

  // disk {}: disk options (attach / disk-options)
  { ...numeric('size', 'disk', 'disk_conf', 'sectors', 0, 0, Number.MAX_SAFE_INTEGER), attachOnly: true },
  enumeration('on-io-error', 'disk', 'disk_conf', 'passthrough'),
  numeric('max-passthrough-count', 'disk', 'disk_conf', 'count', 100, 0, 1000000),
  boolean('disk-flushes', 'disk', 'disk_conf', true),
  boolean('disk-barrier', 'disk', 'disk_conf', false),
  boolean('disk-drain', 'disk', 'disk_conf', true),
  boolean('md-flushes', 'disk', 'disk_conf', true),
  { ...numeric('resync-after', 'disk', 'disk_conf', 'count', -1, -1, 1048575), namesVolume: true },
  numeric('al-extents', 'disk', 'disk_conf', 'count', 6001, 67, 65534),
  boolean('al-updates', 'disk', 'disk_conf', true),
  boolean('discard-zeroes-if-aligned', 'disk', 'disk_conf', true),
  boolean('disable-write-same', 'disk', 'disk_conf', true),
  numeric('disk-timeout', 'disk', 'disk_conf', '0.1s', 0, 0, 6000),
  enumeration('read-balancing', 'disk', 'disk_conf', 'prefer-local'),
  numeric('rs-discard-granularity', 'disk', 'disk_conf', 'bytes', 0, 0, 1048576),

  // disk {}: peer-device options (peer-device-options), resync controller
  numeric('resync-rate', 'peer-device', 'peer_device_conf', 'KiB/s', 250, 1, 4194304),
  numeric('c-plan-ahead', 'peer-device', 'peer_device_conf', '0.1s', 20, 0, 300),
  numeric('c-delay-target', 'peer-device', 'peer_device_conf', '0.1s', 10, 1, 100),
  numeric('c-fill-target', 'peer-device', 'peer_device_conf', 'sectors', 100, 0, 1048576),
  numeric('c-max-rate', 'peer-device', 'peer_device_conf', 'KiB/s', 5120, 250, 4194304),
  numeric('c-min-rate', 'peer-device', 'peer_device_conf', 'KiB/s', 250, 0, 4194304),
  numeric('ov-req-num', 'peer-device', 'peer_device_conf', 'count', 10, 1, 1000),
  numeric('ov-req-interval', 'peer-device', 'peer_device_conf', 'ms', 100, 1, 1000),
  text('resync-ratio', 'peer-device', 'peer_device_conf'),

  // net {}
  { keyword: '_name', section: 'net', abiSet: 'net_conf', kind: 'string', notInConfig: true },
  enumeration('protocol', 'net', 'net_conf', 'C'),
  numeric('timeout', 'net', 'net_conf', '0.1s', 60, 1, 600),
  numeric('max-epoch-size', 'net', 'net_conf', 'count', 16000, 1, 20000),
  numeric('connect-int', 'net', 'net_conf', 's', 3, 1, 120),
  numeric('ping-int', 'net', 'net_conf', 's', 3, 1, 120),
  numeric('ping-timeout', 'net', 'net_conf', '0.1s', 30, 1, 300),
  numeric('sndbuf-size', 'net', 'net_conf', 'bytes', 0, 0, U32_MAX),
  numeric('rcvbuf-size', 'net', 'net_conf', 'bytes', 0, 0, U32_MAX),
  numeric('ko-count', 'net', 'net_conf', 'count', 5, 0, 200),
  numeric('max-buffers', 'net', 'net_conf', 'count', 16000, 32, 131072),
  {
    ...boolean('allow-two-primaries', 'net', 'net_conf', false),
    refused: { value: 'yes', reason: 'bsr does not support two primaries' },
  },
  text('cram-hmac-alg', 'net', 'net_conf'),
  text('shared-secret', 'net', 'net_conf'),
  text('data-integrity-alg', 'net', 'net_conf'),
  text('csums-alg', 'net', 'net_conf'),
  text('verify-alg', 'net', 'net_conf'),
  boolean('csums-after-crash-only', 'net', 'net_conf', false),
  enumeration('after-sb-0pri', 'net', 'net_conf', 'disconnect'),
  enumeration('after-sb-1pri', 'net', 'net_conf', 'disconnect'),
  enumeration('after-sb-2pri', 'net', 'net_conf', 'disconnect'),
  enumeration('rr-conflict', 'net', 'net_conf', 'disconnect'),
  boolean('always-asbp', 'net', 'net_conf', false),
  boolean('tcp-cork', 'net', 'net_conf', true),
  enumeration('on-congestion', 'net', 'net_conf', 'block'),
  numeric('congestion-fill', 'net', 'net_conf', 'bytes', 0, 0, U32_MAX),
  numeric('congestion-extents', 'net', 'net_conf', 'count', 6001, 67, 65534),
  numeric('congestion-highwater', 'net', 'net_conf', 'count', 20000, 0, 1000000),
  boolean('use-rle', 'net', 'net_conf', true),
  numeric('socket-check-timeout', 'net', 'net_conf', '0.1s', 5, 0, 300),
  enumeration('fencing', 'net', 'net_conf', 'dont-care'),
  text('transport', 'net', 'net_conf', 'tcp'),
  { ...flag('discard-my-data', 'net', 'net_conf'), notInConfig: true },
  { ...flag('tentative', 'net', 'net_conf'), notInConfig: true },

  // options {}: resource options (new-resource / resource-options)
  text('cpu-mask', 'resource', 'res_opts'),
  enumeration('on-no-data-accessible', 'resource', 'res_opts', 'io-error'),
  numeric('max-io-depth', 'resource', 'res_opts', 'count', 1000, 4, 1048576),
  boolean('persist-role', 'resource', 'res_opts', false),
  boolean('fast-sync', 'resource', 'res_opts', true),
  numeric('twopc-timeout', 'resource', 'res_opts', '0.1s', 50, 10, 600),
  numeric('peer-ack-window', 'resource', 'res_opts', 'sectors', 4096, 2048, 204800),
  numeric('peer-ack-delay', 'resource', 'res_opts', 'ms', 100, 1, 10000),
  { ...numeric('node-id', 'resource', 'res_opts', 'count', undefined, 0, 31), notInConfig: true },

  // options {} or on HOST { options {} }: node options. The service's own two (bsr.service, see
  // packaging/systemd/bsr-service) stay in the tools; target-only goes to the kernel (node-options).
  boolean('svc-auto-up', 'node', undefined, true),
  boolean('svc-auto-down', 'node', undefined, true),
  boolean('target-only', 'node', 'node_opts', false),

  // startup {}: read by bsradm wait-connect and the service
  numeric('wfc-timeout', 'startup', undefined, 's', 0, 0, 300000),
  numeric('degr-wfc-timeout', 'startup', undefined, 's', 0, 0, 300000),
  numeric('outdated-wfc-timeout', 'startup', undefined, 's', 0, 0, 300000),
  flag('wait-after-sb', 'startup'),

  // handlers {}: commands the kernel runs through the helper
  ...HANDLERS.map((keyword) => text(keyword, 'handlers', undefined)),
];

const BY_KEYWORD = new Map<string, OptionDef[]>();
for (const def of OPTIONS) {
  const list = BY_KEYWORD.get(def.keyword);
  if (list) list.push(def);
  else BY_KEYWORD.set(def.keyword, [def]);
}

/**
 * Looks an option up by keyword, optionally only in the given section(s). Options that live in the
 * same config block (disk/peer-device in disk{}, resource/node in options{}) are told apart here.
 */
export function findOption(keyword: string, section?: OptionSection | readonly OptionSection[]): OptionDef | undefined {
  const defs = BY_KEYWORD.get(keyword);
  if (!defs) return undefined;
  if (section === undefined) return defs[0];
  const wanted: readonly OptionSection[] = typeof section === 'string' ? [section] : section;
  return defs.find((d) => wanted.includes(d.section));
}

/** The options that carry the given ABI attribute set. */
export function optionsOfSet(set: AbiOptionSet): OptionDef[] {
  return OPTIONS.filter((d) => d.abiSet === set);
}

/** The error parseOptionValue throws; callers add FILE:LINE or the command-line context. */
export class OptionValueError extends Error {}

function describeRange(def: OptionDef): string {
  const unit = def.unit && def.unit !== 'count' ? ` (${def.unit})` : '';
  return `${def.min} .. ${def.max}${unit}`;
}

/** What the option takes, for help, man page and completion: `1 .. 600 (0.1s), default 60`. */
export function describeOption(def: OptionDef): string {
  const dflt = def.default === undefined ? '' : `, default ${def.default === '' ? '""' : def.default}`;
  switch (def.kind) {
    case 'numeric':
      return `${describeRange(def)}${dflt}`;
    case 'boolean':
      return `yes or no${dflt}`;
    case 'enum':
      return `${def.values?.join(', ')}${dflt}`;
    case 'string':
      return `text${dflt}`;
    case 'flag':
      return 'flag (no value)';
  }
}

/**
 * A number in the option's unit. A suffix converts from its own unit, rounding up when that is
 * smaller (`resync-rate 3s` is 2 KiB/s), as drbdsetup does.
 */
function parseNumeric(def: OptionDef, raw: string): number {
  const unitShift = def.unit ? UNIT_SHIFT[def.unit] : undefined;
  const match = /^(-?\d+)(.*)$/.exec(raw);
  if (!match || (match[2] !== '' && unitShift === undefined)) {
    const why = unitShift === undefined && match ? ` (${def.unit} options take no unit suffix)` : '';
    throw new OptionValueError(`${def.keyword}: '${raw}' is not a number${why}`);
  }
  let value = Number(match[1]);
  if (match[2] !== '') {
    const suffixShift = SUFFIX_SHIFT[match[2]];
    if (suffixShift === undefined) {
      throw new OptionValueError(`${def.keyword}: '${raw}': unknown unit '${match[2]}' (k, M, G or s)`);
    }
    const shift = suffixShift - (unitShift ?? 0);
    value = shift >= 0 ? value * 2 ** shift : Math.ceil(value / 2 ** -shift);
  }
  if ((def.min !== undefined && value < def.min) || (def.max !== undefined && value > def.max)) {
    throw new OptionValueError(`${def.keyword}: ${raw} is out of range, allowed ${describeRange(def)}`);
  }
  return value;
}

const TRUE_WORDS = ['yes', 'on', 'true'];
const FALSE_WORDS = ['no', 'off', 'false'];

/** Turns config/command-line text into the option's value, throwing OptionValueError with the reason. */
export function parseOptionValue(def: OptionDef, raw: string): OptionValue {
  let value: OptionValue;
  switch (def.kind) {
    case 'numeric':
      value = parseNumeric(def, raw);
      break;
    case 'boolean': {
      const word = raw.toLowerCase();
      if (TRUE_WORDS.includes(word)) value = true;
      else if (FALSE_WORDS.includes(word)) value = false;
      else throw new OptionValueError(`${def.keyword}: expected yes or no, not '${raw}'`);
      break;
    }
    case 'enum':
      if (!def.values?.includes(raw)) {
        throw new OptionValueError(`${def.keyword}: '${raw}' is not one of ${def.values?.join(', ')}`);
      }
      value = raw;
      break;
    case 'string': {
      // The ABI's max counts the terminating NUL, as the kernel's NLA_NUL_STRING policy does.
      const max = def.abiSet ? abi.sets[def.abiSet]?.[def.keyword]?.max : undefined;
      if (max !== undefined && Buffer.byteLength(raw) >= max) {
        throw new OptionValueError(`${def.keyword}: longer than ${max - 1} bytes (the kernel's limit)`);
      }
      value = raw;
      break;
    }
    case 'flag':
      if (raw !== '' && !TRUE_WORDS.includes(raw.toLowerCase())) {
        throw new OptionValueError(`${def.keyword} takes no value`);
      }
      value = true;
      break;
  }
  if (def.refused && formatOptionValue(def, value) === def.refused.value) {
    throw new OptionValueError(`${def.keyword} ${def.refused.value}: ${def.refused.reason}`);
  }
  const unimplemented = unimplementedDefault(def);
  const given = formatOptionValue(def, value);
  if (unimplemented !== undefined && given !== unimplemented && !(def.kind === 'string' && given === '')) {
    throw new OptionValueError(
      `${def.keyword} ${given}: not implemented by bsr yet; only its default (${unimplemented || '""'}) is accepted`,
    );
  }
  return value;
}

/**
 * For an option bsr.ko does not implement yet (marked in bsr-abi.json), the one value it takes in
 * config syntax (an unset string is ''); undefined for an implemented option.
 */
export function unimplementedDefault(def: OptionDef): string | undefined {
  const field = def.abiSet ? abi.sets[def.abiSet]?.[def.keyword] : undefined;
  if (field?.unimplemented === undefined) return undefined;
  return def.kind === 'flag' ? 'false' : (def.default ?? '');
}

/** The value in config syntax: base-unit numbers, yes/no, enum names, strings unquoted. */
export function formatOptionValue(def: OptionDef, value: OptionValue): string {
  if (def.kind === 'boolean') return value ? 'yes' : 'no';
  return String(value);
}

/** The default as a parsed value, or undefined when the option has none. */
export function defaultValue(def: OptionDef): OptionValue | undefined {
  if (def.default === undefined) return undefined;
  return parseOptionValue(def, def.default);
}

/**
 * The value as netlink carries it: booleans and flags 0/1, enums as the index of the name in
 * abi.enums[keyword] (so protocol A=1, B=2, C=3), u64 numbers as bigint, strings unchanged.
 */
export function kernelValue(def: OptionDef, value: OptionValue): number | bigint | string {
  switch (def.kind) {
    case 'boolean':
    case 'flag':
      return value ? 1 : 0;
    case 'enum': {
      const names = abi.enums[def.keyword] ?? def.values ?? [];
      const index = names.indexOf(String(value));
      if (index < 0) throw new OptionValueError(`${def.keyword}: '${value}' has no kernel value`);
      return index;
    }
    case 'numeric': {
      const field = def.abiSet ? abi.sets[def.abiSet]?.[def.keyword] : undefined;
      return field?.type === 'u64' ? BigInt(value as number) : (value as number);
    }
    case 'string':
      return String(value);
  }
}
