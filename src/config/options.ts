// The one list of configuration options. The config parser, the zod schema, bsradm's planner and
// bsrsetup's `--name=value` -> netlink mapping all read this table; nothing else lists options.
import { abi, abiField, netlinkDefault } from '../abi/index';

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
  /** Why any value is refused: bsr does not act on this keyword yet. */
  notRun?: string;
  /** Only given when attaching; changed later through `resize`, not through disk-options. */
  attachOnly?: boolean;
  /**
   * In a config file the value names a volume, `RES` or `RES/VOL`, as in drbdadm; the model turns
   * it into that volume's minor on the same host, the number bsrsetup and the kernel take.
   */
  namesVolume?: boolean;
  /**
   * In a config file the value may also be PREFIX + a host name of the connection (drbdadm's
   * `discard-node-NODENAME`); the model turns it into the enum's local or remote value for each
   * side of the connection.
   */
  namesHost?: { prefix: string; local: string; remote: string };
  /** What the option does, for the man page, where the value alone does not say it. */
  help?: string;
  /** A string option's format: how help and the man page describe it, and the check of a value. */
  format?: { describe: string; problem: (raw: string) => string | undefined };
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

/** An option only the tools use (no netlink set): its default and range are the tools' own. */
function numeric(
  keyword: string,
  section: OptionSection,
  unit: OptionUnit,
  defaultValue: number,
  min: number,
  max: number,
): OptionDef {
  return { keyword, section, kind: 'numeric', unit, default: String(defaultValue), min, max };
}

function boolean(keyword: string, section: OptionSection, dflt: boolean): OptionDef {
  return { keyword, section, kind: 'boolean', default: dflt ? 'yes' : 'no' };
}

function text(keyword: string, section: OptionSection): OptionDef {
  return { keyword, section, kind: 'string' };
}

function flag(keyword: string, section: OptionSection, abiSet?: AbiOptionSet): OptionDef {
  return { keyword, section, abiSet, kind: 'flag' };
}

const UNITS: readonly OptionUnit[] = ['bytes', 'KiB', 'KiB/s', 'sectors', 'ms', 's', '0.1s', 'count'];

/**
 * An option the kernel carries: its kind follows from the ABI type (string, u8 a boolean, a u32
 * named like an ABI enum an enum, else a number) and its default, range and unit are bsr-abi.json's.
 */
function kernelOption(keyword: string, section: OptionSection, abiSet: AbiOptionSet): OptionDef {
  const field = abiField(abiSet, keyword);
  const dflt = netlinkDefault(abiSet, keyword);
  const base = { keyword, section, abiSet };
  if (field.type === 'string') return { ...base, kind: 'string', default: dflt ? String(dflt) : undefined };
  if (field.type === 'u8') return { ...base, kind: 'boolean', default: dflt ? 'yes' : 'no' };
  const names = abi.enums[keyword];
  if (names) {
    // The ABI enum is the list of names and their wire numbers; "_" marks an unused slot.
    const values = names.filter((v) => v !== '_');
    return { ...base, kind: 'enum', default: names[Number(dflt)], values };
  }
  const unit = UNITS.find((u) => u === field.unit);
  if (!unit || field.min === undefined || field.max === undefined) {
    throw new Error(`bsr-abi.json: ${abiSet} ${keyword} needs min, max and a unit (one of ${UNITS.join(', ')})`);
  }
  const numericDefault = dflt === undefined ? undefined : String(dflt);
  return { ...base, kind: 'numeric', unit, default: numericDefault, min: field.min, max: field.max };
}

/** Handler names: `handlers {}` keywords, and the bsradm commands the kernel runs them through. */
export const HANDLERS = Object.keys(abi.handlers);

/**
 * The handlers bsr.ko runs (through its usermode helper, `bsradm NAME RES`). The other names of
 * HANDLERS are refused in a config file until it does: a handler configured and never run would
 * be an option silently ignored.
 */
export const HANDLERS_RUN = HANDLERS.filter((name) => abi.handlers[name]);

/** resync-ratio: each number of REPL:RESYNC from 1 to this (bsr.ko's BSR_RATIO_MAX). */
export const RATIO_MAX = 10000;
/** resync-ratio: the longest text bsr.ko reads (BSR_RATIO_LEN less its NUL), "10000:10000". */
const RATIO_CHARS = 11;

