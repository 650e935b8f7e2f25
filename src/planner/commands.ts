// bsradm commands -> bsrsetup/bsrmeta steps, for the resources (and volumes, peers) selected.
import { CliError, EXIT } from '../common/errors';
import type { LocalPeer, LocalResource } from '../config/local';
import type { Volume } from '../config/model';
import {
  attachSteps,
  bsrmeta,
  bsrsetup,
  changeableOptions,
  connectStep,
  hasDisk,
  kernelOptions,
  newMinorStep,
  newPeerSteps,
  newResourceStep,
  nodeOptionsSteps,
  optionArgs,
  peerDeviceOptionsSteps,
  type Step,
} from './steps';

/** One resource as a command sees it: only the volumes (RES/VOL) and peers (-P) asked for. */
export interface Target {
  resource: LocalResource;
  volumes: Volume[];
  peers: LocalPeer[];
}

/**
 * Narrows a resource to `RES/VOL` and to the peer named by -P (name or node-id). With
 * `formerPeer`, a node-id that is no longer configured is accepted (forget-peer is for those).
 */
export function makeTarget(resource: LocalResource, volume?: number, peer?: string, formerPeer = false): Target {
  const volumes = volume === undefined ? resource.volumes : resource.volumes.filter((v) => v.number === volume);
  if (volume !== undefined && volumes.length === 0) {
    throw new CliError(`resource ${resource.name} has no volume ${volume}`, EXIT.CONFIG);
  }
  let peers =
    peer === undefined ? resource.peers : resource.peers.filter((p) => p.name === peer || String(p.nodeId) === peer);
  if (peers.length === 0 && formerPeer && peer !== undefined && /^\d+$/.test(peer)) {
    peers = [{ nodeId: Number(peer), name: peer, paths: [], net: new Map(), peerDevice: new Map() }];
  }
  if (peer !== undefined && peers.length === 0) {
    throw new CliError(`resource ${resource.name} has no peer '${peer}'`, EXIT.CONFIG);
  }
  return { resource, volumes, peers };
}

type Planner = (target: Target, extra: string[]) => Step[];

/**
 * startup {} becomes the wait's options: wfc-timeout bsrsetup's --wait-timeout (0, the default,
 * waits forever); degr-wfc-timeout, outdated-wfc-timeout and wait-after-sb as drbdsetup names them.
 */
function waitOptions(resource: LocalResource): string[] {
  const { startup } = resource;
  const wfc = startup.get('wfc-timeout')?.value;
  const args = typeof wfc === 'number' && wfc > 0 ? [`--wait-timeout=${wfc}`] : [];
  for (const name of ['degr-wfc-timeout', 'outdated-wfc-timeout']) {
    const seconds = startup.get(name)?.value;
    if (typeof seconds === 'number') args.push(`--${name}=${seconds}`);
  }
  if (startup.get('wait-after-sb')?.value === true) args.push('--wait-after-sb');
  return args;
}

const onResource =
  (command: string): Planner =>
  ({ resource }, extra) => [bsrsetup(command, resource.name, ...extra)];

const onVolumes =
  (command: string): Planner =>
  ({ volumes }, extra) =>
    volumes.map((v) => bsrsetup(command, v.minor, ...extra));

const onPeers =
  (command: string): Planner =>
  ({ resource, peers }, extra) =>
    peers.map((p) => bsrsetup(command, resource.name, p.nodeId, ...extra));

const onPeerDevices =
  (command: string): Planner =>
  ({ resource, peers, volumes }, extra) =>
    peers.flatMap((p) => volumes.map((v) => bsrsetup(command, resource.name, p.nodeId, v.number, ...extra)));

/** get-gi / show-gi: from the kernel, or from the meta data on disk when the resource is not up. */
const generationIds =
  (command: string): Planner =>
  ({ resource, peers, volumes }, extra) =>
    peers.flatMap((p) =>
      volumes.map((v) => ({
        ...bsrsetup(command, resource.name, p.nodeId, v.number, ...extra),
        orElse: hasDisk(v) ? bsrmeta(v, command, `--node-id=${p.nodeId}`) : undefined,
      })),
    );

/** bsrmeta on each volume that has a disk; `extra` (e.g. --force) goes after the command. */
const onMetaData =
  (command: string): Planner =>
  ({ volumes }, extra) =>
    volumes.filter(hasDisk).map((v) => bsrmeta(v, command, ...extra));

/**
 * create-md sizes the bitmap for the peers in the config and records this node's id, unless the
 * user said otherwise (a node may later get more peers: --max-peers=N leaves room for them).
 */
function createMdDefaults({ resource }: Target, extra: string[]): string[] {
  const given = (flag: string) => extra.some((e) => e === flag || e.startsWith(`${flag}=`));
  const defaults: string[] = [];
  if (!given('--max-peers')) defaults.push(`--max-peers=${Math.max(1, resource.peers.length)}`);
  if (!given('--node-id')) defaults.push(`--node-id=${resource.nodeId}`);
  return defaults;
}

