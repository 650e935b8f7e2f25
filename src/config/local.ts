// This node's view of a resource: what bsrsetup on this host is told. Both the config and the
// running state (`bsrsetup show`) are reduced to this shape, so `adjust` compares like with like.
import { hostname, networkInterfaces } from 'node:os';
import { ConfigError } from '../common/errors';
import type { Address, Loc } from './ast';
import { type BsrConfig, type Host, hostHasName, type OptionMap, type Resource, type Volume } from './model';

export interface LocalPeer {
  nodeId: number;
  /** The connection name (`--_name`): the connection's own name or the peer's host name. */
  name: string;
  paths: { local: Address; remote: Address }[];
  net: OptionMap;
  peerDevice: Map<number, OptionMap>;
  /** Running state only: the connection is StandAlone (`bsradm adjust` connects it). */
  standalone?: boolean;
}

export interface LocalResource {
  name: string;
  nodeId: number;
  resourceOptions: OptionMap;
  nodeOptions: OptionMap;
  volumes: Volume[];
  peers: LocalPeer[];
  /** startup {} (wait timeouts); the running state has none. */
  startup: OptionMap;
  loc?: Loc;
}

/** The name this node answers to: `__BSR_NODE__`, else global `hostname`, else the system's. */
export function localHostName(config?: BsrConfig): string {
  const fromEnv = process.env.__BSR_NODE__;
  if (fromEnv) return fromEnv;
  const configured = config?.global.get('hostname')?.value;
  if (typeof configured === 'string' && configured !== '') return configured;
  return hostname();
}

function localAddresses(): Set<string> {
  const found = new Set<string>();
  for (const list of Object.values(networkInterfaces())) for (const info of list ?? []) found.add(info.address);
  return found;
}

/**
 * The host section for this node, or undefined when the resource does not involve it. A floating
 * host is this node when it has the address (or, as drbdadm allows for tests, is named by it).
 */
export function findLocalHost(resource: Resource, name: string): Host | undefined {
  const byName = resource.hosts.find((h) => !h.floating && hostHasName(h.names, name));
  if (byName) return byName;
  const floating = resource.hosts.filter((h) => h.floating);
  const byAddress = floating.find((h) => h.address?.host === name);
  if (byAddress || floating.length === 0) return byAddress;
  const mine = localAddresses();
  return floating.find((h) => h.address && mine.has(h.address.host));
}

/**
 * The net options as host `me` sends them: a value naming a host (`discard-node-NODENAME`) is the
 * option's local value on that host and its remote value on the other.
 */
function asSentBy(net: OptionMap, me: string): OptionMap {
  return new Map(
    [...net].map(([keyword, entry]) => {
      const named = entry.def.namesHost;
      if (!named || typeof entry.value !== 'string' || !entry.value.startsWith(named.prefix)) return [keyword, entry];
      const value = entry.value.slice(named.prefix.length) === me ? named.local : named.remote;
      return [keyword, { ...entry, value }];
    }),
  );
}

export function localResource(resource: Resource, host: Host): LocalResource {
  const me = host.names[0];
  const peers: LocalPeer[] = [];
  for (const connection of resource.connections) {
    const side = connection.hosts.indexOf(me);
    if (side < 0) continue;
    const peerName = connection.hosts[1 - side];
    const peer = resource.hosts.find((h) => h.names[0] === peerName);
    if (!peer) continue;
    peers.push({
      nodeId: peer.nodeId,
      name: connection.name ?? peerName,
      paths: connection.paths.map((p) => ({ local: p.addresses[side], remote: p.addresses[1 - side] })),
      net: asSentBy(connection.net, me),
      peerDevice: connection.peerDevice,
    });
  }
  return {
    name: resource.name,
    nodeId: host.nodeId,
    resourceOptions: resource.resourceOptions,
    nodeOptions: host.nodeOptions,
    volumes: host.volumes,
    peers: peers.sort((a, b) => a.nodeId - b.nodeId),
    startup: resource.startup,
    loc: resource.loc,
  };
}

/** Resources named on the command line (`all`, `RES`, `RES/VOL`), viewed from this node. */
export function selectResources(config: BsrConfig, names: string[], me: string): LocalResource[] {
  const selected: LocalResource[] = [];
  const wantAll = names.length === 0 || names.includes('all');
  if (wantAll) {
    for (const resource of config.resources) {
      const host = findLocalHost(resource, me);
      if (host) selected.push(localResource(resource, host));
    }
    return selected;
  }
  for (const name of names) {
    const resource = config.resources.find((r) => r.name === name);
    if (!resource) throw new ConfigError(config.file, 1, `resource '${name}' is not defined`);
    const host = findLocalHost(resource, me);
    if (!host) {
      throw new ConfigError(resource.loc.file, resource.loc.line, `resource ${name} has no host section for '${me}'`);
    }
    selected.push(localResource(resource, host));
  }
  return selected;
}

/** Addresses that bind on every interface, so any node has them. */
const WILDCARDS = new Set(['0.0.0.0', '::']);

/**
 * drbdadm's IP verification: the address this node listens on for each selected resource (its
 * `on HOST` address, and its side of every path) must be on one of its interfaces, or the
 * connection could never be made. `global { disable-ip-verification; }` turns the check off.
 */
export function verifyLocalAddresses(config: BsrConfig, selected: LocalResource[], me: string): void {
  if (config.global.get('disable-ip-verification')?.value === true) return;
  const mine = localAddresses();
  for (const { name } of selected) {
    const resource = config.resources.find((r) => r.name === name);
    const host = resource && findLocalHost(resource, me);
    if (!resource || !host) continue;
    const used: { host: string; loc: Loc }[] = host.address
      ? [{ host: host.address.host, loc: host.addressLoc ?? host.loc }]
      : [];
    for (const connection of resource.connections) {
      const side = connection.hosts.indexOf(host.names[0]);
      if (side >= 0) for (const path of connection.paths) used.push({ host: path.addresses[side].host, loc: path.loc });
    }
    const missing = used.find((u) => !mine.has(u.host) && !WILDCARDS.has(u.host));
    if (missing) {
      throw new ConfigError(
        missing.loc.file,
        missing.loc.line,
        `${name}: address ${missing.host} is not on any interface of this node (global { disable-ip-verification; } turns this check off)`,
      );
    }
  }
}
