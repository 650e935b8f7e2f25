// Inheritance (common -> resource -> host -> volume -> connection) and cross-checks: RawConfig -> BsrConfig.
import { hostNameProblem, resourceNameProblem } from '../abi/index';
import { ConfigError } from '../common/errors';
import type {
  Address,
  Loc,
  MetaDisk,
  OptionEntry,
  RawConfig,
  RawConnectionHost,
  RawHost,
  RawResource,
  VolumeSettings,
} from './ast';
import { type OptionSection, OptionValueError, parseOptionValue } from './options';
import type { ConfigJson, ConnectionJson, HostJson, ResourceJson, VolumeJson } from './schema';

/** Effective options by keyword, in the order they were first set (later levels override). */
export type OptionMap = Map<string, OptionEntry>;

/** A volume on one host: the JSON model's (src/config/schema.ts) with its options as an OptionMap. */
export interface Volume extends Omit<VolumeJson, 'options'> {
  diskOptions: OptionMap;
  loc: Loc;
  /** Where the device (and so the minor), the disk and the meta-disk were written. */
  deviceLoc: Loc;
  diskLoc: Loc;
  metaDiskLoc: Loc;
}

export interface Host extends Omit<HostJson, 'options' | 'volumes'> {
  addressLoc?: Loc;
  volumes: Volume[];
  nodeOptions: OptionMap;
  loc: Loc;
}

export interface Path {
  /** Addresses in the order of Connection.hosts. */
  addresses: ConnectionJson['paths'][number];
  loc: Loc;
}

export interface Connection extends Omit<ConnectionJson, 'paths' | 'net' | 'volumes'> {
  paths: Path[];
  net: OptionMap;
  /** Peer-device options by volume number. */
  peerDevice: Map<number, OptionMap>;
  loc: Loc;
}

export interface Resource extends Omit<ResourceJson, 'options' | 'startup' | 'handlers' | 'hosts' | 'connections'> {
  loc: Loc;
  resourceOptions: OptionMap;
  hosts: Host[];
  connections: Connection[];
  startup: OptionMap;
  handlers: OptionMap;
}

export interface BsrConfig extends Omit<ConfigJson, 'global' | 'resources'> {
  global: OptionMap;
  resources: Resource[];
}

/** The device of minor N; on Windows a drive letter (with `minor N`) names the volume instead. */
const BSR_DEVICE = /^\/dev\/bsr(\d+)$/;
const DRIVE_LETTER = /^[A-Za-z]$/;

/**
 * A net option naming a host (`after-sb-0pri discard-node-NODENAME`) must name one of the
 * connection's two hosts; each side sends what it means there (localResource).
 */
function checkHostNames(net: OptionMap, a: string, b: string): OptionMap {
  for (const entry of net.values()) {
    const named = entry.def.namesHost;
    if (!named || typeof entry.value !== 'string' || !entry.value.startsWith(named.prefix)) continue;
    const host = entry.value.slice(named.prefix.length);
    if (host !== a && host !== b) {
      fail(entry.loc, `${entry.def.keyword} ${entry.value}: '${host}' is neither host of the connection (${a}, ${b})`);
    }
  }
  return net;
}

function fail(at: Loc, message: string): never {
  throw new ConfigError(at.file, at.line, message);
}

/** Merges option lists, keeping only the given sections; later entries override earlier ones. */
export function mergeOptions(sections: readonly OptionSection[], ...levels: OptionEntry[][]): OptionMap {
  const merged: OptionMap = new Map();
  for (const level of levels) {
    for (const entry of level) if (sections.includes(entry.def.section)) merged.set(entry.def.keyword, entry);
  }
  return merged;
}

function rejectPeerDeviceOptions(entries: OptionEntry[], where: string): void {
  const misplaced = entries.find((e) => e.def.section === 'peer-device');
  if (misplaced) {
    fail(
      misplaced.loc,
      `'${misplaced.def.keyword}' is a peer-device option; it belongs in the disk section of the resource or a connection, not of ${where}`,
    );
  }
}