function connectPeers({ resource, peers, volumes }: Target, extra: string[]): Step[] {
  return [
    ...peers.flatMap((p) => [...newPeerSteps(resource, p), ...peerDeviceOptionsSteps(resource, p, volumes)]),
    ...peers.map((p) => connectStep(resource, p, extra)),
  ];
}

function up(target: Target, extra: string[]): Step[] {
  const { resource, volumes, peers } = target;
  return [
    newResourceStep(resource),
    ...nodeOptionsSteps(resource),
    ...volumes.map((v) => newMinorStep(resource, v)),
    ...peers.flatMap((p) => [...newPeerSteps(resource, p), ...peerDeviceOptionsSteps(resource, p, volumes)]),
    ...volumes.flatMap(attachSteps),
    ...peers.map((p) => connectStep(resource, p, extra)),
  ];
}

function withExtra(steps: Step[], extra: string[]): Step[] {
  return steps.map((s) => ({ ...s, args: [...s.args, ...extra] }));
}

export const PLANNERS: Record<string, Planner> = {
  up,
  down: onResource('down'),
  attach: ({ volumes }, extra) =>
    volumes.flatMap((v) => {
      const [applyAl, attach] = attachSteps(v);
      return attach ? [applyAl, ...withExtra([attach], extra)] : [];
    }),
  detach: onVolumes('detach'),
  connect: connectPeers,
  disconnect: onPeers('disconnect'),
  primary: onResource('primary'),
  secondary: onResource('secondary'),
  'wait-connect': ({ resource }, extra) => [
    bsrsetup('wait-connect-resource', resource.name, ...waitOptions(resource), ...extra),
  ],
  'wait-sync': onResource('wait-sync-resource'),
  role: onResource('role'),
  cstate: onPeers('cstate'),
  dstate: onVolumes('dstate'),
  'show-gi': generationIds('show-gi'),
  'get-gi': generationIds('get-gi'),
  'create-md': (target, extra) => onMetaData('create-md')(target, [...extra, ...createMdDefaults(target, extra)]),
  'dump-md': onMetaData('dump-md'),
  'wipe-md': onMetaData('wipe-md'),
  'apply-al': onMetaData('apply-al'),
  'forget-peer': onPeers('forget-peer'),
  invalidate: onVolumes('invalidate'),
  'invalidate-remote': onPeerDevices('invalidate-remote'),
  outdate: onVolumes('outdate'),
  resize: onVolumes('resize'),
  verify: onPeerDevices('verify'),
  'verify-stop': onPeerDevices('verify-stop'),
  'pause-sync': onPeerDevices('pause-sync'),
  'resume-sync': onPeerDevices('resume-sync'),
  'new-current-uuid': onVolumes('new-current-uuid'),
  'disk-options': ({ volumes }, extra) =>
    volumes
      .filter(hasDisk)
      .map((v) => bsrsetup('disk-options', v.minor, ...optionArgs(changeableOptions(v.diskOptions)), ...extra)),
  'net-options': ({ resource, peers }, extra) =>
    peers.map((p) => bsrsetup('net-options', resource.name, p.nodeId, ...optionArgs(p.net), ...extra)),
  'resource-options': ({ resource }, extra) => [
    bsrsetup('resource-options', resource.name, ...optionArgs(resource.resourceOptions), ...extra),
  ],
  'node-options': ({ resource }, extra) => [
    bsrsetup('node-options', resource.name, ...optionArgs(kernelOptions(resource.nodeOptions)), ...extra),
  ],
  'peer-device-options': ({ resource, peers, volumes }, extra) =>
    peers.flatMap((p) =>
      volumes.map((v) =>
        bsrsetup(
          'peer-device-options',
          resource.name,
          p.nodeId,
          v.number,
          ...optionArgs(p.peerDevice.get(v.number) ?? new Map()),
          ...extra,
        ),
      ),
    ),
  'new-resource': ({ resource }, extra) => withExtra([newResourceStep(resource)], extra),
  'new-minor': ({ resource, volumes }) => volumes.map((v) => newMinorStep(resource, v)),
  'del-minor': onVolumes('del-minor'),
  'suspend-io': onVolumes('suspend-io'),
  'resume-io': onVolumes('resume-io'),
  'check-resize': onMetaData('check-resize'),
};

/**
 * apply-persist-role: bsr.ko decides from the resource's persist-role option and the meta-data
 * flag WAS_PRIMARY (set by an explicit primary, cleared only by an explicit secondary). It
 * promotes only with every peer connected (a peer away may have been promoted meanwhile), so
 * with persist-role yes the connections come first, as long as startup { wfc-timeout } allows.
 */
export function persistRoleSteps(resource: LocalResource): Step[] {
  const persists = resource.resourceOptions.get('persist-role')?.value === true;
  const wait =
    persists && resource.peers.length > 0 ? PLANNERS['wait-connect']({ resource, volumes: [], peers: [] }, []) : [];
  return [...wait, bsrsetup('apply-persist-role', resource.name)];
}

/** Steps for `command` on every target, resource by resource. */
export function planCommand(command: string, targets: Target[], extra: string[] = []): Step[] {
  const planner = PLANNERS[command];
  if (!planner) throw new CliError(`unknown command '${command}'`, EXIT.USAGE);
  return targets.flatMap((t) => planner(t, extra));
}
