// The bsrsetup commands that change kernel state: positional arguments and `--name=value`
// options turned into one netlink request (docs/internals.md, "Object addressing").
import { abi, resourceNameProblem } from '../abi/index.js';
import { parseSize } from '../common/units.js';
import { type AbiOptionSet, kernelValue, OptionValueError, optionsOfSet, parseOptionValue } from '../config/options.js';
import { encodeSockaddr, parseAddress, scopeIndex } from './address.js';
import type { SetValues, TopAttrs, TopName } from './attrs.js';
import type { BsrRequest } from './messages.js';

export type ArgKind =
  | 'RES'
  | 'NODE_ID'
  | 'MINOR'
  | 'VOLUME'
  | 'PEER_NODE_ID'
  | 'LOWER_DEV'
  | 'META_DEV'
  | 'META_IDX'
  | 'MY_ADDR'
  | 'PEER_ADDR';

/** A command-specific option (not from the config option table). */
interface Param {
  top: TopName;
  field: string;
  kind: 'flag' | 'int' | 'sectors';
}

export interface ModifyCommand {
  name: string;
  cmd: number;
  args: ArgKind[];
  /** Config options the command accepts, by the ABI set that carries them. */
  optionSets?: AbiOptionSet[];
  params?: Record<string, Param>;
  summary: string;
  /** Print the kernel's reply text on success: what it decided (apply-persist-role). */
  printsReply?: boolean;
}

const C = abi.commands;
const flagParam = (top: TopName, field: string): Param => ({ top, field, kind: 'flag' });
const CONN = ['RES', 'PEER_NODE_ID'] as ArgKind[];
const PEER_DEV = ['RES', 'PEER_NODE_ID', 'VOLUME'] as ArgKind[];
const PATH = ['RES', 'PEER_NODE_ID', 'MY_ADDR', 'PEER_ADDR'] as ArgKind[];

