import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dumpConfig } from '../../src/config/dump';
import { loadConfig, loadConfigText } from '../../src/config/index';
import { tokenize } from '../../src/config/lexer';
import type { OptionMap } from '../../src/config/model';
import { errorOf } from './config-helpers';

const FIXTURES = join(__dirname, '../fixtures/config');

function values(options: OptionMap): Record<string, unknown> {
  return Object.fromEntries([...options].map(([k, e]) => [k, e.value]));
}

const TWO_HOSTS = `
resource r0 {
  device /dev/bsr0 minor 0;
  disk /dev/vdb;
  meta-disk internal;
  on alpha { address 10.99.1.1:7789; node-id 0; }
  on bravo { address 10.99.1.2:7789; node-id 1; }
}
`;

describe('lexer', () => {
  it('keeps FILE:LINE, strips comments, reads escapes', () => {
    const tokens = tokenize('a "x\\"y\\\\z" # comment { ;\n  b;\n"two\nlines" c', 'f.conf');
    expect(tokens.map((t) => [t.kind, t.text, t.line])).toEqual([
      ['word', 'a', 1],
      ['string', 'x"y\\z', 1],
      ['word', 'b', 2],
      [';', ';', 2],
      ['string', 'two\nlines', 3],
      ['word', 'c', 4],
      ['eof', '', 4],
    ]);
    expect(tokens[0].file).toBe('f.conf');
  });

  it('reports an unterminated string where it starts', () => {
    expect(() => tokenize('a;\n"open\nmore', 'f.conf')).toThrow('f.conf:2: unterminated string');
  });
});

