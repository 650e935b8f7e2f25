// Reading the kernel's current state: the four object dumps, filtered to one resource if asked.
import { abi } from '../abi/index.js';
import type { BsrClient } from '../netlink/client.js';
import { type StateObject, toStateObject } from '../netlink/objects.js';

const DUMPS = [
  abi.commands.GET_RESOURCES,
  abi.commands.GET_DEVICES,
  abi.commands.GET_CONNECTIONS,
  abi.commands.GET_PEER_DEVICES,
];

/** Every object the kernel reports, in dump order (resources, devices, connections, peer devices). */
export function snapshot(client: BsrClient, resource?: string): StateObject[] {
  const attrs = resource ? { CFG_CONTEXT: { ctx_resource_name: resource } } : {};
  const out: StateObject[] = [];
  for (const cmd of DUMPS) {
    for (const msg of client.dump({ cmd, attrs })) {
      const o = toStateObject(msg);
      // The kernel may ignore the filter; apply it here as well.
      if (o && (!resource || o.resource === resource)) out.push(o);
    }
  }
  return out;
}
