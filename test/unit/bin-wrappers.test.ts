// The installed entry points: bin/NAME runs the bundle dist/NAME.mjs (the lab scenarios call the
// bundles directly, so this is where the wrappers themselves are run).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '../..');

describe('bin wrappers', () => {
  for (const name of ['bsradm', 'bsrsetup', 'bsrmeta', 'bsrcon']) {
    it(`bin/${name} --help runs dist/${name}.mjs`, () => {
      const r = spawnSync(join(ROOT, 'bin', name), ['--help'], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: ${name}\\b`, 'im'));
    });
  }
});
