#!/usr/bin/env node
// `npm run build:kmod`: checks that native/kmod/bsr_abi.h matches the ABI JSON, then builds
// bsr.ko against the installed kernel headers with W=1 and fails on any compiler warning.
// KDIR=/path/to/headers overrides the headers; otherwise the newest /usr/src/linux-headers-*-amd64.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { headersDir } from './kernel-headers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kmod = join(root, 'native/kmod');

const check = spawnSync(process.execPath, [join(root, 'scripts/gen-abi.mjs'), '--check'], { stdio: 'inherit' });
if (check.status !== 0) process.exit(1);

const kdir = headersDir();
const r = spawnSync('make', ['-C', kdir, `M=${kmod}`, 'W=1', 'modules'], { encoding: 'utf8' });
process.stdout.write(r.stdout ?? '');
process.stderr.write(r.stderr ?? '');
if (r.status !== 0) {
  console.error(`build-kmod: make failed (${r.status})`);
  process.exit(1);
}
const warnings = (r.stderr ?? '').split('\n').filter((l) => /warning:/.test(l));
if (warnings.length) {
  console.error(`build-kmod: ${warnings.length} compiler warning(s) at W=1`);
  process.exit(1);
}
const ko = join(kmod, 'bsr.ko');
if (!existsSync(ko)) {
  console.error('build-kmod: bsr.ko was not produced');
  process.exit(1);
}
console.log(`build-kmod: ${ko} (headers ${kdir})`);
