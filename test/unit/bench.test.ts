// The bench's pure parts: interleaving, ratios, aggregation, settings and the disk layout.
import { describe, expect, it } from 'vitest';
import {
  type FastSyncSlot,
  type FastSyncVariant,
  summarizeFastSync,
  VARIANT_ORDER,
} from '../../tools/lab/bench/fastsync.js';
import {
  benchSettings,
  bsrImplemented,
  bsrsetupArgs,
  describeSettings,
  drbd84BenchConfig,
  mbr,
  PARTITIONS,
  parseSettingsMode,
  parseShowOptions,
  REPORTED_OPTIONS,
} from '../../tools/lab/bench/settings.js';
import {
  aggregate,
  PHASES,
  parsePhases,
  ratios,
  ratiosOf,
  type SlotRecord,
  slotOrder,
} from '../../tools/lab/bench/stats.js';

describe('slotOrder', () => {
  it('alternates A-B-B-A and B-A-A-B from phase to phase', () => {
    expect(slotOrder(['drbd84', 'bsr'], 0)).toEqual(['drbd84', 'bsr', 'bsr', 'drbd84']);
    expect(slotOrder(['drbd84', 'bsr'], 1)).toEqual(['bsr', 'drbd84', 'drbd84', 'bsr']);
    expect(slotOrder(['drbd84', 'bsr'], 2)).toEqual(['drbd84', 'bsr', 'bsr', 'drbd84']);
  });
  it('gives each engine the same mean position in every phase', () => {
    for (let i = 0; i < 5; i++) {
      const o = slotOrder(['a', 'b'], i);
      const pos = (e: string) => o.flatMap((x, j) => (x === e ? [j] : [])).reduce((s, j) => s + j, 0);
      expect(pos('a')).toBe(pos('b'));
    }
  });
  it('runs one engine twice', () => {
    expect(slotOrder(['bsr'], 3)).toEqual(['bsr', 'bsr']);
  });
});

describe('ratiosOf', () => {
  const link = { tcp_MBps: 100, rtt_us: 250 };
  it('divides throughput by the raw and link throughput', () => {
    expect(ratiosOf('throughput', 30, 60, link)).toEqual({ raw_ratio: 0.5, link_ratio: 0.3 });
  });
  it('divides latency by the raw latency and the round trip', () => {
    expect(ratiosOf('latency', 1000, 500, link)).toEqual({ raw_ratio: 2, link_ratio: 4 });
  });
  it('turns a duration into a rate first', () => {
    const r = ratiosOf('duration', 10, 40, link, 200);
    expect(r.rate_MBps).toBe(20);
    expect(r.raw_ratio).toBe(0.5);
    expect(r.link_ratio).toBe(0.2);
    expect(() => ratiosOf('duration', 10, 40, link)).toThrow();
  });
});

function slot(engine: string, phase: SlotRecord['phase'], value: number, raw: number, tcp = 100): SlotRecord {
  const kind = PHASES.find((p) => p.key === phase)?.kind ?? 'throughput';
  const q = ratiosOf(kind, value, raw, { tcp_MBps: tcp, rtt_us: 200 }, 512);
  return {
    phase,
    engine,
    slot: 0,
    value,
    raw,
    link_tcp_MBps: tcp,
    link_rtt_us: 200,
    link_rtt_median_us: 190,
    raw_ratio: q.raw_ratio,
    link_ratio: q.link_ratio,
    at_s: 0,
  };
}

