// The man pages and the bash completion generated from the command and option tables
// (src/docs, scripts/gen-docs.mjs): up to date, complete, rendered without warnings, working.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { optionName } from '../../src/commands/spec';
import { OPTIONS } from '../../src/config/options';
import { PROGRAM_SPECS } from '../../src/docs/man';
import { generatedDocs } from '../../src/docs/write';

const ROOT = join(__dirname, '../..');
const COMPLETION = join(ROOT, 'completion/bsr');
const REFERENCE = join(ROOT, 'test/fixtures/config/reference-up.conf');
const page = (name: string) => readFileSync(join(ROOT, 'man', name), 'utf8');
/** roff source as text: `\-` is a minus, font changes dropped. */
const plain = (roff: string) => roff.replace(/\\-/g, '-').replace(/\\f[BIR]/g, '');

describe('generated documents', () => {
  it('are up to date (run `npm run docs` after changing a table)', () => {
    for (const [path, text] of generatedDocs()) expect(readFileSync(join(ROOT, path), 'utf8'), path).toBe(text);
  });

  it('each program page names every command and every option of its table', () => {
    for (const program of PROGRAM_SPECS) {
      const text = plain(page(`${program.name}.8`));
      for (const option of program.options) expect(text, program.name).toContain(`\n${option.flags.split(' <')[0]}`);
      for (const command of program.commands) {
        expect(text, program.name).toMatch(new RegExp(`^\\.TP\\n${command.name}\\b`, 'm'));
        for (const option of [...(command.options ?? []), ...(command.checkedByRun ?? [])]) {
          expect(text, `${program.name} ${command.name}`).toContain(optionName(option));
        }
      }
    }
  });

  it('bsr.conf(5) names every option a config file may hold', () => {
    const text = plain(page('bsr.conf.5'));
    for (const def of OPTIONS.filter((d) => !d.notInConfig)) {
      expect(text).toMatch(new RegExp(`^\\.TP\\n${def.keyword}\\b`, 'm'));
    }
  });

  it('groff renders every page without a warning', () => {
    for (const name of ['bsradm.8', 'bsrsetup.8', 'bsrmeta.8', 'bsrcon.8', 'bsr.conf.5']) {
      const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', join(ROOT, 'man', name)], { encoding: 'utf8' });
      expect(r.error, 'groff is needed for this test').toBeUndefined();
      expect(r.stderr, name).toBe('');
      expect(r.status, name).toBe(0);
    }
  });
});

describe('bash completion', () => {
  let bin: string;
  beforeAll(() => {
    // `bsradm sh-resources` must be on the PATH, as the installed program is.
    bin = mkdtempSync(join(tmpdir(), 'bsr-completion-'));
    symlinkSync(join(ROOT, 'bin/bsradm'), join(bin, 'bsradm'));
  });
  afterAll(() => rmSync(bin, { recursive: true, force: true }));

  /** What bash offers for the last word of `words` (COMP_WORDS as bash sets it). */
  function complete(words: string[]): string[] {
    const script =
      'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); "_$1"; printf "%s\\n" "${COMPREPLY[@]}"';
    const r = spawnSync('bash', ['-c', script, 'bash', COMPLETION, ...words], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, __BSR_NODE__: 'alice' },
    });
    expect(r.stderr).toBe('');
    return r.stdout.split('\n').filter(Boolean);
  }

  it('is registered for the four programs', () => {
    const r = spawnSync('bash', ['-c', `source ${COMPLETION}; complete -p bsradm bsrsetup bsrmeta bsrcon`], {
      encoding: 'utf8',
    });
    expect(r.stdout.trim().split('\n')).toEqual([
      'complete -F _bsradm bsradm',
      'complete -F _bsrsetup bsrsetup',
      'complete -F _bsrmeta bsrmeta',
      'complete -F _bsrcon bsrcon',
    ]);
  });

  it('offers commands, then the options of the command', () => {
    expect(complete(['bsradm', 'pri'])).toEqual(['primary']);
    expect(complete(['bsradm', '-d', 'primary', '--'])).toEqual(['--force', '--skip-check-fs']);
    expect(complete(['bsradm', 'create-md', 'r0', '--max'])).toEqual(['--max-peers']);
    expect(complete(['bsrsetup', 'connect', 'r0', '1', '--prot'])).toEqual(['--protocol=']);
    expect(complete(['bsrmeta', '0', 'v09', '/dev/sdb', 'internal', 'wipe'])).toEqual(['wipe-md']);
    expect(complete(['bsrcon', '/set_fast_sync', ''])).toEqual(['0', '1']);
  });

  it('offers the values of an option after its =', () => {
    expect(complete(['bsrsetup', 'net-options', 'r0', '1', '--protocol='])).toEqual([
      '--protocol=A',
      '--protocol=B',
      '--protocol=C',
    ]);
  });

  it('offers the resources of the configuration given with -c', () => {
    expect(complete(['bsradm', '-c', REFERENCE, 'up', ''])).toEqual(['r0', 'all']);
    expect(complete(['bsradm', '-c', REFERENCE, 'cstate', 'r'])).toEqual(['r0']);
    // bsrsetup: a resource only where the command takes one (RES PEER_NODE_ID here)
    expect(complete(['bsrsetup', 'cstate', 'r0', ''])).toEqual([]);
  });
});
