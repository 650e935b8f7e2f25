// The bench's engine driver interface. The bench (run.ts) owns the phases, the timing, the loads and
// the data checks; a driver only knows how to set up and steer one replication engine in the guests.
// Drivers: drbd84.ts (the guest kernel's DRBD 8.4 + drbd-utils) and bsr.ts (this project's engine).
import type { Lab, NodeName } from '../types.js';

export interface BenchContext {
  /** The node that is promoted and written to ("alpha"). */
  primary: NodeName;
  /** Its peer ("bravo"). */
  secondary: NodeName;
  /** The backing disk in both guests ("/dev/vda"); internal meta data. */
  backingDisk: string;
  /** TCP port for the replication link. */
  port: number;
  /** Progress output. */
  log(message: string): void;
}

export interface BenchEngine {
  /** The name used on the command line and in the JSON ("drbd84", "bsr"). */
  readonly name: string;
  /** True when the lab must load native/kmod/bsr.ko at boot (false for drbd84: same block major). */
  readonly usesBsrModule: boolean;
  /** The replicated block device in the guests (e.g. "/dev/drbd0"). */
  readonly device: string;
  /**
   * Loads the module(s), writes the configuration (protocol C, fixed resync rate as fast as possible),
   * creates the meta data on `backingDisk` on both nodes and brings the resource up and connected.
   * Both nodes are Secondary with Inconsistent data afterwards. Resolves when connected.
   */
  setup(lab: Lab, ctx: BenchContext): Promise<void>;
  /** Makes `ctx.primary` Primary with forced UpToDate data: the full initial sync to the peer starts. */
  forcePrimary(lab: Lab, ctx: BenchContext): Promise<void>;
  /**
   * Resolves when the engine's own tools report both nodes connected with no resync running: the
   * end of a timed phase. Then `checkSynced` (not timed) confirms the states.
   */
  waitSynced(lab: Lab, ctx: BenchContext): Promise<void>;
  /** Throws unless both nodes are connected and UpToDate (retrying for a while). */
  checkSynced(lab: Lab, ctx: BenchContext): Promise<void>;
  /** Switches the replication protocol of the running resource on both nodes (stays connected or reconnects). */
  setProtocol(lab: Lab, ctx: BenchContext, protocol: 'A' | 'C'): Promise<void>;
  /** Resolves when the primary has noticed that the peer is unreachable (after a link cut). */
  waitDisconnected(lab: Lab, ctx: BenchContext): Promise<void>;
  /**
   * Where the peer's copy of the data can be read while the peer is Secondary: a device and the
   * byte offset of data block 0 on it (internal meta data at the end: the backing disk, offset 0).
   */
  peerData(ctx: BenchContext): { device: string; offsetMiB: number };
  /** Demotes and brings everything down on both nodes. */
  teardown(lab: Lab, ctx: BenchContext): Promise<void>;
}

/** The numbers every engine run produces (the JSON keys of `lab bench`). */
export interface BenchResult {
  engine: string;
  /** Full initial sync of the 512 MiB disk after forced promotion, seconds. */
  initial_sync_s: number;
  /** 128 MiB of 1 MiB O_DIRECT writes through the replicated device, protocol C, MB/s (10^6 bytes). */
  seq_write_c_MBps: number;
  /** The same, protocol A. */
  seq_write_a_MBps: number;
  /** fio 4 KiB O_DIRECT random writes, queue depth 1, protocol C: mean completion latency, microseconds. */
  write_4k_qd1_lat_us: number;
  /** The 128 MiB sequential load on the raw second disk (/dev/vdb) of the primary, MB/s. */
  raw_seq_write_MBps: number;
  /** The 4 KiB QD1 load on the raw second disk, mean latency in microseconds. */
  raw_write_4k_qd1_lat_us: number;
  /** Link cut, 64 MiB written, link restored: seconds from the restore until both are UpToDate. */
  resync_64M_s: number;
}

export const RESULT_KEYS = [
  'initial_sync_s',
  'seq_write_c_MBps',
  'seq_write_a_MBps',
  'write_4k_qd1_lat_us',
  'raw_seq_write_MBps',
  'raw_write_4k_qd1_lat_us',
  'resync_64M_s',
] as const satisfies readonly (keyof BenchResult)[];
