// `bsrsetup status`: the DRBD 9 style text (interfaces.md section 3), -v, -s and --json.
import type { StateObject } from '../netlink/objects.js';
import {
  connectionState,
  diskState,
  type Field,
  isClient,
  isSyncing,
  nodeIdOf,
  peerDiskState,
  peerRole,
  percentDone,
  renderFields,
  replicationState,
  resourceRole,
  resyncSuspended,
  resyncThrottled,
  stateFields,
  statisticsFields,
  suspended,
} from './fields.js';
import type { ResourceNode } from './model.js';

export interface StatusOptions {
  verbose?: boolean;
  statistics?: boolean;
}

const line = (indent: number, fields: Field[]) => `${' '.repeat(indent)}${renderFields(fields)}`;

/** "volume:N" is shown when it tells something: several volumes, or a volume other than 0. */
function volumeField(o: StateObject, multi: boolean, verbose: boolean): Field[] {
  return verbose || multi || (o.volume ?? 0) !== 0 ? [['volume', o.volume ?? 0]] : [];
}

function resourceLines(r: ResourceNode, opts: StatusOptions): string[] {
  const v = !!opts.verbose;
  const out: string[] = [];
  const head: Field[] = [];
  if (r.obj) {
    const nodeId = nodeIdOf(r.obj);
    if (v && nodeId !== undefined) head.push(['node-id', nodeId]);
    head.push(['role', resourceRole(r.obj)]);
    const susp = suspended(r.obj);
    if (v || susp !== 'no') head.push(['suspended', susp]);
    if (opts.statistics) head.push(...statisticsFields(r.obj));
  }
  out.push(`${r.name}${head.length ? ` ${renderFields(head)}` : ''}`);

  const multiVolume = r.devices.length > 1;
  for (const d of r.devices) {
    const f: Field[] = [...volumeField(d, multiVolume, v)];
    if (v && d.minor !== undefined) f.push(['minor', d.minor]);
    f.push(['disk', diskState(d)]);
    if (v || isClient(d)) f.push(['client', isClient(d) ? 'yes' : 'no']);
    out.push(line(2, f));
    if (opts.statistics) {
      const s = statisticsFields(d);
      if (s.length) out.push(line(6, s));
    }
  }

  for (const c of r.connections) {
    const cs = connectionState(c.obj);
    const f: Field[] = [];
    if (v) f.push(['node-id', c.peerNodeId]);
    // Like DRBD: a healthy connection shows the peer's role, any other shows the connection state.
    if (v || cs !== 'Connected') f.push(['connection', cs]);
    if (v || cs === 'Connected') f.push(['role', peerRole(c.obj)]);
    if (opts.statistics) f.push(...statisticsFields(c.obj));
    out.push(`  ${c.name} ${renderFields(f)}`);
    if (!v && cs !== 'Connected') continue;
    const multi = c.peerDevices.length > 1;
    for (const pd of c.peerDevices) {
      const pf: Field[] = [...volumeField(pd, multi, v)];
      const repl = replicationState(pd);
      if (v || repl !== 'Established') pf.push(['replication', repl]);
      pf.push(['peer-disk', peerDiskState(pd)]);
      const rs = resyncSuspended(pd);
      if (v || rs !== 'no') pf.push(['resync-suspended', rs]);
      const thr = resyncThrottled(pd);
      if (thr !== undefined && (v || thr !== 'no')) pf.push(['resync-throttled', thr]);
      const done = isSyncing(pd) ? percentDone(pd) : undefined;
      if (done !== undefined) pf.push(['done', done.toFixed(2)]);
      out.push(line(4, pf));
      if (opts.statistics) {
        const s = statisticsFields(pd);
        if (s.length) out.push(line(8, s));
      }
    }
  }
  return out;
}

/** The text form; resources are separated by a blank line, as DRBD does. */
export function formatStatus(tree: ResourceNode[], opts: StatusOptions = {}): string {
  return tree.map((r) => `${resourceLines(r, opts).join('\n')}\n`).join('\n');
}

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** Field list as a JSON object: yes/no become booleans, counters stay numbers. */
function jsonFields(fields: Field[]): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [k, v] of fields)
    out[k] = v === 'yes' ? true : v === 'no' && k !== 'resync-suspended' && k !== 'suspended' ? false : v;
  return out;
}

export function statusJson(tree: ResourceNode[]): Json {
  return tree.map((r) => ({
    name: r.name,
    'node-id': (r.obj && nodeIdOf(r.obj)) ?? null,
    ...(r.obj ? jsonFields([...stateFields(r.obj), ...statisticsFields(r.obj)]) : {}),
    devices: r.devices.map((d) => ({
      volume: d.volume ?? 0,
      minor: d.minor ?? null,
      ...jsonFields([...stateFields(d), ...statisticsFields(d)]),
    })),
    connections: r.connections.map((c) => ({
      'peer-node-id': c.peerNodeId,
      name: c.name,
      ...jsonFields([...stateFields(c.obj), ...statisticsFields(c.obj)]),
      'peer-devices': c.peerDevices.map((pd) => ({
        volume: pd.volume ?? 0,
        ...jsonFields([...stateFields(pd), ...statisticsFields(pd)]),
      })),
    })),
  }));
}
