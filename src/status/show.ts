// `bsrsetup show`: the running configuration, written in the config language so that
// `bsradm adjust` can parse it with the same parser as /etc/bsr.conf and diff the two.
import { abi } from '../abi/index.js';
import {
  type AbiOptionSet,
  defaultValue,
  formatOptionValue,
  type OptionDef,
  type OptionValue,
  optionsOfSet,
} from '../config/options.js';
import type { SetValues } from '../netlink/attrs.js';
import { connectionName, connectionState, pathAddresses } from './fields.js';
import type { ConnectionNode, ResourceNode } from './model.js';

export interface ShowOptions {
  /** Also print options that have their default value. */
  showDefaults?: boolean;
}

/** A kernel value (as decoded from netlink) back to the option's config value. */
export function configValue(def: OptionDef, raw: SetValues[string]): OptionValue | undefined {
  switch (def.kind) {
    case 'boolean':
    case 'flag':
      return Number(raw) !== 0;
    case 'enum': {
      const names = abi.enums[def.keyword] ?? def.values ?? [];
      return names[Number(raw)];
    }
    case 'numeric':
      return typeof raw === 'bigint' ? Number(raw) : (raw as number);
    case 'string':
      return typeof raw === 'string' ? raw : undefined;
  }
}

/** Words the config lexer reads as one token are written bare; anything else is quoted. */
export function quote(text: string): string {
  if (/^[A-Za-z0-9_./:@%+,=-]+$/.test(text) && !text.startsWith('#')) return text;
  return `"${text.replace(/[\\"]/g, (c) => `\\${c}`).replace(/\n/g, '\\n')}"`;
}

/**
 * `keyword value;` lines for the options of some sets, defaults left out unless asked for. bsr.ko
 * reports only the options that were set; one never set runs at its default (bsr-abi.json, the
 * kernel's source of defaults too), which is what --show-defaults prints for it.
 */
function optionLines(values: Array<[AbiOptionSet, SetValues | undefined]>, opts: ShowOptions): string[] {
  const out: string[] = [];
  for (const [set, v] of values) {
    if (!v) continue;
    for (const def of optionsOfSet(set)) {
      if (def.notInConfig) continue;
      const value =
        v[def.keyword] !== undefined
          ? configValue(def, v[def.keyword])
          : opts.showDefaults
            ? defaultValue(def)
            : undefined;
      if (value === undefined) continue;
      const text = formatOptionValue(def, value);
      if (!opts.showDefaults) {
        const dflt = defaultValue(def);
        if (dflt !== undefined && formatOptionValue(def, dflt) === text) continue;
        if (dflt === undefined && text === '') continue;
      }
      out.push(`${def.keyword} ${quote(text)};`);
    }
  }
  return out;
}

class Writer {
  readonly lines: string[] = [];
  private depth = 0;
  line(text: string) {
    this.lines.push(`${'    '.repeat(this.depth)}${text}`);
  }
  block(head: string, body: () => void) {
    this.line(`${head} {`);
    this.depth++;
    body();
    this.depth--;
    this.line('}');
  }
  /** A block that is left out when it would be empty. */
  section(head: string, lines: string[]) {
    if (lines.length === 0) return;
    this.block(head, () => {
      for (const l of lines) this.line(l);
    });
  }
}

function metaDiskText(meta: string, idx: number): string {
  if (idx === -1) return 'internal';
  if (idx === -2) return quote(meta);
  return `${quote(meta)} [${idx}]`;
}

function addressText(text: string): string {
  // fields.ts renders `ipv4:A:P`; the config writes `ipv4 A:P`.
  const m = /^(ipv4|ipv6):(.*)$/.exec(text);
  return m ? `${m[1]} ${m[2]}` : text;
}

function writeConnection(w: Writer, c: ConnectionNode, opts: ShowOptions) {
  w.block('connection', () => {
    w.line(`_peer_node_id ${c.peerNodeId};`);
    if (connectionState(c.obj) === 'StandAlone') w.line('_is_standalone;');
    for (const p of c.paths.map(pathAddresses)) {
      w.block('path', () => {
        w.line(`_this_host ${addressText(p.local)};`);
        w.line(`_remote_host ${addressText(p.peer)};`);
      });
    }
    const name = connectionName(c.obj);
    const nameLine = name ? [`_name ${quote(name)};`] : [];
    w.section('net', [...nameLine, ...optionLines([['net_conf', c.obj.msg.attrs.NET_CONF]], opts)]);
    for (const pd of c.peerDevices) {
      const lines = optionLines([['peer_device_conf', pd.msg.attrs.PEER_DEVICE_OPTS]], opts);
      if (lines.length) w.block(`volume ${pd.volume ?? 0}`, () => w.section('disk', lines));
    }
  });
}

/**
 * The running state in the kernel's form of the config language (as DRBD's `drbdsetup show`):
 * `_this_host { ... }` for this node and `connection { _peer_node_id N; path { _this_host A;
 * _remote_host B; } net { _name NAME; ... } }` per peer, which src/config/show.ts parses.
 */
export function formatShow(tree: ResourceNode[], opts: ShowOptions = {}): string {
  const w = new Writer();
  for (const r of tree) {
    const ra = r.obj?.msg.attrs;
    w.block(`resource ${quote(r.name)}`, () => {
      w.section(
        'options',
        optionLines(
          [
            ['res_opts', ra?.RESOURCE_OPTS],
            ['node_opts', ra?.NODE_OPTS],
          ],
          opts,
        ),
      );
      w.block('_this_host', () => {
        const nodeId = ra?.RESOURCE_OPTS?.['node-id'];
        if (typeof nodeId === 'number') w.line(`node-id ${nodeId};`);
        for (const d of r.devices) {
          w.block(`volume ${d.volume ?? 0}`, () => {
            w.line(`device minor ${d.minor ?? 0};`);
            const attach = d.msg.attrs.ATTACH_PARMS;
            if (attach && typeof attach.backing_dev === 'string' && attach.backing_dev !== '') {
              w.line(`disk ${quote(attach.backing_dev)};`);
              w.line(`meta-disk ${metaDiskText(String(attach.meta_dev ?? ''), Number(attach.meta_dev_idx ?? -1))};`);
            } else {
              w.line('disk none;');
            }
            w.section('disk', optionLines([['disk_conf', d.msg.attrs.DISK_CONF]], opts));
          });
        }
      });
      for (const c of r.connections) writeConnection(w, c, opts);
    });
  }
  return w.lines.length ? `${w.lines.join('\n')}\n` : '';
}
