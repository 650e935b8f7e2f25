import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, loadConfigText } from '../../src/config/index';
import { selectResources } from '../../src/config/local';
import { parseRunningState } from '../../src/config/show';
import { planAdjust } from '../../src/planner/adjust';
import { formatStep } from '../../src/planner/steps';

const EXAMPLES = join(__dirname, '../../conf-examples');

/** r0 as `bsrsetup show` prints it on alpha when it runs exactly as conf-examples/r0.res says. */
const R0_RUNNING = `
resource r0 {
  options {
  }
  _this_host {
    node-id 0;
    volume 0 {
      device minor 0;
      disk "/dev/vdb";
      meta-disk internal;
      disk {
      }
    }
  }
  connection {
    _peer_node_id 1;
    path {
      _this_host ipv4 10.99.1.1:7789;
      _remote_host ipv4 10.99.1.2:7789;
    }
    net {
      _name "bravo";
      protocol C;
    }
    volume 0 {
      disk {
      }
    }
  }
}
`;

function adjust(configText: string, running: string, me = 'alpha'): string[] {
  const config = loadConfigText(configText, 'test.conf');
  const wanted = selectResources(config, ['all'], me);
  return planAdjust(wanted, parseRunningState(running, 'show', me)).map(formatStep);
}

const R0 = `
resource r0 {
  protocol C;
  device /dev/bsr0 minor 0;
  disk /dev/vdb;
  meta-disk internal;
  net { protocol C; }
  on alpha { address ipv4 10.99.1.1:7789; node-id 0; }
  on bravo { address ipv4 10.99.1.2:7789; node-id 1; }
`;

