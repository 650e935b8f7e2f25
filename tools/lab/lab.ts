// The lab: bring up / down, and the `Lab` API that scenarios, the bench and the CLI use.

import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { moduleBuildDir } from '../../scripts/kernel-headers.mjs';
import { AGENT_PORTS, AgentClient, type ExecRequest } from './agent-client.js';
import { DmFaults } from './faults.js';
import { cachesStale, markCachesFresh } from './host-cache.js';
import { netemArgs, shapeScript, unshapeScript } from './link-shape.js';
import { findRepoRoot, hostHeadersKernelVersion, labStateDir } from './paths.js';
import { qmp } from './qmp.js';
import { setup, setupDone } from './setup.js';
import { addressOf, ifaceOf, isNodeName, linkBetween, nicIdOf, nodesOf } from './topology.js';
import {
  type DiskFaults,
  type ExecOptions,
  type ExecResult,
  type Lab,
  LabExecError,
  type LabInfo,
  type LinkShape,
  NODE_NAMES,
  type NodeName,
} from './types.js';
import { shq, sleep, withTimeout } from './util.js';
import { killQemu, LabFiles, type LabState, makeDisks, startQemu, writeGuestFiles } from './vm.js';

export interface UpOptions {
  nodes?: number;
  diskSize?: string;
  memoryMiB?: number;
  /**
   * Load native/kmod/bsr.ko at boot when it has been built (default true). False for labs that use
   * the guest kernel's DRBD 8.4: both claim block major 147, so only one of them can be loaded.
   */
  loadBsr?: boolean;
  /** Give up when the guests do not answer within this time. Default 120 s. */
  timeoutMs?: number;
  log?: (m: string) => void;
  /** The state folder (default: labStateDir()); the runner gives each parallel job its own. */
  stateDir?: string;
}

const DEFAULT_DISK = '512M';
const DEFAULT_MEMORY = 1536;
const BOOT_TIMEOUT = 300_000;

function cutKey(a: NodeName, b: NodeName): string {
  const [x, y] = NODE_NAMES.indexOf(a) < NODE_NAMES.indexOf(b) ? [a, b] : [b, a];
  return `${x}:${y}`;
}

export class LabImpl implements Lab {
  readonly nodes: readonly NodeName[];
  readonly diskSize: string;
  readonly disk: DiskFaults;
  private readonly clients = new Map<NodeName, Promise<AgentClient>>();
  logger: (m: string) => void = (m) => process.stderr.write(`lab: ${m}\n`);
  /** Guest commands run through this object and the time spent in them (summed over nodes). */
  readonly execStats = { commands: 0, ms: 0 };

  constructor(
    readonly repoRoot: string,
    readonly stateDir: string,
    readonly files: LabFiles,
    state: LabState,
  ) {
    this.nodes = state.nodes;
    this.diskSize = state.diskSize;
    this.disk = new DmFaults(this);
  }

  /** Attaches to the lab described by STATE/lab.json (it may be partly or not running). */
  static attach(repoRoot = findRepoRoot(), stateDir = labStateDir(repoRoot)): LabImpl {
    const files = new LabFiles(stateDir);
    const state = files.readState();
    if (!state) throw new Error(`no lab in ${stateDir}: run \`npm run lab -- up\``);
    return new LabImpl(repoRoot, stateDir, files, state);
  }

  state(): LabState {
    const s = this.files.readState();
    if (!s) throw new Error(`no lab in ${this.stateDir}`);
    return s;
  }

  private checkNode(n: string): asserts n is NodeName {
    if (!isNodeName(n) || !this.nodes.includes(n)) {
      throw new Error(`no node ${n} in this lab (nodes: ${this.nodes.join(', ')})`);
    }
  }

