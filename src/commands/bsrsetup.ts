// bsrsetup's command table and what each command runs: drives the bsr kernel module over generic
// netlink (DRBD 9 style object addressing, docs/internals.md). Kernel refusals: `bsrsetup: COMMAND OBJECT: RET_CODE: message`, exit 11.
import { readSync } from 'node:fs';
import type { Command } from 'commander';
import { abi } from '../abi/index.js';
import { CliError, EXIT } from '../common/errors.js';
import { fastSyncSwitchOn, prepareForcedPrimary, prepareVolumeSource } from '../fastsync/prepare.js';
import { openNetlinkSocket } from '../netlink/addon.js';
import { BsrClient, KernelError, ModuleNotLoadedError } from '../netlink/client.js';
import {
  buildRequest,
  MODIFY_COMMANDS,
  type ModifyCommand,
  OPTIONS_INPUT_MAX,
  OPTIONS_ON_STDIN,
  objectName,
  optionsFromInput,
  UsageError,
} from '../netlink/commands.js';
import type { BsrRequest } from '../netlink/messages.js';
import type { StateObject } from '../netlink/objects.js';
import { connectionState, diskState, peerDiskState, replicationState, resourceRole } from '../status/fields.js';
import { followEvents } from '../status/follow.js';
import { buildTree } from '../status/model.js';
import { snapshot } from '../status/query.js';
import { addCommands, type CommandSpec, type ProgramSpec, parseCommandLine, programFor } from './spec.js';
import { modifyCommandOptions, WAIT_OPTIONS } from './tool-options.js';

const PROG = 'bsrsetup';

function usage(command: string, message: string): CliError {
  return new CliError(`${PROG}: ${command}: ${message}`, EXIT.USAGE);
}

/** Explanations for bare errno answers (genetlink's own refusals carry no message). */
const ERRNO_HINTS: Record<number, string> = {
  1: 'changing bsr state needs CAP_NET_ADMIN (run as root)',
  95: 'the loaded bsr module does not implement this command',
};

/** Opens the client, runs `fn`, and maps netlink failures to the promised messages and exit codes. */
async function withClient<T>(command: string, object: string, fn: (c: BsrClient) => T | Promise<T>): Promise<T> {
  let client: BsrClient | undefined;
  try {
    client = BsrClient.open(openNetlinkSocket);
    return await fn(client);
  } catch (e) {
    if (e instanceof ModuleNotLoadedError) throw new CliError(`${PROG}: ${e.message}`, EXIT.NO_MODULE);
    if (e instanceof KernelError) {
      const where = object ? `${command} ${object}` : command;
      const detail = e.detail || (e.errno !== undefined ? ERRNO_HINTS[e.errno] : '') || '';
      throw new CliError(`${PROG}: ${where}: ${e.codeName}${detail ? `: ${detail}` : ''}`, EXIT.KERNEL);
    }
    if (e instanceof UsageError) throw usage(command, e.message);
    throw e;
  } finally {
    client?.close();
  }
}

const notFound = (what: string) => new KernelError('NO_RESOURCE', `no such ${what}`);

/** stdin, refused beyond OPTIONS_INPUT_MAX bytes. */
function readInput(command: string): string {
  const chunks: Buffer[] = [];
  let size = 0;
  const chunk = Buffer.alloc(8192);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, chunk, 0, chunk.length, null);
    } catch (e) {
      // A non-blocking stdin has no data yet: wait briefly and retry.
      if ((e as NodeJS.ErrnoException).code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
        continue;
      }
      if ((e as NodeJS.ErrnoException).code === 'EOF') break;
      throw usage(command, `${OPTIONS_ON_STDIN}: cannot read stdin: ${(e as Error).message}`);
    }
    if (n === 0) break;
    size += n;
    if (size > OPTIONS_INPUT_MAX) throw usage(command, `${OPTIONS_ON_STDIN}: more than ${OPTIONS_INPUT_MAX} bytes`);
    chunks.push(Buffer.from(chunk.subarray(0, n)));
  }
  return Buffer.concat(chunks).toString('utf8');
}

