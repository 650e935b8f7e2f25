// bsradm: reads /etc/bsr.conf and turns each command into bsrsetup/bsrmeta steps, printed (-d) or run.
// Its command table, and what each command runs.
// Start-up matters (the service calls bsradm per resource): only what a command needs is loaded,
// and pino only when a step is actually run and logged.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { version } from '../../package.json';
import { abi } from '../abi/index';
import { childProcess } from '../common/child-process';
import { CliError, ConfigError, EXIT } from '../common/errors';
import { logError, logInfo } from '../common/log';
import { configToJson, dumpConfig, dumpXml } from '../config/dump';
import { loadConfig } from '../config/index';
import { type LocalResource, localHostName, selectResources, verifyLocalAddresses } from '../config/local';
import type { BsrConfig } from '../config/model';
import { defaultValue, findOption, formatOptionValue, HANDLERS } from '../config/options';
import { parseRunningState } from '../config/show';
import { MODIFY_COMMANDS } from '../netlink/commands';
import { planAdjust } from '../planner/adjust';
import { refusedStep } from '../planner/check';
import { makeTarget, PLANNERS, persistRoleSteps, planCommand, type Target } from '../planner/commands';
import {
  formatStep,
  maskedStep,
  metaDevice,
  metaIndex,
  type Step,
  secretsOffCommandLine,
  type TimeoutOption,
  timeoutOption,
} from '../planner/steps';
import { BSRMETA_OPTIONS } from './bsrmeta-options';
import {
  addCommands,
  type CommandSpec,
  type OptionSpec,
  optionName,
  type ProgramSpec,
  parseCommandLine,
  programFor,
  takesValue,
} from './spec';
import { modifyCommandOptions, WAIT_OPTIONS } from './tool-options';

/** bsradm's own options, read once from the command line and passed down. */
interface GlobalOptions {
  dryRun?: boolean;
  configFile: string;
  verbose?: boolean;
  bsrsetup?: string;
  bsrmeta?: string;
  peer?: string;
}

const DEFAULT_CONFIG = '/etc/bsr.conf';

const GLOBAL_OPTIONS: OptionSpec[] = [
  { flags: '-d, --dry-run', description: 'print the bsrsetup/bsrmeta steps instead of running them' },
  { flags: '-c, --config-file <file>', description: 'configuration file', default: DEFAULT_CONFIG },
  { flags: '-v, --verbose', description: 'print each step before running it' },
  { flags: '-s, --bsrsetup <path>', description: 'bsrsetup program to run' },
  { flags: '-m, --bsrmeta <path>', description: 'bsrmeta program to run' },
  { flags: '-P, --peer <peer>', description: 'only the connection to this peer (host name or node-id)' },
  { flags: '-V, --version', description: 'print the version as KEY=VALUE lines (also /V)' },
];

/** The global options, as a command's action sees them (its parent is the program). */
const globalsOf = (command: Command): GlobalOptions => (command.parent ?? command).opts<GlobalOptions>();

/** bsradm's commands that run bsrmeta: their options are bsrmeta's. */
const META_COMMANDS = new Set(['create-md', 'dump-md', 'wipe-md', 'apply-al', 'check-resize']);
/** bsradm commands whose options go to a bsrsetup command of another name. */
const SETUP_COMMAND_OF: Record<string, string> = {
  up: 'connect',
  'wait-connect': 'wait-connect-resource',
  'wait-sync': 'wait-sync-resource',
};
const MODIFY_BY_NAME = new Map(MODIFY_COMMANDS.map((spec) => [spec.name, spec]));

/** The options bsradm passes on to the tool a command runs: documented, completed, not checked here. */
function passedOn(command: string): OptionSpec[] {
  if (META_COMMANDS.has(command)) return BSRMETA_OPTIONS;
  const setupCommand = SETUP_COMMAND_OF[command] ?? command;
  if (setupCommand.startsWith('wait-')) return WAIT_OPTIONS;
  const spec = MODIFY_BY_NAME.get(setupCommand);
  return spec ? modifyCommandOptions(spec) : [];
}

/**
 * Pass-through options that take a separate value (`--max-peers 3`): the tools' own options that
 * take one (not the option table's, written `--name=VALUE`).
 */
