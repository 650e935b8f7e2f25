// The replication settings the bench gives both engines, and the layout of the guests' disks.
// Pure: no lab access (unit tests in test/unit/bench.test.ts).
//
// `--settings equal` (the default) sets every option that decides durability or the data path to
// the same value in both engines: write ordering (disk-flushes, md-flushes, disk-barrier,
// disk-drain), the activity log size, the buffers and epochs of the link, the socket buffers and
// the resync rate (fixed). `--settings default` leaves all of them at each engine's own default.
// Both modes set the connection timers (connect-int, ping-int, ping-timeout): the resync phase
// waits through them (the primary noticing the cut, the reconnect), so at their defaults
// (DRBD 8.4: 10 s, 10 s, 0.5 s; bsr: 3 s, 3 s, 3 s) that phase would time the timers. Both modes
// also set verify-alg (crc32c), which the verify phase needs.
// The option keywords are the same in DRBD 8.4 and bsr (bsr's configuration language is DRBD's).
// bsr.ko refuses a value other than the default of an option it does not implement yet: those it
// is not given (it runs at its default), and the settings table says so.

import { findOption, unimplementedDefault } from '../../../src/config/options.js';

export type SettingsMode = 'equal' | 'default';

export interface BenchSettings {
  mode: SettingsMode;
  /** disk {} options: write ordering and activity log (bsr: attach options). */
  disk: Record<string, string>;
  /** net {} options except the protocol, which the phases choose (bsr: new-peer options). */
  net: Record<string, string>;
  /** The resync controller (DRBD 8.4: in disk {}; bsr: peer-device options). */
  resync: Record<string, string>;
}

/** The timers of the connection, set in both modes (see above). */
export const CONNECTION_TIMERS: Readonly<Record<string, string>> = {
  'connect-int': '2',
  'ping-int': '2',
  'ping-timeout': '10',
};

/** What the verify phase needs, set in both modes: the same digest in both engines. */
export const VERIFY_SETTINGS: Readonly<Record<string, string>> = { 'verify-alg': 'crc32c' };

export function benchSettings(mode: SettingsMode): BenchSettings {
  if (mode === 'default') return { mode, disk: {}, net: { ...CONNECTION_TIMERS, ...VERIFY_SETTINGS }, resync: {} };
  return {
    mode,
    disk: {
      'disk-flushes': 'yes',
      'md-flushes': 'yes',
      'disk-barrier': 'no',
      'disk-drain': 'yes',
      'al-extents': '1237',
    },
    net: {
      'max-buffers': '8000',
      'max-epoch-size': '8000',
      'sndbuf-size': '0',
      'rcvbuf-size': '0',
      timeout: '60',
      'ko-count': '7',
      ...CONNECTION_TIMERS,
      ...VERIFY_SETTINGS,
    },
    resync: { 'c-plan-ahead': '0', 'resync-rate': '1000M' },
  };
}

export function parseSettingsMode(text: string): SettingsMode {
  if (text === 'equal' || text === 'default') return text;
  throw new Error(`--settings ${text}: equal or default`);
}

/**
 * The options read back from each engine (`drbdsetup show --show-defaults`, `bsrsetup show
 * --show-defaults`) and printed side by side: every option of the equal mode, the protocol and the
 * rest of the resync controller (which runs in default mode).
 */
export const REPORTED_OPTIONS: readonly string[] = [
  'protocol',
  ...Object.keys(benchSettings('equal').disk),
  ...Object.keys(benchSettings('equal').net),
  ...Object.keys(benchSettings('equal').resync),
  'c-fill-target',
  'c-delay-target',
  'c-max-rate',
  'c-min-rate',
];

/** Whether bsr.ko does not implement the option yet (the ABI's mark; only its default is taken). */
export function bsrUnimplemented(keyword: string): boolean {
  const def = findOption(keyword);
  return def !== undefined && unimplementedDefault(def) !== undefined;
}

/** The options bsr.ko implements: the others it takes only at their default, so they are left out. */
export function bsrImplemented(options: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(options).filter(([k]) => !bsrUnimplemented(k)));
}

