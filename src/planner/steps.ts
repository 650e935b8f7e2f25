// A step is one bsrsetup or bsrmeta invocation; bsradm prints them (-d) or runs them in order.
import type { MetaDisk } from '../config/ast';
import type { LocalPeer, LocalResource } from '../config/local';
import { addressArgument, type OptionMap, type Volume } from '../config/model';
import { findOption, formatOptionValue, isSensitive } from '../config/options';
import { OPTIONS_ON_STDIN } from '../netlink/commands';

export type Program = 'bsrsetup' | 'bsrmeta';

export interface Step {
  program: Program;
  args: string[];
  /**
   * Run instead when this step finds nothing in the kernel (bsrsetup exits 11, a refusal such as
   * no such resource, or 20, no module): drbdadm's get-gi on a resource that is not up reads the
   * meta data on disk.
   */
  orElse?: Step;
}

/** drbdadm's limits on one step, global options in seconds (0: none). */
export type TimeoutOption = 'cmd-timeout-short' | 'cmd-timeout-medium' | 'cmd-timeout-long';

/** bsrsetup commands that wait for the peers (a state change, a handshake): the medium limit. */
const WAITS_FOR_PEERS = new Set([
  'primary',
  'apply-persist-role',
  'secondary',
  'connect',
  'disconnect',
  'down',
  'detach',
  'del-peer',
  'forget-peer',
  'invalidate',
  'invalidate-remote',
  'outdate',
  'verify',
  'new-current-uuid',
]);
/** Steps that may read or write a whole device area: the long limit. */
const LONG_RUNNING = new Set(['attach', 'resize']);
/** Steps without a limit: the wait-* commands bound themselves (--wait-timeout), events2 streams. */
const UNBOUNDED = /^(wait-|events2$)/;
/** bsrmeta commands that may ask "Do you want to proceed?": a person answers, in their own time. */
const ASKS = new Set(['create-md', 'wipe-md', 'restore-md', 'set-gi', 'invalidate', 'forget-peer']);

/**
 * The cmd-timeout option that limits `step`, or undefined for none. Quick bsrsetup commands
 * (objects, options, queries) have the short limit; bsrmeta reads the disk: the long one.
 */
export function timeoutOption(step: Step): TimeoutOption | undefined {
  const command = step.program === 'bsrsetup' ? step.args[0] : step.args[4];
  if (step.program === 'bsrmeta') return ASKS.has(command) ? undefined : 'cmd-timeout-long';
  if (UNBOUNDED.test(command)) return undefined;
  if (LONG_RUNNING.has(command)) return 'cmd-timeout-long';
  return WAITS_FOR_PEERS.has(command) ? 'cmd-timeout-medium' : 'cmd-timeout-short';
}

const SHELL_SAFE = /^[A-Za-z0-9_@%+=:,./[\]-]+$/;

function shellQuote(word: string): string {
  if (SHELL_SAFE.test(word)) return word;
  return `'${word.replace(/'/g, "'\\''")}'`;
}

/**
 * `bsrsetup new-resource r0 0`: one line, quoted only where a shell would need it. This is what
 * the dry run (`-d`) and `-v` print; a log or an error message takes `maskedStep(step)`.
 */
export function formatStep(step: Step): string {
  const line = [step.program, ...step.args].map(shellQuote).join(' ');
  return step.orElse ? `${line} || ${formatStep(step.orElse)}` : line;
}

/** `--OPTION=` of an option the ABI marks sensitive that `arg` sets, or undefined. */
function sensitivePrefix(arg: string): string | undefined {
  const match = /^--([^=]+)=/.exec(arg);
  const def = match ? findOption(match[1]) : undefined;
  return match && def && isSensitive(def) ? match[0] : undefined;
}

/** The step with `--OPTION=***` for every option the ABI marks sensitive. */
export function maskedStep(step: Step): Step {
  const mask = (arg: string) => {
    const prefix = sensitivePrefix(arg);
    return prefix ? `${prefix}***` : arg;
  };
  return { ...step, args: step.args.map(mask), orElse: step.orElse && maskedStep(step.orElse) };
}

/**
 * The command line of a step without its sensitive options, which any user could read in `ps`,
 * and the stdin that carries them instead (bsrsetup --options-on-stdin).
 */