const VALUE_FLAGS = new Set([
  ...MODIFY_COMMANDS.flatMap((spec) =>
    Object.entries(spec.params ?? {}).flatMap(([name, p]) => (p.kind === 'flag' ? [] : [`--${name}`])),
  ),
  ...[...BSRMETA_OPTIONS, ...WAIT_OPTIONS].filter(takesValue).map(optionName),
]);

async function config(g: GlobalOptions): Promise<BsrConfig> {
  const file = g.configFile;
  if (!file.endsWith('.json')) return loadConfig(file);
  // A model saved by `dump --json`; zod is loaded only here.
  const { configFromJson } = await import('../config/schema');
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(file, 1, `cannot read JSON: ${(err as Error).message}`);
  }
  return configFromJson(json, file);
}

/** `RES`, `RES/VOL`, `all` -> targets seen from this node; pass-through flags split off. */
function splitArguments(words: string[]): { names: string[]; flags: string[] } {
  const names: string[] = [];
  const flags: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i];
    if (!word.startsWith('-')) names.push(word);
    else if (VALUE_FLAGS.has(word) && i + 1 < words.length) flags.push(`${word}=${words[++i]}`);
    else flags.push(word);
  }
  return { names, flags };
}

function targets(cfg: BsrConfig, names: string[], peer: string | undefined, command = ''): Target[] {
  const byResource = new Map<string, number | undefined>();
  for (const name of names) {
    const [resource, volume] = name.split('/');
    if (volume !== undefined && !/^\d+$/.test(volume)) throw new CliError(`bad volume in '${name}'`, EXIT.USAGE);
    byResource.set(resource, volume === undefined ? undefined : Number(volume));
  }
  const resources = selectResources(cfg, [...byResource.keys()], localHostName(cfg));
  const formerPeer = command === 'forget-peer';
  return resources.map((r) => makeTarget(r, byResource.get(r.name), peer, formerPeer));
}

/**
 * Steps that add a path make this node listen on its address: that address must be one of this
 * node's (verifyLocalAddresses). Not when __BSR_NODE__ names the node: then bsradm plans for
 * another node, whose addresses this one does not have.
 */
function verifyAddresses(cfg: BsrConfig, plans: Plan[], resources: LocalResource[]): void {
  if (process.env.__BSR_NODE__) return;
  const addsPaths = plans.some((plan) => plan.steps.some((step) => step.args[0] === 'new-path'));
  if (addsPaths) verifyLocalAddresses(cfg, resources, localHostName(cfg));
}

function programPath(g: GlobalOptions, which: 'bsrsetup' | 'bsrmeta'): string {
  const given = g[which];
  // The bundle lives in dist/; the tools are started through their bin/ wrappers next to it.
  return given ?? fileURLToPath(new URL(`../bin/${which}`, import.meta.url));
}

interface Outcome {
  code: number;
  reason: string;
}

/** Seconds per cmd-timeout option (global section; 0: no limit), from the config or the defaults. */
type Timeouts = Map<TimeoutOption, number>;

function stepTimeouts(cfg?: BsrConfig): Timeouts {
  const timeouts: Timeouts = new Map();
  for (const name of ['cmd-timeout-short', 'cmd-timeout-medium', 'cmd-timeout-long'] as const) {
    const def = findOption(name, 'global');
    const value = cfg?.global.get(name)?.value ?? (def && defaultValue(def));
    if (typeof value === 'number' && value > 0) timeouts.set(name, value);
  }
  return timeouts;
}

/**
 * Runs one step with stdin passed through (bsrmeta's confirmation prompt reaches the user), or
 * carrying the step's secrets, kept off its command line; killed when it outlives its cmd-timeout. A step with a fallback keeps its error output back: when the
 * fallback runs, the kernel's "no such resource" is expected and not shown.
 */
