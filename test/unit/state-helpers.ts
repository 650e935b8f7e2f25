// State objects for the status tests, as the kernel would send them: encoded to bytes and
// decoded back, so the tests go through the same netlink decoding as bsrsetup.
import { abi } from '../../src/abi/index.js';
import type { TopAttrs } from '../../src/netlink/attrs.js';
import { decodeBsrMessage, encodeBsrPayload } from '../../src/netlink/messages.js';
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
