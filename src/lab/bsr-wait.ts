// Guest-side waits on a bsr resource through bsrsetup's own wait commands: one bsrsetup process
// watches the state, where polling `status` from the host would start a node process (about a
// second of CPU under TCG) for every look.
import type { Lab, NodeName } from './types.js';

/**
 * A shell script for a guest that exits 0 once every connection of `res` is Connected, no resync
 * runs and this node and its peers are UpToDate; non-zero (printing the status) after `timeoutS`.
 */
export function waitUpToDateScript(bsrsetup: string, res: string, timeoutS: number): string {
  const status = `/tmp/${res}.wait-status`;
  return [
    `end=$(( $(date +%s) + ${timeoutS} ))`,
    'while :; do',
    `  left=$(( end - $(date +%s) )); [ "$left" -gt 0 ] || { cat ${status} 2>/dev/null; exit 1; }`,
    `  ${bsrsetup} wait-sync-resource ${res} --wait-timeout=$left &&`,
    `  ${bsrsetup} status ${res} -v > ${status} &&`,
    // every connection, replication, disk and peer-disk state is the good one (there is one at least)
    `  bad=$(grep -Eo "(connection|replication|disk):[A-Za-z]+" ${status} | grep -Evx "connection:Connected|replication:Established|disk:UpToDate" || true) &&`,
    `  [ -z "$bad" ] && grep -q "replication:Established" ${status} && exit 0`,
    '  sleep 0.2',
    'done',
  ].join('\n');
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
