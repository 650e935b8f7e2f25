import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { abi } from '../../src/abi/index.js';
import {
  decodeSockaddr,
  encodeSockaddr,
  formatAddress,
  isIPv4,
  isIPv6,
  parseAddress,
} from '../../src/netlink/address.js';
import { buildRequest, MODIFY_COMMANDS, metaIndex, objectName, UsageError } from '../../src/netlink/commands.js';
import { encodeBsrMessage } from '../../src/netlink/messages.js';

const spec = (name: string) => {
  const s = MODIFY_COMMANDS.find((c) => c.name === name);
  if (!s) throw new Error(`no command ${name}`);
  return s;
};
const build = (name: string, ...argv: string[]) => buildRequest(spec(name), argv);
const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('bsrsetup requests', () => {
  it('covers every command of the internals.md table that changes state', () => {
    const names = MODIFY_COMMANDS.map((c) => c.name);
    for (const n of [
      'new-resource',
      'resource-options',
      'node-options',
      'new-minor',
      'del-minor',
      'del-resource',
      'new-peer',
      'net-options',
      'del-peer',
      'new-path',
      'del-path',
      'connect',
      'disconnect',
      'attach',
      'disk-options',
      'peer-device-options',
      'detach',
      'primary',
      'secondary',
      'new-current-uuid',
      'invalidate',
      'invalidate-remote',
      'pause-sync',
      'resume-sync',
      'verify',
      'verify-stop',
      'suspend-io',
      'resume-io',
      'outdate',
      'resize',
      'forget-peer',
      'down',
    ])
      expect(names).toContain(n);
  });

  it('new-peer: net options and the peer name in NET_CONF, enums as ABI indexes', () => {
    const req = build(
      'new-peer',
      'r0',
      '1',
      '--_name=bob',
      '--shared-secret=s3cret',
      '--cram-hmac-alg=sha1',
      '--protocol=C',
    );
    expect(req.cmd).toBe(abi.commands.NEW_PEER);
    expect(req.minor).toBeUndefined();
    expect(req.attrs).toEqual({
      CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_peer_node_id: 1 },
      NET_CONF: { _name: 'bob', 'shared-secret': 's3cret', 'cram-hmac-alg': 'sha1', protocol: 3 },
    });
  });

  it('new-resource carries the node id as a resource option', () => {
    expect(build('new-resource', 'r0', '0', '--persist-role=yes').attrs).toEqual({
      CFG_CONTEXT: { ctx_resource_name: 'r0' },
      RESOURCE_OPTS: { 'node-id': 0, 'persist-role': 1 },
    });
    // max-io-depth is not implemented by bsr.ko yet: only its default goes through.
    expect(build('new-resource', 'r0', '0', '--max-io-depth=1000').attrs).toEqual({
      CFG_CONTEXT: { ctx_resource_name: 'r0' },
      RESOURCE_OPTS: { 'node-id': 0, 'max-io-depth': 1000 },
    });
    expect(() => build('new-resource', 'r0', '0', '--max-io-depth=2000')).toThrow(UsageError);
    expect(() => build('new-resource', 'r0', '0', '--max-io-depth=2000')).toThrow(
      'max-io-depth 2000: not implemented by bsr yet; only its default (1000) is accepted',
    );
  });

  it('attach: devices, META_IDX and disk options in their base unit', () => {
    const req = build(
      'attach',
      '1',
      '/dev/sda7',
      '/dev/sda8',
      'flexible',
      '--on-io-error=detach',
      '--disk-flushes=no',
      '--size=1G',
    );
    expect(req.minor).toBe(1);
    expect(req.attrs).toEqual({
      ATTACH_PARMS: { backing_dev: '/dev/sda7', meta_dev: '/dev/sda8', meta_dev_idx: -2 },
      DISK_CONF: { 'on-io-error': 2, 'disk-flushes': 0, size: 2097152n },
    });
    expect([metaIndex('internal'), metaIndex('flexible'), metaIndex('3')]).toEqual([-1, -2, 3]);
  });

  it('new-path: both addresses as sockaddr_in', () => {
    const req = build('new-path', 'r0', '1', 'ipv4:10.1.1.31:7000', 'ipv4:10.1.1.32:7000');
    expect(req.attrs?.PATH_PARMS).toEqual({
      my_addr: hex('0200 1b58 0a01011f 0000000000000000'), // AF_INET, port 7000 big-endian, 10.1.1.31
      peer_addr: hex('0200 1b58 0a010120 0000000000000000'),
    });
  });

  it('peer-device-options: sizes with suffixes become KiB/s', () => {
    expect(build('peer-device-options', 'r0', '1', '0', '--resync-rate=100M', '--c-plan-ahead=0').attrs).toEqual({
      CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_peer_node_id: 1, ctx_volume: 0 },
      PEER_DEVICE_OPTS: { 'resync-rate': 102400, 'c-plan-ahead': 0 },
    });
  });

  it('command flags go to their parameter sets', () => {
    expect(build('primary', 'r0', '--force').attrs).toEqual({
      CFG_CONTEXT: { ctx_resource_name: 'r0' },
      SET_ROLE_PARMS: { force: 1 },
    });
    expect(build('connect', 'r0', '1', '--discard-my-data').attrs).toEqual({
      CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_peer_node_id: 1 },
      NET_CONF: { 'discard-my-data': 1 },
    });
    expect(build('connect', 'r0', '1', '--tentative').attrs).toEqual({
      CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_peer_node_id: 1 },
      NET_CONF: { tentative: 1 },
    });
    expect(build('detach', '3', '--force=no').attrs).toEqual({ DETACH_PARMS: { force_detach: 0 } });
    expect(build('new-current-uuid', '0', '--clear-bitmap').attrs).toEqual({ NEW_C_UUID_PARMS: { clear_bm: 1 } });
    expect(build('invalidate', '0', '--sync-from-peer-node-id=2').attrs).toEqual({
      INVALIDATE_PARMS: { sync_from_peer_node_id: 2 },
    });
    expect(build('resize', '0', '--size=10G', '--assume-clean').attrs).toEqual({
      RESIZE_PARMS: { resize_size: 20971520n, no_resync: 1 },
    });
    expect(build('forget-peer', 'r0', '2').attrs).toEqual({
      CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_peer_node_id: 2 },
      FORGET_PEER_PARMS: { forget_peer_node_id: 2 },
    });
    expect(build('disk-options', '0', '--set-defaults', '--al-extents=1237').flags).toBe(
      abi.genl.headerFlags.BSR_GENL_F_SET_DEFAULTS,
    );
  });

  it('encodes primary r0 --force byte for byte', () => {
    const bytes = encodeBsrMessage(0x1c, 5, 2, build('primary', 'r0', '--force'));
    expect(bytes.toString('hex')).toBe(
      [
        '34000000 1c00 0500 02000000 00000000', // 52 bytes
        '0e 02 0000 ffffffff 00000000',
        '0c00 0280 0700 0200 72300000',
        '0c00 0680 0500 0100 01000000', // SET_ROLE_PARMS { force (u8, padded) }
      ]
        .join('')
        .replace(/ /g, ''),
    );
  });

  it('refuses bad input before talking to the kernel', () => {
    const bad: Array<[string, string[], RegExp]> = [
      ['attach', ['1', '/dev/a', '/dev/a', 'internal', '--resync-rate=1M'], /unknown option --resync-rate/],
      ['attach', ['1', '/dev/a', '/dev/a', 'middle'], /META_IDX/],
      ['attach', ['1', '/dev/a', '/dev/a', 'internal', '--al-extents=5'], /out of range/],
      ['new-peer', ['r0', '32'], /PEER_NODE_ID must be a number from 0 to 31/],
      ['new-peer', ['r0', '1', '--protocol=D'], /not one of/],
      ['new-path', ['r0', '1', '10.0.0.1', 'ipv4:10.0.0.2:7000'], /invalid address/],
      ['new-minor', ['r0', '1'], /expected RES MINOR VOLUME/],
      ['down', ['r0', 'r1'], /extra arguments/],
      ['net-options', ['r0', '1', '--allow-two-primaries=yes'], /two primaries/],
      ['resize', ['0', '--size'], /needs a value/],
      ['primary', ['r0', '--set-defaults'], /unknown option/],
      ['new-resource', ['bad/name', '0'], /invalid resource name/],
    ];
    for (const [name, argv, why] of bad) expect(() => build(name, ...argv), `${name} ${argv.join(' ')}`).toThrow(why);
    expect(() => build('down')).toThrow(UsageError);
  });

  it('names the addressed object in error messages', () => {
    expect(objectName(spec('attach'), ['1', '/dev/a', '/dev/a', 'internal'])).toBe('1');
    expect(objectName(spec('new-path'), ['r0', '1', 'ipv4:1.1.1.1:1', 'ipv4:1.1.1.2:1'])).toBe('r0 1');
    expect(objectName(spec('pause-sync'), ['r0', '1', '0'])).toBe('r0 1 0');
    expect(objectName(spec('new-resource'), ['r0', '0'])).toBe('r0');
  });
});

