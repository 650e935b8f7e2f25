import { describe, expect, it } from 'vitest';
import { abi } from '../../src/abi/index.js';
import { parseRunningState } from '../../src/config/show.js';
import { encodeSockaddr } from '../../src/netlink/address.js';
import type { TopAttrs } from '../../src/netlink/attrs.js';
import { NO_MINOR } from '../../src/netlink/messages.js';
import type { StateObject } from '../../src/netlink/objects.js';
import { EventFormatter } from '../../src/status/events.js';
import { volumeReplicated } from '../../src/status/fields.js';
import { formatGetGi, formatShowGi } from '../../src/status/gi.js';
import { buildTree } from '../../src/status/model.js';
import { formatShow } from '../../src/status/show.js';
import { formatStatus, statusJson } from '../../src/status/status.js';
import { enumIndex, stateObject } from './state-helpers.js';

const C = abi.commands;
const N = abi.notificationTypes;
const e = enumIndex;

const obj = stateObject;

const ctx = (peer?: number, volume?: number) => ({
  ctx_resource_name: 'r0',
  ...(peer === undefined ? {} : { ctx_peer_node_id: peer }),
  ...(volume === undefined ? {} : { ctx_volume: volume }),
});

const resource = (role = 'Primary', extra: TopAttrs = {}) =>
  obj(C.GET_RESOURCES, NO_MINOR, {
    CFG_CONTEXT: ctx(),
    RESOURCE_INFO: { res_role: e('role', role), res_susp: 0, res_susp_nod: 0, res_susp_fen: 0 },
    RESOURCE_OPTS: { 'node-id': 0, 'max-io-depth': 1000, 'on-no-data-accessible': 0, 'persist-role': 1 },
    NODE_OPTS: { 'target-only': 0 },
    RESOURCE_STATISTICS: { res_stat_write_ordering: 2 },
    ...extra,
  });

const device = (volume = 0, minor = 1, disk = 'UpToDate') =>
  obj(C.GET_DEVICES, minor, {
    CFG_CONTEXT: ctx(undefined, volume),
    DEVICE_INFO: { dev_disk_state: e('disk', disk), is_intentional_diskless: 0 },
    ATTACH_PARMS: { backing_dev: '/dev/vdb', meta_dev: 'internal', meta_dev_idx: -1 },
    DISK_CONF: { 'on-io-error': e('on-io-error', 'detach'), 'al-extents': 6001, 'disk-flushes': 1, 'resync-after': -1 },
    DEVICE_STATISTICS: {
      dev_size: 2097152n,
      dev_read: 2048n,
      dev_write: 4096n,
      dev_al_writes: 7n,
      dev_bm_writes: 3n,
      dev_upper_pending: 0,
      dev_lower_pending: 1,
      dev_al_suspended: 0,
      dev_upper_blocked: 0,
      dev_lower_blocked: 0,
    },
  });

const connection = (state = 'Connected', role = 'Secondary') =>
  obj(C.GET_CONNECTIONS, NO_MINOR, {
    CFG_CONTEXT: ctx(1),
    CONNECTION_INFO: { conn_connection_state: e('connection', state), conn_role: e('role', role) },
    CONNECTION_STATISTICS: { conn_congested: 0, ap_in_flight: 64n, rs_in_flight: 0n },
    NET_CONF: { _name: 'bob', protocol: 3, 'max-epoch-size': 8000, 'cram-hmac-alg': 'sha1', 'after-sb-0pri': 0 },
    PATH_PARMS: {
      my_addr: encodeSockaddr({ family: 'ipv4', address: '10.99.1.1', port: 7789 }),
      peer_addr: encodeSockaddr({ family: 'ipv4', address: '10.99.1.2', port: 7789 }),
    },
  });

const peerDevice = (repl = 'SyncSource', peerDisk = 'Inconsistent', volume = 0) =>
  obj(C.GET_PEER_DEVICES, NO_MINOR, {
    CFG_CONTEXT: ctx(1, volume),
    PEER_DEVICE_INFO: {
      peer_repl_state: e('replication', repl),
      peer_disk_state: e('disk', peerDisk),
      peer_resync_susp_user: 0,
      peer_resync_susp_peer: 0,
      peer_resync_susp_dependency: 0,
    },
    PEER_DEVICE_OPTS: { 'resync-rate': 102400, 'c-plan-ahead': 20 },
    PEER_DEVICE_STATISTICS: {
      peer_dev_received: 0n,
      peer_dev_sent: 20480n,
      peer_dev_out_of_sync: 17532n,
      peer_dev_pending: 0,
      peer_dev_unacked: 2,
      peer_dev_rs_total: 10000n,
      peer_dev_rs_done: 1234n,
      peer_dev_rs_dbdt_kib: 51200n,
      peer_dev_rs_eta_s: 30n,
    },
  });

