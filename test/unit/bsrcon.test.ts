import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { bsrcon } from '../../src/cli/bsrcon.js';
import { CliError, EXIT } from '../../src/common/errors.js';

let root: string;
let dir: string;
const run = (...argv: string[]) => {
  let text = '';
  const code = bsrcon(argv, (t) => {
    text += t;
  });
  return { code, text };
};
const file = (name: string) => readFileSync(join(dir, name), 'utf8');

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'bsrcon-'));
  dir = join(root, 'bsr.d'); // bsrcon creates it on the first write
  process.env.BSR_ETC_DIR = dir;
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  delete process.env.BSR_ETC_DIR;
});

describe('bsrcon', () => {
  it('FastSync: off until set, stored as 0/1 in .use_fast_sync', () => {
    expect(run('/get_fast_sync').text).toBe('fast sync is disabled (0)\n');
    expect(run('/set_fast_sync', '1')).toEqual({ code: EXIT.OK, text: 'fast sync enabled\n' });
    expect(file('.use_fast_sync')).toBe('1\n');
    expect(run('/get_fast_sync').text).toBe('fast sync is enabled (1)\n');
    run('/set_fast_sync', '0');
    expect(run('/get_fast_sync').text).toBe('fast sync is disabled (0)\n');
  });

  it('handler use in .handler_use', () => {
    expect(run('/get_handler_info').text).toBe('handler use is disabled (0)\n');
    run('/handler_use', '1');
    expect(file('.handler_use')).toBe('1\n');
    expect(run('/get_handler_info').text).toBe('handler use is enabled (1)\n');
  });

  it('log levels by number or name, kept per log in .log_level', () => {
    run('/minlog_lv', 'sys', '4');
    run('/minlog_lv', 'dbg', 'debug');
    expect(file('.log_level')).toBe('sys=4\ndbg=7\n');
    run('/maxlogfile_cnt', '20');
    expect(file('.maxlogfile_cnt')).toBe('20\n');
    expect(run('/get_log_info').text).toBe(
      'sys log level: 4 (warning)\ndbg log level: 7 (debug)\nmax log file count: 20\n',
    );
  });

  it('defaults when nothing was set', () => {
    expect(run('/get_log_info').text).toBe('sys log level: 3 (err)\ndbg log level: 6 (info)\nmax log file count: 10\n');
  });

  it('rejects bad arguments with exit 2 and Windows-only commands as unsupported', () => {
    const fails = (argv: string[], why: RegExp) => {
      try {
        run(...argv);
      } catch (e) {
        expect(e).toBeInstanceOf(CliError);
        expect((e as CliError).exitCode).toBe(EXIT.USAGE);
        expect((e as CliError).message).toMatch(why);
        return;
      }
      throw new Error(`${argv.join(' ')} did not fail`);
    };
    fails(['/set_fast_sync', '2'], /usage: \/set_fast_sync 0\|1/);
    fails(['/minlog_lv', 'sys', '9'], /log level must be/);
    fails(['/minlog_lv', 'kern', '3'], /usage: \/minlog_lv/);
    fails(['/maxlogfile_cnt', '0'], /1\.\.1000/);
    fails(['/frob'], /unknown command/);
    for (const cmd of ['/nodelayedack', '/release_vol', '/get_volume_size', '/dismount', '/status', '/info', '/md5'])
      fails([cmd, 'x'], /not supported on Linux/);
  });
});