  private client(n: NodeName, timeoutMs = 60_000): Promise<AgentClient> {
    const existing = this.clients.get(n);
    if (existing) return existing;
    const p = AgentClient.connect(
      n,
      (k) => this.files.agentSock(n, k),
      (k) => this.files.agentLock(n, k),
      timeoutMs,
      () => this.files.running(n),
    );
    this.clients.set(n, p);
    p.then(
      (c) => {
        // Forget a dead connection so the next call reconnects.
        const watch = setInterval(() => {
          if (c.closed) {
            clearInterval(watch);
            if (this.clients.get(n) === p) this.clients.delete(n);
          }
        }, 200);
        watch.unref();
      },
      () => {
        if (this.clients.get(n) === p) this.clients.delete(n);
      },
    );
    return p;
  }

  /** Waits until the node's agent answers. */
  async waitReady(n: NodeName, timeoutMs = BOOT_TIMEOUT): Promise<void> {
    const c = await this.client(n, timeoutMs);
    const r = await c.exec({ argv: ['true'] }, { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`${n}: agent answered but \`true\` failed`);
  }

  async exec(node: NodeName, cmd: string | readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
    this.checkNode(node);
    if (!this.files.running(node)) throw new Error(`${node} is not running`);
    const req: ExecRequest = typeof cmd === 'string' ? { sh: cmd } : { argv: cmd };
    req.env = opts.env;
    req.cwd = opts.cwd;
    const c = await this.client(node);
    const t0 = Date.now();
    try {
      return await c.exec(req, opts);
    } finally {
      const ms = Date.now() - t0;
      this.execStats.commands++;
      this.execStats.ms += ms;
      if (process.env.BSR_LAB_TRACE) {
        const what = typeof cmd === 'string' ? cmd : cmd.join(' ');
        this.logger(`${node} ${(ms / 1000).toFixed(2)} s: ${what.replace(/\s+/g, ' ').slice(0, 160)}`);
      }
    }
  }

  async sh(node: NodeName, script: string, opts: ExecOptions = {}): Promise<string> {
    const r = await this.exec(node, ['/bin/sh', '-ec', script], opts);
    if (r.code !== 0) throw new LabExecError(node, script, r);
    return r.stdout;
  }

  info(): LabInfo {
    const out: LabInfo = { nodes: {}, diskSize: this.diskSize };
    for (const n of this.nodes) {
      const addresses: Partial<Record<NodeName, string>> = {};
      const interfaces: Partial<Record<NodeName, string>> = {};
      for (const p of this.nodes) {
        if (p === n) continue;
        addresses[p] = addressOf(n, p);
        interfaces[p] = ifaceOf(n, p);
      }
      out.nodes[n] = { addresses, interfaces, running: this.files.running(n) };
    }
    return out;
  }

  address(node: NodeName, peer: NodeName): string {
    this.checkNode(node);
    this.checkNode(peer);
    return addressOf(node, peer);
  }

  iface(node: NodeName, peer: NodeName): string {
    this.checkNode(node);
    this.checkNode(peer);
    return ifaceOf(node, peer);
  }

  private async setLink(a: NodeName, b: NodeName, up: boolean): Promise<void> {
    this.checkNode(a);
    this.checkNode(b);
    linkBetween(a, b);
    const s = this.state();
    const key = cutKey(a, b);
    s.cut = s.cut.filter((c) => c !== key);
    if (!up) s.cut.push(key);
    this.files.writeState(s);
    for (const [x, y] of [
      [a, b],
      [b, a],
    ] as const) {
      if (this.files.running(x)) await qmp(this.files.qmpSock(x), 'set_link', { name: nicIdOf(y), up });
    }
  }

  linkCut(a: NodeName, b: NodeName): Promise<void> {
    return this.setLink(a, b, false);
  }

  async linkRestore(a: NodeName, b: NodeName): Promise<void> {
    await this.setLink(a, b, true);
    await this.shapeEnds(a, b, unshapeScript);
  }

  async linkShape(a: NodeName, b: NodeName, shape: LinkShape): Promise<void> {
    this.checkNode(a);
    this.checkNode(b);
    linkBetween(a, b);
    netemArgs(shape); // a bad value fails before either end changes
    await this.shapeEnds(a, b, (dev) => shapeScript(dev, shape));
  }

  /** Runs the script `forDev` makes for each end's interface on the link between a and b. */
  private async shapeEnds(a: NodeName, b: NodeName, forDev: (dev: string) => string): Promise<void> {
    await Promise.all(
      [
        [a, b],
        [b, a],
      ].map(async ([x, y]) => {
        if (this.files.running(x)) await this.sh(x, forDev(this.iface(x, y)));
      }),
    );
  }

  /** Links currently cut, as [a, b] pairs. */
  cutLinks(): [NodeName, NodeName][] {
    return this.state().cut.map((c) => c.split(':') as [NodeName, NodeName]);
  }

  private dropClient(n: NodeName): void {
    const p = this.clients.get(n);
    this.clients.delete(n);
    p?.then(
      (c) => c.close(),
      () => {},
    );
  }

  async crash(node: NodeName): Promise<void> {
    this.checkNode(node);
    await killQemu(this.files, node);
    this.dropClient(node);
  }

  async boot(node: NodeName, timeoutMs = BOOT_TIMEOUT): Promise<void> {
    this.checkNode(node);
    if (this.files.running(node)) throw new Error(`${node} is running (crash it first)`);
    const s = this.state();
    this.dropClient(node);
    writeGuestFiles(this.files, this.repoRoot, s, node, process.execPath);
    makeDisks(this.files, node, s.diskSize, false);
    await startQemu(this.files, s, node);
    await this.waitReady(node, timeoutMs);
    if (s.loadBsr !== false && existsSync(this.bsrModulePath())) await this.loadModule(node);
  }

  shareFile(data: Buffer | string): string {
    const dir = this.files.shareDir;
    mkdirSync(dir, { recursive: true });
    // a name never used before (also across scenarios and runs): a guest keeps what it read of an
    // earlier file of the same name in its cache
    const path = join(dir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
    writeFileSync(path, data);
    return path;
  }

  async diskSum(node: NodeName, disk: 'vda' | 'vdb', offset: number, length: number): Promise<string> {
    this.checkNode(node);
    const hash = createHash('sha256');
    const end = offset + length;
    const fh = await open(this.files.disk(node, disk), 'r');
    try {
      if ((await fh.stat()).size < end) throw new Error(`${node}: ${disk} is smaller than ${end} bytes`);
      const buf = Buffer.alloc(1 << 20);
      for (let pos = offset; pos < end; ) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, end - pos), pos);
        hash.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
      }
    } finally {
      await fh.close();
    }
    return hash.digest('hex');
  }

  async dmesg(node: NodeName): Promise<string> {
    return this.sh(node, 'dmesg');
  }

  /** bsr.ko built for the guests' kernel (`npm run build:kmod -- --kernel SERIES`). */
  bsrModulePath(): string {
    return join(moduleBuildDir(this.repoRoot, this.state().kver), 'bsr.ko');
  }

  async loadModule(node: NodeName, path?: string): Promise<void> {
    const target = path ?? this.bsrModulePath();
    if (target.endsWith('.ko')) {
      if (!existsSync(target)) throw new Error(`${target} does not exist (build it: npm run build:kmod)`);
      // a module given by path may be anywhere on the host: read it afresh
      if (path === undefined) await this.refreshCaches(node);
      const script = [
        path === undefined ? '' : 'echo 3 > /proc/sys/vm/drop_caches',
        `name=$(modinfo -F name ${shq(target)})`,
        'if grep -q "^$name " /proc/modules; then exit 0; fi',
        // one modprobe for every dependency (a process costs ~50 ms in an emulated guest)
        `modprobe -a -q libcrc32c crc32c_generic lru_cache $(modinfo -F depends ${shq(target)} | tr , " ") 2>/dev/null || true`,
        `insmod ${shq(target)}`,
      ].join('\n');
      await this.sh(node, script);
    } else {
      await this.sh(node, `modprobe ${shq(target)}`);
    }
  }

  /**
   * Drops the guest's caches of the host root when a file the guests run (the module, the bundles,
   * the addon, the lab scripts) changed on the host since they were last empty (see host-cache.ts).
   */
  async refreshCaches(node: NodeName): Promise<void> {
    if (!cachesStale(this.files, node, this.repoRoot)) return;
    await this.sh(node, 'sync; echo 3 > /proc/sys/vm/drop_caches');
    markCachesFresh(this.files, node, this.repoRoot);
  }

  async unloadModule(node: NodeName, name: string): Promise<void> {
    await this.sh(node, `rmmod ${shq(name)}`);
  }

  async waitFor<T>(
    what: string,
    check: () => Promise<T | undefined | null | false>,
    timeoutMs = 60_000,
    intervalMs = 200,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        const v = await check();
        if (v) return v;
      } catch (e) {
        lastError = e;
      }
      if (Date.now() > deadline) {
        const tail = lastError ? ` (last error: ${(lastError as Error).message})` : '';
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${tail}`);
      }
      await sleep(intervalMs);
    }
  }

  log(message: string): void {
    this.logger(message);
  }

  /** Closes the agent connections (the lab keeps running). */
  close(): void {
    for (const n of [...this.clients.keys()]) this.dropClient(n);
  }
}

/** Stops every node of the lab in `stateDir` (SIGKILL; disks are kept until the next `up`). */
export async function labDown(stateDir: string): Promise<string[]> {
  const files = new LabFiles(stateDir);
  const stopped: NodeName[] = [];
  for (const n of NODE_NAMES) {
    if (files.running(n)) stopped.push(n);
    await killQemu(files, n);
    for (let k = 0; k < AGENT_PORTS; k++) rmSync(files.agentLock(n, k), { force: true });
  }
  return stopped;
}

/** `up`: setup when needed, stops a running lab, fresh disks, boots every node and waits for them. */
export async function labUp(opts: UpOptions = {}, repoRoot = findRepoRoot()): Promise<LabImpl> {
  const stateDir = opts.stateDir ?? labStateDir(repoRoot);
  const log = opts.log ?? (() => {});
  const nodes = nodesOf(opts.nodes ?? 2);
  if (!setupDone()) await setup(stateDir, { log });
  const kver = hostHeadersKernelVersion();
  if (!kver) throw new Error('no kernel headers');
  await labDown(stateDir);
  const files = new LabFiles(stateDir);
  mkdirSync(files.runDir, { recursive: true });
  const state: LabState = {
    nodes,
    diskSize: opts.diskSize ?? DEFAULT_DISK,
    kver,
    memoryMiB: opts.memoryMiB ?? DEFAULT_MEMORY,
    loadBsr: opts.loadBsr ?? true,
    cut: [],
    createdAt: new Date().toISOString(),
  };
  files.writeState(state);
  for (const n of NODE_NAMES) {
    rmSync(files.consoleLog(n), { force: true });
    if (!nodes.includes(n)) {
      rmSync(files.disk(n, 'vda'), { force: true });
      rmSync(files.disk(n, 'vdb'), { force: true });
    }
  }
  const lab = new LabImpl(repoRoot, stateDir, files, state);
  for (const n of nodes) {
    makeDisks(files, n, state.diskSize, true);
    writeGuestFiles(files, repoRoot, state, n, process.execPath);
  }
  const t0 = Date.now();
  await Promise.all(nodes.map((n) => startQemu(files, state, n)));
  log(`qemu started for ${nodes.join(', ')}; waiting for the guests`);
  try {
    await withTimeout(
      Promise.all(nodes.map((n) => lab.waitReady(n, opts.timeoutMs ?? BOOT_TIMEOUT))),
      (opts.timeoutMs ?? BOOT_TIMEOUT) + 5000,
      'the guests did not answer in time',
    );
  } catch (e) {
    throw new Error(`${(e as Error).message} (console logs: ${files.runDir}/NODE.console.log)`);
  }
  log(`${nodes.length} nodes answer after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (state.loadBsr && existsSync(lab.bsrModulePath())) {
    await Promise.all(nodes.map((n) => lab.loadModule(n)));
    log('bsr.ko loaded');
  }
  return lab;
}
