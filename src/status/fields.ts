// The key:value fields of each object kind, shared by `status` and `events2` so the two always
// name and render a state the same way. Pure: StateObject in, ordered fields out.
import { abi, enumName } from '../abi/index.js';
import { uuidText } from '../meta/gi.js';
import { decodeSockaddr, formatAddress } from '../netlink/address.js';
import type { SetValues } from '../netlink/attrs.js';
import type { StateObject } from '../netlink/objects.js';

export type FieldValue = string | number;
export type Field = [key: string, value: FieldValue];

const num = (v: unknown): number => (typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : 0);
const yesNo = (v: unknown): string => (num(v) ? 'yes' : 'no');
/** Kernel counters travel in 512-byte sectors; like DRBD, they are shown in KiB. */
const kib = (v: unknown): number => Math.floor(num(v) / 2);

function flagList(values: SetValues | undefined, flags: Array<[string, string]>): string {
  const on = flags.filter(([field]) => num(values?.[field])).map(([, label]) => label);
  return on.length ? on.join(',') : 'no';
}

export const resourceRole = (o: StateObject): string => enumName('role', num(o.msg.attrs.RESOURCE_INFO?.res_role));
export const diskState = (o: StateObject): string => enumName('disk', num(o.msg.attrs.DEVICE_INFO?.dev_disk_state));
export const connectionState = (o: StateObject): string =>
  enumName('connection', num(o.msg.attrs.CONNECTION_INFO?.conn_connection_state));
export const peerRole = (o: StateObject): string => enumName('role', num(o.msg.attrs.CONNECTION_INFO?.conn_role));
export const replicationState = (o: StateObject): string =>
  enumName('replication', num(o.msg.attrs.PEER_DEVICE_INFO?.peer_repl_state));
export const peerDiskState = (o: StateObject): string =>
  enumName('disk', num(o.msg.attrs.PEER_DEVICE_INFO?.peer_disk_state));
export const isClient = (o: StateObject): boolean => num(o.msg.attrs.DEVICE_INFO?.is_intentional_diskless) !== 0;

export const suspended = (o: StateObject): string =>
  flagList(o.msg.attrs.RESOURCE_INFO, [
    ['res_susp', 'user'],
    ['res_susp_nod', 'no-data'],
    ['res_susp_fen', 'fencing'],
  ]);

export const resyncSuspended = (o: StateObject): string =>
  flagList(o.msg.attrs.PEER_DEVICE_INFO, [
    ['peer_resync_susp_user', 'user'],
    ['peer_resync_susp_peer', 'peer'],
    ['peer_resync_susp_dependency', 'dependency'],
  ]);

/**
 * `resync-throttled`: yes while the application-I/O throttle (c-min-rate, resync-ratio) holds
 * a running resync or verify back, on the node that paces it. Undefined from a module that
 * does not report it.
 */
export function resyncThrottled(o: StateObject): string | undefined {
  const v = o.msg.attrs.PEER_DEVICE_INFO?.peer_resync_throttled;
  return v === undefined ? undefined : yesNo(v);
}

/**
 * Whether the connection replicates this volume: false for a volume only one node has (its
 * peer device stays replication Off while Connected) and while not connected. True from a
 * module that does not report it (every volume counted, as before).
 */
export const volumeReplicated = (o: StateObject): boolean => o.msg.attrs.PEER_DEVICE_INFO?.peer_volume_shared !== 0;

const SYNCING = new Set(['SyncSource', 'SyncTarget', 'PausedSyncS', 'PausedSyncT', 'VerifyS', 'VerifyT']);

export const isSyncing = (o: StateObject): boolean => SYNCING.has(replicationState(o));

/** Percentage of the resync (or verify) done, from the peer-device statistics. */
export function percentDone(o: StateObject): number | undefined {
  const s = o.msg.attrs.PEER_DEVICE_STATISTICS;
  const total = num(s?.peer_dev_rs_total);
  if (!s || total <= 0) return undefined;
  const done = s.peer_dev_rs_done !== undefined ? num(s.peer_dev_rs_done) : total - num(s.peer_dev_out_of_sync);
  return Math.min(100, Math.max(0, (100 * done) / total));
}

/**
 * While a resync runs: whether it is a full sync of the whole device or a FastSync of the
 * blocks the file system uses, and (on the FastSync source) the bytes its map marked.
 */
function resyncKindFields(o: StateObject): Field[] {
  const s = o.msg.attrs.PEER_DEVICE_STATISTICS;
  const kind = abi.enums['resync-kind'][num(s?.peer_dev_rs_kind)];
  if (!s || !kind || kind === 'None' || !isSyncing(o) || replicationState(o).startsWith('Verify')) return [];
  const bytes = num(s.peer_dev_rs_map_bytes);
  return [['resync-kind', kind], ...(bytes ? [['map-bytes', bytes] as Field] : [])];
}

