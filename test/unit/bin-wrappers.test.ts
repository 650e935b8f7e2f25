// The installed entry points: bin/NAME runs dist/NAME.cjs, which starts the bundle
// dist/NAME.code.cjs with the V8 code cache the build wrote (src/launch/launch.cjs). The lab
// scenarios call dist/NAME.cjs directly, so this is where the wrappers themselves are run.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';
import { Script } from 'node:vm';
import { describe, expect, it } from 'vitest';

const ROOT = join(__dirname, '../..');
const PROGRAMS = ['bsradm', 'bsrsetup', 'bsrmeta', 'bsrcon'];

describe('bin wrappers', () => {
  for (const name of PROGRAMS) {
    it(`bin/${name} --help runs dist/${name}.cjs`, () => {
      const r = spawnSync(join(ROOT, 'bin', name), ['--help'], { encoding: 'utf8' });
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^usage: ${name}\\b`, 'im'));
      expect(r.stderr).toBe('');
    });
  }
});

describe('code cache', () => {
  for (const name of PROGRAMS) {
    it(`V8 takes dist/${name}.code.cache for the bundle`, () => {
      const code = readFileSync(join(ROOT, 'dist', `${name}.code.cjs`), 'utf8');
      const cachedData = readFileSync(join(ROOT, 'dist', `${name}.code.cache`));
      const script = new Script(Module.wrap(code), { filename: join(ROOT, 'dist', `${name}.code.cjs`), cachedData });
      expect(script.cachedDataRejected).toBe(false);
      // import() has no loader in a script compiled by the launcher: builtins are required
      expect(code).not.toMatch(/\bimport\(/);
    });
  }
});

describe('the lab steps runner (dist/lab-steps.cjs)', () => {
  const run = (input: string) =>
    spawnSync(process.execPath, [join(ROOT, 'dist', 'lab-steps.cjs')], { input, encoding: 'utf8' });

  it('runs each line as its program would, in order', () => {
    const r = run('bsrsetup help\nbsrmeta --help\n');
    expect(r.status).toBe(0);
    expect(r.stdout.match(/^usage: bsrsetup\b/gim)).toHaveLength(1);
    expect(r.stdout.indexOf('bsrmeta')).toBeGreaterThan(r.stdout.search(/^usage: bsrsetup\b/im));
  });

  it('stops at the first line that fails, with its exit code', () => {
    const r = run('bsrsetup no-such-command\nbsrsetup help\n');
    expect(r.status).toBe(spawnSync(join(ROOT, 'bin', 'bsrsetup'), ['no-such-command']).status);
    expect(r.status).not.toBe(0);
    expect(r.stdout).not.toMatch(/^usage: bsrsetup\b/im);
  });

  it('refuses a program it does not know', () => {
    const r = run('bsradm up r0\n');
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/not a program this runner knows: bsradm up r0/);
  });
});
