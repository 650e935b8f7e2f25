#!/usr/bin/env node
// `npm run build:kmod [-- --kernel SERIES|VERSION]`: checks that native/kmod/bsr_abi.h matches
// the ABI JSON, then builds bsr.ko with W=1 and fails on any compiler warning. The kernel: --kernel,
// else $BSR_KERNEL, else Debian 12's 6.1 (scripts/kernel-headers.mjs); KDIR=/path/to/headers
// overrides. The default kernel's module is built in native/kmod, another's in a copy of the
// sources in .build/kmod-VERSION, so both can exist side by side.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { headersDir, moduleBuildDir } from './kernel-headers.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const kmod = join(root, 'native/kmod');
const kernelAt = process.argv.indexOf('--kernel');
const kernel = kernelAt > 0 ? process.argv[kernelAt + 1] : undefined;

const check = spawnSync(process.execPath, [join(root, 'scripts/gen-abi.mjs'), '--check'], { stdio: 'inherit' });
if (check.status !== 0) process.exit(1);

const kdir = headersDir(kernel);
const buildDir = process.env.KDIR ? kmod : moduleBuildDir(root, basename(kdir).replace(/^linux-headers-/, ''));
if (buildDir !== kmod) {
  // timestamps kept: make rebuilds only what changed in native/kmod
  mkdirSync(buildDir, { recursive: true });
  for (const name of readdirSync(kmod).filter((n) => /^(Kbuild|Makefile|.*\.[ch])$/.test(n) && n !== 'bsr.mod.c'))
    cpSync(join(kmod, name), join(buildDir, name), { preserveTimestamps: true });
}
const r = spawnSync('make', ['-C', kdir, `M=${buildDir}`, 'W=1', 'modules'], { encoding: 'utf8' });
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
const ko = join(buildDir, 'bsr.ko');
if (!existsSync(ko)) {
  console.error('build-kmod: bsr.ko was not produced');
  process.exit(1);
}
console.log(`build-kmod: ${ko} (headers ${kdir})`);