function runStep(g: GlobalOptions, step: Step, timeouts: Timeouts): Outcome {
  const { spawnSync } = childProcess();
  const limit = timeoutOption(step);
  const seconds = limit && timeouts.get(limit);
  const { args, input } = secretsOffCommandLine(step);
  const result = spawnSync(programPath(g, step.program), args, {
    input,
    stdio: [input === undefined ? 'inherit' : 'pipe', 'inherit', step.orElse ? 'pipe' : 'inherit'],
    timeout: seconds ? seconds * 1000 : undefined,
    killSignal: 'SIGKILL',
  });
  if ((result.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT') {
    return { code: EXIT.FAILURE, reason: `no answer within ${limit}, ${seconds} s` };
  }
  const code = result.error ? EXIT.FAILURE : (result.status ?? EXIT.FAILURE);
  if (step.orElse && (code === EXIT.KERNEL || code === EXIT.NO_MODULE)) return runStep(g, step.orElse, timeouts);
  if (result.stderr) process.stderr.write(result.stderr);
  const reason = result.error ? result.error.message : result.signal ? `signal ${result.signal}` : `exit code ${code}`;
  return { code, reason };
}

/** The steps of one resource (or of one command that is not per resource). */
interface Plan {
  resource: string;
  steps: Step[];
}

/** Runs the steps in order; the first that fails ends the plan with a CliError naming it. */
async function runPlan(g: GlobalOptions, { steps }: Plan, label: string, timeouts: Timeouts): Promise<void> {
  for (const [index, step] of steps.entries()) {
    if (g.verbose) process.stdout.write(`${formatStep(step)}\n`);
    const line = formatStep(maskedStep(step));
    const { code, reason } = runStep(g, step, timeouts);
    if (code !== 0) {
      await logError('bsradm', 'step failed', { step: line, reason });
      throw new CliError(`bsradm: ${label}step ${index + 1} of ${steps.length} failed (${reason}): ${line}`, code);
    }
    await logInfo('bsradm', 'step done', { step: line });
  }
}

/**
 * Prints the steps (-d) or runs them. With several resources, as drbdadm does, a failure ends
 * only that resource's steps: the others still run, and the command then fails naming each
 * resource that failed, with the exit code of the first failure.
 */
async function execute(g: GlobalOptions, command: string, plans: Plan[], cfg?: BsrConfig): Promise<void> {
  const refused = refusedStep(plans.flatMap((plan) => plan.steps));
  if (refused) {
    throw new CliError(`bsradm ${command}: ${formatStep(maskedStep(refused.step))}: ${refused.reason}`, EXIT.USAGE);
  }
  if (g.dryRun) {
    printLines(plans.flatMap((plan) => plan.steps.map(formatStep)));
    return;
  }
  const timeouts = stepTimeouts(cfg);
  const failed: { resource: string; code: number }[] = [];
  for (const plan of plans) {
    try {
      await runPlan(g, plan, plans.length > 1 ? `${plan.resource}: ` : '', timeouts);
    } catch (err) {
      if (plans.length === 1 || !(err instanceof CliError)) throw err;
      process.stderr.write(`${err.message}\n`);
      failed.push({ resource: plan.resource, code: err.exitCode });
    }
  }
  if (failed.length > 0) {
    const names = failed.map((f) => f.resource).join(', ');
    throw new CliError(
      `bsradm ${command}: failed for ${failed.length} of ${plans.length} resources: ${names}`,
      failed[0].code,
    );
  }
}

/** An option's short (`-c`) and long (`--config-file`) names. */
function optionNames(option: OptionSpec): { short?: string; long?: string } {
  return { short: /^-\w\b/.exec(option.flags)?.[0], long: /--[\w-]+/.exec(option.flags)?.[0] };
}

/**
 * bsradm's own option that `arg` starts with (`-c`, `--dry-run`, `--peer=bob`, `-dc` as -d -c),
 * or undefined for a tool option.
 */
function ownOption(arg: string): OptionSpec | undefined {
  const flag = arg.startsWith('--') ? arg.split('=')[0] : arg.slice(0, 2);
  return GLOBAL_OPTIONS.find((o) => {
    const { short, long } = optionNames(o);
    return short === flag || long === flag;
  });
}

/**
 * How many words an option before the command takes: 2 when its value is the next word. Short
 * options may be grouped (`-dc FILE`, `-cFILE`): the first that takes a value takes the rest of
 * the group, or the next word.
 */
function optionWords(args: string[], at: number, own: boolean): number {
  const arg = args[at];
  let takesNext = !own && VALUE_FLAGS.has(arg);
  if (own && arg.startsWith('--')) {
    const option = ownOption(arg);
    takesNext = option !== undefined && takesValue(option) && !arg.includes('=');
  } else if (own) {
    for (let i = 1; i < arg.length; i++) {
      const option = ownOption(`-${arg[i]}`);
      if (!option || takesValue(option)) {
        takesNext = option !== undefined && takesValue(option) && i === arg.length - 1;
        break;
      }
    }
  }
  return takesNext && at + 1 < args.length ? 2 : 1;
}

function requestedCommand(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i += optionWords(args, i, ownOption(args[i]) !== undefined)) {
    if (!args[i].startsWith('-')) return args[i];
  }
  return undefined;
}

