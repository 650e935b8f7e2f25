#!/usr/bin/env node
// Checks that package-lock.json is complete, so that `npm ci` installs from it on any machine
// without rewriting it: every dependency of package.json is locked, and every optional
// dependency of a locked package (esbuild's, biome's, rollup's binaries for each platform) has its
// own entry, whichever platform wrote the lock. Exits 1 naming what is missing.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where npm would find `name` from the package at `path`: nested first, then the top level. */
function resolves(packages, path, name) {
  for (let at = path; at; at = at.includes('/node_modules/') ? at.slice(0, at.lastIndexOf('/node_modules/')) : '') {
    if (packages[`${at}/node_modules/${name}`]) return true;
  }
  return packages[`node_modules/${name}`] !== undefined;
}

/** `PACKAGE -> DEPENDENCY` for each dependency the lock has no entry for. */
export function missingLockEntries(manifest, lock) {
  const packages = lock.packages ?? {};
  const missing = [];
  const root = packages[''] ?? {};
  for (const field of ['dependencies', 'devDependencies', 'optionalDependencies']) {
    for (const [name, range] of Object.entries(manifest[field] ?? {})) {
      if (root[field]?.[name] !== range) missing.push(`package.json ${field} ${name}@${range} (root entry differs)`);
      if (!resolves(packages, '', name)) missing.push(`package.json -> ${name}`);
    }
  }
  for (const [path, entry] of Object.entries(packages)) {
    if (path === '') continue;
    for (const field of ['dependencies', 'optionalDependencies']) {
      for (const name of Object.keys(entry[field] ?? {})) {
        if (!resolves(packages, path, name)) missing.push(`${path} -> ${name}`);
      }
    }
  }
  return missing;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..');
  const read = (f) => JSON.parse(readFileSync(join(root, f), 'utf8'));
  const missing = missingLockEntries(read('package.json'), read('package-lock.json'));
  if (missing.length > 0) {
    console.error(`package-lock.json is incomplete (npm ci would fail or npm install rewrite it):`);
    for (const m of missing) console.error(`  ${m}`);
    process.exit(1);
  }
}