/**
 * resync-ratio `REPL:RESYNC` as bsr.ko reads it: the two numbers, or undefined when the text is not
 * two whole numbers from 1 to RATIO_MAX around one colon (an empty text is no ratio: unset).
 */
export function parseRatio(raw: string): { repl: number; resync: number } | undefined {
  const m = /^(\d+):(\d+)$/.exec(raw);
  if (!m || raw.length > RATIO_CHARS) return undefined;
  const [repl, resync] = [Number(m[1]), Number(m[2])];
  const ok = (n: number) => n >= 1 && n <= RATIO_MAX;
  return ok(repl) && ok(resync) ? { repl, resync } : undefined;
}

const RESYNC_RATIO_FORMAT = {
  describe: `REPL:RESYNC, two whole numbers 1 .. ${RATIO_MAX} (e.g. 3:1), or "" for none`,
  problem: (raw: string) =>
    raw === '' || parseRatio(raw)
      ? undefined
      : `resync-ratio: '${raw}' is not REPL:RESYNC (two whole numbers 1 .. ${RATIO_MAX}, e.g. 3:1)`,
};

const disk = (keyword: string) => kernelOption(keyword, 'disk', 'disk_conf');
const peerDevice = (keyword: string) => kernelOption(keyword, 'peer-device', 'peer_device_conf');
const net = (keyword: string) => kernelOption(keyword, 'net', 'net_conf');
const resource = (keyword: string) => kernelOption(keyword, 'resource', 'res_opts');

