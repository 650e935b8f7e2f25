// Secrets never on a command line: bsradm hands bsrsetup the options the ABI marks sensitive
// (--shared-secret) on stdin (bsrsetup --options-on-stdin), since any user can read argv in `ps`.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRequest, MODIFY_COMMANDS, optionsFromInput, UsageError } from '../../src/netlink/commands';
import { REFERENCE_UP } from './reference-up';

const ROOT = join(__dirname, '../..');
const REFERENCE = join(ROOT, 'test/fixtures/config/reference-up.conf');
const newPeer = MODIFY_COMMANDS.find((c) => c.name === 'new-peer');
if (!newPeer) throw new Error('no new-peer command');

let work: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'bsr-secrets-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('bsrsetup --options-on-stdin', () => {
  it('takes NUL-ended --name=value options as if given on the command line', () => {
    const input = '--shared-secret=s3 cret\0--cram-hmac-alg=sha1\0';
    const fromInput = buildRequest(newPeer, ['r0', '1', '--_name=bob', ...optionsFromInput(input)]);
    const given = buildRequest(newPeer, ['r0', '1', '--_name=bob', '--shared-secret=s3 cret', '--cram-hmac-alg=sha1']);
    expect(fromInput).toEqual(given);
    expect(fromInput.attrs?.NET_CONF?.['shared-secret']).toBe('s3 cret');
  });

  it('refuses an input that is not NUL-ended options', () => {
    expect(() => optionsFromInput('--shared-secret=x')).toThrow(UsageError);
    expect(() => optionsFromInput('r1\0')).toThrow(/'r1' is not an option/);
  });

  it('is checked before anything is sent, and a runaway input is refused', () => {
    const bsrsetup = (input: string) =>
      spawnSync(process.execPath, [join(ROOT, 'dist/bsrsetup.cjs'), 'new-peer', 'r0', '1', '--options-on-stdin'], {
        input,
        encoding: 'utf8',
      });
    const unknown = bsrsetup('--no-such-option=1\0');
    expect(unknown.stderr).toBe('bsrsetup: new-peer: unknown option --no-such-option\n');
    expect(unknown.status).toBe(2);
    const huge = bsrsetup(`--shared-secret=${'x'.repeat(100 * 1024)}\0`);
    expect(huge.stderr).toBe('bsrsetup: new-peer: --options-on-stdin: more than 65536 bytes\n');
    expect(huge.status).toBe(2);
  });
});

describe('bsradm', () => {
  it('runs bsrsetup without the shared secret on its command line; -d still shows it', () => {
    const record = join(work, 'record.txt');
    const tool = join(work, 'bsrsetup');
    // Records the command line, and stdin where bsrsetup would read options from it.
    writeFileSync(
      tool,
      `#!/bin/sh
echo "bsrsetup $*" >> "${record}"
case " $* " in *" --options-on-stdin "*) printf 'stdin: ' >> "${record}"; tr '\\0' '|' >> "${record}"; echo >> "${record}";; esac
exit 0
`,
    );
    chmodSync(tool, 0o755);
    const run = spawnSync(
      process.execPath,
      [join(ROOT, 'dist/bsradm.cjs'), '-s', tool, '-m', tool, '-c', REFERENCE, 'up', 'r0'],
      {
        encoding: 'utf8',
        env: { ...process.env, __BSR_NODE__: 'alice', BSR_LOG_FILE: join(work, 'bsradm.log') },
      },
    );
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const lines = readFileSync(record, 'utf8').trim().split('\n');
    expect(lines.filter((line) => !line.startsWith('stdin: ')).join('\n')).not.toContain('s3cret');
    const at = lines.indexOf('bsrsetup new-peer r0 1 --_name=bob --options-on-stdin --cram-hmac-alg=sha1 --protocol=C');
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toBe('stdin: --shared-secret=s3cret|');
    const dryRun = spawnSync(process.execPath, [join(ROOT, 'dist/bsradm.cjs'), '-d', '-c', REFERENCE, 'up', 'r0'], {
      encoding: 'utf8',
      env: { ...process.env, __BSR_NODE__: 'alice' },
    });
    expect(dryRun.stdout.trim().split('\n')).toEqual(REFERENCE_UP);
  });
});
