// Online verify in the tools: verify-alg is a net option the kernel takes (no longer marked
// unimplemented), and verify / verify-stop address a peer device with --start/--stop in sectors.
import { describe, expect, it } from 'vitest';
import { abi } from '../../src/abi/index';
import { loadConfigText } from '../../src/config/index';
import { selectResources } from '../../src/config/local';
import { buildRequest, MODIFY_COMMANDS } from '../../src/netlink/commands';
import { makeTarget, planCommand } from '../../src/planner/commands';
import { formatStep } from '../../src/planner/steps';
import { EventFormatter } from '../../src/status/events';
import { buildTree } from '../../src/status/model';
import { formatStatus, statusJson } from '../../src/status/status';
import { connection, peerDevice, resource } from './state-helpers';

const build = (name: string, ...argv: string[]) => {
  const spec = MODIFY_COMMANDS.find((c) => c.name === name);
  if (!spec) throw new Error(`no command ${name}`);
  return buildRequest(spec, argv);
};

const CONFIG = `resource r0 {
  device /dev/bsr0 minor 0;
  disk /dev/vdb; meta-disk internal;
  net { verify-alg crc32c; }
  on alpha { address 10.99.1.1:7789; node-id 0; }
  on bravo { address 10.99.1.2:7789; node-id 1; }
}
`;

function plan(command: string, name: string, extra: string[] = []): string[] {
  const config = loadConfigText(CONFIG, '/etc/bsr.conf');
  const [res, vol] = name.split('/');
  const targets = selectResources(config, [res], 'alpha').map((r) =>
    makeTarget(r, vol === undefined ? undefined : Number(vol)),
  );
  return planCommand(command, targets, extra).map(formatStep);
}

describe('verify-alg', () => {
  it('is implemented by the kernel: no unimplemented mark in the ABI', () => {
    expect(abi.sets.net_conf['verify-alg']?.unimplemented).toBeUndefined();
  });

  it('travels in NET_CONF of new-peer and net-options', () => {
    expect(build('new-peer', 'r0', '1', '--_name=bravo', '--verify-alg=sha256').attrs).toEqual({
      CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_peer_node_id: 1 },
      NET_CONF: { _name: 'bravo', 'verify-alg': 'sha256' },
    });
    expect(build('net-options', 'r0', '1', '--verify-alg=crc32c').attrs?.NET_CONF).toEqual({ 'verify-alg': 'crc32c' });
  });

  it('is accepted in a config and planned into new-peer', () => {
    const up = plan('up', 'r0');
    expect(up).toContain('bsrsetup new-peer r0 1 --_name=bravo --verify-alg=crc32c');
    expect(plan('net-options', 'r0')).toEqual(['bsrsetup net-options r0 1 --verify-alg=crc32c']);
  });
});

describe('verify and verify-stop', () => {
  it('bsrsetup verify RES PEER VOL --start --stop: START_OV with the sectors', () => {
    const req = build('verify', 'r0', '1', '0', '--start=2048', '--stop=1M');
    expect(req.cmd).toBe(abi.commands.START_OV);
    expect(req.attrs).toEqual({
      CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_peer_node_id: 1, ctx_volume: 0 },
      START_OV_PARMS: { ov_start_sector: 2048n, ov_stop_sector: 2048n },
    });
    expect(build('verify', 'r0', '1', '0').attrs?.START_OV_PARMS).toBeUndefined();
  });

  it('bsrsetup verify --auto-sync: the flag in START_OV_PARMS', () => {
    expect(build('verify', 'r0', '1', '0', '--auto-sync').attrs?.START_OV_PARMS).toEqual({ auto_sync: 1 });
  });

  it('bsrsetup verify-stop RES PEER VOL: STOP_OV', () => {
    const req = build('verify-stop', 'r0', '1', '0');
    expect(req.cmd).toBe(abi.commands.STOP_OV);
    expect(req.attrs).toEqual({ CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_peer_node_id: 1, ctx_volume: 0 } });
  });

  it('bsradm verify RES[/VOL] runs it against every peer of the volumes, passing --start', () => {
    expect(plan('verify', 'r0/0', ['--start=8'])).toEqual(['bsrsetup verify r0 1 0 --start=8']);
    expect(plan('verify-stop', 'r0')).toEqual(['bsrsetup verify-stop r0 1 0']);
  });
});

describe('verify pacing: ov-req-num and ov-req-interval', () => {
  const paced = CONFIG.replace('net {', 'disk { ov-req-num 1; ov-req-interval 500; }\n  net {');

  it('are implemented: ranges 1..256 blocks (one OV_REQUEST at most) and 1..5000 ms', () => {
    const f = abi.sets.peer_device_conf;
    for (const name of ['ov-req-num', 'ov-req-interval']) expect(f[name]?.unimplemented, name).toBeUndefined();
    expect([f['ov-req-num']?.min, f['ov-req-num']?.max, f['ov-req-num']?.default]).toEqual([1, 256, 10]);
    expect([f['ov-req-interval']?.min, f['ov-req-interval']?.max, f['ov-req-interval']?.default]).toEqual([
      1, 5000, 100,
    ]);
  });

  it('bsrsetup peer-device-options sends them in PEER_DEVICE_OPTS and refuses out of range', () => {
    expect(build('peer-device-options', 'r0', '1', '0', '--ov-req-num=1', '--ov-req-interval=500').attrs).toEqual({
      CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_peer_node_id: 1, ctx_volume: 0 },
      PEER_DEVICE_OPTS: { 'ov-req-num': 1, 'ov-req-interval': 500 },
    });
    expect(() => build('peer-device-options', 'r0', '1', '0', '--ov-req-num=257')).toThrow(/out of range/);
    expect(() => build('peer-device-options', 'r0', '1', '0', '--ov-req-interval=5001')).toThrow(/out of range/);
  });

  it('bsr.conf disk section: planned into peer-device-options', () => {
    const config = loadConfigText(paced, '/etc/bsr.conf');
    const targets = selectResources(config, ['r0'], 'alpha').map((r) => makeTarget(r, undefined));
    expect(planCommand('peer-device-options', targets, []).map(formatStep)).toEqual([
      'bsrsetup peer-device-options r0 1 0 --ov-req-num=1 --ov-req-interval=500',
    ]);
  });
});

describe('the count a verify found', () => {
  it('status -s, --json and events2 --statistics show verify-found in KiB', () => {
    // 2064 sectors: the 1032 KiB of verify/corrupt-blocks
    const tree = buildTree([resource(), connection(), peerDevice({ peer_dev_ov_found: 2064n })]);
    expect(formatStatus(tree, { statistics: true })).toContain('verify-found:1032');
    expect(JSON.stringify(statusJson(tree))).toContain('"verify-found":1032');
    expect(new EventFormatter({ statistics: true }).format(peerDevice({ peer_dev_ov_found: 8n }))).toContain(
      'verify-found:4',
    );
  });
});