function runModify(spec: ModifyCommand, given: string[]): Promise<number> {
  let req: ReturnType<typeof buildRequest>;
  let argv = given;
  try {
    if (given.includes(OPTIONS_ON_STDIN) && spec.optionSets) {
      argv = [...given.filter((arg) => arg !== OPTIONS_ON_STDIN), ...optionsFromInput(readInput(spec.name))];
    }
    req = buildRequest(spec, argv);
  } catch (e) {
    if (e instanceof UsageError) throw usage(spec.name, e.message);
    throw e;
  }
  const object = objectName(
    spec,
    argv.filter((a) => !a.startsWith('--')),
  );
  return withClient(spec.name, object, (c) => {
    prepareFullSync(c, spec, req);
    const replies = c.request(req);
    if (spec.printsReply) {
      for (const r of replies) {
        const text = r.attrs.CFG_REPLY?.info_text;
        if (typeof text === 'string' && text.trim()) process.stdout.write(`${text.trim()}\n`);
      }
    }
    return EXIT.OK;
  });
}

/**
 * FastSync (docs/fastsync.md): before a command that may start a full sync from this node,
 * check the file system and hand the kernel the map of the blocks it uses; before verify, the
 * same map limits the comparison to those blocks.
 */
function prepareFullSync(c: BsrClient, spec: ModifyCommand, req: BsrRequest) {
  const role = req.attrs?.SET_ROLE_PARMS ?? {};
  const forcedPrimary = spec.cmd === abi.commands.PRIMARY && role.force;
  const fromVolume = spec.cmd === abi.commands.INVAL_PEER || spec.cmd === abi.commands.START_OV;
  if (!forcedPrimary && !fromVolume) return;
  const ctx = req.attrs?.CFG_CONTEXT ?? {};
  const resource = String(ctx.ctx_resource_name ?? '');
  const options = {
    command: spec.name,
    fastSync: fastSyncSwitchOn(),
    say: (line: string) => process.stderr.write(`${PROG}: ${line}\n`),
    without:
      spec.cmd === abi.commands.START_OV
        ? 'verify compares every block'
        : 'a full sync from here copies the whole device',
  };
  if (forcedPrimary) {
    prepareForcedPrimary(c, resource, { ...options, checkFs: !role.skip_check_fs });
  } else {
    prepareVolumeSource(c, resource, Number(ctx.ctx_volume), { ...options, checkFs: false });
  }
}

function print(text: string) {
  process.stdout.write(text);
}

function needInt(command: string, name: string, text: string): number {
  if (!/^\d+$/.test(text)) throw usage(command, `${name} must be a number, not '${text}'`);
  return Number(text);
}

/** Peer devices of one device (same resource and volume), for dstate's "local/peer" form. */
const peersOf = (objs: StateObject[], dev: StateObject) =>
  objs.filter((o) => o.kind === 'peer-device' && o.resource === dev.resource && o.volume === dev.volume);

function modifyCommand(spec: ModifyCommand): CommandSpec {
  return {
    name: spec.name,
    summary: spec.summary,
    args: spec.args.map((name) => ({ name, complete: name === 'RES' ? 'resource' : 'none' })),
    // Computed when help, the man page or completion asks: not at every start.
    get checkedByRun() {
      return modifyCommandOptions(spec);
    },
    anyWords: true,
    run: (...params: unknown[]) => runModify(spec, (params.at(-1) as Command).args),
  };
}

const onResource = (res: string | undefined) => (res === 'all' ? undefined : res);

/** status and show: a snapshot of one resource (RES) or of all, formatted. */
function snapshotCommand(
  name: string,
  format: (tree: ReturnType<typeof buildTree>) => Promise<string>,
): (res: string | undefined) => Promise<number> {
  return (res) =>
    withClient(name, res ?? '', async (c) => {
      const tree = buildTree(snapshot(c, onResource(res)));
      if (res && res !== 'all' && tree.length === 0) throw notFound('resource');
      print(await format(tree));
      return EXIT.OK;
    });
}