describe('parser: valid input', () => {
  it('reads a two-node resource', () => {
    const config = loadConfigText(TWO_HOSTS, 'test.conf');
    const [r0] = config.resources;
    expect(r0.name).toBe('r0');
    expect(r0.hosts.map((h) => [h.names, h.nodeId, h.address])).toEqual([
      [['alpha'], 0, { family: 'ipv4', host: '10.99.1.1', port: 7789 }],
      [['bravo'], 1, { family: 'ipv4', host: '10.99.1.2', port: 7789 }],
    ]);
    expect(r0.hosts[1].volumes[0]).toMatchObject({
      number: 0,
      minor: 0,
      device: '/dev/bsr0',
      disk: '/dev/vdb',
      metaDisk: { device: 'internal', index: 'internal' },
    });
    // Two hosts, no connection section: one implicit connection.
    expect(r0.connections.map((c) => c.hosts)).toEqual([['alpha', 'bravo']]);
  });

  it('numbers two hosts without node-ids in the order written', () => {
    const config = loadConfig(join(FIXTURES, 'reference-up.conf'));
    expect(config.resources[0].hosts.map((h) => h.nodeId)).toEqual([0, 1]);
  });

  it('accepts every device form, including the Windows drive letter', () => {
    const config = loadConfigText(
      `resource w {
        on a { address 10.0.0.1:1; volume 0 { device e minor 2; disk e; meta-disk f; }
               volume 1 { device minor 3; disk g; meta-disk h 1; }
               volume 2 { device /dev/bsr4; disk /dev/x; meta-disk /dev/m[2]; } }
        on b { address 10.0.0.2:1; volume 0 { device e minor 2; disk e; meta-disk f; }
               volume 1 { device minor 3; disk g; meta-disk h [1]; }
               volume 2 { device /dev/bsr4; disk none; } }
      }`,
      'test.conf',
    );
    const [a, b] = config.resources[0].hosts;
    expect(a.volumes.map((v) => [v.device, v.minor, v.disk, v.metaDisk])).toEqual([
      ['e', 2, 'e', { device: 'f', index: 'flexible' }],
      ['/dev/bsr3', 3, 'g', { device: 'h', index: 1 }],
      ['/dev/bsr4', 4, '/dev/x', { device: '/dev/m', index: 2 }],
    ]);
    expect(b.volumes[1].metaDisk).toEqual({ device: 'h', index: 1 });
    expect(b.volumes[2].disk).toBe('none');
  });

  it('inherits common -> resource -> volume -> host and into connections', () => {
    const config = loadConfig(join(FIXTURES, 'two-volumes.conf'));
    const [data] = config.resources;
    const [alpha, bravo] = data.hosts;
    expect(values(alpha.volumes[0].diskOptions)).toEqual({ 'al-extents': 3389 });
    expect(values(alpha.volumes[1].diskOptions)).toEqual({ 'al-extents': 3389, 'disk-flushes': true });
    // Node options take only their defaults (not implemented by bsr yet); they are still inherited.
    expect(values(alpha.nodeOptions)).toEqual({ 'svc-auto-down': true, 'target-only': false });
    expect(values(bravo.nodeOptions)).toEqual({ 'svc-auto-down': true });
    expect(values(data.resourceOptions)).toEqual({ 'persist-role': true });
    const [connection] = data.connections;
    expect(values(connection.net)).toEqual({ 'max-epoch-size': 8000, protocol: 'B' });
    expect(values(connection.peerDevice.get(0) as OptionMap)).toEqual({ 'resync-rate': 40960 });
    expect(values(connection.peerDevice.get(1) as OptionMap)).toEqual({ 'resync-rate': 40960, 'c-max-rate': 102400 });
    // `host bravo port 7801` overrides the port of bravo's address on this connection.
    expect(connection.paths[0].addresses.map((a) => `${a.host}:${a.port}`)).toEqual(['10.0.0.1:7800', '10.0.0.2:7801']);
  });

  it('expands include globs relative to the including file, skipping hidden files', () => {
    const config = loadConfig(join(FIXTURES, 'inc/bsr.conf'));
    expect(config.resources.map((r) => r.name)).toEqual(['ra', 'rb']);
    expect(config.global.get('usage-count')?.value).toBe('no');
    expect(config.resources[1].connections[0].net.get('protocol')?.value).toBe('A');
    expect(config.resources[0].loc).toEqual({ file: join(FIXTURES, 'inc/bsr.d/a.res'), line: 1 });
  });

  it('ignores sections prefixed with skip', () => {
    const config = loadConfigText(
      `skip resource old { this is { not checked } at all; }
       resource r0 { skip net { bogus 1; }
         device minor 0; disk /dev/vdb; meta-disk internal;
         on alpha { address 10.0.0.1:1; } on bravo { address 10.0.0.2:1; skip node-id 9; } }`,
      'test.conf',
    );
    expect(config.resources.map((r) => r.name)).toEqual(['r0']);
    expect(config.resources[0].connections[0].net.size).toBe(0);
  });

  it('builds explicit paths, meshes and multi-name hosts', () => {
    const config = loadConfigText(
      `resource m {
        device minor 5; disk /dev/vdc; meta-disk internal;
        on a a.example { address [fd00::1]:7000; node-id 0; }
        on b { address [fd00::2]:7000; node-id 1; }
        on c { address [fd00::3]:7000; node-id 2; }
        connection-mesh { hosts a b c; net { ko-count 9; } }
      }
      resource p {
        device minor 6; disk /dev/vdd; meta-disk internal;
        on a { address 10.0.0.1:7001; }
        on b { address 10.0.0.2:7001; }
        connection link {
          path { host a address 192.168.0.1:7002; host b address 192.168.0.2:7002; }
          path { host a address 192.168.1.1:7002; host b address 192.168.1.2:7002; }
        }
      }`,
      'test.conf',
    );
    const [mesh, paths] = config.resources;
    expect(mesh.hosts[0].names).toEqual(['a', 'a.example']);
    expect(mesh.connections.map((c) => c.hosts)).toEqual([
      ['a', 'b'],
      ['a', 'c'],
      ['b', 'c'],
    ]);
    expect(mesh.connections[2].paths[0].addresses[1]).toEqual({ family: 'ipv6', host: 'fd00::3', port: 7000 });
    expect(mesh.connections.every((c) => c.net.get('ko-count')?.value === 9)).toBe(true);
    expect(paths.connections[0].name).toBe('link');
    expect(paths.connections[0].paths.map((p) => p.addresses.map((a) => a.host))).toEqual([
      ['192.168.0.1', '192.168.0.2'],
      ['192.168.1.1', '192.168.1.2'],
    ]);
  });

  it('shares a meta-disk written outside the volume blocks with every volume', () => {
    const config = loadConfigText(
      `resource v { meta-disk internal;
        volume 0 { device minor 1; disk /dev/a; }
        volume 1 { device minor 2; disk /dev/b; }
        on a { address 10.0.0.1:1; } on b { address 10.0.0.2:1; volume 1 { meta-disk /dev/m [1]; } } }`,
      'test.conf',
    );
    const [a, b] = config.resources[0].hosts;
    expect(a.volumes.map((v) => [v.number, v.metaDisk.index])).toEqual([
      [0, 'internal'],
      [1, 'internal'],
    ]);
    expect(b.volumes.map((v) => [v.number, v.metaDisk.index])).toEqual([
      [0, 'internal'],
      [1, 1],
    ]);
  });

  it('takes path addresses from the connection when the hosts have none', () => {
    const config = loadConfigText(
      `resource p { device minor 0; disk /dev/x; meta-disk internal;
        on a { node-id 0; } on b { node-id 1; }
        connection { path { host a address 10.1.0.1:7000; host b address 10.1.0.2:7000; } } }`,
      'test.conf',
    );
    expect(config.resources[0].connections[0].paths[0].addresses.map((x) => x.host)).toEqual(['10.1.0.1', '10.1.0.2']);
  });

  it('reads size suffixes per option unit and quoted handler commands', () => {
    const config = loadConfigText(
      `common { disk { c-fill-target 1M; al-extents 4k; }
                net { sndbuf-size 10M; }
                handlers { split-brain "/usr/lib/bsr/notify.sh \\"root\\""; } }
       ${TWO_HOSTS}`,
      'test.conf',
    );
    const [r0] = config.resources;
    expect(r0.hosts[0].volumes[0].diskOptions.get('al-extents')?.value).toBe(4096);
    expect(r0.connections[0].peerDevice.get(0)?.get('c-fill-target')?.value).toBe(2048);
    expect(r0.connections[0].net.get('sndbuf-size')?.value).toBe(10485760);
    expect(r0.handlers.get('split-brain')?.value).toBe('/usr/lib/bsr/notify.sh "root"');
  });
});

