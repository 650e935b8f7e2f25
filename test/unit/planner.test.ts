import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, loadConfigText } from '../../src/config/index';
import { selectResources } from '../../src/config/local';
import type { BsrConfig } from '../../src/config/model';
import { makeTarget, planCommand } from '../../src/planner/commands';
import { formatStep } from '../../src/planner/steps';
import { REFERENCE_UP } from './reference-up';

const FIXTURES = join(__dirname, '../fixtures/config');
const EXAMPLES = join(__dirname, '../../conf-examples');

function plan(config: BsrConfig, me: string, command: string, names: string[], extra: string[] = [], peer?: string) {
  const targets = selectResources(config, names, me).map((r) => makeTarget(r, undefined, peer));
  return planCommand(command, targets, extra).map(formatStep);
}

describe('up', () => {
  it('matches the reference example line for line', () => {
    const config = loadConfig(join(FIXTURES, 'reference-up.conf'));
    expect(plan(config, 'alice', 'up', ['r0'])).toEqual(REFERENCE_UP);
  });

  it('plans two volumes with external meta data, resource, node, peer-device and disk options', () => {
    const config = loadConfig(join(FIXTURES, 'two-volumes.conf'));
    expect(plan(config, 'alpha', 'up', ['data'])).toEqual([
      'bsrsetup new-resource data 0 --persist-role=yes',
      'bsrsetup node-options data --target-only=no',
      'bsrsetup new-minor data 10 0',
      'bsrsetup new-minor data 11 1',
      'bsrsetup new-peer data 1 --_name=bravo --max-epoch-size=8000 --protocol=B',
      'bsrsetup new-path data 1 ipv4:10.0.0.1:7800 ipv4:10.0.0.2:7801',
      'bsrsetup peer-device-options data 1 0 --resync-rate=40960',
      'bsrsetup peer-device-options data 1 1 --resync-rate=40960 --c-max-rate=102400',
      'bsrmeta 10 v09 /dev/vg/data0 internal apply-al',
      'bsrsetup attach 10 /dev/vg/data0 /dev/vg/data0 internal --al-extents=3389',
      'bsrmeta 11 v09 /dev/vg/meta 3 apply-al',
      'bsrsetup attach 11 /dev/vg/data1 /dev/vg/meta 3 --al-extents=3389 --disk-flushes=yes',
      'bsrsetup connect data 1',
    ]);
  });

  it('connects every other node of a three-node mesh', () => {
    const config = loadConfig(join(EXAMPLES, 'bsr.conf'));
    const steps = plan(config, 'charlie', 'up', ['r1']);
    expect(steps.filter((s) => / (new-peer|new-path|connect) /.test(s))).toEqual([
      'bsrsetup new-peer r1 0 --_name=alpha --protocol=C --ko-count=7',
      'bsrsetup new-path r1 0 ipv4:10.99.1.3:7790 ipv4:10.99.1.1:7790',
      'bsrsetup new-peer r1 1 --_name=bravo --protocol=C --ko-count=7',
      'bsrsetup new-path r1 1 ipv4:10.99.1.3:7790 ipv4:10.99.1.2:7790',
      'bsrsetup connect r1 0',
      'bsrsetup connect r1 1',
    ]);
    expect(steps[0]).toBe('bsrsetup new-resource r1 2');
  });

  it('skips attach for a diskless volume and uses drive letters on Windows', () => {
    const config = loadConfigText(
      `resource w {
        on a { address 10.0.0.1:1; volume 0 { device e minor 2; disk e; meta-disk f; } }
        on b { address 10.0.0.2:1; volume 0 { device e minor 2; disk none; } }
      }`,
      'w.conf',
    );
    expect(plan(config, 'a', 'attach', ['w'])).toEqual([
      'bsrmeta 2 v09 f flexible apply-al',
      'bsrsetup attach 2 e f flexible',
    ]);
    expect(plan(config, 'b', 'attach', ['w'])).toEqual([]);
    expect(plan(config, 'b', 'up', ['w']).some((s) => s.includes('attach'))).toBe(false);
  });
});