export const OPTIONS: readonly OptionDef[] = [
  // global {}
  { keyword: 'usage-count', section: 'global', kind: 'enum', default: 'no', values: ['yes', 'no', 'ask'] },
  numeric('minor-count', 'global', 'count', 32, 1, 255),
  numeric('dialog-refresh', 'global', 's', 1, 0, 600),
  flag('disable-ip-verification', 'global'),
  flag('udev-always-use-vnr', 'global'),
  numeric('cmd-timeout-short', 'global', 's', 5, 0, 3600),
  numeric('cmd-timeout-medium', 'global', 's', 121, 0, 3600),
  numeric('cmd-timeout-long', 'global', 's', 600, 0, 3600),
  text('hostname', 'global'),

  // disk {}: disk options (attach / disk-options); defaults, ranges and units from bsr-abi.json
  { ...disk('size'), attachOnly: true },
  disk('on-io-error'),
  disk('max-passthrough-count'),
  disk('disk-flushes'),
  disk('disk-barrier'),
  disk('disk-drain'),
  disk('md-flushes'),
  {
    ...disk('resync-after'),
    namesVolume: true,
    help: 'RES or RES/VOL: this volume resyncs only while that one (and what it waits for) does not; the minor on the wire',
  },
  disk('al-extents'),
  disk('al-updates'),
  disk('discard-zeroes-if-aligned'),
  disk('disable-write-same'),
  disk('disk-timeout'),
  disk('read-balancing'),
  disk('rs-discard-granularity'),

  // disk {}: peer-device options (peer-device-options), resync controller
  peerDevice('resync-rate'),
  peerDevice('c-plan-ahead'),
  peerDevice('c-delay-target'),
  peerDevice('c-fill-target'),
  peerDevice('c-max-rate'),
  {
    ...peerDevice('c-min-rate'),
    help:
      'the floor of the dynamic controller, and the application-I/O throttle: while the application does ' +
      'I/O on the volume on either node (reads or writes on the node that paces the resync, writes ' +
      'replicated from a peer, the I/O the other node reports), the resync and online verify run at ' +
      'this rate at most; 0 turns the throttle off. While it holds them back, status and events2 show ' +
      'resync-throttled:yes on that peer device of the node that paces them',
  },
  peerDevice('ov-req-num'),
  peerDevice('ov-req-interval'),
  {
    ...peerDevice('resync-ratio'),
    format: RESYNC_RATIO_FORMAT,
    help:
      'while the application I/O throttle holds the resync back, the resync may still take RESYNC/REPL ' +
      'of the application writes replicated on this connection (3:1: a third of them, a quarter of ' +
      'the traffic the two share), never less than c-min-rate; with c-min-rate 0 the ratio alone ' +
      'limits the resync while writes are replicated',
  },

  // net {}
  { ...net('_name'), notInConfig: true },
  net('protocol'),
  net('timeout'),
  net('max-epoch-size'),
  net('connect-int'),
  net('ping-int'),
  net('ping-timeout'),
  net('sndbuf-size'),
  net('rcvbuf-size'),
  net('ko-count'),
  net('max-buffers'),
  { ...net('allow-two-primaries'), refused: { value: 'yes', reason: 'bsr does not support two primaries' } },
  net('cram-hmac-alg'),
  net('shared-secret'),
  net('data-integrity-alg'),
  net('csums-alg'),
  net('verify-alg'),
  net('csums-after-crash-only'),
  {
    ...net('after-sb-0pri'),
    namesHost: { prefix: 'discard-node-', local: 'discard-local', remote: 'discard-remote' },
  },
  net('after-sb-1pri'),
  net('after-sb-2pri'),
  net('rr-conflict'),
  net('always-asbp'),
  net('tcp-cork'),
  net('on-congestion'),
  net('congestion-fill'),
  net('congestion-extents'),
  net('congestion-highwater'),
  net('use-rle'),
  net('socket-check-timeout'),
  net('fencing'),
  net('transport'),
  { ...flag('discard-my-data', 'net', 'net_conf'), notInConfig: true },
  { ...flag('tentative', 'net', 'net_conf'), notInConfig: true },

  // options {}: resource options (new-resource / resource-options)
  resource('cpu-mask'),
  resource('on-no-data-accessible'),
  resource('max-io-depth'),
  resource('persist-role'),
  resource('fast-sync'),
  resource('twopc-timeout'),
  resource('peer-ack-window'),
  resource('peer-ack-delay'),
  { ...resource('node-id'), notInConfig: true },

  // options {} or on HOST { options {} }: node options. The service's own two (bsr.service, see
  // packaging/systemd/bsr-service) stay in the tools; target-only goes to the kernel (node-options).
  boolean('svc-auto-up', 'node', true),
  boolean('svc-auto-down', 'node', true),
  kernelOption('target-only', 'node', 'node_opts'),

  // startup {}: read by bsradm wait-connect and the service
  numeric('wfc-timeout', 'startup', 's', 0, 0, 300000),
  numeric('degr-wfc-timeout', 'startup', 's', 0, 0, 300000),
  numeric('outdated-wfc-timeout', 'startup', 's', 0, 0, 300000),
  flag('wait-after-sb', 'startup'),

  // handlers {}: commands the kernel runs through the helper
  ...HANDLERS.map((keyword) => ({
    ...text(keyword, 'handlers'),
    ...(HANDLERS_RUN.includes(keyword)
      ? {}
      : { notRun: `bsr.ko does not run this handler yet (it runs ${HANDLERS_RUN.join(', ')})` }),
  })),
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
      return def.format ? def.format.describe : `text${dflt}`;
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
      if (!def.values?.includes(raw) && !(def.namesHost && raw.startsWith(def.namesHost.prefix))) {
        const byHost = def.namesHost ? `, ${def.namesHost.prefix}NODENAME` : '';
        throw new OptionValueError(`${def.keyword}: '${raw}' is not one of ${def.values?.join(', ')}${byHost}`);
      }
      value = raw;
      break;
    case 'string': {
      // The ABI's max counts the terminating NUL, as the kernel's NLA_NUL_STRING policy does.
      const max = def.abiSet ? abi.sets[def.abiSet]?.[def.keyword]?.max : undefined;
      if (max !== undefined && Buffer.byteLength(raw) >= max) {
        throw new OptionValueError(`${def.keyword}: longer than ${max - 1} bytes (the kernel's limit)`);
      }
      const problem = def.format?.problem(raw);
      if (problem) throw new OptionValueError(problem);
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
  if (def.notRun) throw new OptionValueError(`${def.keyword}: ${def.notRun}`);
  if (def.refused && formatOptionValue(def, value) === def.refused.value) {
    throw new OptionValueError(`${def.keyword} ${def.refused.value}: ${def.refused.reason}`);
  }
  const unimplemented = unimplementedDefault(def);
  const given = formatOptionValue(def, value);
  const field = def.abiSet ? abi.sets[def.abiSet]?.[def.keyword] : undefined;
  if (field?.unimplementedValues?.includes(given)) {
    throw new OptionValueError(`${def.keyword} ${given}: not implemented by bsr yet`);
  }
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
  if (!field?.unimplemented) return undefined;
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