export function secretsOffCommandLine(step: Step): { args: string[]; input?: string } {
  const secret = step.args.filter((arg) => sensitivePrefix(arg) !== undefined);
  if (secret.length === 0) return { args: step.args };
  // In the place of the first secret: the options keep their order for a reader of `ps`.
  const args = step.args.flatMap((arg) => {
    if (sensitivePrefix(arg) === undefined) return [arg];
    return arg === secret[0] ? [OPTIONS_ON_STDIN] : [];
  });
  return { args, input: secret.map((arg) => `${arg}\0`).join('') };
}

/** `--name=value` for each option (bare `--name` for flags), in config order. */
export function optionArgs(options: OptionMap): string[] {
  return [...options.values()].map(({ def, value }) =>
    def.kind === 'flag' ? `--${def.keyword}` : `--${def.keyword}=${formatOptionValue(def, value)}`,
  );
}

/** The options that may change on an attached device (not `size`, which needs resize). */
export function changeableOptions(options: OptionMap): OptionMap {
  return new Map([...options].filter(([, entry]) => !entry.def.attachOnly));
}

export function bsrsetup(...args: (string | number)[]): Step {
  return { program: 'bsrsetup', args: args.map(String) };
}

export function metaIndex(meta: MetaDisk): string {
  return typeof meta.index === 'number' ? String(meta.index) : meta.index;
}

/** The meta-data device: the lower device itself for internal meta data. */
export function metaDevice(volume: Volume): string {
  return volume.metaDisk.index === 'internal' ? volume.disk : volume.metaDisk.device;
}

export function hasDisk(volume: Volume): boolean {
  return volume.disk !== 'none';
}

/** `bsrmeta MINOR v09 DEV IDX CMD [ARGS]`. */
export function bsrmeta(volume: Volume, command: string, ...extra: string[]): Step {
  return {
    program: 'bsrmeta',
    args: [String(volume.minor), 'v09', metaDevice(volume), metaIndex(volume.metaDisk), command, ...extra],
  };
}

export function newResourceStep(resource: LocalResource): Step {
  return bsrsetup('new-resource', resource.name, resource.nodeId, ...optionArgs(resource.resourceOptions));
}

/** The options the kernel takes: not those only the tools act on (svc-auto-up, for bsr.service). */
export function kernelOptions(options: OptionMap): OptionMap {
  return new Map([...options].filter(([, entry]) => entry.def.abiSet !== undefined));
}

export function nodeOptionsSteps(resource: LocalResource): Step[] {
  const options = kernelOptions(resource.nodeOptions);
  if (options.size === 0) return [];
  return [bsrsetup('node-options', resource.name, ...optionArgs(options))];
}

export function newMinorStep(resource: LocalResource, volume: Volume): Step {
  return bsrsetup('new-minor', resource.name, volume.minor, volume.number);
}

export function newPeerSteps(resource: LocalResource, peer: LocalPeer): Step[] {
  return [
    bsrsetup('new-peer', resource.name, peer.nodeId, `--_name=${peer.name}`, ...optionArgs(peer.net)),
    ...peer.paths.map((path) =>
      bsrsetup('new-path', resource.name, peer.nodeId, addressArgument(path.local), addressArgument(path.remote)),
    ),
  ];
}

export function peerDeviceOptionsSteps(resource: LocalResource, peer: LocalPeer, volumes: Volume[]): Step[] {
  return volumes.flatMap((volume) => {
    const options = peer.peerDevice.get(volume.number);
    if (!options || options.size === 0) return [];
    return [bsrsetup('peer-device-options', resource.name, peer.nodeId, volume.number, ...optionArgs(options))];
  });
}

/** apply-al on the meta data, then attach with the disk options (nothing for a diskless volume). */
export function attachSteps(volume: Volume): Step[] {
  if (!hasDisk(volume)) return [];
  return [
    bsrmeta(volume, 'apply-al'),
    bsrsetup(
      'attach',
      volume.minor,
      volume.disk,
      metaDevice(volume),
      metaIndex(volume.metaDisk),
      ...optionArgs(volume.diskOptions),
    ),
  ];
}

export function connectStep(resource: LocalResource, peer: LocalPeer, extra: string[] = []): Step {
  return bsrsetup('connect', resource.name, peer.nodeId, ...extra);
}