/** Every option given to the engines, in one line ("default" options are not listed). */
export function describeSettings(s: BenchSettings): string {
  const all = { ...s.disk, ...s.net, ...s.resync };
  const text = Object.entries(all)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return s.mode === 'equal' ? `equal: ${text}` : `default: each engine's defaults, except ${text}`;
}

/** `--key=value` arguments for bsrsetup. */
export function bsrsetupArgs(options: Record<string, string>): string {
  return Object.entries(options)
    .map(([k, v]) => `--${k}=${v}`)
    .join(' ');
}

/** `key value;` lines in DRBD's configuration language. */
function confLines(options: Record<string, string>): string[] {
  return Object.entries(options).map(([k, v]) => `${k} ${v};`);
}

export interface Drbd84BenchResource {
  name: string;
  minor: number;
  port: number;
  protocol: 'A' | 'C';
  /** Backing disk, the same path in both guests (e.g. "/dev/vda1"). */
  disk: string;
  /** The two hosts with their own address on the link between them. */
  hosts: readonly { name: string; address: string }[];
}

/** /etc/drbd.conf for the bench's DRBD 8.4 resource with the given settings. */
export function drbd84BenchConfig(r: Drbd84BenchResource, s: BenchSettings): string {
  const section = (name: string, lines: string[]) =>
    lines.length === 0 ? [] : [`  ${name} {`, ...lines.map((l) => `    ${l}`), '  }'];
  return [
    'global { usage-count no; }',
    `resource ${r.name} {`,
    `  protocol ${r.protocol};`,
    ...section('disk', confLines({ ...s.disk, ...s.resync })),
    ...section('net', confLines(s.net)),
    ...r.hosts.flatMap((h) => [
      `  on ${h.name} {`,
      `    device /dev/drbd${r.minor};`,
      `    disk ${r.disk};`,
      `    address ${h.address}:${r.port};`,
      '    meta-disk internal;',
      '  }',
    ]),
    '}',
    '',
  ].join('\n');
}

/**
 * `key value;` pairs of a `show` output in DRBD's configuration language (both engines' `show`
 * print it). A key seen more than once keeps its first value (one resource, one connection).
 */
export function parseShowOptions(text: string, keys: readonly string[]): Record<string, string> {
  const want = new Set(keys);
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([a-z][a-z0-9-]*)\s+("[^"]*"|[^;\s]+)\s*;/.exec(line);
    if (m && want.has(m[1]) && !(m[1] in out)) out[m[1]] = m[2].replace(/^"|"$/g, '');
  }
  return out;
}

// ------------------------------------------------------------------------------------ disk layout

/**
 * Each guest disk (/dev/vda, /dev/vdb) is 1 GiB with two partitions: partition 1 (512 MiB) backs an
 * engine, partition 2 is the raw disk measured next to it. drbd84 uses /dev/vda, bsr /dev/vdb, so
 * both engines run side by side in one lab, and each one's raw figure comes from its own disk.
 */
export const DISK_SIZE = '1G';
export const DISK_MIB = 1024;
export const PARTITIONS: readonly { startMiB: number; sizeMiB: number }[] = [
  { startMiB: 1, sizeMiB: 512 },
  { startMiB: 513, sizeMiB: DISK_MIB - 513 },
];

/** A DOS partition table (master boot record) with Linux partitions at whole MiB. */
export function mbr(parts: readonly { startMiB: number; sizeMiB: number }[]): Buffer {
  if (parts.length > 4) throw new Error('a DOS partition table holds 4 partitions');
  const b = Buffer.alloc(512);
  const sectorsPerMiB = 2048;
  parts.forEach((p, i) => {
    const e = 446 + 16 * i;
    b[e] = 0x00; // not bootable
    b.set([0xfe, 0xff, 0xff], e + 1); // CHS start: beyond CHS, use the LBA fields
    b[e + 4] = 0x83; // Linux
    b.set([0xfe, 0xff, 0xff], e + 5); // CHS end
    b.writeUInt32LE(p.startMiB * sectorsPerMiB, e + 8);
    b.writeUInt32LE(p.sizeMiB * sectorsPerMiB, e + 12);
  });
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}