/**
 * Whether two host names name the same machine, as drbdadm decides it: two fully qualified names
 * must be equal; when one is short (no dot), the first labels are compared. Case does not matter.
 */
export function hostNamesEqual(a: string, b: string): boolean {
  const shortA = a.split('.')[0];
  const shortB = b.split('.')[0];
  if (shortA !== a && shortB !== b) return a.toLowerCase() === b.toLowerCase();
  return shortA.toLowerCase() === shortB.toLowerCase();
}

/** Whether `name` is one of the names of a host section. */
export function hostHasName(names: readonly string[], name: string): boolean {
  return names.some((n) => hostNamesEqual(n, name));
}

function hostLabel(host: RawHost): string {
  return host.names.join(' ');
}

function volumeNumbers(resource: RawResource, host: RawHost): number[] {
  const numbers = new Set<number>();
  for (const v of resource.volumes) numbers.add(v.number);
  for (const v of host.volumes) numbers.add(v.number);
  // A device or disk outside any volume block is volume 0; a lone meta-disk is shared by all volumes.
  const hasDirect = (s: VolumeSettings) => s.devicePath !== undefined || s.minor !== undefined || s.disk !== undefined;
  if (hasDirect(resource.direct) || hasDirect(host.direct) || numbers.size === 0) numbers.add(0);
  return [...numbers].sort((a, b) => a - b);
}

/**
 * device/disk/meta-disk for one volume of one host: resource, then host; the volume block wins.
 * device and disk written outside a volume block belong to volume 0 (one volume cannot share its
 * devices); meta-disk written there applies to every volume.
 */
function resolveVolume(config: RawConfig, resource: RawResource, host: RawHost, number: number): Volume {
  const direct = (s: VolumeSettings): VolumeSettings =>
    number === 0 ? s : { loc: s.loc, metaDisk: s.metaDisk, diskOptions: [] };
  const layers: VolumeSettings[] = [direct(resource.direct)];
  const resourceVolume = resource.volumes.find((v) => v.number === number);
  if (resourceVolume) layers.push(resourceVolume);
  layers.push(direct(host.direct));
  const hostVolume = host.volumes.find((v) => v.number === number);
  if (hostVolume) {
    rejectPeerDeviceOptions(hostVolume.diskOptions, `volume ${number} of host ${hostLabel(host)}`);
    layers.push(hostVolume);
  }
  const where = `volume ${number} of host ${hostLabel(host)} in resource ${resource.name}`;
  const at = hostVolume?.loc ?? resourceVolume?.loc ?? host.loc;
  let devicePath: string | undefined;
  let minor: number | undefined;
  let deviceLoc: Loc = at;
  let disk: string | undefined;
  let diskLoc: Loc = at;
  let metaDisk: MetaDisk | undefined;
  let metaDiskLoc: Loc = at;
  for (const layer of layers) {
    if (layer.devicePath !== undefined || layer.minor !== undefined) {
      devicePath = layer.devicePath;
      minor = layer.minor;
      deviceLoc = layer.deviceLoc ?? layer.loc;
    }
    if (layer.disk !== undefined) {
      disk = layer.disk;
      diskLoc = layer.diskLoc ?? layer.loc;
    }
    if (layer.metaDisk !== undefined) {
      metaDisk = layer.metaDisk;
      metaDiskLoc = layer.metaDiskLoc ?? layer.loc;
    }
  }
  if (devicePath === undefined && minor === undefined) fail(at, `${where}: device missing`);
  if (minor === undefined) {
    const fromName = BSR_DEVICE.exec(devicePath ?? '');
    if (!fromName) {
      fail(deviceLoc, `device ${devicePath} names no minor: write /dev/bsrN, minor N, or a drive letter with minor N`);
    }
    minor = Number(fromName[1]);
  }
  if (disk === undefined) fail(at, `${where}: disk missing (use 'disk none;' for a diskless volume)`);
  // As in drbdadm, a disk without a meta-disk keeps its meta data internal.
  metaDisk ??= { device: 'internal', index: 'internal' };
  rejectPeerDeviceOptions(host.direct.diskOptions, `host ${hostLabel(host)}`);
  const diskOptions = mergeOptions(
    ['disk'],
    config.common.disk,
    resource.disk,
    resourceVolume?.diskOptions ?? [],
    host.direct.diskOptions,
    hostVolume?.diskOptions ?? [],
  );
  return {
    number,
    minor,
    device: devicePath ?? `/dev/bsr${minor}`,
    disk,
    metaDisk,
    diskOptions,
    loc: at,
    deviceLoc,
    diskLoc,
    metaDiskLoc,
  };
}