describe('status', () => {
  it('prints the interfaces.md example exactly', () => {
    const tree = buildTree([peerDevice(), connection(), device(), resource()]);
    expect(formatStatus(tree)).toBe(
      'r0 role:Primary\n  disk:UpToDate\n  bob role:Secondary\n    replication:SyncSource peer-disk:Inconsistent done:12.34\n',
    );
  });

  it('hides healthy defaults and peer devices of a connection that is down', () => {
    const tree = buildTree([
      resource('Secondary'),
      device(),
      connection('Connecting', 'Unknown'),
      peerDevice('Off', 'DUnknown'),
    ]);
    expect(formatStatus(tree)).toBe('r0 role:Secondary\n  disk:UpToDate\n  bob connection:Connecting\n');
    const healthy = buildTree([resource(), device(), connection(), peerDevice('Established', 'UpToDate')]);
    expect(formatStatus(healthy)).toBe(
      'r0 role:Primary\n  disk:UpToDate\n  bob role:Secondary\n    peer-disk:UpToDate\n',
    );
  });

  it('numbers volumes when there are several', () => {
    const tree = buildTree([resource(), device(1, 2), device(0, 1, 'Inconsistent')]);
    expect(formatStatus(tree)).toBe('r0 role:Primary\n  volume:0 disk:Inconsistent\n  volume:1 disk:UpToDate\n');
  });

  it('-v shows every field, -s adds counters in KiB', () => {
    const tree = buildTree([resource(), device(), connection(), peerDevice()]);
    expect(formatStatus(tree, { verbose: true, statistics: true })).toBe(
      [
        'r0 node-id:0 role:Primary suspended:no write-ordering:flush',
        '  volume:0 minor:1 disk:UpToDate client:no',
        '      size:1048576 read:1024 written:2048 al-writes:7 bm-writes:3 upper-pending:0 lower-pending:1 al-suspended:no blocked:no',
        '  bob node-id:1 connection:Connected role:Secondary congested:no ap-in-flight:32 rs-in-flight:0',
        '    volume:0 replication:SyncSource peer-disk:Inconsistent resync-suspended:no done:12.34',
        '        received:0 sent:10240 out-of-sync:8766 pending:0 unacked:2 dbdt1:51200 eta:30',
        '',
      ].join('\n'),
    );
  });

  it('shows suspension and separates resources with a blank line', () => {
    const r1 = obj(C.GET_RESOURCES, NO_MINOR, {
      CFG_CONTEXT: { ctx_resource_name: 'r1' },
      RESOURCE_INFO: { res_role: e('role', 'Secondary'), res_susp: 1, res_susp_fen: 1 },
    });
    expect(formatStatus(buildTree([r1, resource()]))).toBe(
      'r0 role:Primary\n\nr1 role:Secondary suspended:user,fencing\n',
    );
  });

  it('--json nests devices and connections with typed values', () => {
    const [r] = statusJson(buildTree([resource(), device(), connection(), peerDevice()])) as Array<
      Record<string, unknown>
    >;
    expect(r).toMatchObject({
      name: 'r0',
      'node-id': 0,
      role: 'Primary',
      suspended: 'no',
      devices: [{ volume: 0, minor: 1, disk: 'UpToDate', client: false, size: 1048576 }],
      connections: [
        {
          'peer-node-id': 1,
          name: 'bob',
          connection: 'Connected',
          congested: false,
          'peer-devices': [{ volume: 0, replication: 'SyncSource', done: '12.34', 'out-of-sync': 8766 }],
        },
      ],
    });
  });
});

