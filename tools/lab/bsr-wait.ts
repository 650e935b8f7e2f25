// Guest-side waits on a bsr resource through bsrsetup's own wait commands: one bsrsetup process
// watches the state, where polling `status` from the host would start a node process (about a
// second of CPU under TCG) for every look.
import type { Lab, NodeName } from './types.js';
import { sleep } from './util.js';

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

/**
 * Waits until `res` on `node` is connected and in sync with every peer, everything UpToDate: the
 * guest's `bsrsetup wait-sync-resource` follows the kernel's notifications (one process for the
 * wait, where polling from the host starts one per look), then the state is read as JSON.
 */
export async function waitUpToDate(
  lab: Lab,
  node: NodeName,
  bsrsetup: string,
  res: string,
  timeoutS: number,
): Promise<void> {
  const end = Date.now() + timeoutS * 1000;
  let last: ResourceJson | undefined;
  for (;;) {
    const left = Math.ceil((end - Date.now()) / 1000);
    if (left <= 0) throw new Error(`${node}: ${res} not UpToDate after ${timeoutS} s: ${JSON.stringify(last)}`);
    const r = await lab.exec(node, ['sh', '-c', `${bsrsetup} wait-sync-resource ${res} --wait-timeout=${left}`]);
    if (r.code === 0) {
      last = await resourceState(lab, node, bsrsetup, res);
      if (allUpToDate(last)) return;
    }
    await sleep(200);
  }
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
