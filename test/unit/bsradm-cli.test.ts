// Runs the built bsradm (dist/bsradm.cjs) with recording stand-ins for bsrsetup and bsrmeta.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REFERENCE_UP } from './reference-up';

const ROOT = join(__dirname, '../..');
const BUNDLE = join(ROOT, 'dist/bsradm.cjs');
const FIXTURES = join(ROOT, 'test/fixtures/config');
const EXAMPLES = join(ROOT, 'conf-examples');

let work: string;
let record: string;

/**
 * A stand-in tool: logs its name and arguments (with the options bsrsetup --options-on-stdin
 * reads from stdin in the place of that option), fails when an argument equals $BSR_TEST_FAIL
 * (exit code $BSR_TEST_FAIL_CODE, default 7), hangs when one equals $BSR_TEST_HANG.
 */
function recorder(name: string): string {
  const path = join(work, name);
  writeFileSync(
    path,
    `#!/bin/sh
case " $* " in
  *" --options-on-stdin "*)
    line="${name}"
    for arg in "$@"; do
      [ "$arg" = --options-on-stdin ] && arg=$(tr '\\0' ' ' | sed 's/ $//')
      line="$line $arg"
    done
    echo "$line" >> "$BSR_TEST_RECORD" ;;
  *) echo "${name} $*" >> "$BSR_TEST_RECORD" ;;
esac
case " $* " in *" create-md"*) read answer; echo "answer=$answer" >> "$BSR_TEST_RECORD";; esac
for arg in "$@"; do [ "$arg" = "$BSR_TEST_FAIL" ] && exit "\${BSR_TEST_FAIL_CODE:-7}"; done
for arg in "$@"; do [ "$arg" = "$BSR_TEST_HANG" ] && exec sleep 60; done
exit 0
`,
  );
  chmodSync(path, 0o755);
  return path;
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  ran: string[];
}

function bsradm(args: string[], env: Record<string, string> = {}, input = ''): Run {
  const result = spawnSync(
    process.execPath,
    [BUNDLE, '-s', join(work, 'bsrsetup'), '-m', join(work, 'bsrmeta'), ...args],
    {
      encoding: 'utf8',
      input,
      // A hang must fail the test, not block the run (spawnSync also blocks vitest's own timeout).
      timeout: 15000,
      env: {
        ...process.env,
        __BSR_NODE__: 'alice',
        BSR_TEST_RECORD: record,
        BSR_TEST_FAIL: '',
        BSR_TEST_HANG: '',
        BSR_LOG_FILE: join(work, 'bsradm.log'),
        ...env,
      },
    },
  );
  const ran = existsSync(record) ? readFileSync(record, 'utf8').trim().split('\n') : [];
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, ran };
}

const workDirs: string[] = [];
afterAll(() => {
  for (const dir of workDirs) rmSync(dir, { recursive: true, force: true });
});

function fresh(): void {
  work = mkdtempSync(join(tmpdir(), 'bsradm-test-'));
  workDirs.push(work);
  record = join(work, 'record.txt');
  recorder('bsrsetup');
  recorder('bsrmeta');
}

const REFERENCE = join(FIXTURES, 'reference-up.conf');

