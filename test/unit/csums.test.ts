// csums-alg / csums-after-crash-only in the tools: net options the kernel implements (no
// unimplemented mark), carried in NET_CONF; the peer device's same-csum statistic (KiB a
// checksum-based resync found equal) in status -s, --json and events2 --statistics.
import { describe, expect, it } from 'vitest';
import { abi } from '../../src/abi/index.js';
import { buildRequest, MODIFY_COMMANDS } from '../../src/netlink/commands.js';
import { NO_MINOR } from '../../src/netlink/messages.js';
import { EventFormatter } from '../../src/status/events.js';
import { buildTree } from '../../src/status/model.js';
import { formatStatus, statusJson } from '../../src/status/status.js';
import { enumIndex, stateObject } from './state-helpers.js';

const C = abi.commands;
const e = enumIndex;
const obj = stateObject;

const resource = () =>
  obj(C.GET_RESOURCES, NO_MINOR, {
    CFG_CONTEXT: { ctx_resource_name: 'r0' },
    RESOURCE_INFO: { res_role: e('role', 'Primary'), res_susp: 0, res_susp_nod: 0, res_susp_fen: 0 },
  });

const connection = () =>
  obj(C.GET_CONNECTIONS, NO_MINOR, {
    CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_peer_node_id: 1 },
    CONNECTION_INFO: { conn_connection_state: e('connection', 'Connected'), conn_role: e('role', 'Secondary') },
    NET_CONF: { _name: 'bob', 'csums-alg': 'crc32c' },
  });

const peerDevice = (extra: Record<string, number | bigint>) =>
  obj(C.GET_PEER_DEVICES, NO_MINOR, {
    CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_peer_node_id: 1, ctx_volume: 0 },
    PEER_DEVICE_INFO: {
      peer_repl_state: e('replication', 'Established'),
      peer_disk_state: e('disk', 'UpToDate'),
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

const build = (name: string, ...argv: string[]) => {
  const spec = MODIFY_COMMANDS.find((c) => c.name === name);
  if (!spec) throw new Error(`no command ${name}`);
  return buildRequest(spec, argv);
};

describe('csums-alg', () => {
  it('is implemented by the kernel: no unimplemented mark in the ABI', () => {
    expect(abi.sets.net_conf['csums-alg']?.unimplemented).toBeUndefined();
    expect(abi.sets.net_conf['csums-after-crash-only']?.unimplemented).toBeUndefined();
    expect(abi.sets.peer_device_statistics.peer_dev_rs_same_csum).toEqual({ id: 15, type: 'u64' });
  });

  it('travels in NET_CONF of new-peer and net-options', () => {
    expect(build('new-peer', 'r0', '1', '--_name=bravo', '--csums-alg=sha256').attrs?.NET_CONF).toEqual({
      _name: 'bravo',
      'csums-alg': 'sha256',
    });
    expect(build('net-options', 'r0', '1', '--csums-after-crash-only=yes').attrs?.NET_CONF).toEqual({
      'csums-after-crash-only': 1,
    });
  });

  it('status -s, --json and events2 --statistics show same-csum in KiB', () => {
    // 131072 sectors found equal: 64 MiB
    const tree = buildTree([resource(), connection(), peerDevice({ peer_dev_rs_same_csum: 131072n })]);
    expect(formatStatus(tree, { statistics: true })).toContain('unacked:0 same-csum:65536');
    expect(JSON.stringify(statusJson(tree))).toContain('"same-csum":65536');
    const ev = new EventFormatter({ statistics: true });
    expect(ev.format(peerDevice({ peer_dev_rs_same_csum: 8n }))).toContain('unacked:0 same-csum:4');
  });

  it('a kernel without the counter shows none (no made-up zero)', () => {
    const tree = buildTree([resource(), connection(), peerDevice({})]);
    expect(formatStatus(tree, { statistics: true })).not.toContain('same-csum');
  });
});
