// `bsrsetup events2`: one line per event, `ACTION OBJECT key:value ...` (interfaces.md section 3).
// A formatter instance remembers what it printed, so `change` lines carry only what changed and
// peer devices and paths can name their connection.
import type { StateObject } from '../netlink/objects.js';
import {
  connectionName,
  type Field,
  type FieldValue,
  pathAddresses,
  renderFields,
  stateFields,
  statisticsFields,
} from './fields.js';

export interface EventsOptions {
  timestamps?: boolean;
  statistics?: boolean;
  json?: boolean;
}

const OBJECT_NAME: Partial<Record<StateObject['kind'], string>> = {
  resource: 'resource',
  device: 'device',
  connection: 'connection',
  'peer-device': 'peer-device',
  path: 'path',
  helper: 'helper',
  'io-error': 'io-error',
  'split-brain': 'split-brain',
};

export class EventFormatter {
  private readonly connNames = new Map<string, string>();
  private readonly last = new Map<string, Map<string, FieldValue>>();

  constructor(
    private readonly opts: EventsOptions = {},
    private readonly now: () => Date = () => new Date(),
  ) {}

  private connName(o: StateObject): string | undefined {
    if (o.peerNodeId === undefined) return undefined;
    const key = `${o.resource}\0${o.peerNodeId}`;
    const own = connectionName(o);
    if (own) this.connNames.set(key, own);
    return this.connNames.get(key);
  }

  private identity(o: StateObject): Field[] {
    const f: Field[] = [['name', o.resource]];
    const withPeer = () => {
      if (o.peerNodeId === undefined) return;
      f.push(['peer-node-id', o.peerNodeId]);
      const cn = this.connName(o);
      if (cn) f.push(['conn-name', cn]);
    };
    switch (o.kind) {
      case 'resource':
        break;
      case 'device':
        f.push(['volume', o.volume ?? 0]);
        if (o.minor !== undefined) f.push(['minor', o.minor]);
        break;
      case 'connection':
        withPeer();
        break;
      case 'peer-device':
        withPeer();
        f.push(['volume', o.volume ?? 0]);
        break;
      case 'path': {
        withPeer();
        const a = pathAddresses(o);
        f.push(['local', a.local], ['peer', a.peer]);
        break;
      }
      default:
        withPeer();
        if (o.volume !== undefined) f.push(['volume', o.volume]);
        else if (o.minor !== undefined) f.push(['minor', o.minor]);
    }
    return f;
  }

  private details(o: StateObject): Field[] {
    if (o.kind === 'helper') {
      const h = o.msg.attrs.HELPER;
      const f: Field[] = [['helper', String(h?.helper_name ?? '')]];
      if (o.action === 'response' && typeof h?.helper_status === 'number') f.push(['status', h.helper_status]);
      return f;
    }
    return [...stateFields(o), ...(this.opts.statistics ? statisticsFields(o) : [])];
  }

  /** The line for one event, or undefined when a change changed nothing that is shown. */
  format(o: StateObject): string | undefined {
    const object = OBJECT_NAME[o.kind];
    if (!object) return undefined;
    const identity = this.identity(o);
    const key = `${o.kind}\0${identity.map(([k, v]) => `${k}=${v}`).join('\0')}`;
    let fields: Field[] = [];
    if (o.action === 'destroy') {
      this.last.delete(key);
      if (o.kind === 'connection') this.connNames.delete(`${o.resource}\0${o.peerNodeId}`);
    } else {
      fields = this.details(o);
      if (o.kind !== 'helper') {
        const prev = this.last.get(key);
        this.last.set(key, new Map(fields));
        if (o.action === 'change' && prev) {
          fields = fields.filter(([k, v]) => prev.get(k) !== v);
          if (fields.length === 0) return undefined;
        }
      }
    }
    return this.render(o.action, object, [...identity, ...fields]);
  }

  /** The line that ends the initial dump. */
  endOfInitialState(): string {
    return this.render('exists', '-', []);
  }

  private render(action: string, object: string, fields: Field[]): string {
    if (this.opts.json) {
      const obj: Record<string, FieldValue> = {};
      if (this.opts.timestamps) obj.timestamp = this.now().toISOString();
      obj.action = action;
      obj.object = object;
      for (const [k, v] of fields) obj[k] = v;
      return JSON.stringify(obj);
    }
    const text = [action, object, renderFields(fields)].filter(Boolean).join(' ');
    return this.opts.timestamps ? `${this.now().toISOString()} ${text}` : text;
  }
}
