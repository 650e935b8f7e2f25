// Decoded bsr messages as state objects: which object a dump reply or notification describes,
// what happened to it (exists/create/change/...) and its identity (resource, minor, peer, volume).
import { abi } from '../abi/index.js';
import type { SetValues } from './attrs.js';
import type { BsrMessage } from './messages.js';
import { NO_MINOR } from './messages.js';

export type ObjectKind =
  | 'resource'
  | 'device'
  | 'connection'
  | 'peer-device'
  | 'path'
  | 'helper'
  | 'io-error'
  | 'split-brain'
  | 'initial-state-done';

export const ACTIONS = ['exists', 'create', 'change', 'destroy', 'call', 'response'] as const;
export type Action = (typeof ACTIONS)[number];

const C = abi.commands;
const KIND_BY_CMD = new Map<number, ObjectKind>([
  [C.GET_RESOURCES, 'resource'],
  [C.RESOURCE_STATE, 'resource'],
  [C.GET_DEVICES, 'device'],
  [C.DEVICE_STATE, 'device'],
  [C.GET_CONNECTIONS, 'connection'],
  [C.CONNECTION_STATE, 'connection'],
  [C.GET_PEER_DEVICES, 'peer-device'],
  [C.PEER_DEVICE_STATE, 'peer-device'],
  [C.PATH_STATE, 'path'],
  [C.HELPER, 'helper'],
  [C.IO_ERROR, 'io-error'],
  [C.SPLIT_BRAIN, 'split-brain'],
  [C.INITIAL_STATE_DONE, 'initial-state-done'],
]);

export interface StateObject {
  kind: ObjectKind;
  action: Action;
  /** NOTIFY_CONTINUES: more notifications of the same state change follow. */
  continues: boolean;
  resource: string;
  minor?: number;
  volume?: number;
  peerNodeId?: number;
  msg: BsrMessage;
}

// 0xffffffff (-1U) is the kernel's "not set" for volume and peer node id.
const num = (v: unknown): number | undefined => (typeof v === 'number' && v !== 0xffffffff ? v : undefined);

/** Classifies a message; undefined for commands that describe no object (e.g. plain replies). */
export function toStateObject(msg: BsrMessage): StateObject | undefined {
  const kind = KIND_BY_CMD.get(msg.cmd);
  if (!kind) return undefined;
  const nh = num(msg.attrs.NOTIFICATION_HEADER?.nh_type);
  // Dump replies carry no notification header: they describe what exists.
  const type = nh === undefined ? 0 : nh & ~abi.notificationTypes.NOTIFY_CONTINUES;
  const ctx: SetValues = msg.attrs.CFG_CONTEXT ?? {};
  const resource = typeof ctx.ctx_resource_name === 'string' ? ctx.ctx_resource_name : '';
  return {
    kind,
    action: ACTIONS[type] ?? 'change',
    continues: nh !== undefined && (nh & abi.notificationTypes.NOTIFY_CONTINUES) !== 0,
    resource,
    minor: msg.minor === NO_MINOR ? undefined : msg.minor,
    volume: num(ctx.ctx_volume),
    peerNodeId: num(ctx.ctx_peer_node_id),
    msg,
  };
}