type StatusOptions = { verbose?: boolean; statistics?: boolean; json?: boolean };
type EventsOptions = { now?: boolean; timestamps?: boolean; statistics?: boolean; json?: boolean };

function generationIdCommand(name: 'get-gi' | 'show-gi'): CommandSpec {
  return {
    name,
    summary: name === 'get-gi' ? 'print the generation identifiers' : 'explain the generation identifiers',
    args: [{ name: 'RES', complete: 'resource' }, { name: 'PEER_NODE_ID' }, { name: 'VOLUME' }],
    run: (res: string, peerText: string, volText: string) => {
      const peer = needInt(name, 'PEER_NODE_ID', peerText);
      const volume = needInt(name, 'VOLUME', volText);
      return withClient(name, `${res} ${peerText} ${volText}`, async (c) => {
        const objs = snapshot(c, res);
        const dev = objs.find((o) => o.kind === 'device' && o.volume === volume);
        if (!dev) throw new KernelError('NO_MINOR', 'no such volume');
        const pd = objs.find((o) => o.kind === 'peer-device' && o.volume === volume && o.peerNodeId === peer);
        const uuid = dev.msg.attrs.UUID_INFO ?? pd?.msg.attrs.UUID_INFO;
        if (!uuid) throw new KernelError('NO_DISK', 'the kernel reported no generation identifiers (no disk?)');
        const { formatGetGi, formatShowGi } = await import('../status/gi.js');
        const src = { uuid, peerStats: pd?.msg.attrs.PEER_DEVICE_STATISTICS, peerNodeId: peer };
        print(name === 'get-gi' ? formatGetGi(src) : formatShowGi(src));
        return EXIT.OK;
      });
    },
  };
}

/** wait-{connect,sync}-{resource,connection,volume}: RES, RES PEER_NODE_ID, RES PEER_NODE_ID VOLUME */
function waitCommands(): CommandSpec[] {
  return (['connect', 'sync'] as const).flatMap((what) =>
    (
      [
        ['resource', []],
        ['connection', ['PEER_NODE_ID']],
        ['volume', ['PEER_NODE_ID', 'VOLUME']],
      ] as const
    ).map(([scope, extra]): CommandSpec => {
      const name = `wait-${what}-${scope}`;
      return {
        name,
        summary:
          what === 'connect' ? `wait until the ${scope}'s connections are established` : 'wait until no resync runs',
        args: [{ name: 'RES', complete: 'resource' }, ...extra.map((a) => ({ name: a }))],
        options: WAIT_OPTIONS,
        run: (res: string, ...rest: unknown[]) => {
          const ids = (rest.slice(0, extra.length) as string[]).map((t, i) => needInt(name, extra[i], t));
          const o = rest[extra.length] as WaitOptionValues;
          const seconds = (option: string, text: string | undefined) =>
            text === undefined ? undefined : needInt(name, option, text);
          const limits: WaitLimits = {
            wfc: seconds('--wait-timeout', o.waitTimeout) ?? 0,
            degraded: seconds('--degr-wfc-timeout', o.degrWfcTimeout),
            outdated: seconds('--outdated-wfc-timeout', o.outdatedWfcTimeout),
            afterSplitBrain: o.waitAfterSb === true,
          };
          const filter = { peer: ids[0], volume: ids[1] };
          return withClient(name, [res, ...ids].join(' '), (cl) => waitFor(cl, res, what, filter, limits));
        },
      };
    }),
  );
}

