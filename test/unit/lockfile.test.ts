import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain ES module script without types
import { missingLockEntries } from '../../scripts/check-lock.mjs';

const root = join(__dirname, '../..');
const read = (f: string) => JSON.parse(readFileSync(join(root, f), 'utf8'));

describe('package-lock.json (npm ci on a fresh machine)', () => {
  it('locks every dependency and every platform binary of every package', () => {
    expect(missingLockEntries(read('package.json'), read('package-lock.json'))).toEqual([]);
  });

  it('names a platform binary that has no entry (what npm install then adds)', () => {
    const lock = read('package-lock.json');
    const [path] = Object.keys(lock.packages).filter((p) => p.startsWith('node_modules/@esbuild/'));
    delete lock.packages[path];
    expect(missingLockEntries(read('package.json'), lock)).toEqual([`node_modules/esbuild -> ${path.slice(13)}`]);
  });

  it('names a package.json dependency the lock does not have', () => {
    const manifest = read('package.json');
    manifest.dependencies.leftpad = '^1.0.0';
    expect(missingLockEntries(manifest, read('package-lock.json'))).toContain('package.json -> leftpad');
  });
});