const RESOURCES = { name: 'resources', description: 'RES, RES/VOL or all', optional: true, variadic: true } as const;

/** A command that plans steps per resource (src/planner/commands.ts) and prints or runs them. */
function plannedCommand(command: string): CommandSpec {
  return {
    name: command,
    summary: SUMMARIES[command] ?? command,
    args: [{ ...RESOURCES, complete: 'resource' }],
    // Computed when help, the man page or completion asks: not at every start.
    get checkedByRun() {
      return passedOn(command);
    },
    run: async (words: string[], _options: unknown, c: Command) => {
      const g = globalsOf(c);
      const { names, flags } = splitArguments(words);
      if (names.length === 0) throw new CliError(`bsradm ${command}: resource name missing (RES or all)`, EXIT.USAGE);
      // Forgetting every peer at once is never what is meant.
      if (command === 'forget-peer' && g.peer === undefined) {
        throw new CliError('bsradm forget-peer: name the peer with -P PEER (host name or node-id)', EXIT.USAGE);
      }
      const cfg = await config(g);
      const selected = targets(cfg, names, g.peer, command);
      if (selected.length === 0) {
        const me = localHostName(cfg);
        throw new ConfigError(cfg.file, 1, `no resource has a host section for '${me}' (on ${me} {})`);
      }
      // Every resource is planned (and its arguments checked) before the first step runs.
      const plans = selected.map((t) => ({ resource: t.resource.name, steps: planCommand(command, [t], flags) }));
      verifyAddresses(
        cfg,
        plans,
        selected.map((t) => t.resource),
      );
      await execute(g, command, plans, cfg);
    },
  };
}

/** `bsradm status`, `bsradm events2`: bsrsetup's, with every word passed on. */
function bsrsetupCommand(command: string): CommandSpec {
  return {
    name: command,
    summary: `bsrsetup ${command}`,
    args: [{ name: 'args', optional: true, variadic: true, complete: 'resource' }],
    anyWords: true,
    noHelp: true,
    run: async (words: string[], _options: unknown, c: Command) =>
      await execute(globalsOf(c), command, [
        { resource: command, steps: [{ program: 'bsrsetup', args: [command, ...words] }] },
      ]),
  };
}

function handlerCommand(handler: string): CommandSpec {
  return {
    name: handler,
    summary: `run the ${handler} handler of a resource (called by the kernel)`,
    args: [{ name: 'resource', description: 'RES', complete: 'resource' }],
    anyWords: true,
    noHelp: true,
    internal: true,
    run: async (resource: string, _options: unknown, c: Command) => {
      process.exitCode = await runHandler(globalsOf(c), handler, resource);
    },
  };
}

/** sh-* helpers for scripts: one value a line for the resources named. */
function helper(
  command: string,
  summary: string,
  values: (r: LocalResource, extra: string[]) => string[],
): CommandSpec {
  return {
    name: command,
    summary,
    args: [{ name: 'args', optional: true, variadic: true, complete: 'resource' }],
    options: [{ flags: '-n, --name <option>', description: 'option name (sh-node-option)' }],
    anyWords: true,
    noHelp: true,
    run: async (words: string[], options: { name?: string }, c: Command) => {
      const g = globalsOf(c);
      const { names } = splitArguments(words);
      const extra = options.name ? [options.name] : [];
      const cfg = await config(g);
      const lines = targets(cfg, names.length > 0 ? names : ['all'], g.peer).flatMap((t) =>
        values({ ...t.resource, volumes: t.volumes, peers: t.peers }, extra),
      );
      printLines(lines);
    },
  };
}