function assignNodeIds(resource: RawResource): number[] {
  const ids: (number | undefined)[] = resource.hosts.map((h) => h.nodeId);
  const seen = new Map<number, RawHost>();
  for (const host of resource.hosts) {
    if (host.nodeId === undefined) continue;
    const other = seen.get(host.nodeId);
    if (other) {
      fail(host.nodeIdLoc ?? host.loc, `node-id ${host.nodeId} is already used by host ${hostLabel(other)}`);
    }
    seen.set(host.nodeId, host);
  }
  const missing = resource.hosts.find((h) => h.nodeId === undefined);
  if (missing && resource.hosts.length > 2) {
    fail(missing.loc, `host ${hostLabel(missing)}: node-id missing (required when a resource has more than two hosts)`);
  }
  // Two hosts without node-ids are numbered in the order they are written.
  let free = 0;
  return ids.map((id) => {
    if (id !== undefined) return id;
    while (seen.has(free)) free++;
    seen.set(free, resource.hosts[0]);
    return free;
  });
}

function findHost(resource: RawResource, name: string, at: Loc): RawHost {
  const host = resource.hosts.find((h) => hostHasName(h.names, name));
  if (!host) {
    const known = resource.hosts.map((h) => h.names[0]).join(', ');
    fail(at, `resource ${resource.name} has no host '${name}' (hosts: ${known})`);
  }
  return host;
}

/** Both ends of a path in one address family: the kernel's path joins two sockaddrs of one kind. */
function onePathFamily(path: Path): Path {
  const [a, b] = path.addresses;
  if (a.family !== b.family) {
    fail(
      path.loc,
      `a path cannot join ${a.family} ${formatAddress(a)} and ${b.family} ${formatAddress(b)} (one address family on each path)`,
    );
  }
  return path;
}

function hostAddress(host: RawHost, at: Loc, override?: RawConnectionHost): Address {
  if (override?.address) return override.address;
  if (!host.address) fail(at, `host ${hostLabel(host)} has no address`);
  return override?.port ? { ...host.address, port: override.port } : host.address;
}