describe('events2', () => {
  const withNote = (o: StateObject, cmd: number, type: number, attrs: TopAttrs) =>
    obj(cmd, o.minor ?? NO_MINOR, { ...o.msg.attrs, ...attrs, NOTIFICATION_HEADER: { nh_type: type } });

  it('names the kind of a running resync: Fast with the bytes its map covers, or Full', () => {
    const syncing = (kind: string, mapBytes: bigint) => {
      const pd = peerDevice('SyncSource', 'Inconsistent');
      const stats = { ...pd.msg.attrs.PEER_DEVICE_STATISTICS, peer_dev_rs_kind: e('resync-kind', kind) };
      return withNote(pd, C.PEER_DEVICE_STATE, N.CHANGE, {
        PEER_DEVICE_STATISTICS: { ...stats, peer_dev_rs_map_bytes: mapBytes },
      });
    };
    const line = (o: StateObject) => new EventFormatter().format(o) ?? '';
    expect(line(syncing('Fast', 59_056_128n))).toContain('done:12.34 resync-kind:Fast map-bytes:59056128');
    expect(line(syncing('Full', 0n))).toMatch(/resync-kind:Full$/);
    // a bitmap resync (or an older module) names no kind
    expect(line(syncing('None', 0n))).not.toContain('resync-kind');
  });

  it('prints the initial dump, the end marker and only what changed afterwards', () => {
    const f = new EventFormatter();
    const lines = [
      f.format(resource('Secondary')),
      f.format(device()),
      f.format(connection()),
      f.format(peerDevice('Established', 'UpToDate')),
      f.endOfInitialState(),
      f.format(withNote(peerDevice('SyncSource', 'UpToDate'), C.PEER_DEVICE_STATE, N.CHANGE, {})),
      f.format(withNote(device(), C.DEVICE_STATE, N.CHANGE, {})),
      f.format(
        obj(C.HELPER, NO_MINOR, {
          CFG_CONTEXT: ctx(1, 0),
          NOTIFICATION_HEADER: { nh_type: N.CALL },
          HELPER: { helper_name: 'before-resync-target' },
        }),
      ),
      f.format(
        obj(C.HELPER, NO_MINOR, {
          CFG_CONTEXT: ctx(1, 0),
          NOTIFICATION_HEADER: { nh_type: N.RESPONSE },
          HELPER: { helper_name: 'before-resync-target', helper_status: 0 },
        }),
      ),
      f.format(obj(C.DEVICE_STATE, 1, { CFG_CONTEXT: ctx(undefined, 0), NOTIFICATION_HEADER: { nh_type: N.DESTROY } })),
    ];
    expect(lines).toEqual([
      'exists resource name:r0 role:Secondary suspended:no',
      'exists device name:r0 volume:0 minor:1 disk:UpToDate client:no',
      'exists connection name:r0 peer-node-id:1 conn-name:bob connection:Connected role:Secondary',
      'exists peer-device name:r0 peer-node-id:1 conn-name:bob volume:0 replication:Established peer-disk:UpToDate resync-suspended:no',
      'exists -',
      'change peer-device name:r0 peer-node-id:1 conn-name:bob volume:0 replication:SyncSource done:12.34',
      undefined, // nothing changed
      'call helper name:r0 peer-node-id:1 conn-name:bob volume:0 helper:before-resync-target',
      'response helper name:r0 peer-node-id:1 conn-name:bob volume:0 helper:before-resync-target status:0',
      'destroy device name:r0 volume:0 minor:1',
    ]);
  });

  it('--timestamps, --statistics and --json', () => {
    const now = () => new Date('2026-11-21T06:00:00.000Z');
    const ts = new EventFormatter({ timestamps: true, statistics: true }, now);
    expect(ts.format(connection())).toBe(
      '2026-11-21T06:00:00.000Z exists connection name:r0 peer-node-id:1 conn-name:bob connection:Connected role:Secondary congested:no ap-in-flight:32 rs-in-flight:0',
    );
    const js = new EventFormatter({ json: true, timestamps: true }, now);
    expect(JSON.parse(js.format(device()) ?? '')).toEqual({
      timestamp: '2026-11-21T06:00:00.000Z',
      action: 'exists',
      object: 'device',
      name: 'r0',
      volume: 0,
      minor: 1,
      disk: 'UpToDate',
      client: 'no',
    });
    expect(JSON.parse(js.endOfInitialState())).toMatchObject({ action: 'exists', object: '-' });
  });

  it('--statistics follows the current UUID of a device, so a new data generation is a change line', () => {
    const dev = (uuid: bigint, nh_type: number) =>
      obj(C.DEVICE_STATE, 1, {
        CFG_CONTEXT: ctx(undefined, 0),
        NOTIFICATION_HEADER: { nh_type },
        DEVICE_INFO: { dev_disk_state: e('disk', 'UpToDate'), is_intentional_diskless: 0 },
        DEVICE_STATISTICS: { dev_size: 2048n, dev_current_uuid: uuid },
      });
    const f = new EventFormatter({ statistics: true });
    expect(f.format(dev(0x1234n, N.EXISTS))).toMatch(/ current-uuid:0000000000001234$/);
    expect(f.format(dev(0xabcdef0123456789n, N.CHANGE))).toBe(
      'change device name:r0 volume:0 minor:1 current-uuid:ABCDEF0123456789',
    );
    expect(new EventFormatter().format(dev(0xabcdef0123456789n, N.EXISTS))).not.toContain('current-uuid');
  });

  it('reports paths with their addresses', () => {
    const [r] = buildTree([resource(), connection()]);
    const f = new EventFormatter();
    f.format(r.connections[0].obj);
    expect(f.format(r.connections[0].paths[0])).toBe(
      'exists path name:r0 peer-node-id:1 conn-name:bob local:ipv4:10.99.1.1:7789 peer:ipv4:10.99.1.2:7789 established:no',
    );
  });
});

