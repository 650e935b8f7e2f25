// The lab's public API: what scenarios (test/lab/*.lab.ts), the bench and the CLI use.
// Keep this file stable: kernel engineers write scenarios against it.

/** Node names, in boot order. A lab of N nodes uses the first N. */
export const NODE_NAMES = ['alpha', 'bravo', 'charlie'] as const;
export type NodeName = (typeof NODE_NAMES)[number];

export interface ExecOptions {
  /** Bytes written to the command's stdin (then stdin is closed). Default: empty stdin. */
  input?: string | Buffer;
  /**
   * Instead of `input`: stdin stays open while the command runs; called once at its start with a
   * function that writes to it.
   */
  stdin?: (write: (data: string | Buffer) => void) => void;
  /** Kill the command (SIGKILL in the guest) after this many ms and reject. Default: 600000. */
  timeoutMs?: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Working directory in the guest. Default: `/`. */
  cwd?: string;
  /** Called with each stdout chunk as it arrives (output is still collected in the result). */
  onStdout?: (chunk: Buffer) => void;
  /** Called with each stderr chunk as it arrives. */
  onStderr?: (chunk: Buffer) => void;
  /** Aborting it kills the command (SIGKILL to its process group); the call resolves with its exit status. */
  signal?: AbortSignal;
}

export interface ExecResult {
  /** Exit code; 128+N when killed by signal N. */
  code: number;
  stdout: string;
  stderr: string;
}

/** Thrown by `Lab.sh` (and `exec` with checks) when a guest command exits non-zero. */
export class LabExecError extends Error {
  constructor(
    readonly node: NodeName,
    readonly command: string,
    readonly result: ExecResult,
  ) {
    const tail = (s: string) => (s.length > 2000 ? `...${s.slice(-2000)}` : s);
    super(
      `[${node}] command failed with exit code ${result.code}: ${command}\n` +
        `--- stdout ---\n${tail(result.stdout)}\n--- stderr ---\n${tail(result.stderr)}`,
    );
  }
}

export interface NodeInfo {
  /** This node's own address on its link to each peer. */
  addresses: Partial<Record<NodeName, string>>;
  /** The guest's network interface on its link to each peer (e.g. "eth0"). */
  interfaces: Partial<Record<NodeName, string>>;
  /** True while its qemu process runs. */
  running: boolean;
}

export interface LabInfo {
  nodes: Partial<Record<NodeName, NodeInfo>>;
  diskSize: string;
}

/** Disk fault injection with device-mapper in a guest. Every helper returns the new /dev/mapper path. */
export interface DiskFaults {
  /** A linear mapping of `dev` (e.g. "/dev/vda") named `name`: a target that can later be switched to a fault. */
  linear(node: NodeName, name: string, dev: string): Promise<string>;
  /** Every I/O fails with EIO (dm-error, whole device). */
  error(node: NodeName, name: string, dev: string): Promise<string>;
  /** dm-flakey: works `upSec` seconds, then fails (or drops writes with `dropWrites`) `downSec` seconds, repeating. */
  flakey(
    node: NodeName,
    name: string,
    dev: string,
    opts: { upSec: number; downSec: number; dropWrites?: boolean; errorWrites?: boolean },
  ): Promise<string>;
  /** dm-delay: every read and write is delayed by `ms` milliseconds (writes by `writeMs` when given). */
  delay(node: NodeName, name: string, dev: string, opts: { ms: number; writeMs?: number }): Promise<string>;
  /** Switches an existing mapping `name` to the given table live (suspend, load, resume). Table lines as dmsetup takes them. */
  reload(node: NodeName, name: string, table: string): Promise<void>;
  /** Switches an existing mapping to fail all I/O (dm-error), keeping its size and its open handles. */
  failNow(node: NodeName, name: string): Promise<void>;
  /** Switches an existing mapping back to a plain linear mapping of `dev`. */
  healNow(node: NodeName, name: string, dev: string): Promise<void>;
  /** Removes the mapping (dmsetup remove --retry). */
  remove(node: NodeName, name: string): Promise<void>;
}

