// State objects for the status tests, as the kernel would send them: encoded to bytes and
// decoded back, so the tests go through the same netlink decoding as bsrsetup.
import { abi } from '../../src/abi/index.js';
import type { TopAttrs } from '../../src/netlink/attrs.js';
import { decodeBsrMessage, encodeBsrPayload, NO_MINOR } from '../../src/netlink/messages.js';
import { type StateObject, toStateObject } from '../../src/netlink/objects.js';

/** The index of a state name in its ABI enum (role, disk, connection, replication...). */
export const enumIndex = (kind: string, name: string) => abi.enums[kind].indexOf(name);

/** A state object as the kernel would send it: encoded to bytes and decoded back. */
export function stateObject(cmd: number, minor: number, attrs: TopAttrs): StateObject {
  const payload = encodeBsrPayload({ cmd, minor, attrs });
  const o = toStateObject(decodeBsrMessage({ type: 0x1c, flags: 0, seq: 0, pid: 0, payload }));
  if (!o) throw new Error('not a state object');
  return o;
}

/** Resource r0, Primary. */
export const resource = () =>
  stateObject(abi.commands.GET_RESOURCES, NO_MINOR, {
    CFG_CONTEXT: { ctx_resource_name: 'r0' },
    RESOURCE_INFO: { res_role: enumIndex('role', 'Primary'), res_susp: 0, res_susp_nod: 0, res_susp_fen: 0 },
  });

/** r0's connection to peer 1 (bob), Connected, with csums-alg crc32c. */
export const connection = () =>
  stateObject(abi.commands.GET_CONNECTIONS, NO_MINOR, {
    CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_peer_node_id: 1 },
    CONNECTION_INFO: {
      conn_connection_state: enumIndex('connection', 'Connected'),
      conn_role: enumIndex('role', 'Secondary'),
    },
    NET_CONF: { _name: 'bob', 'csums-alg': 'crc32c' },
  });

/** r0's peer device of volume 0, Established, with the statistics `extra` adds. */
export const peerDevice = (extra: Record<string, number | bigint>) =>
  stateObject(abi.commands.GET_PEER_DEVICES, NO_MINOR, {
    CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_peer_node_id: 1, ctx_volume: 0 },
    PEER_DEVICE_INFO: {
      peer_repl_state: enumIndex('replication', 'Established'),
      peer_disk_state: enumIndex('disk', 'UpToDate'),
      peer_resync_susp_user: 0,
      peer_resync_susp_peer: 0,
      peer_resync_susp_dependency: 0,
    },
    PEER_DEVICE_STATISTICS: {
      peer_dev_received: 0n,
      peer_dev_sent: 2048n,
      peer_dev_out_of_sync: 0n,
      peer_dev_pending: 0,
      peer_dev_unacked: 0,
      ...extra,
    },
  });
