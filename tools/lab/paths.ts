// Where the lab keeps its things: the repository root, the state folder, the kernel version.

import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernelVersion } from '../../scripts/kernel-headers.mjs';

/** The repository root: BSR_REPO, else the nearest folder above this file (or the cwd) holding package.json and tools/lab. */
export function findRepoRoot(): string {
  if (process.env.BSR_REPO) return resolve(process.env.BSR_REPO);
  const starts = [dirname(fileURLToPath(import.meta.url)), process.cwd()];
  for (const start of starts) {
    let dir = start;
    for (;;) {
      if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'tools', 'lab'))) return dir;
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  throw new Error('cannot find the bsr repository root (set BSR_REPO)');
}

/** The lab state folder: BSR_LAB_DIR, else REPO/.lab. One running lab per state folder. */
export function labStateDir(repoRoot: string): string {
  const dir = process.env.BSR_LAB_DIR ? resolve(process.env.BSR_LAB_DIR) : join(repoRoot, '.lab');
  // The guests read the state folder through the host root share, where these are guest tmpfs.
  const hidden = GUEST_PRIVATE.find((p) => dir === p || dir.startsWith(`${p}/`));
  if (hidden)
    throw new Error(`the lab state folder ${dir} is under ${hidden}, which the guests do not share: choose another`);
  return dir;
}

/** Host folders the guests cover with their own tmpfs (so they cannot see the host's files there). */
export const GUEST_PRIVATE = [
  '/tmp',
  '/run',
  '/var/lib',
  '/var/log',
  '/var/tmp',
  '/var/cache',
  '/var/spool',
  '/dev',
  '/proc',
  '/sys',
];

/**
 * The guest kernel's version: the kernel the lab was asked for (`--kernel`, else $BSR_KERNEL,
 * else Debian 12's 6.1) among those whose headers are installed (the guest kernel must match
 * the headers bsr.ko is built against). See scripts/kernel-headers.mjs.
 */
export function hostHeadersKernelVersion(): string | undefined {
  return kernelVersion();
}

export interface KernelPaths {
  kver: string;
  /** The unpacked linux-image package. */
  root: string;
  vmlinuz: string;
  modules: string;
  initramfs: string;
}

/**
 * The guest kernel cache: BSR_LAB_CACHE, else REPO/.lab/kernel. Shared by every lab of the checkout
 * (also those with their own BSR_LAB_DIR), so the kernel is fetched once.
 */
export function kernelCacheDir(): string {
  return process.env.BSR_LAB_CACHE ? resolve(process.env.BSR_LAB_CACHE) : join(findRepoRoot(), '.lab', 'kernel');
}

export function kernelPaths(kver: string): KernelPaths {
  const cache = kernelCacheDir();
  const root = join(cache, kver);
  return {
    kver,
    root,
    vmlinuz: join(root, 'boot', `vmlinuz-${kver}`),
    modules: join(root, 'lib', 'modules', kver),
    initramfs: join(cache, `initramfs-${kver}.cpio`),
  };
}

/**
 * How lab scenarios and the bench run a CLI in a guest: `node DIST/NAME.cjs`, not bin/NAME. Under
 * TCG with the root on 9p, `#!/usr/bin/env` (PATH search, locale files) and the wrapper's extra
 * module cost about half a second of emulated CPU per call; the scenarios make hundreds of calls.
 * The wrappers themselves are run by test/unit/bin-wrappers.test.ts (and bsradm's scenario).
 */
export function guestCli(repoRoot: string, name: 'bsrsetup' | 'bsrmeta' | 'bsradm'): string {
  return `node ${repoRoot}/dist/${name}.cjs`;
}

/**
 * A guest shell command running the given tool command lines (`bsrsetup ARGS`, `bsrmeta ARGS`)
 * in one process, in order, stopping at the first that fails (tools/lab/guest/steps.ts).
 */
export function guestSteps(repoRoot: string, lines: string[]): string {
  return `node ${repoRoot}/dist/lab-steps.cjs <<'BSR_STEPS'\n${lines.join('\n')}\nBSR_STEPS`;
}

/** The guest command of the lab's state watcher (tools/lab/guest/monitor.ts), fed on its stdin. */
export function guestMonitor(repoRoot: string): string {
  return `exec node ${repoRoot}/dist/lab-monitor.cjs`;
}