export const MODIFY_COMMANDS: ModifyCommand[] = [
  {
    name: 'new-resource',
    cmd: C.NEW_RESOURCE,
    args: ['RES', 'NODE_ID'],
    optionSets: ['res_opts'],
    summary: 'create a resource',
  },
  {
    name: 'resource-options',
    cmd: C.RESOURCE_OPTS,
    args: ['RES'],
    optionSets: ['res_opts'],
    summary: 'change resource options',
  },
  { name: 'node-options', cmd: C.NODE_OPTS, args: ['RES'], optionSets: ['node_opts'], summary: 'change node options' },
  { name: 'new-minor', cmd: C.NEW_MINOR, args: ['RES', 'MINOR', 'VOLUME'], summary: 'create a device (/dev/bsrMINOR)' },
  { name: 'del-minor', cmd: C.DEL_MINOR, args: ['MINOR'], summary: 'delete a device' },
  { name: 'del-resource', cmd: C.DEL_RESOURCE, args: ['RES'], summary: 'delete a resource' },
  { name: 'new-peer', cmd: C.NEW_PEER, args: CONN, optionSets: ['net_conf'], summary: 'create a connection' },
  { name: 'net-options', cmd: C.CHG_NET_OPTS, args: CONN, optionSets: ['net_conf'], summary: 'change net options' },
  { name: 'del-peer', cmd: C.DEL_PEER, args: CONN, summary: 'delete a connection' },
  { name: 'new-path', cmd: C.NEW_PATH, args: PATH, summary: 'add a network path to a connection' },
  { name: 'del-path', cmd: C.DEL_PATH, args: PATH, summary: 'remove a network path' },
  // --tentative / --discard-my-data are net_conf flags (as in DRBD 9); the kernel reads them, and
  // any other net option given here, from NET_CONF.
  { name: 'connect', cmd: C.CONNECT, args: CONN, optionSets: ['net_conf'], summary: 'connect to a peer' },
  {
    name: 'disconnect',
    cmd: C.DISCONNECT,
    args: CONN,
    params: { force: flagParam('DISCONNECT_PARMS', 'force_disconnect') },
    summary: 'disconnect from a peer',
  },
  {
    name: 'attach',
    cmd: C.ATTACH,
    args: ['MINOR', 'LOWER_DEV', 'META_DEV', 'META_IDX'],
    optionSets: ['disk_conf'],
    summary: 'attach the lower device and its meta data',
  },
  {
    name: 'disk-options',
    cmd: C.CHG_DISK_OPTS,
    args: ['MINOR'],
    optionSets: ['disk_conf'],
    summary: 'change disk options',
  },
  {
    name: 'peer-device-options',
    cmd: C.CHG_PEER_DEVICE_OPTS,
    args: PEER_DEV,
    optionSets: ['peer_device_conf'],
    summary: 'change peer device options',
  },
  {
    name: 'detach',
    cmd: C.DETACH,
    args: ['MINOR'],
    params: { force: flagParam('DETACH_PARMS', 'force_detach') },
    summary: 'detach the lower device',
  },
  {
    name: 'primary',
    cmd: C.PRIMARY,
    args: ['RES'],
    params: {
      force: flagParam('SET_ROLE_PARMS', 'force'),
      'skip-check-fs': flagParam('SET_ROLE_PARMS', 'skip_check_fs'),
    },
    summary: 'promote to Primary',
  },
  { name: 'secondary', cmd: C.SECONDARY, args: ['RES'], summary: 'demote to Secondary' },
  {
    name: 'new-current-uuid',
    cmd: C.NEW_C_UUID,
    args: ['MINOR'],
    params: { 'clear-bitmap': flagParam('NEW_C_UUID_PARMS', 'clear_bm') },
    summary: 'generate a new current UUID',
  },
  {
    name: 'invalidate',
    cmd: C.INVALIDATE,
    args: ['MINOR'],
    params: { 'sync-from-peer-node-id': { top: 'INVALIDATE_PARMS', field: 'sync_from_peer_node_id', kind: 'int' } },
    summary: 'discard local data and resync from a peer',
  },
  { name: 'invalidate-remote', cmd: C.INVAL_PEER, args: PEER_DEV, summary: "resync the peer's data from here" },
  { name: 'pause-sync', cmd: C.PAUSE_SYNC, args: PEER_DEV, summary: 'pause resynchronization' },
  { name: 'resume-sync', cmd: C.RESUME_SYNC, args: PEER_DEV, summary: 'resume resynchronization' },
  {
    name: 'verify',
    cmd: C.START_OV,
    args: PEER_DEV,
    params: {
      start: { top: 'START_OV_PARMS', field: 'ov_start_sector', kind: 'sectors' },
      stop: { top: 'START_OV_PARMS', field: 'ov_stop_sector', kind: 'sectors' },
      'auto-sync': flagParam('START_OV_PARMS', 'auto_sync'),
    },
    summary: 'start online verification',
  },
  { name: 'verify-stop', cmd: C.STOP_OV, args: PEER_DEV, summary: 'stop online verification' },
  { name: 'suspend-io', cmd: C.SUSPEND_IO, args: ['MINOR'], summary: 'suspend I/O' },
  { name: 'resume-io', cmd: C.RESUME_IO, args: ['MINOR'], summary: 'resume I/O' },
  { name: 'outdate', cmd: C.OUTDATE, args: ['MINOR'], summary: 'mark the local data Outdated' },
  {
    name: 'resize',
    cmd: C.RESIZE,
    args: ['MINOR'],
    params: {
      size: { top: 'RESIZE_PARMS', field: 'resize_size', kind: 'sectors' },
      'assume-clean': flagParam('RESIZE_PARMS', 'no_resync'),
    },
    summary: 'resize the device',
  },
  { name: 'forget-peer', cmd: C.FORGET_PEER, args: CONN, summary: "drop a peer's bitmap slot" },
  { name: 'down', cmd: C.DOWN, args: ['RES'], summary: 'take the resource down' },
  {
    name: 'apply-persist-role',
    cmd: C.APPLY_PERSIST_ROLE,
    args: ['RES'],
    summary: 'with persist-role yes, promote again a resource last set Primary (meta-data flag WAS_PRIMARY)',
    printsReply: true,
  },
];

