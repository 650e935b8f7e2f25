// Waits on a bsr resource in the guests that follow the kernel's notifications: the guest's state
// watcher (what events2 prints, tools/lab/guest/monitor.ts) follows the state for the whole wait,
// where polling `status` from the host would start a CLI (about a second of emulated CPU) every
// look.
import { guestMonitor } from './paths.js';
import type { Lab, NodeName } from './types.js';

/** One resource of `bsrsetup status --json`: the fields the lab reads. */
export interface ResourceJson {
  name: string;
  role?: string;
  devices: { volume: number; minor: number | null; disk?: string; [k: string]: unknown }[];
  connections: {
    'peer-node-id': number;
    name?: string;
    connection?: string;
    'peer-devices': { volume: number; replication?: string; 'peer-disk'?: string; [k: string]: unknown }[];
    [k: string]: unknown;
  }[];
  [k: string]: unknown;
}

/** The state of `res` on `node`, read from `bsrsetup status RES --json` (undefined: no such resource). */
export async function resourceState(
  lab: Lab,
  node: NodeName,
  bsrsetup: string,
  res: string,
): Promise<ResourceJson | undefined> {
  const out = await lab.sh(node, `${bsrsetup} status ${res} --json`);
  return (JSON.parse(out) as ResourceJson[]).find((r) => r.name === res);
}

/** Every connection Connected, every disk and peer disk UpToDate, every replication Established. */
export function allUpToDate(r: ResourceJson | undefined): boolean {
  if (!r || r.connections.length === 0 || r.devices.length === 0) return false;
  return (
    r.devices.every((d) => d.disk === 'UpToDate') &&
    r.connections.every(
      (c) =>
        c.connection === 'Connected' &&
        c['peer-devices'].length > 0 &&
        c['peer-devices'].every((pd) => pd.replication === 'Established' && pd['peer-disk'] === 'UpToDate'),
    )
  );
}

type EventFields = Record<string, string | number>;

/**
 * One resource as `bsrsetup events2 RES --json --statistics` reports it: every object (resource,
 * device, connection, peer device, path) with its latest fields, `change` events merged in.
 */
export class ResourceEvents {
  private readonly objects = new Map<string, EventFields>();
  /** Whether the initial state (up to `exists -`) has been read. */
  complete = false;

  apply(e: EventFields): void {
    if (e.object === '-') {
      this.complete = true;
      return;
    }
    const key = `${e.object}/${e['peer-node-id'] ?? ''}/${e.volume ?? ''}`;
    if (e.action === 'destroy') this.objects.delete(key);
    else this.objects.set(key, { ...this.objects.get(key), ...e });
  }

  private all(object: string): EventFields[] {
    return [...this.objects.values()].filter((o) => o.object === object);
  }
  resource(): EventFields | undefined {
    return this.all('resource')[0];
  }
  devices(): EventFields[] {
    return this.all('device');
  }
  connections(): EventFields[] {
    return this.all('connection');
  }
  peerDevices(): EventFields[] {
    return this.all('peer-device');
  }
  paths(): EventFields[] {
    return this.all('path');
  }
  /** Volume `volume`'s peer device toward `peer` (default: the first peer). */
  peerDevice(volume = 0, peer?: number): EventFields | undefined {
    return this.peerDevices().find((o) => o.volume === volume && (peer === undefined || o['peer-node-id'] === peer));
  }
  /** `key` of volume `volume`'s peer device, else its connection, its device or the resource. */
  field(key: string, volume = 0): string | undefined {
    const pd = this.peerDevice(volume);
    const conn = this.connections().find((c) => pd === undefined || c['peer-node-id'] === pd['peer-node-id']);
    const dev = this.devices().find((d) => d.volume === volume);
    for (const o of [pd, conn, dev, this.resource()]) if (o?.[key] !== undefined) return String(o[key]);
    return undefined;
  }
  /** Every connection Connected, every disk and peer disk UpToDate, every replication Established. */
  allUpToDate(): boolean {
    const devices = this.devices();
    const conns = this.connections();
    const pds = this.peerDevices();
    return (
      devices.length > 0 &&
      conns.length > 0 &&
      pds.length >= conns.length * devices.length &&
      devices.every((d) => d.disk === 'UpToDate') &&
      conns.every((c) => c.connection === 'Connected') &&
      pds.every((p) => p.replication === 'Established' && p['peer-disk'] === 'UpToDate')
    );
  }
  toString(): string {
    return JSON.stringify([...this.objects.values()]);
  }
}

/**
 * The lab's state watcher in one guest (tools/lab/guest/monitor.ts), shared by every wait on that
 * node while its lab session lasts: a wait is a `watch` line on its stdin, answered by what
 * `bsrsetup events2 RES --json --statistics` prints, instead of a node start-up in the emulated
 * guest. It ends with the session (scenario end, node crash); the next wait starts another.
 */
class GuestMonitor {
  private write?: (data: string) => void;
  private readonly queued: string[] = [];
  private readonly watches = new Map<number, (line: string) => void>();
  private nextId = 1;
  private partial = '';

