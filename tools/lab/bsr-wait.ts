// Waits on a bsr resource in the guests that follow the kernel's notifications: one bsrsetup
// process (events2, or bsrsetup's own wait commands) watches the state for the whole wait, where
// polling `status` from the host would start a CLI (about a second of emulated CPU) every look.
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
 * Waits until `check` holds for `res` on `node`, following the kernel's notifications: one
 * `bsrsetup events2 --json` in the guest for the whole wait (polling `status` would start a CLI,
 * about a second of emulated CPU, for every look), killed once `check` returns a truthy value,
 * which is returned. Throws with the last state seen after `timeoutMs`.
 */
export async function waitEvents<T>(
  lab: Lab,
  node: NodeName,
  bsrsetup: string,
  res: string,
  what: string,
  check: (r: ResourceEvents) => T | undefined | null | false,
  timeoutMs = 60_000,
): Promise<T> {
  const view = new ResourceEvents();
  const stop = new AbortController();
  let found: { value: T } | undefined;
  let partial = '';
  const onStdout = (chunk: Buffer) => {
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (found || !line.trim()) continue;
      view.apply(JSON.parse(line) as EventFields);
      const value = view.complete ? check(view) : undefined;
      if (value) {
        found = { value };
        stop.abort();
      }
    }
  };
  const timer = setTimeout(() => stop.abort(), timeoutMs);
  try {
    const r = await lab.exec(node, `exec ${bsrsetup} events2 ${res} --json --statistics`, {
      onStdout,
      signal: stop.signal,
      timeoutMs: timeoutMs + 30_000,
    });
    if (found) return found.value;
    const why = stop.signal.aborted
      ? `not within ${timeoutMs / 1000} s`
      : `events2 ended (exit ${r.code}) ${r.stderr.trim()}`;
    throw new Error(`${node}: ${what}: ${why}; last state: ${view}`);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until `res` on `node` is connected and in sync with every peer, everything UpToDate. */
export async function waitUpToDate(
  lab: Lab,
  node: NodeName,
  bsrsetup: string,
  res: string,
  timeoutS: number,
): Promise<void> {
  await waitEvents(lab, node, bsrsetup, res, `${res} UpToDate`, (r) => r.allUpToDate(), timeoutS * 1000);
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
