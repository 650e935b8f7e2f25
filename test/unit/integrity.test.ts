// data-integrity-alg in the tools: a net option the kernel implements (no unimplemented mark),
// carried in NET_CONF; the connection's integrity-errors counter in status -s, --json, events2.
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

const connection = (stats: Record<string, number | bigint>) =>
  obj(C.GET_CONNECTIONS, NO_MINOR, {
    CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_peer_node_id: 1 },
    CONNECTION_INFO: { conn_connection_state: e('connection', 'Connected'), conn_role: e('role', 'Secondary') },
    CONNECTION_STATISTICS: stats,
    NET_CONF: { _name: 'bob', 'data-integrity-alg': 'crc32c' },
  });

const build = (name: string, ...argv: string[]) => {
  const spec = MODIFY_COMMANDS.find((c) => c.name === name);
  if (!spec) throw new Error(`no command ${name}`);
  return buildRequest(spec, argv);
};

describe('data-integrity-alg', () => {
  it('is implemented by the kernel: no unimplemented mark in the ABI', () => {
    expect(abi.sets.net_conf['data-integrity-alg']?.unimplemented).toBeUndefined();
    expect(abi.sets.connection_statistics.integrity_errors).toEqual({ id: 4, type: 'u64' });
  });

  it('travels in NET_CONF of new-peer and net-options', () => {
    expect(build('new-peer', 'r0', '1', '--_name=bravo', '--data-integrity-alg=crc32c').attrs?.NET_CONF).toEqual({
      _name: 'bravo',
      'data-integrity-alg': 'crc32c',
    });
    expect(build('net-options', 'r0', '1', '--data-integrity-alg=sha256').attrs?.NET_CONF).toEqual({
      'data-integrity-alg': 'sha256',
    });
  });

  it('status -s, --json and events2 --statistics show the integrity-errors counter', () => {
    const stats = { conn_congested: 0, ap_in_flight: 0n, rs_in_flight: 0n, integrity_errors: 3n };
    const tree = buildTree([resource(), connection(stats)]);
    expect(formatStatus(tree, { statistics: true })).toContain(
      'bob role:Secondary congested:no ap-in-flight:0 rs-in-flight:0 integrity-errors:3',
    );
    const json = JSON.stringify(statusJson(tree));
    expect(json).toContain('"integrity-errors":3');
    const ev = new EventFormatter({ statistics: true });
    expect(ev.format(connection(stats))).toContain('rs-in-flight:0 integrity-errors:3');
  });

  it('a kernel without the counter shows none (no made-up zero)', () => {
    const tree = buildTree([resource(), connection({ conn_congested: 0, ap_in_flight: 0n, rs_in_flight: 0n })]);
    expect(formatStatus(tree, { statistics: true })).not.toContain('integrity-errors');
  });
});
