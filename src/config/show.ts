// The running state from `bsrsetup show`, as this node's view of each resource (see local.ts).
import { ConfigError } from '../common/errors';
import type { OptionEntry, RawConfig, RawConnection, RawResource } from './ast';
import { findLocalHost, type LocalPeer, type LocalResource, localResource } from './local';
import { mergeOptions, resolveConfig, resolveHostVolumes } from './model';
import { parseShowText } from './parser';

const THIS_HOST = '_this_host';

function showPeer(raw: RawConnection): LocalPeer {
  if (raw.peerNodeId === undefined)
    throw new ConfigError(raw.loc.file, raw.loc.line, 'connection without _peer_node_id');
  const name = raw.net.find((e) => e.def.keyword === '_name')?.value;
  const volumes = new Map<number, OptionEntry[]>(raw.volumes.map((v) => [v.number, v.peerDevice]));
  return {
    nodeId: raw.peerNodeId,
    standalone: raw.standalone === true,
    name: typeof name === 'string' ? name : `peer-${raw.peerNodeId}`,
    paths: raw.paths.flatMap((path) => {
      const local = path.hosts.find((h) => h.name === THIS_HOST)?.address;
      const remote = path.hosts.find((h) => h.name === '_remote_host')?.address;
      return local && remote ? [{ local, remote }] : [];
    }),
    net: mergeOptions(
      ['net'],
      raw.net.filter((e) => e.def.keyword !== '_name'),
    ),
    peerDevice: new Map(
      [...volumes].map(([n, entries]) => [n, mergeOptions(['peer-device'], raw.peerDevice, entries)]),
    ),
  };
}

/** A resource in the kernel's own form: one `_this_host` and connections by peer node-id. */
function fromThisHost(config: RawConfig, raw: RawResource): LocalResource {
  const host = raw.hosts.find((h) => h.names[0] === THIS_HOST);
  if (!host) throw new ConfigError(raw.loc.file, raw.loc.line, `resource ${raw.name}: _this_host missing`);
  return {
    name: raw.name,
    nodeId: host.nodeId ?? 0,
    resourceOptions: mergeOptions(['resource'], raw.options),
    nodeOptions: mergeOptions(['node'], raw.options, host.options),
    volumes: resolveHostVolumes(config, raw, host),
    peers: raw.connections.map(showPeer).sort((a, b) => a.nodeId - b.nodeId),
    startup: new Map(),
  };
}

/**
 * Parses `bsrsetup show` output. Resources written in the kernel's form (`_this_host`) are taken
 * as they are; resources written as ordinary config are viewed from host `me`.
 */
export function parseRunningState(text: string, file: string, me: string): LocalResource[] {
  const raw = parseShowText(text, file);
  const kernelForm = raw.resources.filter((r) => r.hosts.some((h) => h.names[0] === THIS_HOST));
  const configForm = raw.resources.filter((r) => !kernelForm.includes(r));
  const running = kernelForm.map((r) => fromThisHost(raw, r));
  for (const resource of resolveConfig({ ...raw, resources: configForm }).resources) {
    const host = findLocalHost(resource, me);
    if (host) running.push(localResource(resource, host));
  }
  return running;
}