/** Commands whose options replace the current ones: `--set-defaults` resets the others. */
export const SET_DEFAULTS_OK = new Set([
  'resource-options',
  'node-options',
  'net-options',
  'disk-options',
  'peer-device-options',
]);

export class UsageError extends Error {}

/**
 * The option of every command that takes options which reads more `--name=value` options from
 * stdin, each ended by a NUL: bsradm passes secrets (--shared-secret) this way, since any user
 * can read a command line in `ps`.
 */
export const OPTIONS_ON_STDIN = '--options-on-stdin';
/** More than any set of options needs: a runaway input is refused, not read to the end. */
export const OPTIONS_INPUT_MAX = 64 * 1024;

/** The options of an --options-on-stdin input: `--name=value` records, each ended by a NUL. */
export function optionsFromInput(input: string): string[] {
  if (input === '') return [];
  if (!input.endsWith('\0')) throw new UsageError(`${OPTIONS_ON_STDIN}: each option must end with a NUL byte`);
  const records = input.slice(0, -1).split('\0');
  const bad = records.find((r) => !/^--[a-z][\w-]*(=|$)/.test(r));
  if (bad !== undefined) throw new UsageError(`${OPTIONS_ON_STDIN}: '${bad.split('=')[0]}' is not an option`);
  return records;
}

/** Splits argv into positionals and options (`--name=value`, bare `--flag`). */
export function splitArgs(argv: string[]): { positionals: string[]; options: Array<[string, string | undefined]> } {
  const positionals: string[] = [];
  const options: Array<[string, string | undefined]> = [];
  for (const a of argv) {
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      options.push(eq < 0 ? [a.slice(2), undefined] : [a.slice(2, eq), a.slice(eq + 1)]);
    } else positionals.push(a);
  }
  return { positionals, options };
}

function intArg(kind: string, text: string, min: number, max: number): number {
  if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`${kind} must be a number from ${min} to ${max}, not '${text}'`);
  }
  return Number(text);
}

/** META_IDX as the kernel's meta_dev_idx: internal -1, flexible -2, N >= 0. */
export function metaIndex(text: string): number {
  if (text === 'internal') return -1;
  if (text === 'flexible') return -2;
  if (/^\d+$/.test(text) && Number(text) <= 0x7fffffff) return Number(text);
  throw new UsageError(`META_IDX must be internal, flexible or a number, not '${text}'`);
}

function flagValue(name: string, text: string | undefined): number {
  if (text === undefined || /^(yes|on|true|1)$/i.test(text)) return 1;
  if (/^(no|off|false|0)$/i.test(text)) return 0;
  throw new UsageError(`--${name}: expected yes or no, not '${text}'`);
}

function paramValue(name: string, p: Param, text: string | undefined): number | bigint {
  const field = abi.sets[abi.topAttributes[p.top]?.set ?? '']?.[p.field];
  if (p.kind === 'flag') {
    const value = flagValue(name, text);
    // the ABI marks what bsr.ko does not implement yet: only the default is taken (as for options)
    if (field?.unimplemented && value !== field.default) throw new UsageError(`--${name}: not implemented by bsr yet`);
    return value;
  }
  if (text === undefined) throw new UsageError(`--${name} needs a value (--${name}=VALUE)`);
  if (p.kind === 'int') return intArg(`--${name}`, text, 0, 0x7fffffff);
  // Sectors: a bare number is sectors, a suffixed one bytes (K/M/G), as in the config.
  const sectors = parseSize(text, 512);
  if (sectors === undefined) throw new UsageError(`--${name}: '${text}' is not a size`);
  return BigInt(sectors);
}

const TOP_OF_SET = new Map<string, TopName>(
  Object.entries(abi.topAttributes).map(([name, t]) => [t.set, name as TopName]),
);

/** The arguments that name the object, for error messages (`primary r0`, `attach 1`). */
export function objectName(spec: ModifyCommand, positionals: string[]): string {
  const identity: ArgKind[] = ['RES', 'MINOR', 'PEER_NODE_ID', 'VOLUME'];
  return spec.args
    .map((kind, i) => (identity.includes(kind) ? positionals[i] : undefined))
    .filter((x): x is string => x !== undefined)
    .join(' ');
}