describe('aggregate', () => {
  const slots = [
    slot('drbd84', 'seq_write_c_MBps', 20, 40, 100),
    slot('bsr', 'seq_write_c_MBps', 30, 60, 120),
    slot('bsr', 'seq_write_c_MBps', 10, 20, 80),
    slot('drbd84', 'seq_write_c_MBps', 40, 40, 100),
    slot('drbd84', 'write_4k_qd1_lat_us', 3000, 1000),
    slot('drbd84', 'write_4k_qd1_lat_us', 1000, 1000),
  ];
  it('means the values and the per-slot ratios of each engine', () => {
    const b = aggregate('bsr', slots);
    expect(b.seq_write_c_MBps).toBe(20);
    // per-slot ratios 0.5 and 0.5, where the ratio of the means would be 20/40 as well
    expect(b.raw_ratio.seq_write_c_MBps).toBe(0.5);
    expect(b.link_ratio.seq_write_c_MBps).toBe(0.188); // (30/120 + 10/80) / 2
    expect(b.raw_seq_write_MBps).toBe(40);
    expect(b.link_tcp_MBps).toBe(100);
    expect(Number.isNaN(b.initial_sync_s)).toBe(true);
    const d = aggregate('drbd84', slots);
    expect(d.seq_write_c_MBps).toBe(30);
    expect(d.raw_ratio.seq_write_c_MBps).toBe(0.75);
    expect(d.write_4k_qd1_lat_us).toBe(2000);
    expect(d.raw_write_4k_qd1_lat_us).toBe(1000);
    expect(d.raw_seq_write_MBps).toBe(40); // the latency slots' raw figures are not MB/s
    expect(d.link_ratio.write_4k_qd1_lat_us).toBe(10);
  });
  it('gives ratios bsr/drbd84', () => {
    const r = ratios(aggregate('bsr', slots), aggregate('drbd84', slots));
    expect(r.seq_write_c_MBps).toBe(0.667);
    expect(Number.isNaN(r.resync_64M_s)).toBe(true);
    expect(JSON.parse(JSON.stringify(r)).resync_64M_s).toBeNull();
  });
});

describe('parsePhases', () => {
  it('takes names or keys, keeps the bench order', () => {
    expect(parsePhases('lat,initial')).toEqual(['initial_sync_s', 'write_4k_qd1_lat_us']);
    expect(parsePhases('seq_write_a_MBps')).toEqual(['seq_write_a_MBps']);
    expect(parsePhases(undefined)).toHaveLength(9);
    expect(parsePhases('csums,seq-c-integrity')).toEqual(['seq_write_c_integrity_MBps', 'resync_64M_same_csums_s']);
    expect(parsePhases('verify')).toEqual(['verify_s']);
    expect(() => parsePhases('fast')).toThrow(/unknown phase/);
  });
});