async function runningState(g: GlobalOptions, me: string): Promise<LocalResource[]> {
  const fake = process.env.BSR_FAKE_SHOW;
  if (fake) return parseRunningState(readFileSync(fake, 'utf8'), fake, me);
  const { spawnSync } = childProcess();
  const result = spawnSync(programPath(g, 'bsrsetup'), ['show'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (result.status !== 0) throw new CliError(`bsradm adjust: 'bsrsetup show' failed`, result.status ?? EXIT.FAILURE);
  return parseRunningState(result.stdout, 'bsrsetup show', me);
}

const SUMMARIES: Record<string, string> = {
  up: 'bring a resource up: devices, peers, paths, attach, connect',
  down: 'take a resource down',
  attach: 'attach the lower devices (after replaying the activity log)',
  detach: 'detach the lower devices (--force)',
  connect: 'create the peers and paths and connect',
  disconnect: 'disconnect from the peers (--force)',
  primary: 'promote (--force for data that is not UpToDate, --skip-check-fs)',
  secondary: 'demote',
  'wait-connect': 'wait until the connections are established (startup wfc-timeout)',
  'wait-sync': 'wait until no resync runs',
  role: 'print the role',
  cstate: 'print the connection state of each peer',
  dstate: 'print the disk state of each volume',
  'show-gi': 'explain the generation identifiers',
  'get-gi': 'print the generation identifiers',
  'create-md': 'create meta data (bsrmeta; asks before overwriting; --force, --max-peers N)',
  'dump-md': 'print the meta data as text (bsrmeta)',
  'wipe-md': 'destroy the meta data (bsrmeta; asks first)',
  'apply-al': 'replay the activity log into the bitmap (bsrmeta)',
  'forget-peer': 'drop the bitmap slot of a peer (-P PEER)',
  invalidate: 'discard the local data and resync it from a peer',
  'invalidate-remote': "resync the peer's data from here",
  outdate: 'mark the local data Outdated',
  resize: 'grow the device to the lower devices (--size, --assume-clean)',
  verify: 'start online verify against the peers',
  'verify-stop': 'stop online verify',
  'pause-sync': 'pause resync',
  'resume-sync': 'resume resync',
  'new-current-uuid': 'start a new data generation (--clear-bitmap)',
  'disk-options': 'apply the disk options of the config',
  'net-options': 'apply the net options of the config',
  'resource-options': 'apply the resource options of the config',
  'node-options': 'apply the node options of the config',
  'peer-device-options': 'apply the peer-device (resync) options of the config',
  'new-resource': 'create the resource object in the kernel',
  'new-minor': 'create the devices in the kernel',
  'del-minor': 'remove the devices from the kernel',
  'suspend-io': 'suspend application I/O',
  'resume-io': 'resume application I/O',
  'check-resize': 'check whether a lower device changed size (bsrmeta)',
};

function resourcesOf(cfg: BsrConfig, names: string[]) {
  if (names.length === 0 || names.includes('all')) return cfg.resources;
  return names.map((name) => {
    const resource = cfg.resources.find((r) => r.name === name);
    if (!resource) throw new ConfigError(cfg.file, 1, `resource '${name}' is not defined`);
    return resource;
  });
}

/**
 * `bsradm HANDLER RES`, what the kernel's usermode_helper runs: the resource's `handlers {}`
 * command through /bin/sh -c with the caller's environment (the kernel's BSR_* variables);
 * its exit code is ours. No handler configured: nothing to do, exit 0.
 */
async function runHandler(g: GlobalOptions, handler: string, resourceName: string): Promise<number> {
  const cfg = await config(g);
  const [resource] = resourcesOf(cfg, [resourceName]);
  const command = resource.handlers.get(handler)?.value;
  if (typeof command !== 'string' || command === '') return EXIT.OK;
  if (g.dryRun) {
    process.stdout.write(`/bin/sh -c ${JSON.stringify(command)}\n`);
    return EXIT.OK;
  }
  const { spawnSync } = childProcess();
  const result = spawnSync('/bin/sh', ['-c', command], {
    stdio: 'inherit',
    env: { ...process.env, BSR_RESOURCE: process.env.BSR_RESOURCE ?? resource.name },
  });
  if (result.error) throw new CliError(`bsradm ${handler}: cannot run /bin/sh: ${result.error.message}`);
  const { constants } = createRequire(import.meta.url)('node:os') as typeof import('node:os');
  const code = result.status ?? 128 + (constants.signals[result.signal as NodeJS.Signals] ?? 0);
  await (code === 0 ? logInfo : logError)('bsradm', 'handler done', { handler, resource: resource.name, code });
  return code;
}

function printLines(lines: string[]): void {
  if (lines.length > 0) process.stdout.write(`${lines.join('\n')}\n`);
}

export const BSRADM: ProgramSpec = {
  name: 'bsradm',
  summary: 'bsr administration: reads the configuration and drives bsrsetup and bsrmeta',
  options: GLOBAL_OPTIONS,
  commands: [
    ...Object.keys(PLANNERS).map(plannedCommand),
    {
      name: 'apply-persist-role',
      summary:
        'with persist-role yes, wait for the peers (wfc-timeout), then promote again the resources last set Primary (the kernel decides)',
      args: [{ ...RESOURCES, complete: 'resource' }],
      run: async (names: string[], _options: unknown, c: Command) => {
        const g = globalsOf(c);
        const cfg = await config(g);
        const plans = targets(cfg, names.length > 0 ? names : ['all'], g.peer).map(({ resource }) => ({
          resource: resource.name,
          steps: persistRoleSteps(resource),
        }));
        await execute(g, 'apply-persist-role', plans, cfg);
      },
    },
    {
      name: 'adjust',
      summary: 'change the running resources to match the configuration',
      args: [{ name: 'resources', description: 'RES or all', optional: true, variadic: true, complete: 'resource' }],
      // Unknown flags (the Windows service scripts add -T) are accepted and ignored.
      anyWords: true,
      run: async (words: string[], _options: unknown, c: Command) => {
        const g = globalsOf(c);
        const { names } = splitArguments(words);
        const cfg = await config(g);
        const wanted = targets(cfg, names.length > 0 ? names : ['all'], g.peer).map((t) => t.resource);
        const steps = planAdjust(wanted, await runningState(g, localHostName(cfg)));
        const plans = [{ resource: 'adjust', steps }];
        verifyAddresses(cfg, plans, wanted);
        await execute(g, 'adjust', plans, cfg);
      },
    },
    bsrsetupCommand('status'),
    bsrsetupCommand('events2'),
    {
      name: 'dump',
      summary: 'print the configuration, normalized (inheritance expanded)',
      args: [{ name: 'resources', description: 'RES or all', optional: true, variadic: true, complete: 'resource' }],
      options: [{ flags: '--json', description: 'print JSON' }],
      run: async (names: string[], options: { json?: boolean }, c: Command) => {
        const cfg = await config(globalsOf(c));
        const resources = resourcesOf(cfg, names);
        if (options.json) {
          process.stdout.write(`${JSON.stringify(configToJson(cfg, resources), null, 2)}\n`);
        } else process.stdout.write(dumpConfig(cfg, resources));
      },
    },
    {
      name: 'dump-xml',
      summary: 'print the configuration as XML',
      args: [{ name: 'resources', description: 'RES or all', optional: true, variadic: true, complete: 'resource' }],
      run: async (names: string[], _options: unknown, c: Command) => {
        const cfg = await config(globalsOf(c));
        process.stdout.write(dumpXml(cfg, resourcesOf(cfg, names)));
      },
    },
    ...HANDLERS.map(handlerCommand),
    helper('sh-resources', 'names of the resources on this node', (r) => [r.name]),
    helper('sh-dev', 'device names', (r) => r.volumes.map((v) => v.device)),
    helper('sh-minor', 'minor numbers', (r) => r.volumes.map((v) => String(v.minor))),
    helper('sh-ll-dev', 'lower (backing) devices', (r) => r.volumes.map((v) => v.disk)),
    helper('sh-md-dev', 'meta-data devices', (r) => r.volumes.map(metaDevice)),
    helper('sh-md-idx', 'meta-data index (internal, flexible or N)', (r) =>
      r.volumes.map((v) => metaIndex(v.metaDisk)),
    ),
    helper('sh-ip', 'local replication addresses', (r) => [
      ...new Set(r.peers.flatMap((p) => p.paths.map((path) => path.local.host))),
    ]),
    helper('sh-peer-node-id', 'node-ids of the peers', (r) => r.peers.map((p) => String(p.nodeId))),
    // bsr has no stacked resources, so no resource lies below another.
    helper('sh-lr-of', 'lower resources of a stacked resource (none in bsr)', () => []),
    helper('sh-node-option', 'effective value of a node option (-n NAME)', (r, [name]) => {
      if (!name) throw new CliError('sh-node-option: option name missing (-n NAME)', EXIT.USAGE);
      // The Windows service scripts spell options with underscores (svc_auto_up).
      const def = findOption(name.replace(/_/g, '-'), 'node');
      if (!def) throw new CliError(`sh-node-option: '${name}' is not a node option`, EXIT.USAGE);
      const value = r.nodeOptions.get(def.keyword)?.value ?? defaultValue(def);
      return value === undefined ? [] : [formatOptionValue(def, value)];
    }),
    {
      name: 'sh-resource',
      summary: 'resource of each name, minor or device given (all: every resource)',
      args: [{ name: 'args', optional: true, variadic: true, complete: 'resource' }],
      anyWords: true,
      noHelp: true,
      run: async (words: string[], _options: unknown, c: Command) => {
        const { names } = splitArguments(words);
        const cfg = await config(globalsOf(c));
        const resources = selectResources(cfg, [], localHostName(cfg));
        if (names.length === 0 || names.includes('all')) return printLines(resources.map((r) => r.name));
        printLines(
          names.map((name) => {
            const found = resources.find(
              (r) => r.name === name || r.volumes.some((v) => String(v.minor) === name || v.device === name),
            );
            if (!found) throw new ConfigError(cfg.file, 1, `no resource, minor or device '${name}' on this host`);
            return found.name;
          }),
        );
      },
    },
  ],
};

/**
 * drbdadm's forms `bsradm --force primary res` and `bsradm [OPTIONS] -- TOOL-OPTIONS COMMAND
 * RES...` (the seeds: `bsradm -- --force create-md res`): an option before the command that is not
 * bsradm's own, and every option between `--` and the command, is for bsrsetup/bsrmeta, so it is
 * moved behind the command, where pass-through options go.
 */
function toolOptionsBehindCommand(args: string[]): string[] {
  const own: string[] = [];
  const tool: string[] = [];
  let afterDashes = false;
  for (let at = 0; at < args.length; ) {
    if (args[at] === '--' && !afterDashes) {
      afterDashes = true;
      at++;
    } else if (!args[at].startsWith('-')) {
      return [...own, args[at], ...tool, ...args.slice(at + 1)];
    } else {
      const isOwn = !afterDashes && ownOption(args[at]) !== undefined;
      const words = optionWords(args, at, isOwn);
      (isOwn ? own : tool).push(...args.slice(at, at + words));
      at += words;
    }
  }
  return args;
}

/** The build (set by scripts/build.mjs; absent when the sources run unbundled). */
declare const __BSR_BUILDTAG__: string | undefined;

/** The version of the loaded module from /proc/bsr (`version: 0.1.0 (api:2/proto:...)`). */
function kernelVersion(): string {
  try {
    return /^version: (\d+\.\d+\.\d+)/.exec(readFileSync('/proc/bsr', 'utf8'))?.[1] ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** drbdadm's version code: major, minor and patch level, a byte each. */
function versionCode(version: string): string {
  const [major, minor, patch] = version.split('.').map(Number);
  return `0x${((major << 16) | (minor << 8) | patch).toString(16).padStart(6, '0')}`;
}

/** `bsradm -V`: KEY=VALUE lines a shell can source, as the seeds show them. */
function printVersion(): void {
  const build = typeof __BSR_BUILDTAG__ === 'string' ? __BSR_BUILDTAG__ : 'unbundled';
  const kernel = kernelVersion();
  process.stdout.write(
    [
      `BSRADM_BUILDTAG=${build.replace(/ /g, '\\ ')}`,
      `BSRADM_API_VERSION=${abi.genl.version}`,
      `BSR_KERNEL_VERSION_CODE=${versionCode(kernel)}`,
      `BSR_KERNEL_VERSION=${kernel}`,
      `BSRADM_VERSION_CODE=${versionCode(version)}`,
      `BSRADM_VERSION=${version}`,
      '',
    ].join('\n'),
  );
}

export async function bsradm(argv: string[]): Promise<number> {
  // `/V`: the Windows spelling the seeds use.
  const given = argv.map((arg) => (arg === '/V' ? '--version' : arg));
  const args = toolOptionsBehindCommand(given);
  const command = requestedCommand(args);
  if (command === undefined && args.some((arg) => ownOption(arg)?.flags.includes('--version'))) {
    printVersion();
    return EXIT.OK;
  }
  const program = programFor(BSRADM).showHelpAfterError();
  addCommands(program, BSRADM, command);
  return (await parseCommandLine(program, args)) ?? Number(process.exitCode ?? EXIT.OK);
}