export const BSRSETUP: ProgramSpec = {
  name: PROG,
  summary: 'configure the bsr kernel module',
  options: [],
  commands: [
    ...MODIFY_COMMANDS.map(modifyCommand),
    {
      name: 'status',
      summary: 'show the state of resources',
      args: [{ name: 'RES', optional: true, complete: 'resource' }],
      options: [
        { flags: '-v, --verbose', description: 'all fields' },
        { flags: '-s, --statistics', description: 'counters' },
        { flags: '--json', description: 'JSON output' },
      ],
      run: (res: string | undefined, o: StatusOptions) =>
        snapshotCommand('status', async (tree) => {
          const { formatStatus, statusJson } = await import('../status/status.js');
          return o.json ? `${JSON.stringify(statusJson(tree), null, 2)}\n` : formatStatus(tree, o);
        })(res),
    },
    {
      name: 'events2',
      summary: 'print state changes as they happen',
      args: [{ name: 'RES', optional: true, complete: 'resource' }],
      options: [
        { flags: '--now', description: 'print the current state and exit' },
        { flags: '--timestamps', description: 'prefix each line with the time' },
        { flags: '--statistics', description: 'include counters' },
        { flags: '--json', description: 'one JSON object per line' },
      ],
      run: (res: string | undefined, o: EventsOptions) =>
        withClient('events2', res ?? '', (c) => events2(c, onResource(res), o)),
    },
    {
      name: 'show',
      summary: 'show the running configuration',
      args: [{ name: 'RES', optional: true, complete: 'resource' }],
      options: [{ flags: '--show-defaults', description: 'also print options at their default value' }],
      run: (res: string | undefined, o: { showDefaults?: boolean }) =>
        snapshotCommand('show', async (tree) => {
          const { formatShow } = await import('../status/show.js');
          return formatShow(tree, { showDefaults: o.showDefaults });
        })(res),
    },
    {
      name: 'role',
      summary: "print the resource's role",
      args: [{ name: 'RES', complete: 'resource' }],
      run: (res: string) =>
        withClient('role', res, (c) => {
          const r = snapshot(c, res).find((o) => o.kind === 'resource');
          if (!r) throw notFound('resource');
          print(`${resourceRole(r)}\n`);
          return EXIT.OK;
        }),
    },
    {
      name: 'dstate',
      summary: "print the device's disk state (and its peers')",
      args: [{ name: 'MINOR' }],
      run: (minorText: string) => {
        const minor = needInt('dstate', 'MINOR', minorText);
        return withClient('dstate', minorText, (c) => {
          const objs = snapshot(c);
          const dev = objs.find((o) => o.kind === 'device' && o.minor === minor);
          if (!dev) throw new KernelError('NO_MINOR', 'no such device');
          print(`${[diskState(dev), ...peersOf(objs, dev).map(peerDiskState)].join('/')}\n`);
          return EXIT.OK;
        });
      },
    },
    {
      name: 'cstate',
      summary: 'print the connection state',
      args: [{ name: 'RES', complete: 'resource' }, { name: 'PEER_NODE_ID' }],
      run: (res: string, peerText: string) => {
        const peer = needInt('cstate', 'PEER_NODE_ID', peerText);
        return withClient('cstate', `${res} ${peerText}`, (c) => {
          const conn = snapshot(c, res).find((o) => o.kind === 'connection' && o.peerNodeId === peer);
          if (!conn) throw new KernelError('NO_PEER', 'no such connection');
          print(`${connectionState(conn)}\n`);
          return EXIT.OK;
        });
      },
    },
    generationIdCommand('get-gi'),
    generationIdCommand('show-gi'),
    ...waitCommands(),
  ],
};

export async function bsrsetup(argv: string[]): Promise<number> {
  const program = programFor(BSRSETUP).showHelpAfterError('(run bsrsetup --help for the list of commands)');
  let result: number = EXIT.OK;
  addCommands(
    program,
    BSRSETUP,
    argv.find((arg) => !arg.startsWith('-')),
    (code) => {
      result = code as number;
    },
  );
  return (await parseCommandLine(program, expandLongOptions(program, argv))) ?? result;
}

/**
 * getopt_long's abbreviations, which drbdsetup users rely on (the seeds write `events2
 * --timestamp` for --timestamps): a long option of the command written as an unambiguous prefix
 * is spelled out. Commands whose options bsrsetup checks itself (the modify commands) are left as
 * they are.
 */