describe('volume replicated (peer_volume_shared)', () => {
  const withShared = (shared: number | undefined) => {
    const pd = peerDevice();
    const info = { ...pd.msg.attrs.PEER_DEVICE_INFO };
    if (shared !== undefined) info.peer_volume_shared = shared;
    return obj(C.GET_PEER_DEVICES, NO_MINOR, { ...pd.msg.attrs, PEER_DEVICE_INFO: info });
  };

  it('is false only when the module says the peer lacks the volume', () => {
    expect(volumeReplicated(withShared(1))).toBe(true);
    expect(volumeReplicated(withShared(0))).toBe(false);
    // a module without the attribute: every volume counts, as before
    expect(volumeReplicated(withShared(undefined))).toBe(true);
  });
});

describe('resync-throttled', () => {
  /** A SyncSource peer device whose kernel reports the throttle (`throttled`), or not (undefined). */
  const syncing = (throttled: number | undefined, cmd = C.GET_PEER_DEVICES, nh?: number) => {
    const pd = peerDevice();
    const info = { ...pd.msg.attrs.PEER_DEVICE_INFO };
    if (throttled !== undefined) info.peer_resync_throttled = throttled;
    return obj(cmd, NO_MINOR, {
      ...pd.msg.attrs,
      PEER_DEVICE_INFO: info,
      ...(nh === undefined ? {} : { NOTIFICATION_HEADER: { nh_type: nh } }),
    });
  };
  const tree = (throttled: number | undefined) => buildTree([resource(), device(), connection(), syncing(throttled)]);

  it('status shows it when yes, -v always, after resync-suspended', () => {
    expect(formatStatus(tree(1))).toContain(
      '    replication:SyncSource peer-disk:Inconsistent resync-throttled:yes done:12.34\n',
    );
    expect(formatStatus(tree(0))).toContain('    replication:SyncSource peer-disk:Inconsistent done:12.34\n');
    const v = formatStatus(tree(0), { verbose: true, statistics: true });
    expect(v).toContain(
      '    volume:0 replication:SyncSource peer-disk:Inconsistent resync-suspended:no resync-throttled:no done:12.34\n',
    );
    expect(formatStatus(tree(1), { verbose: true })).toContain('resync-suspended:no resync-throttled:yes done:12.34');
  });

  it('--json gives a boolean', () => {
    const pdJson = (throttled: number | undefined) => {
      const [r] = statusJson(tree(throttled)) as Array<{ connections: Array<{ 'peer-devices': unknown[] }> }>;
      return r.connections[0]['peer-devices'][0] as Record<string, unknown>;
    };
    expect(pdJson(1)['resync-throttled']).toBe(true);
    expect(pdJson(0)['resync-throttled']).toBe(false);
    expect(pdJson(0)['resync-suspended']).toBe('no');
  });

  it('is left out when the module does not report it', () => {
    expect(formatStatus(tree(undefined), { verbose: true })).not.toContain('resync-throttled');
    expect(statusJson(tree(undefined))).not.toHaveProperty([
      0,
      'connections',
      0,
      'peer-devices',
      0,
      'resync-throttled',
    ]);
    expect(new EventFormatter().format(syncing(undefined, C.PEER_DEVICE_STATE, N.EXISTS))).not.toContain(
      'resync-throttled',
    );
  });

  it('events2 shows each flip as a change, and nothing when it stays', () => {
    const f = new EventFormatter({ statistics: true });
    const ev = (t: number, type: number) => f.format(syncing(t, C.PEER_DEVICE_STATE, type));
    expect(ev(0, N.EXISTS)).toMatch(/ resync-suspended:no resync-throttled:no done:12\.34 /);
    expect(ev(1, N.CHANGE)).toBe('change peer-device name:r0 peer-node-id:1 volume:0 resync-throttled:yes');
    expect(ev(1, N.CHANGE)).toBeUndefined();
    expect(ev(0, N.CHANGE)).toBe('change peer-device name:r0 peer-node-id:1 volume:0 resync-throttled:no');
    const js = new EventFormatter({ json: true });
    expect(JSON.parse(js.format(syncing(1, C.PEER_DEVICE_STATE, N.CHANGE)) ?? '')).toMatchObject({
      object: 'peer-device',
      'resync-throttled': 'yes',
    });
  });
});