export function buildRequest(spec: ModifyCommand, argv: string[]): BsrRequest {
  const { positionals, options } = splitArgs(argv);
  if (positionals.length !== spec.args.length) {
    throw new UsageError(
      `expected ${spec.args.join(' ')}${positionals.length > spec.args.length ? ', got extra arguments' : ''}`,
    );
  }
  const attrs: TopAttrs = {};
  const put = (top: TopName, field: string, value: SetValues[string]) => {
    const set = attrs[top] ?? {};
    set[field] = value;
    attrs[top] = set;
  };
  const req: BsrRequest = { cmd: spec.cmd, attrs };
  spec.args.forEach((kind, i) => {
    const text = positionals[i];
    switch (kind) {
      case 'RES': {
        const problem = resourceNameProblem(text);
        if (problem) throw new UsageError(`invalid resource name '${text}': ${problem}`);
        put('CFG_CONTEXT', 'ctx_resource_name', text);
        break;
      }
      case 'NODE_ID':
        put('RESOURCE_OPTS', 'node-id', intArg('NODE_ID', text, 0, abi.metaData.maxPeers - 1));
        break;
      case 'MINOR':
        req.minor = intArg('MINOR', text, 0, 0xfffff);
        break;
      case 'VOLUME':
        put('CFG_CONTEXT', 'ctx_volume', intArg('VOLUME', text, 0, 65535));
        break;
      case 'PEER_NODE_ID': {
        const id = intArg('PEER_NODE_ID', text, 0, abi.metaData.maxPeers - 1);
        put('CFG_CONTEXT', 'ctx_peer_node_id', id);
        if (spec.cmd === C.FORGET_PEER) put('FORGET_PEER_PARMS', 'forget_peer_node_id', id);
        break;
      }
      case 'LOWER_DEV':
        put('ATTACH_PARMS', 'backing_dev', text);
        break;
      case 'META_DEV':
        put('ATTACH_PARMS', 'meta_dev', text);
        break;
      case 'META_IDX':
        put('ATTACH_PARMS', 'meta_dev_idx', metaIndex(text));
        break;
      case 'MY_ADDR':
      case 'PEER_ADDR': {
        const a = parseAddress(text);
        if (!a) throw new UsageError(`invalid address '${text}' (expected ipv4:A.B.C.D:PORT or ipv6:[ADDR]:PORT)`);
        const scopeId = a.scope === undefined ? 0 : scopeIndex(a.scope);
        if (scopeId === undefined) throw new UsageError(`${text}: no network interface '${a.scope}'`);
        put('PATH_PARMS', kind === 'MY_ADDR' ? 'my_addr' : 'peer_addr', encodeSockaddr(a, scopeId));
        break;
      }
    }
  });
  for (const [name, text] of options) {
    if (name === 'set-defaults' && SET_DEFAULTS_OK.has(spec.name)) {
      req.flags = (req.flags ?? 0) | abi.genl.headerFlags.BSR_GENL_F_SET_DEFAULTS;
      continue;
    }
    const param = spec.params?.[name];
    if (param) {
      put(param.top, param.field, paramValue(name, param, text));
      continue;
    }
    const def = spec.optionSets?.flatMap((s) => optionsOfSet(s)).find((d) => d.keyword === name);
    if (!def?.abiSet) throw new UsageError(`unknown option --${name}`);
    const top = TOP_OF_SET.get(def.abiSet);
    if (!top) throw new UsageError(`option --${name} has no netlink attribute`);
    try {
      const raw = text ?? (def.kind === 'flag' || def.kind === 'boolean' ? 'yes' : undefined);
      if (raw === undefined) throw new UsageError(`--${name} needs a value (--${name}=VALUE)`);
      put(top, def.keyword, kernelValue(def, parseOptionValue(def, raw)));
    } catch (e) {
      if (e instanceof OptionValueError) throw new UsageError(e.message);
      throw e;
    }
  }
  return req;
}