function resolveConnections(config: RawConfig, resource: RawResource): Connection[] {
  const volumeSet = new Set<number>();
  for (const host of resource.hosts) for (const n of volumeNumbers(resource, host)) volumeSet.add(n);
  const volumes = [...volumeSet].sort((a, b) => a - b);
  const baseNet = [...config.common.net, ...resource.net];
  const peerDeviceBase = (n: number) => [
    ...config.common.disk,
    ...resource.disk,
    ...(resource.volumes.find((v) => v.number === n)?.diskOptions ?? []),
  ];
  /** A connection between two hosts; without explicit paths, one path between their addresses. */
  const pairConnection = (
    a: RawHost,
    b: RawHost,
    at: Loc,
    net: OptionEntry[],
    paths?: Path[],
    name?: string,
    peerDevice: OptionEntry[] = [],
    volumeOptions: { number: number; peerDevice: OptionEntry[] }[] = [],
  ): Connection => ({
    name,
    hosts: [a.names[0], b.names[0]],
    net: checkHostNames(mergeOptions(['net'], baseNet, net), a.names[0], b.names[0]),
    paths: (paths ?? [{ addresses: [hostAddress(a, at), hostAddress(b, at)], loc: b.addressLoc ?? at }]).map(
      onePathFamily,
    ),
    peerDevice: new Map(
      volumes.map((n) => [
        n,
        mergeOptions(
          ['peer-device'],
          peerDeviceBase(n),
          peerDevice,
          volumeOptions.find((v) => v.number === n)?.peerDevice ?? [],
        ),
      ]),
    ),
    loc: at,
  });

  const connections: Connection[] = [];
  for (const raw of resource.connections) {
    const endpoints = raw.paths.length > 0 ? raw.paths[0].hosts : raw.hosts;
    if (endpoints.length !== 2) fail(raw.loc, `a connection needs exactly two hosts, found ${endpoints.length}`);
    const a = findHost(resource, endpoints[0].name, endpoints[0].loc);
    const b = findHost(resource, endpoints[1].name, endpoints[1].loc);
    if (a === b) fail(endpoints[1].loc, `a connection needs two different hosts, '${endpoints[1].name}' given twice`);
    const pathSpecs = raw.paths.length > 0 ? raw.paths : [{ loc: raw.loc, hosts: raw.hosts }];
    const paths = pathSpecs.map((path): Path => {
      if (path.hosts.length !== 2) fail(path.loc, `a path needs exactly two hosts, found ${path.hosts.length}`);
      const first = path.hosts.find((h) => hostHasName(a.names, h.name));
      const second = path.hosts.find((h) => hostHasName(b.names, h.name));
      if (!first || !second) fail(path.loc, `the paths of a connection must name the same two hosts`);
      return { addresses: [hostAddress(a, first.loc, first), hostAddress(b, second.loc, second)], loc: path.loc };
    });
    connections.push(pairConnection(a, b, raw.loc, raw.net, paths, raw.name, raw.peerDevice, raw.volumes));
  }
  for (const mesh of resource.meshes) {
    const hosts = mesh.hosts.map((name) => findHost(resource, name, mesh.loc));
    for (let i = 0; i < hosts.length; i++) {
      for (let j = i + 1; j < hosts.length; j++)
        connections.push(pairConnection(hosts[i], hosts[j], mesh.loc, mesh.net));
    }
  }
  if (resource.connections.length === 0 && resource.meshes.length === 0) {
    // Without explicit connections every pair of hosts is connected.
    const hosts = resource.hosts;
    for (let i = 0; i < hosts.length; i++) {
      for (let j = i + 1; j < hosts.length; j++) connections.push(pairConnection(hosts[i], hosts[j], resource.loc, []));
    }
  }
  const seenPairs = new Set<string>();
  for (const c of connections) {
    const key = [...c.hosts].sort().join('\0');
    if (seenPairs.has(key)) fail(c.loc, `hosts ${c.hosts[0]} and ${c.hosts[1]} are connected twice`);
    seenPairs.add(key);
    checkAuthentication(c);
  }
  return connections;
}

/** cram-hmac-alg with no or an empty shared-secret would let anyone in who knows the algorithm. */
function checkAuthentication(c: Connection): void {
  const alg = c.net.get('cram-hmac-alg');
  if (!alg || alg.value === '') return;
  const secret = c.net.get('shared-secret');
  if (!secret || secret.value === '')
    fail(alg.loc, `cram-hmac-alg ${alg.value} needs a shared-secret: an empty one lets anyone in`);
}

/** Every volume of one host, with inheritance from the resource and `common`. */
export function resolveHostVolumes(config: RawConfig, resource: RawResource, host: RawHost): Volume[] {
  return volumeNumbers(resource, host).map((n) => resolveVolume(config, resource, host, n));
}