describe('bsradm (built)', () => {
  it('config error: FILE:LINE: message on stderr, exit 10, nothing run', () => {
    fresh();
    const broken = join(work, 'broken.conf');
    writeFileSync(broken, `${readFileSync(REFERENCE, 'utf8')}\nresource r1 {\n  net {\n    ping-int 0;\n  }\n}\n`);
    const run = bsradm(['-c', broken, 'up', 'r0']);
    expect(run.status).toBe(10);
    expect(run.stderr).toBe(`${broken}:21: ping-int: 0 is out of range, allowed 1 .. 120 (s)\n`);
    expect(run.ran).toEqual([]);
    expect(existsSync(join(work, 'bsradm.log'))).toBe(false);
  });

  it('names and addresses the kernel would refuse are config errors at their line, nothing run', () => {
    const cases: [string, (text: string) => string, string][] = [
      [
        'resource "my res" {',
        (t) => t.replace('resource r0 {', 'resource "my res" {'),
        "resource name 'my res': no white space or '/' allowed",
      ],
      [
        `resource ${'r'.repeat(128)} {`,
        (t) => t.replace('resource r0 {', `resource ${'r'.repeat(128)} {`),
        `resource name '${'r'.repeat(128)}': longer than 127 characters (the kernel's limit)`,
      ],
      [
        `shared-secret ${'s'.repeat(64)};`,
        (t) => t.replace('shared-secret s3cret;', `shared-secret ${'s'.repeat(64)};`),
        "shared-secret: longer than 63 bytes (the kernel's limit)",
      ],
      [
        'on "bob smith" {',
        (t) => t.replace('on bob {', 'on "bob smith" {'),
        "host name 'bob smith': only letters, digits, '-', '_' and '.' allowed",
      ],
      [
        'address ipv6 [fd00::2]:7000;',
        (t) => t.replace('address ipv4 10.1.1.32:7000;', 'address ipv6 [fd00::2]:7000;'),
        'a path cannot join ipv4 10.1.1.31:7000 and ipv6 [fd00::2]:7000 (one address family on each path)',
      ],
    ];
    for (const [lineText, edit, message] of cases) {
      fresh();
      const conf = join(work, 'refused.conf');
      const text = edit(readFileSync(REFERENCE, 'utf8'));
      writeFileSync(conf, text);
      const line = text.split('\n').findIndex((l) => l.includes(lineText)) + 1;
      const run = bsradm(['-c', conf, 'up', 'all']);
      expect(run.stderr).toBe(`${conf}:${line}: ${message}\n`);
      expect(run.status).toBe(10);
      expect(run.ran).toEqual([]);
    }
  });

  it('a device that is not /dev/bsrN of its minor: sh-dev prints nothing, exit 10', () => {
    fresh();
    const conf = join(work, 'sda.conf');
    writeFileSync(conf, readFileSync(REFERENCE, 'utf8').replace(/device [^;]*;/, 'device /dev/sda minor 1;'));
    const line = readFileSync(conf, 'utf8').split('\n').indexOf('  device /dev/sda minor 1;') + 1;
    expect(line).toBeGreaterThan(0);
    const run = bsradm(['-c', conf, 'sh-dev', 'r0']);
    expect(run.status).toBe(10);
    expect(run.stdout).toBe('');
    expect(run.stderr).toBe(
      `${conf}:${line}: device /dev/sda does not match minor 1: write 'device /dev/bsr1 minor 1' or leave out either\n`,
    );
    expect(bsradm(['-c', conf, 'up', 'r0']).ran).toEqual([]);
  });

  it('unknown resource: exit 10, nothing run', () => {
    fresh();
    const run = bsradm(['-c', REFERENCE, 'up', 'r9']);
    expect(run.status).toBe(10);
    expect(run.stderr).toBe(`${REFERENCE}:1: resource 'r9' is not defined\n`);
    expect(run.ran).toEqual([]);
  });

  it('-d prints the reference up sequence and runs nothing', () => {
    fresh();
    const run = bsradm(['-c', REFERENCE, '-d', 'up', 'r0']);
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`${REFERENCE_UP.join('\n')}\n`);
    expect(run.ran).toEqual([]);
  });

  it('global options are also accepted after the command, and grouped', () => {
    fresh();
    expect(bsradm(['up', 'r0', '-c', REFERENCE, '-d']).stdout).toBe(`${REFERENCE_UP.join('\n')}\n`);
    expect(bsradm(['-dc', REFERENCE, 'up', 'r0']).stdout).toBe(`${REFERENCE_UP.join('\n')}\n`);
    expect(bsradm(['-d', `-c${REFERENCE}`, '--force', 'primary', 'r0']).stdout).toBe('bsrsetup primary r0 --force\n');
  });

  it('runs the steps in order with the chosen bsrsetup and bsrmeta, and logs them', () => {
    fresh();
    const run = bsradm(['-c', REFERENCE, 'up', 'r0']);
    expect(run.status).toBe(0);
    expect(run.ran).toEqual(REFERENCE_UP);
    const log = readFileSync(join(work, 'bsradm.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(log.map((entry) => entry.step)).toEqual(
      REFERENCE_UP.map((step) => step.replace('--shared-secret=s3cret', "'--shared-secret=***'")),
    );
  });

  it('logs are readable by root only and never show a shared secret', () => {
    fresh();
    const logDir = join(work, 'log-bsr');
    const logFile = join(logDir, 'bsradm.log');
    const run = bsradm(['-c', REFERENCE, 'up', 'r0'], { BSR_LOG_FILE: logFile });
    expect(run.status).toBe(0);
    expect(statSync(logDir).mode & 0o777).toBe(0o700);
    expect(statSync(logFile).mode & 0o777).toBe(0o600);
    const text = readFileSync(logFile, 'utf8');
    expect(text).toContain("'--shared-secret=***'");
    expect(text).not.toContain('s3cret');
    // A log file left wider open (by an older version, by hand) is closed again.
    chmodSync(logFile, 0o644);
    expect(bsradm(['-c', REFERENCE, 'down', 'r0'], { BSR_LOG_FILE: logFile }).status).toBe(0);
    expect(statSync(logFile).mode & 0o777).toBe(0o600);
  });

  it('a failing step is reported without its secret; -d prints the full command', () => {
    fresh();
    const run = bsradm(['-c', REFERENCE, 'up', 'r0'], { BSR_TEST_FAIL: 'new-peer' });
    expect(run.status).toBe(7);
    expect(run.stderr).toContain("--_name=bob '--shared-secret=***' --cram-hmac-alg=sha1");
    expect(run.stderr).not.toContain('s3cret');
    expect(readFileSync(join(work, 'bsradm.log'), 'utf8')).not.toContain('s3cret');
    expect(bsradm(['-c', REFERENCE, '-d', 'up', 'r0']).stdout).toContain('--shared-secret=s3cret');
  });

  it('runs the steps all the same when the log cannot be written', () => {
    fresh();
    const run = bsradm(['-c', REFERENCE, 'up', 'r0'], { BSR_LOG_FILE: '/proc/bsr-no-such-dir/bsradm.log' });
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.ran).toEqual(REFERENCE_UP);
  });

  it('stops at the first failing step and names it', () => {
    fresh();
    const run = bsradm(['-c', REFERENCE, 'up', 'r0'], { BSR_TEST_FAIL: 'attach' });
    expect(run.status).toBe(7);
    expect(run.stderr).toContain(
      'bsradm: step 6 of 7 failed (exit code 7): bsrsetup attach 1 /dev/sda7 /dev/sda7 internal',
    );
    expect(run.ran).toEqual(REFERENCE_UP.slice(0, 6));
  });

  it('up all goes on with the other resources after a failure and names each failed one', () => {
    fresh();
    const conf = join(EXAMPLES, 'bsr.conf');
    const run = bsradm(['-c', conf, 'up', 'all'], { __BSR_NODE__: 'bravo', BSR_TEST_FAIL: 'r0' });
    expect(run.status).toBe(7);
    expect(run.ran[0]).toBe('bsrsetup new-resource r0 1');
    expect(run.ran.slice(1)).toEqual(
      bsradm(['-c', conf, '-d', 'up', 'r1'], { __BSR_NODE__: 'bravo' }).stdout.trim().split('\n'),
    );
    expect(run.stderr).toBe(
      'bsradm: r0: step 1 of 7 failed (exit code 7): bsrsetup new-resource r0 1\nbsradm up: failed for 1 of 2 resources: r0\n',
    );
  });

  it('up all with no resource for this host says so, exit 10', () => {
    fresh();
    const run = bsradm(['-c', REFERENCE, 'up', 'all'], { __BSR_NODE__: 'zed' });
    expect(run.status).toBe(10);
    expect(run.stderr).toBe(`${REFERENCE}:1: no resource has a host section for 'zed' (on zed {})\n`);
    expect(run.ran).toEqual([]);
  });

  it('an unknown flag after the resource is refused before any step runs', () => {
    fresh();
    const run = bsradm(['-c', REFERENCE, 'up', 'r0', '--bogus']);
    expect(run.status).toBe(2);
    expect(run.stderr).toBe('bsradm up: bsrsetup connect r0 1 --bogus: unknown option --bogus\n');
    expect(run.ran).toEqual([]);
    const dry = bsradm(['-c', REFERENCE, '-d', 'primary', 'r0', '--forse']);
    expect(dry.status).toBe(2);
    expect(dry.stdout).toBe('');
    expect(dry.stderr).toBe('bsradm primary: bsrsetup primary r0 --forse: unknown option --forse\n');
  });

  it('--help after the resource prints the usage and runs nothing', () => {
    fresh();
    const run = bsradm(['-c', REFERENCE, 'up', 'r0', '--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('Usage: bsradm up [options] [resources...]');
    expect(run.ran).toEqual([]);
  });

  it('a stuck step ends at its cmd-timeout with a message naming the step', () => {
    fresh();
    const conf = join(work, 'timeouts.conf');
    writeFileSync(conf, `global { cmd-timeout-short 1; cmd-timeout-medium 2; }\n${readFileSync(REFERENCE, 'utf8')}`);
    const started = Date.now();
    const run = bsradm(['-c', conf, 'up', 'r0'], { BSR_TEST_HANG: 'new-minor' });
    expect(Date.now() - started).toBeLessThan(8000);
    expect(run.status).toBe(1);
    expect(run.stderr).toBe(
      'bsradm: step 2 of 7 failed (no answer within cmd-timeout-short, 1 s): bsrsetup new-minor r0 1 0\n',
    );
    expect(run.ran).toEqual(REFERENCE_UP.slice(0, 2));
    fresh();
    const primary = bsradm(['-c', conf, 'primary', 'r0'], { BSR_TEST_HANG: 'primary' });
    expect(primary.stderr).toBe(
      'bsradm: step 1 of 1 failed (no answer within cmd-timeout-medium, 2 s): bsrsetup primary r0\n',
    );
  });

  it('up refuses a host address that is not on this node, unless disable-ip-verification', () => {
    fresh();
    const conf = join(work, 'ip.conf');
    const reference = readFileSync(REFERENCE, 'utf8');
    const line = reference.split('\n').indexOf('    address ipv4 10.1.1.31:7000;') + 2;
    // The node's name from the config, not from __BSR_NODE__ (which pretends to be another node).
    writeFileSync(conf, `global { hostname alice; }\n${reference}`);
    const run = bsradm(['-c', conf, 'up', 'r0'], { __BSR_NODE__: '' });
    expect(run.stderr).toBe(
      `${conf}:${line}: r0: address 10.1.1.31 is not on any interface of this node (global { disable-ip-verification; } turns this check off)\n`,
    );
    expect(run.status).toBe(10);
    expect(run.ran).toEqual([]);
    writeFileSync(conf, `global { hostname alice; disable-ip-verification; }\n${reference}`);
    expect(bsradm(['-c', conf, 'up', 'r0'], { __BSR_NODE__: '' }).ran).toEqual(REFERENCE_UP);
    fresh();
    writeFileSync(conf, `global { hostname alice; }\n${reference.replace('10.1.1.31', '127.0.0.1')}`);
    const local = bsradm(['-c', conf, 'up', 'r0'], { __BSR_NODE__: '' });
    expect(local.status).toBe(0);
    expect(local.ran).toContain('bsrsetup new-path r0 1 ipv4:127.0.0.1:7000 ipv4:10.1.1.32:7000');
  });

  it('create-md passes --force and stdin through to bsrmeta', () => {
    fresh();
    const run = bsradm(['-c', REFERENCE, 'create-md', 'r0', '--force', '--max-peers', '3'], {}, 'yes\n');
    expect(run.status).toBe(0);
    expect(run.ran).toEqual([
      'bsrmeta 1 v09 /dev/sda7 internal create-md --force --max-peers=3 --node-id=0',
      'answer=yes',
    ]);
  });

  it('options after -- go to the tool: `bsradm -- --force create-md r0` (drbdadm form)', () => {
    fresh();
    const run = bsradm(['-c', REFERENCE, '--', '--force', '--max-peers', '3', 'create-md', 'r0'], {}, 'no\n');
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.ran).toEqual([
      'bsrmeta 1 v09 /dev/sda7 internal create-md --force --max-peers=3 --node-id=0',
      'answer=no',
    ]);
  });

  it('primary --force --skip-check-fs: passed on to bsrsetup, which skips the file-system check', () => {
    fresh();
    const run = bsradm(['-c', REFERENCE, 'primary', '--force', '--skip-check-fs', 'r0']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.ran).toEqual(['bsrsetup primary r0 --force --skip-check-fs']);
  });

  it('tool options before the command are passed on: `bsradm --force primary r0` (drbdadm form)', () => {
    fresh();
    const run = bsradm(['-c', REFERENCE, '--force', 'primary', 'r0']);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.ran).toEqual(['bsrsetup primary r0 --force']);
    expect(bsradm(['--force', '-d', '-c', REFERENCE, 'primary', 'r0']).stdout).toBe('bsrsetup primary r0 --force\n');
  });

  it('-V, --version and /V print the version as KEY=VALUE lines', () => {
    fresh();
    const outputs = ['-V', '--version', '/V'].map((flag) => bsradm([flag]));
    for (const run of outputs) {
      expect(run.status).toBe(0);
      expect(run.stdout).toMatch(
        /^BSRADM_BUILDTAG=GIT-hash:\\ [0-9a-f]{40}\\ build\\ by\\ .+\nBSRADM_API_VERSION=2\nBSR_KERNEL_VERSION_CODE=0x[0-9a-f]{6}\nBSR_KERNEL_VERSION=\d+\.\d+\.\d+\nBSRADM_VERSION_CODE=0x000100\nBSRADM_VERSION=0\.1\.0\n$/,
      );
    }
    expect(outputs[1].stdout).toBe(outputs[0].stdout);
    expect(outputs[2].stdout).toBe(outputs[0].stdout);
  });

  it('sh-resource takes a resource name, a minor or a device', () => {
    fresh();
    const conf = join(EXAMPLES, 'bsr.conf');
    const bravo = { __BSR_NODE__: 'bravo' };
    expect(bsradm(['-c', conf, 'sh-resource', 'r1'], bravo).stdout).toBe('r1\n');
    expect(bsradm(['-c', conf, 'sh-resource', '/dev/bsr1'], bravo).stdout).toBe('r1\n');
    expect(bsradm(['-c', conf, 'sh-resource', '0'], bravo).stdout).toBe('r0\n');
    const unknown = bsradm(['-c', conf, 'sh-resource', 'r9'], bravo);
    expect(unknown.status).toBe(10);
    expect(unknown.stdout).toBe('');
  });

  it('get-gi and show-gi read the meta data with bsrmeta when the resource is not up', () => {
    fresh();
    // bsrsetup answers 11 (the kernel has no such resource) or 20 (no module): bsrmeta reads the disk.
    for (const code of ['11', '20']) {
      fresh();
      const run = bsradm(['-c', REFERENCE, 'get-gi', 'r0'], { BSR_TEST_FAIL: 'r0', BSR_TEST_FAIL_CODE: code });
      expect(run.status).toBe(0);
      expect(run.ran).toEqual(['bsrsetup get-gi r0 1 0', 'bsrmeta 1 v09 /dev/sda7 internal get-gi --node-id=1']);
    }
    fresh();
    expect(bsradm(['-c', REFERENCE, 'show-gi', 'r0']).ran).toEqual(['bsrsetup show-gi r0 1 0']);
    // Any other failure is reported, not covered up by the disk's older view.
    fresh();
    const failed = bsradm(['-c', REFERENCE, 'show-gi', 'r0'], { BSR_TEST_FAIL: 'r0', BSR_TEST_FAIL_CODE: '2' });
    expect(failed.status).toBe(2);
    expect(failed.ran).toEqual(['bsrsetup show-gi r0 1 0']);
    expect(bsradm(['-c', REFERENCE, '-d', 'show-gi', 'r0']).stdout).toBe(
      'bsrsetup show-gi r0 1 0 || bsrmeta 1 v09 /dev/sda7 internal show-gi --node-id=1\n',
    );
  });

  it('forget-peer needs -P and then takes the node-id of a peer no longer configured', () => {
    fresh();
    const refused = bsradm(['-c', REFERENCE, 'forget-peer', 'r0']);
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('name the peer with -P');
    expect(refused.ran).toEqual([]);
    expect(bsradm(['-c', REFERENCE, '-P', '7', 'forget-peer', 'r0']).ran).toEqual(['bsrsetup forget-peer r0 7']);
  });

  it('status and events2 go straight to bsrsetup', () => {
    fresh();
    bsradm(['-c', REFERENCE, 'status', 'r0', '--json']);
    const run = bsradm(['events2', 'all', '--now', '--timestamps']);
    expect(run.ran).toEqual(['bsrsetup status r0 --json', 'bsrsetup events2 all --now --timestamps']);
  });

  it('adjust reads the running state from BSR_FAKE_SHOW and runs only the difference', () => {
    fresh();
    const show = join(work, 'show.txt');
    writeFileSync(show, readFileSync(REFERENCE, 'utf8').replace('protocol C;', 'protocol A;'));
    const run = bsradm(['-c', REFERENCE, 'adjust', 'r0'], { BSR_FAKE_SHOW: show });
    expect(run.status).toBe(0);
    expect(run.ran).toEqual(['bsrsetup net-options r0 1 --protocol=C']);
  });

  it('dump output is accepted again as a config file, and --json as a JSON config', () => {
    fresh();
    const dumped = join(work, 'dumped.conf');
    writeFileSync(dumped, bsradm(['-c', join(EXAMPLES, 'bsr.conf'), 'dump', 'all']).stdout);
    const json = join(work, 'dumped.json');
    writeFileSync(json, bsradm(['-c', dumped, 'dump', '--json']).stdout);
    const fromText = bsradm(['-c', dumped, '-d', 'up', 'r1'], { __BSR_NODE__: 'bravo' });
    const fromJson = bsradm(['-c', json, '-d', 'up', 'r1'], { __BSR_NODE__: 'bravo' });
    const original = bsradm(['-c', join(EXAMPLES, 'bsr.conf'), '-d', 'up', 'r1'], { __BSR_NODE__: 'bravo' });
    expect(original.stdout.split('\n').length).toBeGreaterThan(10);
    expect(fromText.stdout).toBe(original.stdout);
    expect(fromJson.stdout).toBe(original.stdout);
  });

  it('sh-* helpers print one value a line', () => {
    fresh();
    const conf = join(EXAMPLES, 'bsr.conf');
    const bravo = { __BSR_NODE__: 'bravo' };
    expect(bsradm(['-c', conf, 'sh-resources'], bravo).stdout).toBe('r0\nr1\n');
    expect(bsradm(['-c', conf, 'sh-dev', 'r1'], bravo).stdout).toBe('/dev/bsr1\n');
    expect(bsradm(['-c', conf, 'sh-ll-dev', 'r0'], bravo).stdout).toBe('/dev/vdb\n');
    expect(bsradm(['-c', conf, 'sh-md-idx', 'r0'], bravo).stdout).toBe('internal\n');
    expect(bsradm(['-c', conf, 'sh-peer-node-id', 'r1'], bravo).stdout).toBe('0\n2\n');
    expect(bsradm(['-c', conf, 'sh-ip', 'r0'], bravo).stdout).toBe('10.99.1.2\n');
    expect(bsradm(['-c', conf, 'sh-resource', '1'], bravo).stdout).toBe('r1\n');
    expect(bsradm(['-c', conf, 'sh-node-option', '-n', 'svc_auto_up', 'r0'], bravo).stdout).toBe('yes\n');
  });
});

