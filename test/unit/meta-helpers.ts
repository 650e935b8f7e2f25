// Helpers for the bsrmeta CLI tests: build the CLI once, run it, make sparse files and loop devices.
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, fstatSync, mkdtempSync, openSync, readSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/**
 * The bundled CLIs under test. They are built the way `npm run build` builds dist/NAME.mjs, but into a
 * private folder: other people's builds rewrite dist/ at any moment in a shared checkout.
 */
const BUILD_DIR = mkdtempSync(join(tmpdir(), 'bsrmeta-cli-'));
export const CLI = join(BUILD_DIR, 'bsrmeta.mjs');
/** bsradm, built by `buildCli('bsradm')`, for tests that go through it to bsrmeta. */
export const BSRADM = join(BUILD_DIR, 'bsradm.mjs');

/** Bundles src/cli/NAME.ts (one entry, same settings as scripts/build.mjs) next to CLI. */
export async function buildCli(name: 'bsrmeta' | 'bsradm' = 'bsrmeta'): Promise<void> {
  await build({
    entryPoints: [join(ROOT, `src/cli/${name}.ts`)],
    outfile: join(BUILD_DIR, `${name}.mjs`),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
    logLevel: 'warning',
  });
}

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a bundled CLI; stdin is `input` (default: empty, i.e. immediate EOF). Asynchronous so that the
 * test worker stays responsive while a command runs.
 */
export function runCli(script: string, args: string[], input = '', env = process.env): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn('node', [script, ...args], { stdio: ['pipe', 'pipe', 'pipe'], env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      stdout += s;
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => {
      stderr += s;
    });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    child.stdin.end(input);
  });
}

export function bsrmeta(args: string[], input = ''): Promise<Run> {
  return runCli(CLI, args, input);
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'bsrmeta-test-'));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Reads bytes of a file or block device. */
export function readAt(path: string, pos: number, len: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(len);
    let done = 0;
    while (done < len) {
      const n = readSync(fd, buf, done, len - done, pos + done);
      if (n === 0) break;
      done += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** Size in bytes of a regular file or block device. */
export function sizeOf(path: string): number {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    if (!st.isBlockDevice()) return st.size;
  } finally {
    closeSync(fd);
  }
  const real = execFileSync('readlink', ['-f', path], { encoding: 'utf8' }).trim();
  return Number(execFileSync('cat', [`/sys/class/block/${basename(real)}/size`], { encoding: 'utf8' })) * 512;
}

/** A test device: a sparse file, or a loop device on one. */
export interface TestDev {
  path: string;
  /** The backing file. */
  file: string;
  /** Grows (or shrinks) the device to `bytes`. */
  resize(bytes: number): void;
  close(): void;
}

export function sparseFile(dir: string, name: string, bytes: number): TestDev {
  const file = join(dir, name);
  closeSync(openSync(file, 'w'));
  truncateSync(file, bytes);
  return { path: file, file, resize: (n) => truncateSync(file, n), close: () => {} };
}

/** Whether loop devices can be set up here (root, /dev/loop-control); the reason if not. */
export function loopUnavailable(): string | undefined {
  const dir = tempDir();
  try {
    const dev = loopDevice(dir, 'probe.img', 1 << 20);
    dev.close();
    return undefined;
  } catch (err) {
    return (err as Error).message.split('\n')[0];
  } finally {
    removeDir(dir);
  }
}

export function loopDevice(dir: string, name: string, bytes: number): TestDev {
  const backing = sparseFile(dir, name, bytes);
  const path = execFileSync('losetup', ['-f', '--show', backing.file], { encoding: 'utf8' }).trim();
  return {
    path,
    file: backing.file,
    resize: (n) => {
      truncateSync(backing.file, n);
      execFileSync('losetup', ['-c', path]);
    },
    close: () => {
      execFileSync('losetup', ['-d', path]);
    },
  };
}