/** A host (by any of its names), or a volume number within one level, may appear only once. */
function rejectDuplicateSections(raw: RawResource): void {
  raw.hosts.forEach((host, index) => {
    for (const name of host.names) {
      const other = raw.hosts.slice(0, index).find((h) => hostHasName(h.names, name));
      if (other) fail(host.loc, `host ${name} appears twice in resource ${raw.name} (first at line ${other.loc.line})`);
    }
  });
  for (const volumes of [raw.volumes, ...raw.hosts.map((h) => h.volumes)]) {
    const seen = new Map<number, Loc>();
    for (const volume of volumes) {
      const first = seen.get(volume.number);
      if (first) fail(volume.loc, `volume ${volume.number} appears twice (first at line ${first.line})`);
      seen.set(volume.number, volume.loc);
    }
  }
}

/** Names the kernel would refuse, at the line that gives them. */
function checkNames(raw: RawResource): void {
  const resourceProblem = resourceNameProblem(raw.name);
  if (resourceProblem) fail(raw.loc, `resource name '${raw.name}': ${resourceProblem}`);
  for (const host of raw.hosts) {
    for (const name of host.names) {
      const problem = hostNameProblem(name);
      if (problem) fail(host.loc, `host name '${name}': ${problem}`);
    }
  }
}

function resolveResource(config: RawConfig, raw: RawResource): Resource {
  checkNames(raw);
  if (raw.hosts.length === 0) fail(raw.loc, `resource ${raw.name} has no host ('on HOST {}') sections`);
  rejectDuplicateSections(raw);
  const nodeIds = assignNodeIds(raw);
  const hosts: Host[] = raw.hosts.map((host, index) => ({
    names: host.names,
    nodeId: nodeIds[index],
    address: host.address,
    addressLoc: host.addressLoc,
    floating: host.floating,
    volumes: resolveHostVolumes(config, raw, host),
    nodeOptions: mergeOptions(['node'], config.common.options, raw.options, host.options),
    loc: host.loc,
  }));
  return {
    name: raw.name,
    loc: raw.loc,
    resourceOptions: mergeOptions(['resource'], config.common.options, raw.options),
    hosts,
    connections: resolveConnections(config, raw),
    startup: mergeOptions(['startup'], config.common.startup, raw.startup),
    handlers: mergeOptions(['handlers'], config.common.handlers, raw.handlers),
  };
}

function where(at: Loc): string {
  return `${at.file}:${at.line}`;
}

/** A device as one volume of one host uses it: the host's names, and the volume for messages. */
interface Use {
  names: readonly string[];
  resource: string;
  volume: number;
  loc: Loc;
  /** The slot of an external meta-disk. */
  index?: MetaDisk['index'];
}

/** Uses of devices by name (or by minor); a device is shared when two uses are on one host. */
class Uses {
  private readonly byDevice = new Map<string, Use[]>();

  /** An earlier use of `device` on the host of `use` for which `clashes` holds. */
  earlier(device: string, use: Use, clashes: (other: Use) => boolean = () => true): Use | undefined {
    return this.byDevice.get(device)?.find((u) => u.names.some((n) => hostHasName(use.names, n)) && clashes(u));
  }

  add(device: string, use: Use): void {
    this.byDevice.set(device, [...(this.byDevice.get(device) ?? []), use]);
  }
}

function usedBy(use: Use): string {
  return `resource ${use.resource} volume ${use.volume} (${where(use.loc)})`;
}

/** `internal`, `DEV` or `DEV [IDX]`, as a config writes it; `quote` makes the device a config word. */
export function metaDiskText(meta: MetaDisk, quote = (device: string) => device): string {
  if (meta.index === 'internal') return 'internal';
  if (meta.index === 'flexible') return quote(meta.device);
  return `${quote(meta.device)} [${meta.index}]`;
}

/**
 * A device belongs to one volume of one host: its own minor, a lower disk no other volume uses,
 * and meta data that is internal, or an external device (or one slot of it) that is nobody's disk.
 * Hosts are told apart by name as everywhere (`on n1` and `on n1.example.org` are one host).
 */