describe('adjust', () => {
  it('does nothing when the running state matches the config', () => {
    expect(adjust(`${R0}}`, R0_RUNNING)).toEqual([]);
    // A string option, quoted by show and bare in the config, is the same value.
    const withAlg = R0_RUNNING.replace(
      'protocol C;',
      'protocol C;\n      cram-hmac-alg "sha1";\n      shared-secret "s3";',
    );
    expect(adjust(`${R0}  net { cram-hmac-alg sha1; shared-secret s3; }\n}`, withAlg)).toEqual([]);
  });

  it('connects a StandAlone peer (after disconnect or a split brain)', () => {
    const running = R0_RUNNING.replace('_peer_node_id 1;', '_peer_node_id 1;\n    _is_standalone;');
    expect(adjust(`${R0}}`, running)).toEqual(['bsrsetup connect r0 1']);
  });

  it('refuses a value after _is_standalone', () => {
    const running = R0_RUNNING.replace('_peer_node_id 1;', '_peer_node_id 1;\n    _is_standalone yes;');
    expect(() => adjust(`${R0}}`, running)).toThrow(/_is_standalone: takes no value/);
  });

  it('explicit defaults in the running state are no difference', () => {
    const running = R0_RUNNING.replace('protocol C;', 'protocol C;\n      ko-count 5;\n      timeout 60;');
    expect(adjust(`${R0}}`, running)).toEqual([]);
  });

  it('changed net, disk, peer-device, resource and node options', () => {
    const config = `${R0}
      net { max-epoch-size 20000; }
      disk { al-extents 1000; resync-rate 10M; }
      options { persist-role yes; svc-auto-up yes; }
    }`;
    const expected = [
      'bsrsetup resource-options r0 --persist-role=yes',
      'bsrsetup disk-options 0 --al-extents=1000',
      'bsrsetup net-options r0 1 --max-epoch-size=20000',
      'bsrsetup peer-device-options r0 1 0 --resync-rate=10240',
    ];
    expect(adjust(config, R0_RUNNING)).toEqual(expected);
    // svc-auto-up is bsr.service's option: accepted either way, never a kernel step.
    expect(adjust(config.replace('svc-auto-up yes;', 'svc-auto-up no; svc-auto-down no;'), R0_RUNNING)).toEqual(
      expected,
    );
  });

  it('a changed size is a resize, not a disk option', () => {
    const config = `${R0}
      disk { size 1G; max-passthrough-count 50; }
    }`;
    expect(adjust(config, R0_RUNNING)).toEqual([
      'bsrsetup disk-options 0 --max-passthrough-count=50',
      'bsrsetup resize 0 --size=2097152',
    ]);
  });

  it('an option removed from the config goes back to its default', () => {
    const running = R0_RUNNING.replace('protocol C;', 'protocol A;\n      ko-count 9;');
    expect(adjust(`${R0}}`, running)).toEqual(['bsrsetup net-options r0 1 --protocol=C --ko-count=5']);
  });

  it('new volume: new-minor, peer-device options, then attach', () => {
    const config = `${R0}
      volume 1 { device minor 7; disk /dev/vdc; meta-disk internal; disk { resync-rate 20M; } }
    }`;
    expect(adjust(config, R0_RUNNING)).toEqual([
      'bsrsetup new-minor r0 7 1',
      'bsrsetup peer-device-options r0 1 1 --resync-rate=20480',
      'bsrmeta 7 v09 /dev/vdc internal apply-al',
      'bsrsetup attach 7 /dev/vdc /dev/vdc internal',
    ]);
  });

  it('removed volume: detach and del-minor', () => {
    const twoVolumes = R0_RUNNING.replace(
      '    volume 0 {\n      device minor 0;',
      '    volume 1 {\n      device minor 9;\n      disk "/dev/vdd";\n      meta-disk internal;\n    }\n    volume 0 {\n      device minor 0;',
    );
    expect(adjust(`${R0}}`, twoVolumes)).toEqual(['bsrsetup detach 9', 'bsrsetup del-minor 9']);
  });

  it('changed lower device: detach and attach again', () => {
    const running = R0_RUNNING.replace('disk "/dev/vdb";', 'disk "/dev/vdz";');
    expect(adjust(`${R0}}`, running)).toEqual([
      'bsrsetup detach 0',
      'bsrmeta 0 v09 /dev/vdb internal apply-al',
      'bsrsetup attach 0 /dev/vdb /dev/vdb internal',
    ]);
  });

  it('new peer is created, given paths and connected; removed peer is deleted', () => {
    const threeHosts = `${R0.replace('on bravo', 'on charlie { address 10.99.1.3:7789; node-id 2; }\n  on bravo')}}`;
    expect(adjust(threeHosts, R0_RUNNING)).toEqual([
      'bsrsetup new-peer r0 2 --_name=charlie --protocol=C',
      'bsrsetup new-path r0 2 ipv4:10.99.1.1:7789 ipv4:10.99.1.3:7789',
      'bsrsetup connect r0 2',
    ]);
    const onlyCharlie = `${R0.replace('on bravo { address ipv4 10.99.1.2:7789; node-id 1; }', 'on charlie { address 10.99.1.3:7789; node-id 2; }')}}`;
    // make before break: bravo goes only once charlie, which replaces it, is connected
    expect(adjust(onlyCharlie, R0_RUNNING)).toEqual([
      'bsrsetup new-peer r0 2 --_name=charlie --protocol=C',
      'bsrsetup new-path r0 2 ipv4:10.99.1.1:7789 ipv4:10.99.1.3:7789',
      'bsrsetup connect r0 2',
      'bsrsetup wait-connect-connection r0 2 --wait-timeout=60',
      'bsrsetup del-peer r0 1',
    ]);
  });

  it('a peer removed without a replacement goes first', () => {
    const alone = `${R0.replace('on bravo { address ipv4 10.99.1.2:7789; node-id 1; }', '')}}`;
    expect(adjust(alone, R0_RUNNING)).toEqual(['bsrsetup del-peer r0 1']);
  });

  it('changed address: the new path comes first, then the old one goes (make before break)', () => {
    const moved = `${R0.replace('10.99.1.2:7789', '10.99.1.2:7790')}}`;
    expect(adjust(moved, R0_RUNNING)).toEqual([
      'bsrsetup new-path r0 1 ipv4:10.99.1.1:7789 ipv4:10.99.1.2:7790',
      'bsrsetup del-path r0 1 ipv4:10.99.1.1:7789 ipv4:10.99.1.2:7789',
    ]);
  });

  it('a resource that is not running is brought up', () => {
    expect(adjust(`${R0}}`, '')).toEqual([
      'bsrsetup new-resource r0 0',
      'bsrsetup new-minor r0 0 0',
      'bsrsetup new-peer r0 1 --_name=bravo --protocol=C',
      'bsrsetup new-path r0 1 ipv4:10.99.1.1:7789 ipv4:10.99.1.2:7789',
      'bsrmeta 0 v09 /dev/vdb internal apply-al',
      'bsrsetup attach 0 /dev/vdb /dev/vdb internal',
      'bsrsetup connect r0 1',
    ]);
  });

  it('also reads a running state written as ordinary config', () => {
    const config = loadConfig(join(EXAMPLES, 'bsr.conf'));
    const wanted = selectResources(config, ['r0'], 'bravo');
    const running = parseRunningState(`${R0.replace('net { protocol C; }', 'net { protocol B; }')}}`, 'show', 'bravo');
    expect(planAdjust(wanted, running).map(formatStep)).toEqual(['bsrsetup net-options r0 0 --protocol=C']);
  });
});
