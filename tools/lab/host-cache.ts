// The guests cache what they read of the host root (9p cache=loose): a file rebuilt on the host
// after a guest read it may be seen stale there. Dropping the guest's caches costs the next CLI
// call seconds (node and the bundles are read and translated again), so the lab records, per
// node, the state of the host files the guests run when its caches were last empty, and drops
// them only when one of those files changed since.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeName } from './types.js';
import type { LabFiles } from './vm.js';

/** Folders (of the checkout) whose files the guests run: the module, the bundles, the addon, scripts. */
const GUEST_RUN_DIRS = ['native/kmod', 'dist', 'native/addon/build/Release', 'test/lab/scripts', 'bin'];

/** The same folders and the module built for a non-default kernel (.build/kmod-VERSION). */
function guestRunDirs(repoRoot: string): string[] {
  let built: string[] = [];
  try {
    built = readdirSync(join(repoRoot, '.build')).filter((n) => n.startsWith('kmod-'));
  } catch {
    // nothing built for another kernel
  }
  return [...GUEST_RUN_DIRS, ...built.sort().map((n) => `.build/${n}`)];
}

/** Size and modification time of every file the guests run, as one string. */
export function hostFilesStamp(repoRoot: string): string {
  const parts: string[] = [];
  for (const dir of guestRunDirs(repoRoot)) {
    let names: string[];
    try {
      names = readdirSync(join(repoRoot, dir)).sort();
    } catch {
      continue;
    }
    for (const name of names) {
      if ((dir === 'native/kmod' || dir.startsWith('.build/')) && !name.endsWith('.ko')) continue;
      const st = statSync(join(repoRoot, dir, name), { throwIfNoEntry: false });
      if (st?.isFile()) parts.push(`${dir}/${name}:${st.size}:${st.mtimeMs}`);
    }
  }
  return parts.join('\n');
}

function stampFile(f: LabFiles, n: NodeName): string {
  return join(f.runDir, `${n}.cache-stamp`);
}

/** Records that node n's caches hold nothing older than the host files as they are now. */
export function markCachesFresh(f: LabFiles, n: NodeName, repoRoot: string): void {
  writeFileSync(stampFile(f, n), hostFilesStamp(repoRoot));
}

/** Whether a host file the guests run changed since node n's caches were last empty. */
export function cachesStale(f: LabFiles, n: NodeName, repoRoot: string): boolean {
  try {
    return readFileSync(stampFile(f, n), 'utf8') !== hostFilesStamp(repoRoot);
  } catch {
    return true;
  }
}
