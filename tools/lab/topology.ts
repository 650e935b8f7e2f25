// Who is linked to whom, and with which addresses. Fixed, so configs can name addresses:
//   link 1: alpha 10.99.1.1 <-> bravo 10.99.1.2
//   link 2: alpha 10.99.2.1 <-> charlie 10.99.2.2
//   link 3: bravo 10.99.3.1 <-> charlie 10.99.3.2
import { NODE_NAMES, type NodeName } from './types.js';

export interface LinkDef {
  no: number;
  a: NodeName;
  b: NodeName;
}

const ALL_LINKS: LinkDef[] = [
  { no: 1, a: 'alpha', b: 'bravo' },
  { no: 2, a: 'alpha', b: 'charlie' },
  { no: 3, a: 'bravo', b: 'charlie' },
];

export function nodesOf(count: number): NodeName[] {
  if (count < 1 || count > NODE_NAMES.length) throw new Error(`a lab has 1 to ${NODE_NAMES.length} nodes`);
  return NODE_NAMES.slice(0, count);
}

export function isNodeName(s: string): s is NodeName {
  return (NODE_NAMES as readonly string[]).includes(s);
}

/** The links among the given nodes. */
export function linksOf(nodes: readonly NodeName[]): LinkDef[] {
  return ALL_LINKS.filter((l) => nodes.includes(l.a) && nodes.includes(l.b));
}

export function linkBetween(x: NodeName, y: NodeName): LinkDef {
  const l = ALL_LINKS.find((k) => (k.a === x && k.b === y) || (k.a === y && k.b === x));
  if (!l) throw new Error(`no link between ${x} and ${y}`);
  return l;
}

/** 1 for the link's first node, 2 for its second. */
function side(l: LinkDef, node: NodeName): 1 | 2 {
  if (l.a === node) return 1;
  if (l.b === node) return 2;
  throw new Error(`${node} is not on link ${l.no}`);
}

/** `node`'s own address on its link to `peer`. */
export function addressOf(node: NodeName, peer: NodeName): string {
  const l = linkBetween(node, peer);
  return `10.99.${l.no}.${side(l, node)}`;
}

export function macOf(node: NodeName, peer: NodeName): string {
  const l = linkBetween(node, peer);
  return `52:54:00:99:${l.no.toString(16).padStart(2, '0')}:0${side(l, node)}`;
}

/** The guest interface name of `node`'s link to `peer`. */
export function ifaceOf(_node: NodeName, peer: NodeName): string {
  return `to-${peer}`;
}

/** The qemu NIC device id (for QMP set_link) of `node`'s link to `peer`. */
export function nicIdOf(peer: NodeName): string {
  return `nic-${peer}`;
}