describe('devices are not shared', () => {
  /** A resource on hosts alpha and bravo with the given lines inside `on alpha`. */
  const onAlpha = (name: string, port: number, alpha: string, bravo = `device minor ${port - 6900}; disk none;`) =>
    `resource ${name} {\n on alpha {\n  address 10.0.0.1:${port};\n${alpha}\n }\n on bravo { address 10.0.0.2:${port}; ${bravo} }\n}\n`;

  it('device must be /dev/bsrN matching minor N', () => {
    expect(errorOf(onAlpha('r0', 7000, '  device /dev/sda minor 0; disk /dev/vdb;'))).toBe(
      "test.conf:4: device /dev/sda does not match minor 0: write 'device /dev/bsr0 minor 0' or leave out either",
    );
    expect(errorOf(onAlpha('r0', 7000, '  device /dev/bsr1 minor 0; disk /dev/vdb;'))).toBe(
      "test.conf:4: device /dev/bsr1 does not match minor 0: write 'device /dev/bsr0 minor 0' or leave out either",
    );
    expect(errorOf(onAlpha('r0', 7000, '  device /dev/sda; disk /dev/vdb;'))).toBe(
      'test.conf:4: device /dev/sda names no minor: write /dev/bsrN, minor N, or a drive letter with minor N',
    );
    // drbdadm's short form: /dev/ may be left out.
    const config = loadConfigText(onAlpha('r0', 7000, '  device bsr3; disk /dev/vdb;'), 'test.conf');
    expect(config.resources[0].hosts[0].volumes[0]).toMatchObject({ device: '/dev/bsr3', minor: 3 });
  });

  it('the same minor twice on one host', () => {
    expect(
      errorOf(
        onAlpha(
          'r0',
          7000,
          '  volume 0 { device minor 4; disk /dev/vdb; }\n  volume 1 { device minor 4; disk /dev/vdc; }',
        ),
      ),
    ).toBe('test.conf:5: minor 4 on host alpha is already used by resource r0 (test.conf:4)');
  });

  it('the same disk in two volumes or two resources of one host', () => {
    expect(
      errorOf(
        onAlpha(
          'r0',
          7000,
          '  volume 0 { device minor 0; disk /dev/vdb; }\n  volume 1 { device minor 1; disk /dev/vdb; }',
        ),
      ),
    ).toBe('test.conf:5: disk /dev/vdb on host alpha is already used by resource r0 volume 0 (test.conf:4)');
    expect(
      errorOf(
        onAlpha('r0', 7000, '  device minor 0; disk /dev/vdb;') +
          onAlpha('r1', 7001, '  device minor 1; disk /dev/vdb;'),
      ),
    ).toBe('test.conf:11: disk /dev/vdb on host alpha is already used by resource r0 volume 0 (test.conf:4)');
    // The same device name on two hosts is two devices.
    const config = loadConfigText(
      onAlpha('r0', 7000, '  device minor 0; disk /dev/vdb;', 'device minor 0; disk /dev/vdb;'),
      'test.conf',
    );
    expect(config.resources[0].hosts.map((h) => h.volumes[0].disk)).toEqual(['/dev/vdb', '/dev/vdb']);
  });

  it('a host is the same host by short or fully qualified name', () => {
    const res = (name: string, port: number, alpha: string, minor: number) =>
      `resource ${name} {\n device minor ${minor}; disk /dev/vdb;\n on ${alpha} { address 10.0.0.1:${port}; }\n on bravo { address 10.0.0.2:${port}; disk none; }\n}\n`;
    expect(errorOf(res('r0', 7000, 'n1', 0) + res('r1', 7001, 'N1.example.org', 1))).toBe(
      'test.conf:7: disk /dev/vdb on host N1.example.org is already used by resource r0 volume 0 (test.conf:2)',
    );
    expect(errorOf(res('r0', 7000, 'n1', 0) + res('r1', 7001, 'n1.example.org', 0))).toBe(
      'test.conf:7: minor 0 on host n1.example.org is already used by resource r0 (test.conf:2)',
    );
    // Two fully qualified names that differ are two hosts.
    const config = loadConfigText(res('r0', 7000, 'n1.a.org', 0) + res('r1', 7001, 'n1.b.org', 1), 'test.conf');
    expect(config.resources.map((r) => r.hosts[0].volumes[0].disk)).toEqual(['/dev/vdb', '/dev/vdb']);
  });

  it('the same external meta-disk slot twice, or a flexible meta-disk shared', () => {
    expect(
      errorOf(
        onAlpha(
          'r0',
          7000,
          '  volume 0 { device minor 0; disk /dev/vdb; meta-disk /dev/md [0]; }\n  volume 1 { device minor 1; disk /dev/vdc; meta-disk /dev/md [0]; }',
        ),
      ),
    ).toBe('test.conf:5: meta-disk /dev/md [0] on host alpha is already used by resource r0 volume 0 (test.conf:4)');
    expect(
      errorOf(
        onAlpha('r0', 7000, '  device minor 0; disk /dev/vdb; meta-disk /dev/md;') +
          onAlpha('r1', 7001, '  device minor 1; disk /dev/vdc; meta-disk /dev/md [1];'),
      ),
    ).toBe('test.conf:11: meta-disk /dev/md [1] on host alpha is already used by resource r0 volume 0 (test.conf:4)');
    // Two slots of one meta-data device are fine.
    const config = loadConfigText(
      onAlpha(
        'r0',
        7000,
        '  volume 0 { device minor 0; disk /dev/vdb; meta-disk /dev/md [0]; }\n  volume 1 { device minor 1; disk /dev/vdc; meta-disk /dev/md [1]; }',
      ),
      'test.conf',
    );
    expect(config.resources[0].hosts[0].volumes.map((v) => v.metaDisk.index)).toEqual([0, 1]);
  });

  it("a meta-disk that is a disk: its own or another volume's", () => {
    expect(errorOf(onAlpha('r0', 7000, '  device minor 0;\n  disk /dev/vdb;\n  meta-disk /dev/vdb;'))).toBe(
      "test.conf:6: meta-disk /dev/vdb is the volume's own disk; write 'meta-disk internal' for meta data on the disk",
    );
    expect(
      errorOf(
        onAlpha(
          'r0',
          7000,
          '  volume 0 { device minor 0; disk /dev/vdb; meta-disk /dev/vdc; }\n  volume 1 { device minor 1; disk /dev/vdc; }',
        ),
      ),
    ).toBe('test.conf:4: meta-disk /dev/vdc on host alpha is the disk of resource r0 volume 1 (test.conf:5)');
  });
});