describe('show', () => {
  const tree = () => buildTree([resource(), device(), connection(), peerDevice()]);

  it('writes the running state in the kernel form of the config language', () => {
    expect(formatShow(tree())).toBe(
      [
        'resource r0 {',
        '    options {',
        '        persist-role yes;',
        '    }',
        '    _this_host {',
        '        node-id 0;',
        '        volume 0 {',
        '            device minor 1;',
        '            disk /dev/vdb;',
        '            meta-disk internal;',
        '            disk {',
        '                on-io-error detach;',
        '            }',
        '        }',
        '    }',
        '    connection {',
        '        _peer_node_id 1;',
        '        path {',
        '            _this_host ipv4 10.99.1.1:7789;',
        '            _remote_host ipv4 10.99.1.2:7789;',
        '        }',
        '        net {',
        '            _name bob;',
        '            max-epoch-size 8000;',
        '            cram-hmac-alg sha1;',
        '        }',
        '        volume 0 {',
        '            disk {',
        '                resync-rate 102400;',
        '            }',
        '        }',
        '    }',
        '}',
        '',
      ].join('\n'),
    );
  });

  it("parses back with the config engineer's show parser", () => {
    for (const showDefaults of [false, true]) {
      const [r] = parseRunningState(formatShow(tree(), { showDefaults }), 'show', 'alpha');
      expect(r.name).toBe('r0');
      expect(r.nodeId).toBe(0);
      expect(r.resourceOptions.get('persist-role')?.value).toBe(true);
      // Defaults are written (and read back) only with showDefaults.
      expect(r.resourceOptions.get('on-no-data-accessible')?.value).toBe(showDefaults ? 'io-error' : undefined);
      expect(r.nodeOptions.get('target-only')?.value).toBe(showDefaults ? false : undefined);
      // svc-auto-up is the service's, not the kernel's: show never has it.
      expect(r.nodeOptions.has('svc-auto-up')).toBe(false);
      expect(r.volumes).toHaveLength(1);
      expect(r.volumes[0]).toMatchObject({ number: 0, minor: 1, disk: '/dev/vdb', metaDisk: { index: 'internal' } });
      expect(r.volumes[0].diskOptions.get('on-io-error')?.value).toBe('detach');
      expect(r.peers).toHaveLength(1);
      const p = r.peers[0];
      expect(p).toMatchObject({ nodeId: 1, name: 'bob' });
      expect(p.paths).toHaveLength(1);
      expect(p.net.get('max-epoch-size')?.value).toBe(8000);
      expect(p.net.get('cram-hmac-alg')?.value).toBe('sha1');
      expect(p.peerDevice.get(0)?.get('resync-rate')?.value).toBe(102400);
      if (showDefaults) expect(p.net.get('protocol')?.value).toBe('C');
    }
  });

  it('fills in the defaults of options the kernel does not report (it sends only those set)', () => {
    // bsr.ko's NET_CONF has no ko-count or on-congestion unless they were set
    expect(formatShow(tree())).not.toMatch(/ko-count|on-congestion/);
    const text = formatShow(tree(), { showDefaults: true });
    expect(text).toContain('            ko-count 5;\n');
    expect(text).toContain('            on-congestion block;\n');
    expect(text).toContain('            max-epoch-size 8000;\n');
    expect(text).toMatch(/\n {16}c-max-rate \w+;\n/);
    expect(text).toContain('                resync-rate 102400;\n');
  });

  it('marks a StandAlone connection, which adjust then connects', () => {
    const standalone = buildTree([resource(), device(), connection('StandAlone'), peerDevice('Off', 'DUnknown')]);
    const text = formatShow(standalone);
    expect(text).toContain('        _peer_node_id 1;\n        _is_standalone;\n');
    expect(parseRunningState(text, 'show', 'alpha')[0].peers[0].standalone).toBe(true);
    expect(formatShow(tree())).not.toContain('_is_standalone');
    expect(parseRunningState(formatShow(tree()), 'show', 'alpha')[0].peers[0].standalone).toBe(false);
  });

  it('writes external meta data and diskless volumes', () => {
    const ext = obj(C.GET_DEVICES, 2, {
      CFG_CONTEXT: ctx(undefined, 1),
      DEVICE_INFO: { dev_disk_state: e('disk', 'UpToDate') },
      ATTACH_PARMS: { backing_dev: '/dev/vdc', meta_dev: '/dev/vdd', meta_dev_idx: 3 },
    });
    const flex = obj(C.GET_DEVICES, 3, {
      CFG_CONTEXT: ctx(undefined, 2),
      ATTACH_PARMS: { backing_dev: '/dev/vde', meta_dev: '/dev/vdf', meta_dev_idx: -2 },
    });
    const diskless = obj(C.GET_DEVICES, 4, { CFG_CONTEXT: ctx(undefined, 3), DEVICE_INFO: { dev_disk_state: 0 } });
    const text = formatShow(buildTree([resource(), ext, flex, diskless]));
    expect(text).toContain('meta-disk /dev/vdd [3];');
    expect(text).toContain('meta-disk /dev/vdf;');
    expect(text).toContain('disk none;');
    const [r] = parseRunningState(text, 'show', 'alpha');
    expect(r.volumes.map((v) => [v.number, v.minor, v.disk, v.metaDisk.index])).toEqual([
      [1, 2, '/dev/vdc', 3],
      [2, 3, '/dev/vde', 'flexible'],
      [3, 4, 'none', 'internal'],
    ]);
  });
});