function expandLongOptions(program: Command, argv: string[]): string[] {
  const at = argv.findIndex((arg) => !arg.startsWith('-'));
  const command = program.commands.find((c) => c.name() === argv[at]);
  if (!command) return argv;
  const longs = command.options.flatMap((o) => (o.long ? [o.long] : []));
  return argv.map((arg, i) => {
    if (i <= at || !arg.startsWith('--') || arg === '--') return arg;
    const [name, ...value] = arg.split('=');
    const fits = longs.filter((long) => long.startsWith(name));
    if (longs.includes(name) || fits.length !== 1) return arg;
    return [fits[0], ...value].join('=');
  });
}

async function events2(
  c: BsrClient,
  res: string | undefined,
  o: { now?: boolean; timestamps?: boolean; statistics?: boolean; json?: boolean },
): Promise<number> {
  let fail: ((e: Error) => void) | undefined;
  const sub = await followEvents(
    c,
    res,
    o,
    (line) => print(`${line}\n`),
    (e) => fail?.(e),
  );
  if (!sub) return EXIT.OK;
  return new Promise<number>((resolve, reject) => {
    const stop = () => {
      sub.close();
      resolve(EXIT.OK);
    };
    fail = (e) => {
      sub.close();
      reject(new CliError(`${PROG}: events2: ${e.message}`, EXIT.FAILURE));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}

type WaitOptionValues = {
  waitTimeout?: string;
  degrWfcTimeout?: string;
  outdatedWfcTimeout?: string;
  waitAfterSb?: boolean;
};

/** How long a wait-* command waits, in seconds (0: forever), as DRBD's startup {} says. */
interface WaitLimits {
  wfc: number;
  /** when a selected peer was lost while this node stayed up (its slot's CONNECTED flag clear) */
  degraded?: number;
  /** when a selected volume's data are Outdated */
  outdated?: number;
  /** whether a connection that goes StandAlone during the wait (split brain) is waited for on */
  afterSplitBrain: boolean;
}

const PEER_CONNECTED_FLAG = abi.metaData.peerFlags.CONNECTED;

/** The limit that applies to the state at the start of a wait: Outdated first, then degraded. */
function waitLimit(all: StateObject[], selected: (o: StateObject) => boolean, limits: WaitLimits): number {
  const outdated = all.some((o) => o.kind === 'device' && selected(o) && diskState(o) === 'Outdated');
  if (outdated && limits.outdated !== undefined) return limits.outdated;
  const lostPeer = all.some(
    (o) =>
      o.kind === 'peer-device' &&
      selected(o) &&
      (Number(o.msg.attrs.PEER_DEVICE_STATISTICS?.peer_dev_flags ?? 0) & PEER_CONNECTED_FLAG) === 0,
  );
  if (lostPeer && limits.degraded !== undefined) return limits.degraded;
  return limits.wfc;
}

/**
 * Waits until the condition holds for the selected connections / peer devices: every connection
 * Connected ("connect"), and for "sync" also no resync running nor about to start (drbdadm's
 * wait-sync: connected and synchronised). The state is read once and then followed through the
 * kernel's notifications, so a long wait costs next to no CPU; a full re-read every 5 s covers a
 * lost notification (socket overrun). A connection that goes StandAlone meanwhile (a split
 * brain, a refused handshake) does not connect by itself: the wait ends there with exit 5,
 * unless limits.afterSplitBrain.
 */
async function waitFor(
  c: BsrClient,
  res: string,
  what: 'connect' | 'sync',
  filter: { peer?: number; volume?: number },
  limits: WaitLimits,
): Promise<number> {
  const { isSyncing, volumeReplicated } = await import('../status/fields.js');
  const { toStateObject } = await import('../netlink/objects.js');
  let deadline: number | undefined;
  const wasConnecting = new Set<string>();
  const selected = (o: StateObject) =>
    (o.kind === 'connection' || o.kind === 'peer-device') &&
    (filter.peer === undefined || o.peerNodeId === filter.peer) &&
    (filter.volume === undefined || o.kind !== 'peer-device' || o.volume === filter.volume);
  const key = (o: StateObject) => `${o.kind}/${o.peerNodeId}/${o.volume}`;
  const objs = new Map<string, StateObject>();
  const reread = () => {
    const all = snapshot(c, res);
    if (!all.some((o) => o.kind === 'resource')) throw notFound('resource');
    objs.clear();
    for (const o of all.filter(selected)) objs.set(key(o), o);
    if (filter.peer !== undefined && !objs.size) throw new KernelError('NO_PEER', 'no such connection');
    if (deadline === undefined) {
      const inScope = (o: StateObject) =>
        o.kind === 'device' ? filter.volume === undefined || o.volume === filter.volume : selected(o);
      const limit = waitLimit(all, inScope, limits);
      deadline = limit > 0 ? Date.now() + limit * 1000 : Number.POSITIVE_INFINITY;
    }
  };
  /** A selected connection seen in another state that has gone StandAlone since, if any. */
  const wentStandAlone = (): StateObject | undefined => {
    for (const o of objs.values()) {
      if (o.kind !== 'connection') continue;
      if (connectionState(o) !== 'StandAlone') wasConnecting.add(key(o));
      else if (wasConnecting.has(key(o))) return o;
    }
    return undefined;
  };
  const done = () => {
    const list = [...objs.values()];
    // Connected is reported before the handshake compares the data (Off until it has decided,
    // and a split brain drops the connection there): connected once every volume both nodes
    // have has decided. A volume only one node has stays Off: bsr.ko says which before
    // Connected (volumeReplicated)
    const undecided = (o: StateObject) =>
      o.kind === 'peer-device' && replicationState(o) === 'Off' && volumeReplicated(o);
    const connected =
      list.filter((o) => o.kind === 'connection').every((o) => connectionState(o) === 'Connected') &&
      !list.some(undecided);
    if (what === 'connect' || !connected) return connected;
    return !list.some((o) => o.kind === 'peer-device' && (isSyncing(o) || replicationStarting(o)));
  };
  return new Promise<number>((resolve, reject) => {
    let lost = false;
    const finish = (f: () => void) => {
      clearInterval(timer);
      sub.close();
      f();
    };
    const check = () => {
      try {
        if (lost) reread();
        lost = false;
        const standAlone = limits.afterSplitBrain ? undefined : wentStandAlone();
        if (done()) finish(() => resolve(EXIT.OK));
        else if (standAlone) {
          const peer = standAlone.peerNodeId;
          process.stderr.write(
            `${PROG}: ${res}: the connection to peer ${peer} went StandAlone (split brain?): not waiting on (--wait-after-sb would)\n`,
          );
          finish(() => resolve(5));
        } else if (Date.now() > (deadline ?? Number.POSITIVE_INFINITY)) {
          finish(() => resolve(5)); // DRBD's exit code for a wait that timed out
        }
      } catch (e) {
        finish(() => reject(e));
      }
    };
    // Subscribed before the first read: a change during the read is seen afterwards.
    const sub = c.subscribe(
      (msg) => {
        const o = toStateObject(msg);
        if (!o || o.resource !== res) return;
        if (o.kind === 'resource' && o.action === 'destroy') return finish(() => reject(notFound('resource')));
        if (!selected(o)) return;
        if (o.action === 'destroy') objs.delete(key(o));
        else objs.set(key(o), o);
        check();
      },
      () => {
        lost = true;
      },
    );
    let ticks = 0;
    const timer = setInterval(() => {
      if (++ticks % 5 === 0) lost = true;
      check();
    }, 1000);
    lost = true;
    check();
  });
}

/**
 * The replication states that come right before a resync. Off under a Connected connection: the
 * handshake has not decided yet (the kernel reports Connected before it compares the UUIDs).
 */
const STARTING = new Set(['Off', 'StartingSyncS', 'StartingSyncT', 'WFBitMapS', 'WFBitMapT', 'WFSyncUUID']);
const replicationStarting = (o: StateObject): boolean => STARTING.has(replicationState(o));
