// The bench's engine driver interface. The bench (run.ts) owns the phases, the timing, the loads and
// the data checks; a driver only knows how to set up and steer one replication engine in the guests.
// Drivers: drbd84.ts (the guest kernel's DRBD 8.4 + drbd-utils) and bsr.ts (this project's engine).
// Both engines run side by side in the same two guests (own module, device, backing disk and port).
import type { Lab, NodeName } from '../types.js';
import type { BenchSettings } from './settings.js';

export interface BenchContext {
  /** The node that is promoted and written to ("alpha"). */
  primary: NodeName;
  /** Its peer ("bravo"). */
  secondary: NodeName;
  /** The engine's backing disk in both guests ("/dev/vda1"); internal meta data. */
  backingDisk: string;
  /** The raw partition next to it on the same virtual disk ("/dev/vda2"), for the raw figures. */
  rawDisk: string;
  /** TCP port for the engine's replication link. */
  port: number;
  /** The options both engines are given (protocol aside). */
  settings: BenchSettings;
  /** Progress output. */
  log(message: string): void;
}

export interface BenchEngine {
  /** The name used on the command line and in the JSON ("drbd84", "bsr"). */
  readonly name: string;
  /** The replicated block device in the guests (e.g. "/dev/drbd0"). */
  readonly device: string;
  /** Loads the engine's kernel module on a node (drbd.ko first: it needs block major 147). */
  loadModule(lab: Lab, node: NodeName): Promise<void>;
  /**
   * Writes the configuration (protocol C and `ctx.settings`), creates the meta data on
   * `backingDisk` on both nodes and brings the resource up and connected. Both nodes are Secondary
   * with Inconsistent data afterwards. Resolves when connected.
   */
  setup(lab: Lab, ctx: BenchContext): Promise<void>;
  /** Makes `ctx.primary` Primary with forced UpToDate data: the full initial sync to the peer starts. */
  forcePrimary(lab: Lab, ctx: BenchContext): Promise<void>;
  /**
   * Waits until the engine's own tools report both nodes connected with no resync running and the
   * state confirms it (both UpToDate), and resolves with the time of that report
   * (`performance.now()` in seconds): the end of a timed phase, the confirmation not counted. A
   * report that the state then contradicts (a wait returning before the resync began) is not taken.
   */
  waitSynced(lab: Lab, ctx: BenchContext): Promise<number>;
  /**
   * waitSynced, its watching set up before the step that starts the sync (untimed): resolves,
   * once the engine follows the state, to the wait for the end of that sync.
   */
  armSyncWait(lab: Lab, ctx: BenchContext): Promise<() => Promise<number>>;
  /** Throws unless both nodes are connected and UpToDate (retrying for a while). */
  checkSynced(lab: Lab, ctx: BenchContext): Promise<void>;
  /** Switches the replication protocol of the running resource on both nodes (stays connected or reconnects). */
  setProtocol(lab: Lab, ctx: BenchContext, protocol: 'A' | 'C'): Promise<void>;
  /**
   * Sets net options of the connection on both nodes (a string option "" is unset): disconnected
   * while the two differ, resolves when connected and UpToDate again.
   */
  setNetOptions(lab: Lab, ctx: BenchContext, options: Readonly<Record<string, string>>): Promise<void>;
  /** Resolves when the primary has noticed that the peer is unreachable (after a link cut). */
  waitDisconnected(lab: Lab, ctx: BenchContext): Promise<void>;
  /** Disconnects on both nodes (standalone), so that another engine's link cut leaves it alone. */
  disconnect(lab: Lab, ctx: BenchContext): Promise<void>;
  /** Connects again after `disconnect`; resolves when connected and UpToDate. */
  reconnect(lab: Lab, ctx: BenchContext): Promise<void>;
  /** The running options on the primary, as the engine's `show --show-defaults` prints them. */
  show(lab: Lab, ctx: BenchContext): Promise<string>;
  /** The default of an option that `show --show-defaults` leaves out (bsr.ko reports only options set). */
  defaultOf?(keyword: string): string | undefined;
  /**
   * Where the peer's copy of the data can be read while the peer is Secondary: a device and the
   * byte offset of data block 0 on it (internal meta data at the end: the backing disk, offset 0).
   */
  peerData(ctx: BenchContext): { device: string; offsetMiB: number };
  /**
   * Online verify of the whole device from the primary (the engine's verify-alg); resolves when it
   * has ended with its end time (`performance.now()` in seconds) and the KiB it found out of sync.
   */
  verify(lab: Lab, ctx: BenchContext): Promise<{ end: number; foundKiB: number }>;
  /** How often the primary's kernel log says it pulled ahead (on-congestion pull-ahead) so far. */
  aheadCount(lab: Lab, ctx: BenchContext): Promise<number>;
  /** Demotes and brings everything down on both nodes. */
  teardown(lab: Lab, ctx: BenchContext): Promise<void>;
}