/** The device's own state fields (events2 and status -v). */
export function stateFields(o: StateObject): Field[] {
  switch (o.kind) {
    case 'resource':
      return [
        ['role', resourceRole(o)],
        ['suspended', suspended(o)],
      ];
    case 'device':
      return [
        ['disk', diskState(o)],
        ['client', isClient(o) ? 'yes' : 'no'],
      ];
    case 'connection':
      return [
        ['connection', connectionState(o)],
        ['role', peerRole(o)],
      ];
    case 'peer-device': {
      const f: Field[] = [
        ['replication', replicationState(o)],
        ['peer-disk', peerDiskState(o)],
        ['resync-suspended', resyncSuspended(o)],
      ];
      const throttled = resyncThrottled(o);
      if (throttled !== undefined) f.push(['resync-throttled', throttled]);
      const done = isSyncing(o) ? percentDone(o) : undefined;
      if (done !== undefined) f.push(['done', done.toFixed(2)]);
      f.push(...resyncKindFields(o));
      return f;
    }
    case 'path':
      return [['established', yesNo(o.msg.attrs.PATH_INFO?.path_established)]];
    default:
      return [];
  }
}

/** Counters (`--statistics`, `status -s`). */
export function statisticsFields(o: StateObject): Field[] {
  const a = o.msg.attrs;
  switch (o.kind) {
    case 'resource': {
      const s = a.RESOURCE_STATISTICS;
      if (!s) return [];
      return [['write-ordering', enumName('write-ordering', num(s.res_stat_write_ordering))]];
    }
    case 'device': {
      const s = a.DEVICE_STATISTICS;
      if (!s) return [];
      const blocked = [num(s.dev_upper_blocked) ? 'upper' : '', num(s.dev_lower_blocked) ? 'lower' : '']
        .filter(Boolean)
        .join(',');
      return [
        ['size', kib(s.dev_size)],
        ['read', kib(s.dev_read)],
        ['written', kib(s.dev_write)],
        ['al-writes', num(s.dev_al_writes)],
        ['bm-writes', num(s.dev_bm_writes)],
        ['upper-pending', num(s.dev_upper_pending)],
        ['lower-pending', num(s.dev_lower_pending)],
        ['al-suspended', yesNo(s.dev_al_suspended)],
        ['blocked', blocked || 'no'],
        // a new data generation (new-current-uuid, primary --force, resync end) shows up here
        ...(typeof s.dev_current_uuid === 'bigint' ? [['current-uuid', uuidText(s.dev_current_uuid)] as Field] : []),
      ];
    }
    case 'connection': {
      const s = a.CONNECTION_STATISTICS;
      if (!s) return [];
      return [
        ['congested', yesNo(s.conn_congested)],
        ['ap-in-flight', kib(s.ap_in_flight)],
        ['rs-in-flight', kib(s.rs_in_flight)],
        // data-integrity-alg: payloads received with a wrong digest (not written, sent again)
        ...(typeof s.integrity_errors === 'bigint' ? [['integrity-errors', num(s.integrity_errors)] as Field] : []),
      ];
    }
    case 'peer-device': {
      const s = a.PEER_DEVICE_STATISTICS;
      if (!s) return [];
      const f: Field[] = [
        ['received', kib(s.peer_dev_received)],
        ['sent', kib(s.peer_dev_sent)],
        ['out-of-sync', kib(s.peer_dev_out_of_sync)],
        ['pending', num(s.peer_dev_pending)],
        ['unacked', num(s.peer_dev_unacked)],
        // csums-alg: KiB a checksum-based resync found equal and did not send (this resync)
        ...(typeof s.peer_dev_rs_same_csum === 'bigint' ? [['same-csum', kib(s.peer_dev_rs_same_csum)] as Field] : []),
        // online verify: KiB the current or last run found out of sync
        ...(typeof s.peer_dev_ov_found === 'bigint' ? [['verify-found', kib(s.peer_dev_ov_found)] as Field] : []),
      ];
      if (isSyncing(o)) {
        f.push(['dbdt1', num(s.peer_dev_rs_dbdt_kib)]);
        f.push(['eta', num(s.peer_dev_rs_eta_s)]);
      }
      return f;
    }
    default:
      return [];
  }
}

export function pathAddresses(o: StateObject): { local: string; peer: string } {
  const show = (v: unknown) => {
    if (!Buffer.isBuffer(v)) return '?';
    const a = decodeSockaddr(v);
    return a ? formatAddress(a) : v.toString('utf8').replace(/\0.*$/s, '');
  };
  const p = o.msg.attrs.PATH_PARMS;
  return { local: show(p?.my_addr), peer: show(p?.peer_addr) };
}

export const connectionName = (o: StateObject): string | undefined => {
  const name = o.msg.attrs.NET_CONF?._name;
  return typeof name === 'string' && name !== '' ? name : undefined;
};

export const nodeIdOf = (o: StateObject): number | undefined => {
  const id = o.msg.attrs.RESOURCE_OPTS?.['node-id'];
  return typeof id === 'number' ? id : undefined;
};

export const renderFields = (fields: Field[]): string => fields.map(([k, v]) => `${k}:${v}`).join(' ');
