// `bsradm adjust`: the steps that turn the running state into the configured one, and no others.
import type { Address } from '../config/ast';
import type { LocalPeer, LocalResource } from '../config/local';
import { addressArgument, type OptionMap, type Volume } from '../config/model';
import { defaultValue, formatOptionValue, type OptionDef } from '../config/options';
import { makeTarget, PLANNERS } from './commands';
import {
  attachSteps,
  bsrsetup,
  changeableOptions,
  connectStep,
  hasDisk,
  kernelOptions,
  metaDevice,
  metaIndex,
  newMinorStep,
  newPeerSteps,
  peerDeviceOptionsSteps,
  type Step,
} from './steps';

function effective(def: OptionDef, options: OptionMap): string {
  const value = options.get(def.keyword)?.value ?? defaultValue(def);
  return value === undefined ? '' : formatOptionValue(def, value);
}

/** `--name=value` for every option whose effective value (default when unset) differs. */
export function changedOptionArgs(wanted: OptionMap, running: OptionMap): string[] {
  const defs = new Map<string, OptionDef>();
  for (const { def } of [...wanted.values(), ...running.values()]) defs.set(def.keyword, def);
  const args: string[] = [];
  for (const def of defs.values()) {
    const value = effective(def, wanted);
    if (value === effective(def, running)) continue;
    args.push(
      def.kind === 'flag' ? `--${def.keyword}=${value === 'true' ? 'yes' : 'no'}` : `--${def.keyword}=${value}`,
    );
  }
  return args;
}

function sameBacking(a: Volume, b: Volume): boolean {
  return a.disk === b.disk && metaDevice(a) === metaDevice(b) && metaIndex(a.metaDisk) === metaIndex(b.metaDisk);
}

function addressKey(a: Address): string {
  return addressArgument(a);
}

function pathKey(path: { local: Address; remote: Address }): string {
  return `${addressKey(path.local)} ${addressKey(path.remote)}`;
}

function adjustVolumes(wanted: LocalResource, running: LocalResource, steps: AdjustSteps): void {
  for (const old of running.volumes) {
    const now = wanted.volumes.find((v) => v.number === old.number);
    if (now && now.minor === old.minor) continue;
    if (hasDisk(old)) steps.teardown.push(bsrsetup('detach', old.minor));
    steps.teardown.push(bsrsetup('del-minor', old.minor));
  }
  for (const volume of wanted.volumes) {
    const old = running.volumes.find((v) => v.number === volume.number && v.minor === volume.minor);
    if (!old) {
      steps.create.push(newMinorStep(wanted, volume));
      steps.attach.push(...attachSteps(volume));
      // Peers that stay need the options of the new peer device.
      for (const peer of wanted.peers) {
        if (running.peers.some((p) => p.nodeId === peer.nodeId)) {
          steps.peerDevice.push(...peerDeviceOptionsSteps(wanted, peer, [volume]));
        }
      }
      continue;
    }
    if (hasDisk(old) && (!hasDisk(volume) || !sameBacking(old, volume))) {
      steps.teardown.push(bsrsetup('detach', old.minor));
      steps.attach.push(...attachSteps(volume));
    } else if (!hasDisk(old)) {
      steps.attach.push(...attachSteps(volume));
    } else {
      const changed = changedOptionArgs(changeableOptions(volume.diskOptions), changeableOptions(old.diskOptions));
      if (changed.length > 0) steps.options.push(bsrsetup('disk-options', volume.minor, ...changed));
      const size = volume.diskOptions.get('size');
      if (size && size.value !== old.diskOptions.get('size')?.value) {
        steps.options.push(bsrsetup('resize', volume.minor, `--size=${size.value}`));
      }
    }
  }
}

