// Dump replies (resources, devices, connections, peer devices, paths) assembled into one tree per
// resource, in a stable order: devices by volume, connections by peer node-id.
import type { StateObject } from '../netlink/objects.js';
import { connectionName } from './fields.js';

export interface ConnectionNode {
  obj: StateObject;
  peerNodeId: number;
  name: string;
  peerDevices: StateObject[];
  paths: StateObject[];
}

export interface ResourceNode {
  name: string;
  obj?: StateObject;
  devices: StateObject[];
  connections: ConnectionNode[];
}

export function buildTree(objects: StateObject[]): ResourceNode[] {
  const resources = new Map<string, ResourceNode>();
  const resource = (name: string) => {
    let r = resources.get(name);
    if (!r) {
      r = { name, devices: [], connections: [] };
      resources.set(name, r);
    }
    return r;
  };
  // Connections first, so peer devices and paths find their parent whatever the input order.
  for (const o of objects) {
    if (o.kind === 'resource') resource(o.resource).obj = o;
    else if (o.kind === 'device') resource(o.resource).devices.push(o);
    else if (o.kind === 'connection' && o.peerNodeId !== undefined) {
      resource(o.resource).connections.push({
        obj: o,
        peerNodeId: o.peerNodeId,
        name: connectionName(o) ?? `peer-${o.peerNodeId}`,
        peerDevices: [],
        paths: [],
      });
    }
  }
  for (const o of objects) {
    if (o.kind !== 'peer-device' && o.kind !== 'path') continue;
    const conn = resources.get(o.resource)?.connections.find((c) => c.peerNodeId === o.peerNodeId);
    if (!conn) continue;
    if (o.kind === 'peer-device') conn.peerDevices.push(o);
    else conn.paths.push(o);
  }
  // Paths not reported as objects of their own come with their connection's PATH_PARMS.
  for (const r of resources.values()) {
    for (const c of r.connections) {
      if (c.paths.length > 0) continue;
      for (const a of c.obj.msg.all) {
        if (a.name !== 'PATH_PARMS') continue;
        const msg = { ...c.obj.msg, attrs: { ...c.obj.msg.attrs, PATH_PARMS: a.values } };
        c.paths.push({ ...c.obj, kind: 'path', msg });
      }
    }
  }
  const byVolume = (a: StateObject, b: StateObject) => (a.volume ?? 0) - (b.volume ?? 0);
  const out = [...resources.values()].sort((a, b) => a.name.localeCompare(b.name));
  for (const r of out) {
    r.devices.sort(byVolume);
    r.connections.sort((a, b) => a.peerNodeId - b.peerNodeId);
    for (const c of r.connections) c.peerDevices.sort(byVolume);
  }
  return out;
}