  constructor(lab: Lab, node: NodeName, onEnd: () => void) {
    lab
      .exec(node, guestMonitor(lab.repoRoot), {
        stdin: (write) => {
          this.write = write;
          for (const line of this.queued.splice(0)) write(line);
        },
        onStdout: (chunk) => this.onStdout(chunk),
        timeoutMs: 7 * 24 * 3600_000,
      })
      .then(
        (r) => `the state watcher ended (exit ${r.code}) ${r.stderr.trim()}`,
        (e: Error) => `the state watcher failed: ${e.message}`,
      )
      .then((why) => {
        onEnd();
        for (const onLine of this.watches.values()) onLine(`!${why}`);
        this.watches.clear();
      });
  }

  private send(line: string): void {
    if (this.write) this.write(line);
    else this.queued.push(line);
  }

  private onStdout(chunk: Buffer): void {
    const lines = (this.partial + chunk.toString()).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      const space = line.indexOf(' ');
      this.watches.get(Number(line.slice(0, space)))?.(line.slice(space + 1));
    }
  }

  /** Follows `res`: onLine gets each events2 line, or `!WHY` once the watch failed. Returns its stop. */
  watch(res: string, onLine: (line: string) => void): () => void {
    const id = this.nextId++;
    this.watches.set(id, onLine);
    this.send(`watch ${id} ${res}\n`);
    return () => {
      if (this.watches.delete(id)) this.send(`stop ${id}\n`);
    };
  }
}

const monitors = new WeakMap<Lab, Map<NodeName, GuestMonitor>>();

function monitorOf(lab: Lab, node: NodeName): GuestMonitor {
  const byNode = monitors.get(lab) ?? new Map<NodeName, GuestMonitor>();
  monitors.set(lab, byNode);
  const running = byNode.get(node);
  if (running) return running;
  const started = new GuestMonitor(lab, node, () => {
    if (byNode.get(node) === started) byNode.delete(node);
  });
  byNode.set(node, started);
  return started;
}

/**
 * Waits until `check` holds for `res` on `node`, following the kernel's notifications as
 * `bsrsetup events2 --json` reports them (through the node's state watcher: polling `status`
 * would start a CLI, about a second of emulated CPU, for every look) and returns the truthy value
 * `check` returned. Throws with the last state seen after `timeoutMs`.
 */
export async function waitEvents<T>(
  lab: Lab,
  node: NodeName,
  res: string,
  what: string,
  check: (r: ResourceEvents) => T | undefined | null | false,
  timeoutMs = 60_000,
  /** called once the initial state has been read: changes from now on are seen */
  onReady?: () => void,
): Promise<T> {
  const view = new ResourceEvents();
  let stop = () => {};
  let timer: NodeJS.Timeout | undefined;
  try {
    return await new Promise<T>((resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${node}: ${what}: not within ${timeoutMs / 1000} s; last state: ${view}`)),
        timeoutMs,
      );
      let settled = false;
      stop = monitorOf(lab, node).watch(res, (line) => {
        if (settled) return;
        if (line.startsWith('!')) {
          settled = true;
          reject(new Error(`${node}: ${what}: events2 failed: ${line.slice(1)}; last state: ${view}`));
          return;
        }
        const wasComplete = view.complete;
        view.apply(JSON.parse(line) as EventFields);
        if (view.complete && !wasComplete) onReady?.();
        const value = view.complete ? check(view) : undefined;
        if (value) {
          settled = true;
          resolve(value);
        }
      });
    });
  } finally {
    clearTimeout(timer);
    stop();
  }
}

/**
 * The state of `res` on `node` now, as `bsrsetup events2 RES --json --statistics` dumps it
 * (through the node's state watcher: no CLI start-up, unlike `status --json`).
 */
export function currentState(lab: Lab, node: NodeName, res: string): Promise<ResourceEvents> {
  return waitEvents(lab, node, res, 'the current state', (r) => r);
}

/**
 * Waits until `res` on `node` is connected and in sync with every peer, everything UpToDate.
 * `onReady`: as waitEvents'.
 */
export async function waitUpToDate(
  lab: Lab,
  node: NodeName,
  res: string,
  timeoutS: number,
  onReady?: () => void,
): Promise<void> {
  await waitEvents(lab, node, res, `${res} UpToDate`, (r) => r.allUpToDate(), timeoutS * 1000, onReady);
}

/** A shell script for a guest that exits 0 once every connection of `res` is Connected. */
export function waitConnectedScript(bsrsetup: string, res: string, timeoutS: number): string {
  return `${bsrsetup} wait-connect-resource ${res} --wait-timeout=${timeoutS}`;
}

/**
 * Switches a two-node resource to another replication protocol: net-options on both nodes (each
 * names its peer's node-id), then waits until `nodes[0]` logged the reconnect with it.
 */
export async function switchProtocol(
  lab: Lab,
  bsrsetup: string,
  res: string,
  nodes: readonly { node: NodeName; peerId: number }[],
  protocol: string,
): Promise<void> {
  for (const { node, peerId } of nodes)
    await lab.sh(node, `${bsrsetup} net-options ${res} ${peerId} --protocol=${protocol}`);
  await lab.waitFor(
    `reconnect with protocol ${protocol}`,
    async () =>
      (await lab.dmesg(nodes[0].node))
        .split('\n')
        .filter((l) => /connected, protocol/.test(l))
        .at(-1)
        ?.trimEnd()
        .endsWith(`protocol ${protocol}`),
    120_000,
    300,
  );
}
