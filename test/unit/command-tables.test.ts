// The command tables (src/commands): what each program's help, argument handling and pass-through
// options come from.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { BSRCON } from '../../src/cli/bsrcon';
import { BSRADM } from '../../src/commands/bsradm';
import { BSRMETA } from '../../src/commands/bsrmeta';
import { BSRSETUP } from '../../src/commands/bsrsetup';
import { addCommands, optionName } from '../../src/commands/spec';

const ROOT = join(__dirname, '../..');
const REFERENCE = join(ROOT, 'test/fixtures/config/reference-up.conf');
const PROGRAMS = [BSRADM, BSRSETUP, BSRMETA, BSRCON];

function run(program: string, args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, 'dist', `${program}.cjs`), ...args], {
    encoding: 'utf8',
    env: { ...process.env, __BSR_NODE__: 'alice' },
  });
}

describe('command tables', () => {
  it('name every command once', () => {
    for (const program of PROGRAMS) {
      const names = program.commands.map((c) => c.name);
      expect(new Set(names).size, program.name).toBe(names.length);
    }
  });

  it('build only the command asked for, all of them otherwise', () => {
    const one = new Command('bsradm');
    addCommands(one, BSRADM, 'primary');
    expect(one.commands.map((c) => c.name())).toEqual(['primary']);
    const all = new Command('bsradm');
    addCommands(all, BSRADM, undefined);
    expect(all.commands).toHaveLength(BSRADM.commands.length);
  });

  it('every command of bsradm and bsrsetup is in its --help', () => {
    for (const program of [BSRADM, BSRSETUP]) {
      const help = run(program.name, ['--help']);
      expect(help.status).toBe(0);
      for (const command of program.commands) expect(help.stdout).toMatch(new RegExp(`^  ${command.name}\\b`, 'm'));
    }
  });

  it("a command's help lists the options it passes on to bsrsetup or bsrmeta", () => {
    const primary = run('bsradm', ['primary', '--help']);
    expect(primary.stdout).toMatch(/^ {2}--force\b/m);
    expect(primary.stdout).toMatch(/^ {2}--skip-check-fs\b/m);
    const createMd = run('bsradm', ['create-md', '--help']);
    for (const option of BSRMETA.options) expect(createMd.stdout).toContain(optionName(option));
    const attach = run('bsrsetup', ['attach', '--help']);
    expect(attach.stdout).toMatch(/^ {2}--al-extents=<VALUE> +67 \.\. 65534, default 6001$/m);
  });

  it('bsradm takes every value option of the tools with its value as the next word', () => {
    const createMd = run('bsradm', ['-d', '-c', REFERENCE, 'create-md', 'r0', '--node-id', '1']);
    expect(createMd.stderr).toBe('');
    expect(createMd.stdout).toBe('bsrmeta 1 v09 /dev/sda7 internal create-md --node-id=1 --max-peers=1\n');
    const wait = run('bsradm', ['-d', '-c', REFERENCE, 'wait-connect', 'r0', '--wait-timeout', '5']);
    expect(wait.stdout).toBe('bsrsetup wait-connect-resource r0 --wait-timeout=5\n');
    const verify = run('bsradm', ['-d', '-c', REFERENCE, 'verify', 'r0', '--stop', '100']);
    expect(verify.stdout).toBe('bsrsetup verify r0 1 0 --stop=100\n');
  });
});