describe('show-gi / get-gi', () => {
  const bitmaps = Buffer.alloc(256);
  bitmaps.writeBigUInt64LE(0xaaaabbbbccccddddn, 8); // peer node-id 1
  const history = Buffer.alloc(16);
  history.writeBigUInt64LE(0x1111111111111111n, 0);
  history.writeBigUInt64LE(0x2222222222222222n, 8);
  const F = abi.metaData.flags;
  const uuid = {
    current_uuid: 0xb5de2dde5a6af0a5n,
    bitmap_uuids: bitmaps,
    history_uuids: history,
    md_flags: F.CONSISTENT | F.WAS_UP_TO_DATE | F.AL_CLEAN,
  };

  it('get-gi: UUIDs then flag digits, in the bsrmeta format', () => {
    expect(formatGetGi({ uuid, peerNodeId: 1, peerStats: { peer_dev_flags: abi.metaData.peerFlags.CONNECTED } })).toBe(
      'B5DE2DDE5A6AF0A5:AAAABBBBCCCCDDDD:1111111111111111:2222222222222222:1:1:0:0:1:1:0:0\n',
    );
    // the peer-device statistics' bitmap UUID wins over the device's array
    expect(formatGetGi({ uuid, peerNodeId: 1, peerStats: { peer_dev_bitmap_uuid: 5n } })).toMatch(
      /^B5DE2DDE5A6AF0A5:0000000000000005:/,
    );
  });

  it('show-gi explains the same line', () => {
    const text = formatShowGi({ uuid, peerNodeId: 1 });
    expect(text).toContain('B5DE2DDE5A6AF0A5:AAAABBBBCCCCDDDD:1111111111111111:2222222222222222:1:1:0:0:1:0:0:0');
    expect(text).toContain('Current data generation UUID');
    expect(text).toContain('peer node-id 1');
  });
});