describe('host names as drbdadm matches them', () => {
  const mesh = (on: [string, string, string], hosts: string) =>
    loadConfigText(
      `resource m { device minor 5; disk /dev/vdc;
        on ${on[0]} { address 10.0.0.1:7000; node-id 0; }
        on ${on[1]} { address 10.0.0.2:7000; node-id 1; }
        on ${on[2]} { address 10.0.0.3:7000; node-id 2; }
        connection-mesh { hosts ${hosts}; } }`,
      'm.conf',
    );

  it('a short name matches the fully qualified one, either way round, in any case', () => {
    const short = mesh(['n1', 'n2', 'n3'], 'n1 n2 n3');
    const connect = ['bsrsetup new-peer m 1 --_name=n2', 'bsrsetup new-peer m 2 --_name=n3'];
    const peers = (config: BsrConfig, me: string) =>
      plan(config, me, 'connect', ['m']).filter((s) => s.includes('new-peer'));
    expect(peers(short, 'n1.example.org')).toEqual(connect);
    expect(peers(short, 'N1')).toEqual(connect);
    const long = mesh(['n1.example.org', 'n2.example.org', 'n3.example.org'], 'n1 n2.example.org N3');
    expect(long.resources[0].connections.map((c) => c.hosts)).toEqual([
      ['n1.example.org', 'n2.example.org'],
      ['n1.example.org', 'n3.example.org'],
      ['n2.example.org', 'n3.example.org'],
    ]);
    expect(plan(long, 'n1', 'connect', ['m']).filter((s) => s.includes('new-peer'))).toEqual([
      'bsrsetup new-peer m 1 --_name=n2.example.org',
      'bsrsetup new-peer m 2 --_name=n3.example.org',
    ]);
  });

  it('two fully qualified names match only when equal', () => {
    const long = mesh(['n1.example.org', 'n2.example.org', 'n3.example.org'], 'n1 n2 n3');
    expect(() => selectResources(long, ['m'], 'n1.example.com')).toThrow(
      "m.conf:1: resource m has no host section for 'n1.example.com'",
    );
    expect(() => mesh(['n1', 'n1.example.org', 'n3'], 'n1 n3')).toThrow(
      'm.conf:3: host n1.example.org appears twice in resource m (first at line 2)',
    );
  });
});

describe('IPv6 paths', () => {
  it('pass a %scope on to bsrsetup new-path', () => {
    const config = loadConfigText(
      `resource r0 { device minor 0; disk /dev/vdb;
        on alpha { address ipv6 [fe80::1%eth0]:7789; } on bravo { address ipv6 [fe80::2%eth0]:7789; } }`,
      'test.conf',
    );
    expect(plan(config, 'alpha', 'connect', ['r0'])).toContain(
      'bsrsetup new-path r0 1 ipv6:[fe80::1%eth0]:7789 ipv6:[fe80::2%eth0]:7789',
    );
  });
});

describe('floating hosts', () => {
  it('are named ADDR_PORT as drbdadm names them', () => {
    const config = loadConfig(join(FIXTURES, 'floating.conf'));
    expect(config.resources[0].hosts.map((h) => h.names)).toEqual([['10.20.0.1_7788'], ['10.20.0.2_7788']]);
    const v6 = loadConfigText(
      `resource f { device minor 1; disk /dev/sdb;
        floating ipv6 [fd00::1]:7788 { node-id 0; } floating ipv6 [fd00::2]:7788 { node-id 1; } }`,
      'f.conf',
    );
    expect(plan(v6, 'fd00::1', 'connect', ['f'])[0]).toBe('bsrsetup new-peer f 1 --_name=fd00__2_7788');
  });

  it('are found by address and planned like named hosts', () => {
    const config = loadConfig(join(FIXTURES, 'floating.conf'));
    expect(plan(config, '10.20.0.1', 'up', ['fl'])).toEqual([
      'bsrsetup new-resource fl 3 --persist-role=yes',
      'bsrsetup new-minor fl 30 0',
      'bsrsetup new-minor fl 31 1',
      'bsrsetup new-peer fl 4 --_name=10.20.0.2_7788',
      'bsrsetup new-path fl 4 ipv4:10.20.0.1:7788 ipv4:10.20.0.2:7788',
      'bsrmeta 30 v09 /dev/sdc 0 apply-al',
      'bsrsetup attach 30 /dev/sdb /dev/sdc 0',
      'bsrsetup connect fl 4',
    ]);
    expect(plan(config, '10.20.0.1', 'wait-connect', ['fl'])).toEqual([
      'bsrsetup wait-connect-resource fl --wait-timeout=20 --wait-after-sb',
    ]);
  });
});