describe('path addresses', () => {
  it('parses the command-line forms', () => {
    expect(parseAddress('ipv4:10.1.1.31:7000')).toEqual({ family: 'ipv4', address: '10.1.1.31', port: 7000 });
    expect(parseAddress('10.1.1.31:7000')).toEqual({ family: 'ipv4', address: '10.1.1.31', port: 7000 });
    expect(parseAddress('ipv6:[fd00::1]:7789')).toEqual({ family: 'ipv6', address: 'fd00::1', port: 7789 });
    for (const bad of ['ipv4:10.1.1:7000', 'ipv4:10.1.1.1:70000', 'ipv6:10.0.0.1:1', 'ipv4:[::1]:1', 'host:1'])
      expect(parseAddress(bad), bad).toBeUndefined();
  });

  it('validates addresses as node:net does (a zone id is parsed apart, see below)', () => {
    const samples = [
      '10.1.1.31',
      '0.0.0.0',
      '255.255.255.255',
      '256.1.1.1',
      '01.2.3.4',
      '1.2.3',
      '1.2.3.4.5',
      '1..2.3',
      '::',
      '::1',
      'fd00::1',
      '1:2:3:4:5:6:7:8',
      '1:2:3:4:5:6:7:8:9',
      '1::2::3',
      '12345::1',
      'fe80::1:',
      '::ffff:10.0.0.1',
      '::ffff:10.0.0.256',
      '1:2:3:4:5:6:7::',
      ':1:2',
      'gg::1',
      '1.2.3.4::',
    ];
    for (const a of samples) {
      expect(isIPv4(a), a).toBe(isIP(a) === 4);
      expect(isIPv6(a), a).toBe(isIP(a) === 6);
    }
  });

  it('carries an IPv6 scope (zone) as sin6_scope_id, as drbdsetup gets it from getaddrinfo', () => {
    const scoped = parseAddress('ipv6:[fe80::1%3]:7789');
    expect(scoped).toEqual({ family: 'ipv6', address: 'fe80::1', scope: '3', port: 7789 });
    const bytes = encodeSockaddr(scoped ?? { family: 'ipv6', address: '', port: 0 }, 3);
    expect(bytes).toEqual(hex('0a00 1e6d 00000000 fe800000000000000000000000000001 03000000'));
    // No interface has index 1000000: the number stands for itself.
    const far = decodeSockaddr(encodeSockaddr({ family: 'ipv6', address: 'fe80::1', port: 1 }, 1000000));
    expect(far && formatAddress(far)).toBe('ipv6:[fe80::1%1000000]:1');
    expect(parseAddress('ipv6:[fe80::1%eth0]:7789')?.scope).toBe('eth0');
    expect(() => build('new-path', 'r0', '1', 'ipv6:[fe80::1%no-such-if0]:7789', 'ipv6:[fe80::2]:7789')).toThrow(
      "ipv6:[fe80::1%no-such-if0]:7789: no network interface 'no-such-if0'",
    );
  });

  it('encodes sockaddr_in6 and decodes both families back', () => {
    const a6 = encodeSockaddr({ family: 'ipv6', address: 'fd00::1', port: 7789 });
    expect(a6).toEqual(hex('0a00 1e6d 00000000 fd000000000000000000000000000001 00000000'));
    expect(decodeSockaddr(a6)).toEqual({ family: 'ipv6', address: 'fd00::1', port: 7789 });
    const mapped = encodeSockaddr({ family: 'ipv6', address: '::ffff:10.0.0.1', port: 1 });
    expect(formatAddress(decodeSockaddr(mapped) ?? { family: 'ipv4', address: '?', port: 0 })).toBe(
      'ipv6:[::ffff:a00:1]:1',
    );
    expect(decodeSockaddr(hex('0200 1b58 0a01011f'))).toEqual({ family: 'ipv4', address: '10.1.1.31', port: 7000 });
    expect(decodeSockaddr(hex('0100'))).toBeUndefined();
  });
});
