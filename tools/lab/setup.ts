// `lab setup`: Debian packages, the guest kernel matching the installed headers, the initramfs.
// Idempotent: every step is skipped when its result is already there.
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compareVersions, DEFAULT_KERNEL_SERIES, kernelSeries } from '../../scripts/kernel-headers.mjs';
import { hostHeadersKernelVersion, type KernelPaths, kernelPaths } from './paths.js';
import { runHost, runHostSync } from './util.js';

/** Debian packages the lab uses on the host (and, through the 9p root share, in the guests). */
export const LAB_PACKAGES = [
  'qemu-system-x86',
  'busybox-static',
  'cpio',
  'kmod',
  'linux-headers-amd64',
  'fio',
  'drbd-utils',
  'dmsetup',
  'iproute2',
  'iputils-ping',
  'e2fsprogs',
  'xfsprogs',
];

/** Modules the initramfs loads (with their dependencies, in dependency order) before the root is mounted. */
const INITRAMFS_MODULES = ['virtio_pci', 'virtio_blk', 'virtio_net', 'virtio_console', '9pnet_virtio', '9p', 'overlay'];

/**
 * The initramfs /init: loads the virtio and 9p modules, mounts the host root read-only on /newroot and
 * runs the guest init script of the lab state folder (STATE/guest-init.sh, written by `up`), which does
 * the rest (writable folders, network, hostname, agent). Then it stays as PID 1 reaping orphans.
 */
const INIT_SCRIPT = `#!/bin/busybox sh
/bin/busybox mkdir -p /proc /sys /dev /newroot /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1
for m in $(cat /modules/order); do insmod /modules/$m.ko || echo "lab-init: insmod $m failed"; done
LAB_NODE=
LAB_STATE=
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    lab.node=*) LAB_NODE="\${arg#lab.node=}" ;;
    lab.state=*) LAB_STATE="\${arg#lab.state=}" ;;
  esac
done
# cache=loose: the guest keeps what it read of the host (programs, libraries, node, the bundles) in
# its page cache; with cache=mmap every exec and file read crossed 9p again (/bin/true ~250 ms).
# The lab writes the files a guest reads before it boots them; a kept lab drops its caches
# before loading a module and between scenarios.
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /newroot; then
  echo "lab-init: cannot mount the host root"
fi
if [ -f "/newroot$LAB_STATE/guest-init.sh" ]; then
  . "/newroot$LAB_STATE/guest-init.sh"
else
  echo "lab-init: /newroot$LAB_STATE/guest-init.sh missing"
fi
while :; do wait; sleep 5; done
`;

/** Version of the initramfs recipe: a change rebuilds it. */
function initramfsStamp(modules: string[]): string {
  return createHash('sha256').update(INIT_SCRIPT).update(modules.join(',')).digest('hex').slice(0, 16);
}

function dpkgInstalled(pkg: string): boolean {
  const r = runHostSync('dpkg-query', ['-W', `-f=${'$'}{Status}`, pkg]);
  return r.code === 0 && r.stdout.includes('install ok installed');
}

export interface SetupOptions {
  log?: (msg: string) => void;
}

/** Installs missing packages (apt-get). */
export async function ensurePackages(log: (m: string) => void): Promise<void> {
  const missing = LAB_PACKAGES.filter((p) => !dpkgInstalled(p));
  if (missing.length === 0) return;
  log(`installing Debian packages: ${missing.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await runHost('apt-get', ['update', '-qq'], { env });
  await runHost('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], { env });
}

/** A module's name from its path in modules.dep or modules.builtin (compressed or not). */
const moduleNameOf = (p: string) =>
  p
    .split('/')
    .at(-1)
    ?.replace(/\.ko(\.xz|\.zst|\.gz)?$/, '')
    .replace(/-/g, '_') ?? p;

/** Reads modules.dep of an unpacked kernel: module name -> { path, deps (names) }. */
function readModulesDep(modulesDir: string): Map<string, { path: string; deps: string[] }> {
  const map = new Map<string, { path: string; deps: string[] }>();
  for (const line of readFileSync(join(modulesDir, 'modules.dep'), 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const path = line.slice(0, colon);
    const deps = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .filter(Boolean)
      .map(moduleNameOf);
    map.set(moduleNameOf(path), { path, deps });
  }
  return map;
}

/** Names of the modules built into the kernel (6.12 has virtio_pci built in, 6.1 a module). */
function readModulesBuiltin(modulesDir: string): Set<string> {
  const file = join(modulesDir, 'modules.builtin');
  if (!existsSync(file)) return new Set();
  return new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean).map(moduleNameOf));
}

/** Module names in load order (dependencies first) for the given modules; built-in ones are left out. */
export function moduleLoadOrder(modulesDir: string, wanted: readonly string[]): { name: string; path: string }[] {
  const dep = readModulesDep(modulesDir);
  const builtin = readModulesBuiltin(modulesDir);
  const out: { name: string; path: string }[] = [];
  const seen = new Set<string>();
  const visit = (raw: string) => {
    const name = raw.replace(/-/g, '_');
    if (seen.has(name)) return;
    seen.add(name);
    if (builtin.has(name)) return;
    const e = dep.get(name);
    if (!e) throw new Error(`module ${name} not found in ${modulesDir}/modules.dep`);
    for (const d of e.deps) visit(d);
    out.push({ name, path: join(modulesDir, e.path) });
  };
  for (const w of wanted) visit(w);
  return out;
}

/** Fetches and unpacks linux-image-KVER (apt-get download + dpkg-deb -x), then depmod. */
async function ensureKernel(k: KernelPaths, log: (m: string) => void): Promise<void> {
  if (existsSync(k.vmlinuz) && existsSync(join(k.modules, 'modules.dep'))) return;
  const dl = join(k.root, '..', `download-${k.kver}`);
  rmSync(dl, { recursive: true, force: true });
  mkdirSync(dl, { recursive: true });
  log(`downloading linux-image-${k.kver}`);
  await runHost('apt-get', ['download', `linux-image-${k.kver}`], { cwd: dl });
  const deb = readdirSync(dl).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download linux-image-${k.kver} produced no .deb`);
  rmSync(k.root, { recursive: true, force: true });
  mkdirSync(k.root, { recursive: true });
  log(`unpacking ${deb}`);
  await runHost('dpkg-deb', ['-x', join(dl, deb), k.root]);
  await runHost('depmod', ['-b', k.root, k.kver]);
  rmSync(dl, { recursive: true, force: true });
}