describe('other commands', () => {
  const config = loadConfig(join(EXAMPLES, 'bsr.conf'));

  it('down, primary --force, secondary address the resource', () => {
    expect(plan(config, 'alpha', 'down', ['r0'])).toEqual(['bsrsetup down r0']);
    expect(plan(config, 'alpha', 'primary', ['r0'], ['--force', '--skip-check-fs'])).toEqual([
      'bsrsetup primary r0 --force --skip-check-fs',
    ]);
    expect(plan(config, 'alpha', 'secondary', ['r0'])).toEqual(['bsrsetup secondary r0']);
  });

  it('connect creates peers and paths before connecting; -P narrows to one peer', () => {
    expect(plan(config, 'alpha', 'connect', ['r1'], [], 'charlie')).toEqual([
      'bsrsetup new-peer r1 2 --_name=charlie --protocol=C --ko-count=7',
      'bsrsetup new-path r1 2 ipv4:10.99.1.1:7790 ipv4:10.99.1.3:7790',
      'bsrsetup peer-device-options r1 2 0 --resync-rate=102400 --c-plan-ahead=20 --c-max-rate=204800',
      'bsrsetup connect r1 2',
    ]);
    expect(plan(config, 'alpha', 'disconnect', ['r1'])).toEqual([
      'bsrsetup disconnect r1 1',
      'bsrsetup disconnect r1 2',
    ]);
  });

  it('per-volume, per-peer-device and meta-data commands', () => {
    expect(plan(config, 'bravo', 'detach', ['r0'], ['--force'])).toEqual(['bsrsetup detach 0 --force']);
    expect(plan(config, 'bravo', 'verify', ['r1'])).toEqual(['bsrsetup verify r1 0 0', 'bsrsetup verify r1 2 0']);
    expect(plan(config, 'bravo', 'create-md', ['r0'], ['--force'])).toEqual([
      'bsrmeta 0 v09 /dev/vdb internal create-md --force --max-peers=1 --node-id=1',
    ]);
    expect(plan(config, 'charlie', 'create-md', ['r1'])).toEqual([
      'bsrmeta 1 v09 /dev/vdc internal create-md --max-peers=2 --node-id=2',
    ]);
    expect(plan(config, 'charlie', 'check-resize', ['r1'])).toEqual(['bsrmeta 1 v09 /dev/vdc internal check-resize']);
    expect(plan(config, 'bravo', 'new-current-uuid', ['r0'], ['--clear-bitmap'])).toEqual([
      'bsrsetup new-current-uuid 0 --clear-bitmap',
    ]);
    expect(plan(config, 'bravo', 'net-options', ['r0'])).toEqual(['bsrsetup net-options r0 0 --protocol=C']);
  });

  it('wait-connect gives bsrsetup the wfc-timeout', () => {
    const withTimeout = loadConfigText(
      `common { startup { wfc-timeout 30; } }
       resource r0 { device minor 0; disk /dev/x; meta-disk internal;
         on alpha { address 10.0.0.1:1; } on bravo { address 10.0.0.2:1; } }`,
      't.conf',
    );
    expect(plan(withTimeout, 'alpha', 'wait-connect', ['r0'])).toEqual([
      'bsrsetup wait-connect-resource r0 --wait-timeout=30',
    ]);
    expect(plan(config, 'alpha', 'wait-sync', ['r0'])).toEqual(['bsrsetup wait-sync-resource r0']);
  });

  it('after-sb-0pri discard-node-NODENAME: the named host discards its data, the other keeps them', () => {
    const text = (victim: string) =>
      `resource r0 { device minor 0; disk /dev/x; meta-disk internal;
         net { after-sb-0pri discard-node-${victim}; }
         on alpha { address 10.0.0.1:1; } on bravo { address 10.0.0.2:1; } }`;
    const config = loadConfigText(text('bravo'), 't.conf');
    const policy = (me: string) => plan(config, me, 'connect', ['r0']).find((l) => l.startsWith('bsrsetup new-peer'));
    expect(policy('alpha')).toMatch(/ --after-sb-0pri=discard-remote$/);
    expect(policy('bravo')).toMatch(/ --after-sb-0pri=discard-local$/);
    expect(() => loadConfigText(text('charlie'), 't.conf')).toThrow(
      "t.conf:2: after-sb-0pri discard-node-charlie: 'charlie' is neither host of the connection (alpha, bravo)",
    );
  });

  it('wait-connect gives bsrsetup the other startup options too: none is left unread', () => {
    const startup = loadConfigText(
      `common { startup { wfc-timeout 30; degr-wfc-timeout 120; outdated-wfc-timeout 0; wait-after-sb; } }
       resource r0 { device minor 0; disk /dev/x; meta-disk internal;
         on alpha { address 10.0.0.1:1; } on bravo { address 10.0.0.2:1; } }`,
      't.conf',
    );
    expect(plan(startup, 'alpha', 'wait-connect', ['r0'])).toEqual([
      'bsrsetup wait-connect-resource r0 --wait-timeout=30 --degr-wfc-timeout=120 --outdated-wfc-timeout=0 --wait-after-sb',
    ]);
  });

  it('forget-peer accepts a node-id that is no longer configured', () => {
    const [r0] = selectResources(config, ['r0'], 'alpha');
    expect(planCommand('forget-peer', [makeTarget(r0, undefined, '5', true)]).map(formatStep)).toEqual([
      'bsrsetup forget-peer r0 5',
    ]);
    expect(() => makeTarget(r0, undefined, '5')).toThrow("resource r0 has no peer '5'");
    expect(() => makeTarget(r0, 3)).toThrow('resource r0 has no volume 3');
  });

  it('all means every resource this node is part of', () => {
    expect(plan(config, 'charlie', 'down', ['all'])).toEqual(['bsrsetup down r1']);
    expect(plan(config, 'win-b', 'down', ['all'])).toEqual(['bsrsetup down r2']);
  });

  it('refuses a resource this node is not part of, or one not defined', () => {
    expect(() => plan(config, 'charlie', 'up', ['r0'])).toThrow(
      /r0\.res:2: resource r0 has no host section for 'charlie'/,
    );
    expect(() => plan(config, 'alpha', 'up', ['nope'])).toThrow(/bsr\.conf:1: resource 'nope' is not defined/);
  });
});