/** r0 (one volume) and r1 (two volumes) on alpha and bravo; v0 and v1 go on lines 5 and 7. */
function resyncAfter(v0: string, v1 = ''): string {
  return `resource r0 { device minor 0; disk /dev/vdb;
  on alpha { address 10.0.0.1:7000; } on bravo { address 10.0.0.2:7000; device minor 7; } }
resource r1 {
  volume 0 { device minor 1; disk /dev/vdc;
  ${v0} }
  volume 1 { device minor 2; disk /dev/vdd;
  ${v1} }
  on alpha { address 10.0.0.1:7001; } on bravo { address 10.0.0.2:7001; }
}`;
}

describe('DRBD 9 forms', () => {
  it('resync-after names RES or RES/VOL, resolved to its minor on the same host', () => {
    const volumes = (text: string) =>
      loadConfigText(text, 'test.conf').resources[1].hosts[0].volumes.map(
        (v) => v.diskOptions.get('resync-after')?.value,
      );
    expect(volumes(resyncAfter('disk { resync-after r0; }'))).toEqual([0, undefined]);
    expect(volumes(resyncAfter('', 'disk { resync-after r1/0; }'))).toEqual([undefined, 1]);
  });

  it('resync-after: a chain that comes back to its start is refused at its line', () => {
    expect(errorOf(resyncAfter('disk { resync-after r1/1; }', 'disk { resync-after r1/0; }'))).toBe(
      'test.conf:5: resync-after r1/1: a cycle: minor 1 -> 2 -> 1',
    );
  });

  it('resync-after: unknown resource or volume, an ambiguous or self reference', () => {
    expect(errorOf(resyncAfter('disk { resync-after r9; }'))).toBe(
      'test.conf:5: resync-after r9: resource r9 is not defined',
    );
    expect(errorOf(resyncAfter('disk { resync-after r0/3; }'))).toBe(
      'test.conf:5: resync-after r0/3: resource r0 has no volume 3 on host alpha',
    );
    expect(errorOf(resyncAfter('disk { resync-after r1; }'))).toBe(
      'test.conf:5: resync-after r1: resource r1 has 2 volumes; write r1/VOLUME',
    );
    expect(errorOf(resyncAfter('', 'disk { resync-after r1/1; }'))).toBe(
      'test.conf:7: resync-after r1/1: a volume cannot resync after itself',
    );
    expect(errorOf(resyncAfter('disk { resync-after 0; }'))).toBe(
      'test.conf:5: resync-after 0: resource 0 is not defined',
    );
  });

  it('a volume with a disk and no meta-disk keeps its meta data internal', () => {
    const config = loadConfigText(
      `resource r0 {
        volume 0 { device minor 0; disk /dev/vdb; }
        volume 1 { device minor 1; disk none; }
        on alpha { address 10.0.0.1:7000; } on bravo { address 10.0.0.2:7000; volume 1 { disk /dev/vdc; } } }`,
      'test.conf',
    );
    const [alpha, bravo] = config.resources[0].hosts;
    expect(alpha.volumes.map((v) => [v.disk, v.metaDisk])).toEqual([
      ['/dev/vdb', { device: 'internal', index: 'internal' }],
      ['none', { device: 'internal', index: 'internal' }],
    ]);
    expect(bravo.volumes[1].metaDisk).toEqual({ device: 'internal', index: 'internal' });
  });

  it('reads an IPv6 address with a %scope and dumps it back', () => {
    const config = loadConfigText(
      `resource r0 { device minor 0; disk /dev/vdb;
        on alpha { address ipv6 [fe80::1%eth0]:7789; } on bravo { address ipv6 [fe80::2%eth0]:7789; } }`,
      'test.conf',
    );
    const [connection] = config.resources[0].connections;
    expect(connection.paths[0].addresses.map((a) => a.host)).toEqual(['fe80::1%eth0', 'fe80::2%eth0']);
    const again = loadConfigText(dumpConfig(config), 'dumped.conf');
    expect(again.resources[0].hosts[1].address).toEqual({ family: 'ipv6', host: 'fe80::2%eth0', port: 7789 });
  });

  it('takes drbdsetup unit suffixes in the unit of each option', () => {
    const config = loadConfigText(
      `common { net { max-epoch-size 8k; sndbuf-size 1M; } disk { c-max-rate 100M; c-fill-target 1k; } }
       ${TWO_HOSTS}`,
      'test.conf',
    );
    const [connection] = config.resources[0].connections;
    expect(values(connection.net)).toEqual({ 'max-epoch-size': 8192, 'sndbuf-size': 1048576 });
    expect(values(connection.peerDevice.get(0) as OptionMap)).toEqual({ 'c-max-rate': 102400, 'c-fill-target': 2 });
    expect(errorOf('common {\n net {\n  max-epoch-size 8T;\n }\n}')).toBe(
      "test.conf:3: max-epoch-size: '8T': unknown unit 'T' (k, M, G or s)",
    );
    expect(errorOf('common { net {\n  ping-int 1k; } }')).toBe(
      "test.conf:2: ping-int: '1k' is not a number (s options take no unit suffix)",
    );
  });
});