function checkDevices(resources: Resource[]): void {
  const minors = new Uses();
  const disks = new Uses();
  const metaDisks = new Uses();
  const volumesOf = (each: (host: string, volume: Volume, use: (at: Loc) => Use) => void) => {
    for (const resource of resources) {
      for (const host of resource.hosts) {
        for (const volume of host.volumes) {
          const use = (at: Loc) => ({ names: host.names, resource: resource.name, volume: volume.number, loc: at });
          each(host.names[0], volume, use);
        }
      }
    }
  };
  volumesOf((host, volume, use) => {
    if (volume.device !== `/dev/bsr${volume.minor}` && !DRIVE_LETTER.test(volume.device)) {
      fail(
        volume.deviceLoc,
        `device ${volume.device} does not match minor ${volume.minor}: write 'device /dev/bsr${volume.minor} minor ${volume.minor}' or leave out either`,
      );
    }
    const minor = use(volume.deviceLoc);
    const minorUser = minors.earlier(String(volume.minor), minor);
    if (minorUser) {
      fail(
        volume.deviceLoc,
        `minor ${volume.minor} on host ${host} is already used by resource ${minorUser.resource} (${where(minorUser.loc)})`,
      );
    }
    minors.add(String(volume.minor), minor);
    if (volume.disk === 'none') return;
    const disk = use(volume.diskLoc);
    const diskUser = disks.earlier(volume.disk, disk);
    if (diskUser) fail(volume.diskLoc, `disk ${volume.disk} on host ${host} is already used by ${usedBy(diskUser)}`);
    disks.add(volume.disk, disk);
  });
  volumesOf((host, volume, use) => {
    const meta = volume.metaDisk;
    if (volume.disk === 'none' || meta.index === 'internal') return;
    const metaUse = { ...use(volume.metaDiskLoc), index: meta.index };
    if (meta.device === volume.disk) {
      fail(
        volume.metaDiskLoc,
        `meta-disk ${meta.device} is the volume's own disk; write 'meta-disk internal' for meta data on the disk`,
      );
    }
    const diskUser = disks.earlier(meta.device, metaUse);
    if (diskUser)
      fail(volume.metaDiskLoc, `meta-disk ${meta.device} on host ${host} is the disk of ${usedBy(diskUser)}`);
    // A flexible meta-disk fills its device; indexed ones share it slot by slot.
    const clash = metaDisks.earlier(
      meta.device,
      metaUse,
      (u) => u.index === meta.index || u.index === 'flexible' || meta.index === 'flexible',
    );
    if (clash) {
      fail(volume.metaDiskLoc, `meta-disk ${metaDiskText(meta)} on host ${host} is already used by ${usedBy(clash)}`);
    }
    metaDisks.add(meta.device, metaUse);
  });
}

/**
 * on-congestion pull-ahead or disconnect keeps writes going only where they complete without the
 * peer: protocol A, as in DRBD (the kernel refuses the rest too).
 */
function checkCongestion(resources: Resource[]): void {
  for (const connection of resources.flatMap((r) => r.connections)) {
    const policy = connection.net.get('on-congestion');
    const protocol = connection.net.get('protocol');
    if (!policy || policy.value === 'block' || protocol?.value === 'A') continue;
    fail(policy.loc, `on-congestion ${policy.value} needs protocol A (this connection has ${protocol?.value ?? 'C'})`);
  }
}

/** Checks that span resources: names, devices per host, addresses. */
export function crossCheck(resources: Resource[]): void {
  checkCongestion(resources);
  const names = new Map<string, Resource>();
  const addresses = new Map<string, { resource: string; host: string; loc: Loc }>();
  for (const resource of resources) {
    const previous = names.get(resource.name);
    if (previous) fail(resource.loc, `resource ${resource.name} is defined twice (first at ${where(previous.loc)})`);
    names.set(resource.name, resource);
    for (const host of resource.hosts) {
      if (host.address) {
        const key = `${host.address.host}:${host.address.port}`;
        const used = addresses.get(key);
        const at = host.addressLoc ?? host.loc;
        if (used) {
          fail(
            at,
            `address ${formatAddress(host.address)} is already used by host ${used.host} in resource ${used.resource} (${where(used.loc)})`,
          );
        }
        addresses.set(key, { resource: resource.name, host: host.names[0], loc: at });
      }
    }
  }
  checkDevices(resources);
}