function adjustPeer(wanted: LocalResource, peer: LocalPeer, old: LocalPeer, steps: AdjustSteps): void {
  const changedNet = changedOptionArgs(peer.net, old.net);
  if (changedNet.length > 0) steps.options.push(bsrsetup('net-options', wanted.name, peer.nodeId, ...changedNet));
  const oldPaths = new Set(old.paths.map(pathKey));
  const newPaths = new Set(peer.paths.map(pathKey));
  // make before break: the new path is added first; deleting the old one then moves a live
  // connection over to it (the kernel refuses to delete the only path of a live connection)
  for (const path of old.paths) {
    if (!newPaths.has(pathKey(path))) {
      steps.retire.push(
        bsrsetup('del-path', wanted.name, peer.nodeId, addressArgument(path.local), addressArgument(path.remote)),
      );
    }
  }
  for (const path of peer.paths) {
    if (!oldPaths.has(pathKey(path))) {
      steps.create.push(
        bsrsetup('new-path', wanted.name, peer.nodeId, addressArgument(path.local), addressArgument(path.remote)),
      );
    }
  }
  for (const volume of wanted.volumes) {
    const oldVolume = old.peerDevice.get(volume.number);
    if (!oldVolume) continue;
    const changed = changedOptionArgs(peer.peerDevice.get(volume.number) ?? new Map(), oldVolume);
    if (changed.length > 0) {
      steps.peerDevice.push(bsrsetup('peer-device-options', wanted.name, peer.nodeId, volume.number, ...changed));
    }
  }
}

/** Steps grouped by phase so they run in a safe order whatever was found first. */
interface AdjustSteps {
  options: Step[];
  teardown: Step[];
  create: Step[];
  peerDevice: Step[];
  attach: Step[];
  connect: Step[];
  /** what the new objects replace: removed once they are in place (make before break) */
  retire: Step[];
}

/** How long adjust waits for a new peer before it removes the one it replaces. */
export const REPLACEMENT_WAIT_S = 60;

function adjustResource(wanted: LocalResource, running: LocalResource): Step[] {
  // A node-id cannot change on a live resource: take it down and bring it up again.
  if (wanted.nodeId !== running.nodeId) {
    return [bsrsetup('down', wanted.name), ...PLANNERS.up(makeTarget(wanted), [])];
  }
  const steps: AdjustSteps = {
    options: [],
    teardown: [],
    create: [],
    peerDevice: [],
    attach: [],
    connect: [],
    retire: [],
  };
  const resourceChanges = changedOptionArgs(wanted.resourceOptions, running.resourceOptions);
  if (resourceChanges.length > 0) steps.options.push(bsrsetup('resource-options', wanted.name, ...resourceChanges));
  const nodeChanges = changedOptionArgs(kernelOptions(wanted.nodeOptions), running.nodeOptions);
  if (nodeChanges.length > 0) steps.options.push(bsrsetup('node-options', wanted.name, ...nodeChanges));

  // a peer that another one replaces goes only once the new one is connected: replication to
  // the old one keeps running meanwhile, and stays if the new one does not come
  const added = wanted.peers.filter((p) => !running.peers.some((old) => old.nodeId === p.nodeId));
  const removed = running.peers.filter((old) => !wanted.peers.some((p) => p.nodeId === old.nodeId));
  if (removed.length > 0 && added.length > 0) {
    for (const peer of added) {
      steps.retire.push(
        bsrsetup('wait-connect-connection', wanted.name, peer.nodeId, `--wait-timeout=${REPLACEMENT_WAIT_S}`),
      );
    }
  }
  for (const old of removed) {
    (added.length > 0 ? steps.retire : steps.teardown).push(bsrsetup('del-peer', wanted.name, old.nodeId));
  }
  adjustVolumes(wanted, running, steps);
  for (const peer of wanted.peers) {
    const old = running.peers.find((p) => p.nodeId === peer.nodeId);
    if (old) {
      adjustPeer(wanted, peer, old, steps);
      if (old.standalone) steps.connect.push(connectStep(wanted, peer));
      continue;
    }
    steps.create.push(...newPeerSteps(wanted, peer));
    steps.peerDevice.push(...peerDeviceOptionsSteps(wanted, peer, wanted.volumes));
    steps.connect.push(connectStep(wanted, peer));
  }
  return [
    ...steps.options,
    ...steps.teardown,
    ...steps.create,
    ...steps.peerDevice,
    ...steps.attach,
    ...steps.connect,
    ...steps.retire,
  ];
}

/** Adjust every configured resource against what runs (a resource not running is brought up). */
export function planAdjust(wanted: LocalResource[], running: LocalResource[]): Step[] {
  return wanted.flatMap((resource) => {
    const current = running.find((r) => r.name === resource.name);
    if (!current) return PLANNERS.up(makeTarget(resource), []);
    return adjustResource(resource, current);
  });
}
