// Starting and stopping the qemu processes of a lab; the lab's persistent state (lab.json).
import { spawn } from 'node:child_process';
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { AGENT_PORTS } from './agent-client.js';
import { bootSettings, GUEST_INIT } from './guest.js';
import { markCachesFresh } from './host-cache.js';
import { type KernelPaths, kernelPaths } from './paths.js';
import { qmp } from './qmp.js';
import { addressOf, ifaceOf, linksOf, macOf, nicIdOf } from './topology.js';
import type { NodeName } from './types.js';
import { parseBytes, pidAlive, sleep } from './util.js';

/** Persistent description of the running lab (STATE/lab.json). */
export interface LabState {
  nodes: NodeName[];
  diskSize: string;
  kver: string;
  memoryMiB: number;
  /** Load native/kmod/bsr.ko at every boot when it exists (false for labs using the guest's DRBD 8.4). */
  loadBsr?: boolean;
  /** Links currently cut, as "a:b" with a < b in node order. */
  cut: string[];
  createdAt: string;
}

export class LabFiles {
  readonly runDir: string;
  readonly diskDir: string;
  constructor(readonly stateDir: string) {
    this.runDir = join(stateDir, 'run');
    this.diskDir = join(stateDir, 'disks');
  }
  get stateFile() {
    return join(this.stateDir, 'lab.json');
  }
  pidFile(n: NodeName) {
    return join(this.runDir, `${n}.pid`);
  }
  qmpSock(n: NodeName) {
    return join(this.runDir, `${n}.qmp.sock`);
  }
  agentSock(n: NodeName, k: number) {
    return join(this.runDir, `${n}.agent${k}.sock`);
  }
  agentLock(n: NodeName, k: number) {
    return join(this.runDir, `${n}.agent${k}.lock`);
  }
  /** The unix datagram socket on which `n` receives the frames of its link to `peer`. */
  linkSock(n: NodeName, peer: NodeName) {
    return join(this.runDir, `${n}.net-${peer}.sock`);
  }
  consoleLog(n: NodeName) {
    return join(this.runDir, `${n}.console.log`);
  }
  disk(n: NodeName, d: 'vda' | 'vdb') {
    return join(this.diskDir, `${n}.${d}.img`);
  }
  /** Files the host hands to the guests during a scenario (Lab.shareFile). */
  get shareDir() {
    return join(this.stateDir, 'share');
  }
  bootSettings(n: NodeName) {
    return join(this.stateDir, `${n}.boot.sh`);
  }

  readState(): LabState | undefined {
    try {
      return JSON.parse(readFileSync(this.stateFile, 'utf8')) as LabState;
    } catch {
      return undefined;
    }
  }
  writeState(s: LabState): void {
    writeFileSync(`${this.stateFile}.tmp`, `${JSON.stringify(s, null, 2)}\n`);
    copyFileSync(`${this.stateFile}.tmp`, this.stateFile);
    rmSync(`${this.stateFile}.tmp`, { force: true });
  }

  pid(n: NodeName): number | undefined {
    try {
      const pid = Number.parseInt(readFileSync(this.pidFile(n), 'utf8'), 10);
      return pidAlive(pid) && isQemu(pid) ? pid : undefined;
    } catch {
      return undefined;
    }
  }
  running(n: NodeName): boolean {
    return this.pid(n) !== undefined;
  }
}

function isQemu(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('qemu-system');
  } catch {
    return true;
  }
}

/** Creates (or, with `recreate`, empties) the two sparse disks of a node. */
export function makeDisks(f: LabFiles, n: NodeName, size: string, recreate: boolean): void {
  mkdirSync(f.diskDir, { recursive: true });
  const bytes = parseBytes(size);
  for (const d of ['vda', 'vdb'] as const) {
    const p = f.disk(n, d);
    if (recreate) rmSync(p, { force: true });
    if (!existsSync(p)) closeSync(openSync(p, 'w'));
    // Sparse: only the size is set; an existing disk keeps its contents.
    truncateSync(p, bytes);
  }
}

/** Writes the files the guests read at boot: the agent, the init script, the node's settings. */
export function writeGuestFiles(f: LabFiles, repoRoot: string, state: LabState, n: NodeName, nodeBin: string): void {
  mkdirSync(f.runDir, { recursive: true });
  copyFileSync(join(repoRoot, 'tools', 'lab', 'guest-agent.mjs'), join(f.stateDir, 'agent.mjs'));
  copyFileSync(join(repoRoot, 'tools', 'lab', 'agent-protocol.mjs'), join(f.stateDir, 'agent-protocol.mjs'));
  writeFileSync(join(f.stateDir, 'guest-init.sh'), GUEST_INIT);
  // a booting guest starts with empty caches
  markCachesFresh(f, n, repoRoot);
  const links = linksOf(state.nodes)
    .filter((l) => l.a === n || l.b === n)
    .map((l) => {
      const peer = l.a === n ? l.b : l.a;
      return {
        mac: macOf(n, peer),
        iface: ifaceOf(n, peer),
        address: addressOf(n, peer),
        peer,
        peerAddress: addressOf(peer, n),
      };
    });
  writeFileSync(
    f.bootSettings(n),
    bootSettings({ kver: state.kver, modules: kernelPaths(state.kver).modules, nodeBin, links }),
  );
}