export function formatAddress(address: Address): string {
  return address.family === 'ipv6' ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}

/** `ipv4:A.B.C.D:PORT` / `ipv6:[ADDR]:PORT`, as bsrsetup new-path takes it. */
export function addressArgument(address: Address): string {
  return `${address.family}:${formatAddress(address)}`;
}

/** The minor of the volume that `entry` (`resync-after RES[/VOL]` of `volume` on `host`) names. */
function namedMinor(resources: Resource[], host: Host, volume: Volume, entry: OptionEntry): number {
  const text = String(entry.value);
  const problem = (message: string): never => fail(entry.loc, `${entry.def.keyword} ${text}: ${message}`);
  const [name, number, ...rest] = text.split('/');
  if (rest.length > 0 || (number !== undefined && !/^\d+$/.test(number)))
    problem('expected RESOURCE or RESOURCE/VOLUME');
  const target = resources.find((r) => r.name === name) ?? problem(`resource ${name} is not defined`);
  const me = host.names[0];
  const there =
    target.hosts.find((h) => h.names.some((n) => hostHasName(host.names, n))) ??
    problem(`resource ${name} has no host section for ${me}`);
  let named: Volume | undefined;
  if (number !== undefined) named = there.volumes.find((v) => v.number === Number(number));
  else if (there.volumes.length === 1) named = there.volumes[0];
  else problem(`resource ${name} has ${there.volumes.length} volumes; write ${name}/VOLUME`);
  if (!named) return problem(`resource ${name} has no volume ${number} on host ${me}`);
  if (named === volume) problem('a volume cannot resync after itself');
  // the minor is the value the kernel takes: it is checked as one (range, implemented)
  try {
    parseOptionValue(entry.def, String(named.minor));
  } catch (err) {
    if (err instanceof OptionValueError) problem(err.message.replace(`${entry.def.keyword} `, 'minor '));
    throw err;
  }
  return named.minor;
}

/**
 * Options that name a volume (`resync-after RES/VOL`) get its minor on the same host, as drbdadm
 * does. A chain of them that comes back to where it began is refused, as bsr.ko would refuse it.
 */
function resolveVolumeNames(resources: Resource[]): void {
  // per host: minor -> the minor it resyncs after, and where that was said
  const chains = new Map<string, Map<number, { after: number; entry: OptionEntry }>>();
  for (const resource of resources) {
    for (const host of resource.hosts) {
      const chain = chains.get(host.names[0]) ?? new Map();
      chains.set(host.names[0], chain);
      for (const volume of host.volumes) {
        for (const [keyword, entry] of volume.diskOptions) {
          if (!entry.def.namesVolume || typeof entry.value !== 'string') continue;
          const after = namedMinor(resources, host, volume, entry);
          volume.diskOptions.set(keyword, { ...entry, value: after });
          chain.set(volume.minor, { after, entry });
        }
      }
    }
  }
  for (const chain of chains.values()) {
    for (const [start, { entry }] of chain) {
      const seen = [start];
      for (let link = chain.get(start); link; link = chain.get(link.after)) {
        seen.push(link.after);
        if (link.after === start)
          fail(entry.loc, `${entry.def.keyword} ${entry.value}: a cycle: minor ${seen.join(' -> ')}`);
        if (seen.length > chain.size + 1) break; // a cycle further on: reported from its own start
      }
    }
  }
}

export function resolveConfig(raw: RawConfig): BsrConfig {
  const resources = raw.resources.map((r) => resolveResource(raw, r));
  crossCheck(resources);
  resolveVolumeNames(resources);
  return { file: raw.file, global: mergeOptions(['global'], raw.global), resources };
}