describe('settings', () => {
  it('sets the durability options in equal mode, only the timers and verify-alg in default mode', () => {
    const eq = benchSettings('equal');
    expect(eq.disk['disk-flushes']).toBe('yes');
    expect(eq.disk['md-flushes']).toBe('yes');
    expect(eq.net['max-buffers']).toBe('8000');
    // implemented by bsr.ko: both engines get it
    expect(bsrImplemented(eq.net)['max-buffers']).toBe('8000');
    const df = benchSettings('default');
    expect(df.disk).toEqual({});
    expect(df.resync).toEqual({});
    expect(Object.keys(df.net).sort()).toEqual(['connect-int', 'ping-int', 'ping-timeout', 'verify-alg']);
    expect(describeSettings(df)).toMatch(/^default: each engine's defaults, except connect-int 2/);
    expect(parseSettingsMode('equal')).toBe('equal');
    expect(() => parseSettingsMode('fast')).toThrow();
  });
  it('gives both engines the same options', () => {
    const s = benchSettings('equal');
    const conf = drbd84BenchConfig(
      {
        name: 'bench',
        minor: 0,
        port: 7790,
        protocol: 'C',
        disk: '/dev/vda1',
        hosts: [
          { name: 'alpha', address: '10.99.1.1' },
          { name: 'bravo', address: '10.99.1.2' },
        ],
      },
      s,
    );
    const fromConf = parseShowOptions(conf, REPORTED_OPTIONS);
    const fromArgs: Record<string, string> = {};
    for (const a of bsrsetupArgs({ ...s.disk, ...s.net, ...s.resync }).split(' ')) {
      const m = /^--([^=]+)=(.*)$/.exec(a);
      if (m) fromArgs[m[1]] = m[2];
    }
    expect({ protocol: 'C', ...fromArgs }).toEqual(fromConf);
    expect(conf).toContain('address 10.99.1.2:7790;');
    expect(conf).toContain('disk /dev/vda1;');
  });
  it('leaves empty sections out of the DRBD config', () => {
    const conf = drbd84BenchConfig(
      { name: 'r', minor: 0, port: 1, protocol: 'A', disk: '/dev/x', hosts: [] },
      benchSettings('default'),
    );
    expect(conf).not.toContain('disk {');
    expect(conf).toContain('net {');
    expect(conf).toContain('protocol A;');
  });
  it('reads show output', () => {
    const text = [
      'resource bench {',
      '    net {',
      '        protocol        \tC;',
      '        max-buffers     \t8000;',
      '        ping-timeout    \t10; # 1/10 seconds',
      '        shared-secret   "x y";',
      '    }',
      '    disk {',
      '        disk-flushes    \tyes; # default',
      '        max-buffers 1;',
      '    }',
      '}',
    ].join('\n');
    expect(
      parseShowOptions(text, ['protocol', 'max-buffers', 'ping-timeout', 'disk-flushes', 'shared-secret']),
    ).toEqual({
      protocol: 'C',
      'max-buffers': '8000',
      'ping-timeout': '10',
      'disk-flushes': 'yes',
      'shared-secret': 'x y',
    });
  });
});

describe('mbr', () => {
  it('writes two Linux partitions at whole MiB and the signature', () => {
    const b = mbr(PARTITIONS);
    expect(b.length).toBe(512);
    expect(b[510]).toBe(0x55);
    expect(b[511]).toBe(0xaa);
    expect(b[446 + 4]).toBe(0x83);
    expect(b.readUInt32LE(446 + 8)).toBe(2048);
    expect(b.readUInt32LE(446 + 12)).toBe(512 * 2048);
    expect(b.readUInt32LE(462 + 8)).toBe(513 * 2048);
    expect(b.readUInt32LE(462 + 8) + b.readUInt32LE(462 + 12)).toBe(1024 * 2048);
    expect(b[478 + 4]).toBe(0);
  });
});

describe('summarizeFastSync', () => {
  const slot = (variant: FastSyncVariant, seconds: number, wire_MB: number): FastSyncSlot => ({
    variant,
    slot: 0,
    seconds,
    wire_MB,
    used_MB: 150,
    host_load: 1,
  });

  it('averages each variant and divides FastSync by the full syncs', () => {
    const s = summarizeFastSync([
      slot('drbd84', 20, 1090),
      slot('bsr-full', 12, 1080),
      slot('bsr-fast', 2, 160),
      slot('bsr-fast', 4, 170),
      slot('bsr-full', 18, 1090),
      slot('drbd84', 30, 1100),
    ]);
    expect(s.mean['bsr-fast']).toEqual({ seconds: 3, wire_MB: 165, used_MB: 150 });
    expect(s.fast_over_full_time).toBeCloseTo(3 / 15);
    expect(s.fast_over_drbd84_time).toBeCloseTo(3 / 25);
    expect(s.fast_over_full_bytes).toBeCloseTo(165 / 1085);
  });

  it('refuses a run without a slot of each variant', () => {
    expect(() => summarizeFastSync([slot('drbd84', 20, 1090), slot('bsr-fast', 2, 160)])).toThrow(
      /no slot of bsr-full/,
    );
  });

  it('runs each variant twice, once early and once late', () => {
    for (const v of ['drbd84', 'bsr-full', 'bsr-fast'] as const) {
      const at = VARIANT_ORDER.flatMap((x, i) => (x === v ? [i] : []));
      expect(at.length).toBe(2);
      expect(at[0] + at[1]).toBe(VARIANT_ORDER.length - 1);
    }
  });
});