/** Copies a module, uncompressed: busybox's insmod in the initramfs reads plain .ko files only. */
async function copyModule(from: string, to: string): Promise<void> {
  const unpack = { '.xz': 'xz', '.zst': 'zstd', '.gz': 'gzip' }[/\.(xz|zst|gz)$/.exec(from)?.[0] ?? ''];
  if (!unpack) {
    copyFileSync(from, to);
    return;
  }
  await runHost('sh', ['-c', `${unpack} -dc "$1" > "$2"`, 'sh', from, to]);
}

async function ensureInitramfs(k: KernelPaths, log: (m: string) => void): Promise<void> {
  const order = moduleLoadOrder(k.modules, INITRAMFS_MODULES);
  const stamp = initramfsStamp(order.map((m) => m.name));
  const stampFile = `${k.initramfs}.stamp`;
  if (existsSync(k.initramfs) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp) return;
  log('building the initramfs');
  const stage = `${k.initramfs}.${process.pid}.d`;
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(join(stage, 'bin'), { recursive: true });
  mkdirSync(join(stage, 'modules'), { recursive: true });
  const busybox = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
  if (!busybox) throw new Error('busybox not found (apt-get install busybox-static)');
  copyFileSync(busybox, join(stage, 'bin', 'busybox'));
  for (const m of order) await copyModule(m.path, join(stage, 'modules', `${m.name}.ko`));
  writeFileSync(join(stage, 'modules', 'order'), `${order.map((m) => m.name).join('\n')}\n`);
  writeFileSync(join(stage, 'init'), INIT_SCRIPT, { mode: 0o755 });
  await runHost('sh', [
    '-c',
    `cd "$1" && find . | cpio -o -H newc --quiet > "$2"`,
    'sh',
    stage,
    `${k.initramfs}.${process.pid}.tmp`,
  ]);
  await runHost('mv', [`${k.initramfs}.${process.pid}.tmp`, k.initramfs]);
  writeFileSync(stampFile, stamp);
  rmSync(stage, { recursive: true, force: true });
}

/**
 * Installs the newest Debian headers of the requested kernel series ($BSR_KERNEL, e.g. 6.12:
 * linux-headers-6.12.N+deb12-amd64); the default series comes with linux-headers-amd64.
 */
async function installHeaders(log: (m: string) => void): Promise<void> {
  const series = kernelSeries(process.env.BSR_KERNEL || DEFAULT_KERNEL_SERIES);
  const pattern = `^linux-headers-${series.replace('.', '\\.')}\\.[0-9][^ ]*-amd64$`;
  const found = runHostSync('apt-cache', ['search', '--names-only', pattern])
    .stdout.split('\n')
    .map((l) => /^linux-headers-(\S+)-amd64 /.exec(l)?.[1])
    .filter((v): v is string => v !== undefined && !/cloud|rt$/.test(v))
    .sort(compareVersions);
  const newest = found.at(-1);
  if (!newest) throw new Error(`no linux-headers-${series}.*-amd64 in the Debian archive (apt-cache search)`);
  log(`installing linux-headers-${newest}-amd64`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  await runHost('apt-get', ['install', '-y', '-qq', '--no-install-recommends', `linux-headers-${newest}-amd64`], {
    env,
  });
}

/** Everything `up` needs; returns the kernel paths. */
export async function setup(stateDir: string, opts: SetupOptions = {}): Promise<KernelPaths> {
  const log = opts.log ?? (() => {});
  mkdirSync(stateDir, { recursive: true });
  await ensurePackages(log);
  if (!hostHeadersKernelVersion()) await installHeaders(log);
  const kver = hostHeadersKernelVersion();
  if (!kver) throw new Error('no kernel headers in /usr/src for the requested kernel');
  const k = kernelPaths(kver);
  await ensureKernel(k, log);
  await ensureInitramfs(k, log);
  return k;
}

/** True when setup has nothing left to do (cheap check used by `up`). */
export function setupDone(): boolean {
  const kver = hostHeadersKernelVersion();
  if (!kver) return false;
  const k = kernelPaths(kver);
  if (!existsSync(k.vmlinuz) || !existsSync(`${k.initramfs}.stamp`)) return false;
  try {
    const order = moduleLoadOrder(k.modules, INITRAMFS_MODULES);
    return readFileSync(`${k.initramfs}.stamp`, 'utf8') === initramfsStamp(order.map((m) => m.name));
  } catch {
    return false;
  }
}