export interface Lab {
  /** The running nodes of this lab, in order (["alpha", "bravo"] or ["alpha", "bravo", "charlie"]). */
  readonly nodes: readonly NodeName[];
  /** Absolute path of the repository checkout (same path in the guests, read-only). */
  readonly repoRoot: string;
  /** Absolute path of the lab's state folder on the host (`REPO/.lab`). */
  readonly stateDir: string;
  /** Size of each virtio disk, as given to `up` (e.g. "512M"). */
  readonly diskSize: string;

  /**
   * Runs a command in the guest. A string runs through `/bin/sh -c`; an array runs as argv (no shell).
   * Resolves with the exit code and the collected output; never rejects on a non-zero code.
   */
  exec(node: NodeName, cmd: string | readonly string[], opts?: ExecOptions): Promise<ExecResult>;
  /** Runs a shell script (`sh -ec`) in the guest; resolves with its stdout, throws `LabExecError` on a non-zero code. */
  sh(node: NodeName, script: string, opts?: ExecOptions): Promise<string>;
  /** Nodes, their addresses and interfaces. */
  info(): LabInfo;
  /** `node`'s own address on its link to `peer`, e.g. address("alpha", "bravo") === "10.99.1.1". */
  address(node: NodeName, peer: NodeName): string;
  /** The guest interface of `node` on its link to `peer`. */
  iface(node: NodeName, peer: NodeName): string;

  /** Cuts the link between a and b (both ends' virtual cable unplugged: carrier down, packets dropped). */
  linkCut(a: NodeName, b: NodeName): Promise<void>;
  /** Restores the link between a and b: plugged in again, any shaping removed. */
  linkRestore(a: NodeName, b: NodeName): Promise<void>;
  /**
   * Shapes the link between a and b like a WAN: each end's sending side gets `rate` (tc units,
   * e.g. "10mbit") and `delay` (e.g. "20ms", so the round trip gains twice that).
   */
  linkShape(a: NodeName, b: NodeName, shape: LinkShape): Promise<void>;
  /** Hard stop: kills the node's qemu (SIGKILL). Disks are kept as they are. */
  crash(node: NodeName): Promise<void>;
  /** Boots a stopped node again on the same disks and links; resolves when its agent answers (bsr.ko loaded if built). */
  boot(node: NodeName): Promise<void>;
  /**
   * Writes `data` into a new file that the guests read at the same path (in the lab's state
   * folder, shared over 9p; removed after the scenario) and returns the path. Data made on the host
   * is cheaper than /dev/urandom and hashing in an emulated guest.
   */
  shareFile(data: Buffer | string): string;
  /**
   * sha256 (hex) of `length` bytes at `offset` of a node's virtual disk, read from its image on the
   * host: what an O_DIRECT read in the guest returns once its writes completed (the images are
   * opened with cache=none), without hashing under emulation (~0.2 s a MiB of a loaded guest).
   */
  diskSum(node: NodeName, disk: 'vda' | 'vdb', offset: number, length: number): Promise<string>;
  /** The guest kernel log (`dmesg`), as text. */
  dmesg(node: NodeName): Promise<string>;
  /**
   * Loads a kernel module into the guest with its dependencies. Without `path`, loads the project's
   * `native/kmod/bsr.ko` (after libcrc32c, crc32c_generic, lru_cache). `path` may also be a module name
   * of the guest kernel (e.g. "drbd", "dm-flakey"), loaded with modprobe.
   */
  loadModule(node: NodeName, path?: string): Promise<void>;
  /** Unloads a module (rmmod). */
  unloadModule(node: NodeName, name: string): Promise<void>;
  /** Device-mapper fault injection helpers. */
  readonly disk: DiskFaults;
  /** Polls `check` (every `intervalMs`, default 200) until it returns a truthy value; throws after `timeoutMs` with `what`. */
  waitFor<T>(
    what: string,
    check: () => Promise<T | undefined | null | false>,
    timeoutMs?: number,
    intervalMs?: number,
  ): Promise<T>;
  /** Prints a progress line (prefixed with the scenario name by the runner). */
  log(message: string): void;
}

/** A WAN-like link: a rate limit and a one-way delay, each optional (tc's units). */
export interface LinkShape {
  rate?: string;
  delay?: string;
}