describe('bsradm config input that is not a plain text file', () => {
  const reference = () => readFileSync(REFERENCE, 'utf8');

  it('a NUL byte is a config error at its line, nothing run', () => {
    fresh();
    const conf = join(work, 'nul.conf');
    writeFileSync(conf, `${reference()}resource x\0 {}\n`);
    const run = bsradm(['-c', conf, 'up', 'r0']);
    expect(run.status).toBe(10);
    expect(run.stderr).toBe(`${conf}:18: a NUL byte: this is not a text file\n`);
    expect(run.ran).toEqual([]);
  });

  it('a UTF-8 byte order mark (Windows editors) and CRLF line ends are read as text', () => {
    fresh();
    const conf = join(work, 'windows.conf');
    writeFileSync(conf, `\ufeff${reference().replace(/\n/g, '\r\n')}`);
    const run = bsradm(['-c', conf, '-d', 'up', 'r0']);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(`${REFERENCE_UP.join('\n')}\n`);
  });

  it('-c - reads the configuration from stdin', () => {
    fresh();
    const run = bsradm(['-c', '-', '-d', 'up', 'r0'], {}, reference());
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(`${REFERENCE_UP.join('\n')}\n`);
  });

  it('a 50 MB or endless input is refused at the 16 MiB limit', () => {
    fresh();
    const huge = join(work, 'huge.conf');
    writeFileSync(huge, `${'#'.repeat(99)}\n`.repeat(500000));
    for (const file of [huge, '/dev/zero']) {
      const run = bsradm(['-c', file, '-d', 'up', 'r0']);
      expect(run.status).toBe(10);
      expect(run.stderr).toBe(`${file}:0: larger than 16 MiB, the limit for a configuration: refused\n`);
      expect(run.stdout).toBe('');
    }
  });
});