describe('congestion options', () => {
  it('takes a congestion-fill above 4 GiB (u64) with a unit suffix', () => {
    const config = loadConfigText(
      `common { net { protocol A; on-congestion pull-ahead; congestion-fill 10G; congestion-highwater 0; } }
       ${TWO_HOSTS}`,
      'test.conf',
    );
    const [connection] = config.resources[0].connections;
    expect(values(connection.net)).toMatchObject({ 'congestion-fill': 10737418240, 'congestion-highwater': 0 });
  });

  it('pull-ahead and disconnect need protocol A', () => {
    expect(errorOf(`common {\n net {\n  on-congestion pull-ahead;\n }\n}\n${TWO_HOSTS}`)).toBe(
      'test.conf:3: on-congestion pull-ahead needs protocol A (this connection has C)',
    );
    expect(errorOf(`common {\n net {\n  protocol B;\n  on-congestion disconnect;\n }\n}\n${TWO_HOSTS}`)).toBe(
      'test.conf:4: on-congestion disconnect needs protocol A (this connection has B)',
    );
    expect(errorOf('common { net {\n congestion-highwater 1000001; } }')).toBe(
      'test.conf:2: congestion-highwater: 1000001 is out of range, allowed 0 .. 1000000',
    );
  });
});

describe('parser: errors are FILE:LINE: message', () => {
  it('unknown keyword with a suggestion', () => {
    expect(errorOf('resource r0 {\n  net {\n    max-bufers 100;\n  }\n}')).toBe(
      "test.conf:3: unknown keyword 'max-bufers' in net section of resource r0 (did you mean 'max-buffers'?)",
    );
    expect(errorOf('resorce r0 {}')).toBe(
      "test.conf:1: unknown keyword 'resorce' in the top level (did you mean 'resource'?)",
    );
    expect(errorOf('resource r0 {\n  on alpha {\n    adress 10.0.0.1:1;\n  }\n}')).toBe(
      "test.conf:3: unknown keyword 'adress' in host alpha (did you mean 'address'?)",
    );
  });

  it('option in the wrong section', () => {
    expect(errorOf('common {\n  net {\n    resync-rate 10M;\n  }\n}')).toBe(
      "test.conf:3: 'resync-rate' is not allowed in net section of common; it belongs in a disk section",
    );
  });

  it('out of range says the range', () => {
    expect(errorOf('common {\n disk {\n  al-extents 70000;\n }\n}')).toBe(
      'test.conf:3: al-extents: 70000 is out of range, allowed 67 .. 65534',
    );
    expect(errorOf('common { net {\n timeout 0; } }')).toBe(
      'test.conf:2: timeout: 0 is out of range, allowed 1 .. 600 (0.1s)',
    );
  });

  it('wrong type', () => {
    expect(errorOf('common { disk {\n  disk-flushes sometimes; } }')).toBe(
      "test.conf:2: disk-flushes: expected yes or no, not 'sometimes'",
    );
    expect(errorOf('common { net {\n  ko-count lots; } }')).toBe("test.conf:2: ko-count: 'lots' is not a number");
    expect(errorOf('common { net {\n  protocol D; } }')).toBe("test.conf:2: protocol: 'D' is not one of A, B, C");
  });

  it('unbalanced braces', () => {
    expect(errorOf('resource r0 {\n  net {\n    protocol C;\n')).toBe(
      "test.conf:2: unbalanced braces: '{' of net section of resource r0 is never closed",
    );
    expect(errorOf('global {\n}\n}\n')).toBe("test.conf:3: unbalanced braces: unexpected '}'");
  });

  it('duplicate minor, node-id and address', () => {
    const two = (name: string, minor: number, port: number) =>
      `resource ${name} {\n device minor ${minor};\n disk /dev/x;\n meta-disk internal;\n on alpha { address 10.0.0.1:${port}; }\n on bravo { address 10.0.0.2:${port}; }\n}\n`;
    expect(errorOf(two('r0', 0, 7000) + two('r1', 0, 7001))).toBe(
      'test.conf:9: minor 0 on host alpha is already used by resource r0 (test.conf:2)',
    );
    expect(errorOf(two('r0', 0, 7000) + two('r1', 1, 7000))).toBe(
      'test.conf:12: address 10.0.0.1:7000 is already used by host alpha in resource r0 (test.conf:5)',
    );
    expect(
      errorOf(
        'resource r0 {\n device minor 0; disk /dev/x; meta-disk internal;\n on a { address 10.0.0.1:1; node-id 1; }\n on b { address 10.0.0.2:1;\n node-id 1; }\n}',
      ),
    ).toBe('test.conf:5: node-id 1 is already used by host a');
  });

  it('an option, host or volume given twice', () => {
    expect(errorOf('common { net {\n protocol A;\n ko-count 3;\n protocol B; } }')).toBe(
      'test.conf:4: protocol is set twice in net section of common (first at line 2)',
    );
    expect(
      errorOf(
        'resource r0 {\n device minor 0; disk /dev/x; meta-disk internal;\n on a { address 10.0.0.1:1; }\n on a { address 10.0.0.2:1; }\n}',
      ),
    ).toBe('test.conf:4: host a appears twice in resource r0 (first at line 3)');
    expect(
      errorOf(
        'resource r0 {\n volume 0 { device minor 0; disk /dev/x; meta-disk internal; }\n volume 0 { device minor 1; disk /dev/y; meta-disk internal; }\n on a { address 10.0.0.1:1; }\n}',
      ),
    ).toBe('test.conf:3: volume 0 appears twice (first at line 2)');
  });

  it('missing node-id with more than two hosts', () => {
    expect(
      errorOf(
        'resource r0 {\n device minor 0; disk /dev/x; meta-disk internal;\n on a { address 10.0.0.1:1; node-id 0; }\n on b { address 10.0.0.2:1; node-id 1; }\n on c { address 10.0.0.3:1; }\n}',
      ),
    ).toBe('test.conf:5: host c: node-id missing (required when a resource has more than two hosts)');
  });

  it('connection to an unknown host, bad address, missing device', () => {
    expect(
      errorOf(
        'resource r0 {\n device minor 0; disk /dev/x; meta-disk internal;\n on a { address 10.0.0.1:1; }\n on b { address 10.0.0.2:1; }\n connection {\n  host a;\n  host z;\n }\n}',
      ),
    ).toBe("test.conf:7: resource r0 has no host 'z' (hosts: a, b)");
    expect(errorOf('resource r0 {\n on a {\n  address 10.0.0.300:1; } }')).toBe(
      "test.conf:3: invalid address '10.0.0.300:1'",
    );
    expect(errorOf('resource r0 {\n disk /dev/x; meta-disk internal;\n on a { address 10.0.0.1:1; }\n}')).toBe(
      'test.conf:3: volume 0 of host a in resource r0: device missing',
    );
  });

  it('refuses cram-hmac-alg without a shared-secret, or with an empty one', () => {
    const withNet = (net: string) => `common { net {\n ${net} } }\n${TWO_HOSTS}`;
    const message = 'test.conf:2: cram-hmac-alg sha256 needs a shared-secret: an empty one lets anyone in';
    expect(errorOf(withNet('cram-hmac-alg sha256;'))).toBe(message);
    expect(errorOf(withNet('cram-hmac-alg sha256; shared-secret "";'))).toBe(message);
    expect(() => loadConfigText(withNet('cram-hmac-alg sha256; shared-secret "s3cret";'), 'test.conf')).not.toThrow();
  });

  it('refuses allow-two-primaries yes', () => {
    expect(errorOf('common { net {\n allow-two-primaries yes; } }')).toBe(
      'test.conf:2: allow-two-primaries yes: bsr does not support two primaries',
    );
  });

  it('points at the include line when an included file is missing', () => {
    expect(errorOf('\ninclude "/nonexistent/bsr-test.conf";')).toBe(
      "test.conf:2: include: cannot open '/nonexistent/bsr-test.conf'",
    );
  });
});
