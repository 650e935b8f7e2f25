// csums-alg / csums-after-crash-only in the tools: net options the kernel implements (no
// unimplemented mark), carried in NET_CONF; the peer device's same-csum statistic (KiB a
// checksum-based resync found equal) in status -s, --json and events2 --statistics.
import { describe, expect, it } from 'vitest';
import { abi } from '../../src/abi/index.js';
import { buildRequest, MODIFY_COMMANDS } from '../../src/netlink/commands.js';
import { EventFormatter } from '../../src/status/events.js';
import { buildTree } from '../../src/status/model.js';
import { formatStatus, statusJson } from '../../src/status/status.js';
import { connection, peerDevice, resource } from './state-helpers.js';

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