describe('bsradm output that cannot be written', () => {
  /** A config whose dump (~1.5 MB) outgrows any pipe buffer. */
  function bigConfig(): string {
    const conf = join(work, 'big.conf');
    const resources = Array.from(
      { length: 3000 },
      (_, i) =>
        `resource r${i} { device minor ${i}; disk /dev/sdb${i}; meta-disk internal;` +
        ` on alice { address 10.0.${i >> 8}.${i & 255}:7000; } on bob { address 10.1.${i >> 8}.${i & 255}:7000; } }`,
    );
    writeFileSync(conf, `${resources.join('\n')}\n`);
    return conf;
  }

  it('a reader that goes away (EPIPE) ends bsradm quietly with 141, as SIGPIPE would', () => {
    fresh();
    const run = spawnSync(
      'bash',
      [
        '-c',
        `"$0" "$1" -c "$2" dump all | head -c 10 >/dev/null; echo "\${PIPESTATUS[0]}"`,
        process.execPath,
        BUNDLE,
        bigConfig(),
      ],
      {
        encoding: 'utf8',
        env: { ...process.env, __BSR_NODE__: 'alice' },
      },
    );
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('141\n');
  });

  it('a full disk (ENOSPC) is one line on stderr and exit 1, no stack trace', () => {
    fresh();
    const run = spawnSync(
      'bash',
      ['-c', '"$0" "$1" -c "$2" dump all > /dev/full', process.execPath, BUNDLE, bigConfig()],
      {
        encoding: 'utf8',
        env: { ...process.env, __BSR_NODE__: 'alice' },
      },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toBe('cannot write the output: ENOSPC: no space left on device, write\n');
  });
});

describe('bsradm handlers (what the kernel runs)', () => {
  function handlerConf(handlers: string): string {
    const conf = join(work, 'handlers.conf');
    const common = 'common {\n  handlers {\n    after-resync-target "echo common-handler";\n  }\n}\n';
    // a function: a replacement string would turn the handlers' `$$` into `$`
    const resource = readFileSync(REFERENCE, 'utf8').replace(
      'protocol C;',
      () => `protocol C;\n  handlers {\n${handlers}\n  }`,
    );
    writeFileSync(conf, common + resource);
    return conf;
  }

  it('split-brain runs the configured command with /bin/sh -c and the kernel environment', () => {
    fresh();
    const marker = join(work, 'marker');
    const conf = handlerConf(`    split-brain "echo \\"$BSR_RESOURCE peer=$BSR_PEER_NODE_ID\\" > ${marker}; exit 3";`);
    const run = bsradm(['-c', conf, 'split-brain', 'r0'], { BSR_RESOURCE: 'r0', BSR_PEER_NODE_ID: '1' });
    expect(run.status).toBe(3);
    expect(readFileSync(marker, 'utf8')).toBe('r0 peer=1\n');
    expect(run.ran).toEqual([]);
  });

  it('sets BSR_RESOURCE when the caller did not, and passes stdout through', () => {
    fresh();
    const conf = handlerConf('    out-of-sync "echo res=$BSR_RESOURCE";');
    const run = bsradm(['-c', conf, 'out-of-sync', 'r0'], { BSR_RESOURCE: '' });
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('res=\n');
    const unset = spawnSync(process.execPath, [BUNDLE, '-c', conf, 'out-of-sync', 'r0'], {
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', __BSR_NODE__: 'alice', BSR_LOG_FILE: join(work, 'log') },
    });
    expect(unset.status).toBe(0);
    expect(unset.stdout).toBe('res=r0\n');
  });

  it('inherits handlers from common and exits 0 when none is configured', () => {
    fresh();
    const conf = handlerConf('    fence-peer "exit 1";');
    expect(bsradm(['-c', conf, 'after-resync-target', 'r0']).stdout).toBe('common-handler\n');
    const none = bsradm(['-c', conf, 'split-brain', 'r0']);
    expect(none.status).toBe(0);
    expect(none.stdout).toBe('');
    expect(bsradm(['-c', conf, 'fence-peer', 'r0']).status).toBe(1);
  });

  it('a handler killed by a signal gives 128 + the signal number', () => {
    fresh();
    const conf = handlerConf('    out-of-sync "kill -TERM $$";');
    expect(bsradm(['-c', conf, 'out-of-sync', 'r0']).status).toBe(128 + 15);
  });

  it('a handler bsr.ko does not run is refused at its line, not kept and forgotten', () => {
    fresh();
    const conf = handlerConf('    local-io-error "halt -f";');
    const r = bsradm(['-c', conf, 'local-io-error', 'r0']);
    expect(r.status).toBe(10);
    expect(r.stderr).toMatch(
      /:\d+: local-io-error: bsr\.ko does not run this handler yet \(it runs pri-lost-after-sb, pri-lost, split-brain, fence-peer, unfence-peer, before-resync-target, after-resync-target, before-resync-source, out-of-sync\)/,
    );
  });

  it('-d prints the command; an unknown resource is a config error', () => {
    fresh();
    const conf = handlerConf('    split-brain "echo hi";');
    const dry = bsradm(['-c', conf, '-d', 'split-brain', 'r0']);
    expect(dry.stdout).toBe('/bin/sh -c "echo hi"\n');
    const unknown = bsradm(['-c', conf, 'split-brain', 'r9']);
    expect(unknown.status).toBe(10);
    expect(unknown.stderr).toBe(`${conf}:1: resource 'r9' is not defined\n`);
  });
});

describe('bsradm persist-role (the kernel decides from its meta data, bsr.service asks it)', () => {
  function persistConf(persist: 'yes' | 'no'): string {
    const conf = join(work, 'persist.conf');
    const text = readFileSync(REFERENCE, 'utf8').replace(
      'protocol C;',
      `protocol C;\n  options { persist-role ${persist}; }`,
    );
    writeFileSync(conf, text);
    return conf;
  }

  it('the option reaches the kernel with the resource options of up and resource-options', () => {
    fresh();
    const conf = persistConf('yes');
    expect(bsradm(['-c', conf, '-d', 'up', 'r0']).stdout).toMatch(/^bsrsetup new-resource r0 \d+ --persist-role=yes$/m);
    expect(bsradm(['-c', conf, '-d', 'resource-options', 'r0']).stdout).toMatch(
      /^bsrsetup resource-options r0 .*--persist-role=yes/m,
    );
  });

  it('apply-persist-role asks the kernel for each resource, whatever the config says', () => {
    fresh();
    const conf = persistConf('no');
    const run = bsradm(['-c', conf, 'apply-persist-role', 'r0']);
    expect(run.status).toBe(0);
    expect(run.ran).toEqual(['bsrsetup apply-persist-role r0']);
    expect(bsradm(['-c', conf, '-d', 'apply-persist-role']).stdout).toBe('bsrsetup apply-persist-role r0\n');
  });

  it('with persist-role yes, apply-persist-role waits for the peers first (wfc-timeout)', () => {
    fresh();
    const conf = persistConf('yes');
    const run = bsradm(['-c', conf, 'apply-persist-role', 'r0']);
    expect(run.status).toBe(0);
    expect(run.ran).toEqual(['bsrsetup wait-connect-resource r0', 'bsrsetup apply-persist-role r0']);
    writeFileSync(
      conf,
      readFileSync(conf, 'utf8').replace('protocol C;', 'protocol C;\n  startup { wfc-timeout 90; }'),
    );
    expect(bsradm(['-c', conf, '-d', 'apply-persist-role']).stdout).toBe(
      'bsrsetup wait-connect-resource r0 --wait-timeout=90\nbsrsetup apply-persist-role r0\n',
    );
  });

  it('primary and secondary run only their step: the role lives in the meta data', () => {
    fresh();
    const conf = persistConf('yes');
    expect(bsradm(['-c', conf, 'primary', 'r0']).ran).toEqual(['bsrsetup primary r0']);
    fresh();
    expect(bsradm(['-c', conf, 'secondary', 'r0']).ran).toEqual(['bsrsetup secondary r0']);
  });

  it('a refusal of the kernel fails apply-persist-role with its exit code', () => {
    fresh();
    const run = bsradm(['-c', persistConf('yes'), 'apply-persist-role', 'r0'], {
      BSR_TEST_FAIL: 'apply-persist-role',
      BSR_TEST_FAIL_CODE: '11',
    });
    expect(run.status).toBe(11);
    expect(run.stderr).toContain('bsrsetup apply-persist-role r0');
  });
});