export function qemuArgs(f: LabFiles, k: KernelPaths, state: LabState, n: NodeName): string[] {
  const args = [
    '-name',
    `bsr-lab-${n}`,
    // One vCPU, but maxcpus=2: qemu 7.2's TCG (Debian 12) emits the guest's memory barriers
    // only when more than one vCPU may run, yet its i/o threads complete virtio requests beside
    // the vCPU; without the barriers the guest and qemu can each miss the other's ring update
    // and a disk request waits forever (seen: 64 reads in flight, used ring 65 ahead of the
    // guest, no interrupt). qemu 8.1 always emits them.
    '-accel',
    'tcg,thread=multi',
    '-machine',
    'q35',
    '-cpu',
    // 4-level paging: fewer page-walk steps for the emulated MMU than the la57 of `max`.
    'max,la57=off',
    '-smp',
    '1,maxcpus=2',
    '-m',
    `${state.memoryMiB}M`,
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-no-reboot',
    '-kernel',
    k.vmlinuz,
    '-initrd',
    k.initramfs,
    // nowatchdog: an emulated CPU starved by a busy host would trip the soft-lockup detector
    // (a false "BUG: soft lockup"); the hung-task detector stays on.
    '-append',
    `console=ttyS0 loglevel=5 panic=-1 mitigations=off cryptomgr.notests audit=0 nowatchdog lab.node=${n} lab.state=${f.stateDir}`,
    '-chardev',
    `file,id=console,path=${f.consoleLog(n)},append=on`,
    '-serial',
    'chardev:console',
    '-qmp',
    `unix:${f.qmpSock(n)},server=on,wait=off`,
    '-virtfs',
    'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
  ];
  for (const d of ['vda', 'vdb'] as const) {
    args.push(
      '-drive',
      `file=${f.disk(n, d)},if=none,id=${d},format=raw,cache=none,aio=threads,discard=unmap`,
      '-device',
      `virtio-blk-pci,drive=${d},serial=${n}-${d}`,
    );
  }
  args.push('-device', 'virtio-serial-pci,id=vser');
  for (let k2 = 0; k2 < AGENT_PORTS; k2++) {
    args.push(
      '-chardev',
      `socket,id=agent${k2},path=${f.agentSock(n, k2)},server=on,wait=off`,
      '-device',
      `virtserialport,bus=vser.0,chardev=agent${k2},name=agent${k2}`,
    );
  }
  for (const l of linksOf(state.nodes)) {
    if (l.a !== n && l.b !== n) continue;
    const peer = l.a === n ? l.b : l.a;
    // Unix datagram sockets: no connection, so either side can reboot; a full receiver queue
    // blocks the sender (qemu queues the frame) instead of dropping it as UDP would.
    args.push(
      '-netdev',
      `dgram,id=net-${peer},local.type=unix,local.path=${f.linkSock(n, peer)},remote.type=unix,remote.path=${f.linkSock(peer, n)}`,
      '-device',
      `virtio-net-pci,netdev=net-${peer},id=${nicIdOf(peer)},mac=${macOf(n, peer)}`,
    );
  }
  args.push('-daemonize', '-pidfile', f.pidFile(n));
  return args;
}

/** Starts a node's qemu, detached. Resolves once qemu runs (not when the guest is up). */
export async function startQemu(f: LabFiles, state: LabState, n: NodeName): Promise<number> {
  if (f.running(n)) throw new Error(`${n} is already running`);
  const k = kernelPaths(state.kver);
  for (let k2 = 0; k2 < AGENT_PORTS; k2++) rmSync(f.agentLock(n, k2), { force: true });
  rmSync(f.pidFile(n), { force: true });
  for (const peer of state.nodes) if (peer !== n) rmSync(f.linkSock(n, peer), { force: true });
  const args = qemuArgs(f, k, state, n);
  const err = await new Promise<string>((resolve, reject) => {
    const child = spawn('qemu-system-x86_64', args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve(code === 0 ? '' : `qemu exited with ${code}: ${stderr.trim()}`));
  });
  if (err) throw new Error(`${n}: ${err}`);
  const pid = f.pid(n);
  if (!pid) throw new Error(`${n}: qemu did not stay up (see ${f.consoleLog(n)})`);
  // Links cut before this boot stay cut.
  for (const c of state.cut) {
    const [a, b] = c.split(':') as [NodeName, NodeName];
    if (a === n || b === n) await qmp(f.qmpSock(n), 'set_link', { name: nicIdOf(a === n ? b : a), up: false });
  }
  return pid;
}

/** Kills a node's qemu (SIGKILL) and waits until it is gone. */
export async function killQemu(f: LabFiles, n: NodeName): Promise<void> {
  const pid = f.pid(n);
  if (pid) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
    for (let i = 0; i < 100 && pidAlive(pid); i++) await sleep(50);
  }
  rmSync(f.pidFile(n), { force: true });
}