/** The phases' figures (each the mean over the engine's slots of that phase). */
export type PhaseKey =
  | 'initial_sync_s'
  | 'seq_write_c_MBps'
  | 'seq_write_c_integrity_MBps'
  | 'seq_write_a_MBps'
  | 'write_4k_qd1_lat_us'
  | 'resync_64M_s'
  | 'resync_64M_same_csums_s'
  | 'ahead_catchup_s'
  | 'verify_s';

/** The numbers every engine run produces (the JSON keys of `lab bench`; null for a phase not run). */
export interface BenchResult {
  engine: string;
  /** Full initial sync of the 512 MiB device after forced promotion, seconds. */
  initial_sync_s: number;
  /** 128 MiB of 1 MiB O_DIRECT writes through the replicated device, protocol C, MB/s (10^6 bytes). */
  seq_write_c_MBps: number;
  /** The same with data-integrity-alg crc32c (every DATA payload digested and checked). */
  seq_write_c_integrity_MBps: number;
  /** The same, protocol A. */
  seq_write_a_MBps: number;
  /** fio 4 KiB O_DIRECT random writes, queue depth 1, protocol C: mean completion latency, microseconds. */
  write_4k_qd1_lat_us: number;
  /** The 128 MiB sequential load on the raw partition next to the engine's backing disk, MB/s (mean of its slots). */
  raw_seq_write_MBps: number;
  /** The 4 KiB QD1 load on the raw partition, mean latency in microseconds (mean of its latency slots). */
  raw_write_4k_qd1_lat_us: number;
  /** Link cut, 64 MiB written, link restored: seconds from the restore until both are UpToDate. */
  resync_64M_s: number;
  /** The same, but the 64 MiB rewritten with the data they held, csums-alg crc32c: seconds. */
  resync_64M_same_csums_s: number;
  /**
   * Protocol A, on-congestion pull-ahead: 32 MiB written as fast as the primary can, then seconds
   * from the writer's end until both are UpToDate (the catch-up after the Ahead period).
   */
  ahead_catchup_s: number;
  /** Online verify of the whole 512 MiB device (verify-alg crc32c, nodes in sync), seconds. */
  verify_s: number;
  /** TCP payload over the replication link (sendfile, discarded with MSG_TRUNC), MB/s (mean of its slots). */
  link_tcp_MBps: number;
  /** TCP round trip of a 64-byte message over the replication link, mean, microseconds (mean of its slots). */
  link_rtt_us: number;
  /** The median of the same round trips (mean of its slots): the mean carries the host's scheduling hiccups. */
  link_rtt_median_us: number;
  /** Each phase's figure against the raw disk of the same slot (stats.ts, ratiosOf). */
  raw_ratio: Record<PhaseKey, number>;
  /** Each phase's figure against the link of the same slot. */
  link_ratio: Record<PhaseKey, number>;
}

export const RESULT_KEYS = [
  'initial_sync_s',
  'seq_write_c_MBps',
  'seq_write_c_integrity_MBps',
  'seq_write_a_MBps',
  'write_4k_qd1_lat_us',
  'raw_seq_write_MBps',
  'raw_write_4k_qd1_lat_us',
  'resync_64M_s',
  'resync_64M_same_csums_s',
  'ahead_catchup_s',
  'verify_s',
  'link_tcp_MBps',
  'link_rtt_us',
  'link_rtt_median_us',
] as const satisfies readonly (keyof BenchResult)[];
