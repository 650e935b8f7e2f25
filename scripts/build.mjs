#!/usr/bin/env node
// Bundles each program into one self-contained file under dist/ (no module resolution at start):
// every src/cli/NAME.ts becomes dist/NAME.code.cjs, started by dist/NAME.cjs through
// src/launch/launch.cjs with a V8 code cache (dist/NAME.code.cache) written by one run of the
// program here; bin/NAME runs dist/NAME.cjs. The lab (test tooling, not the product) is bundled
// too, plainly: `npm run lab` runs dist/lab.mjs. The man pages and the bash completion are
// generated from the same command tables (scripts/gen-docs.mjs).
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, userInfo } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { generateDocs } from './gen-docs.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const programs = readdirSync(join(root, 'src/cli'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => ({ name: f.slice(0, -3), entry: `src/cli/${f}`, cacheRun: { args: ['--help'] } }));
// The lab's runner of several tool command lines in one guest process (test tooling), its cache
// filled by one `bsrsetup help` run through it.
programs.push({
  name: 'lab-steps',
  entry: 'tools/lab/guest/steps.ts',
  cacheRun: { args: [], input: 'bsrsetup help\n' },
});
// The lab's watcher of bsr state in a guest (test tooling); its cache run reads an empty stdin.
programs.push({ name: 'lab-monitor', entry: 'tools/lab/guest/monitor.ts', cacheRun: { args: [], input: '' } });
/**
 * commander loads node:child_process (and with it node:net and node:stream) at start for its
 * executable subcommands, which the programs never use: about a fifth of a CLI call's start-up
 * in an emulated guest. The bundle loads it on first use instead.
 */
const commanderChildProcessOnUse = {
  name: 'commander-child-process-on-use',
  setup(b) {
    b.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, (args) => {
      const eager = "const childProcess = require('node:child_process');";
      const text = readFileSync(args.path, 'utf8');
      if (!text.includes(eager)) throw new Error(`${args.path}: commander no longer has ${eager}`);
      const onUse =
        "let childProcessModule; const childProcess = { spawn: (...a) => (childProcessModule ??= require('node:child_process')).spawn(...a) };";
      return { contents: text.replace(eager, onUse), loader: 'js' };
    });
  },
};
const common = {
  bundle: true,
  platform: 'node',
  // Debian 12's nodejs is 18 (docs/packaging.md): the bundles must run on it.
  target: 'node18',
  minify: true,
  sourcemap: false,
  legalComments: 'none',
  // The native addon is loaded at run time from its build folder.
  external: ['*.node'],
  plugins: [commanderChildProcessOnUse],
  logLevel: 'warning',
};
/** `GIT-hash: HASH build by USER@HOST, DATE`, what `bsradm -V` prints as BSRADM_BUILDTAG. */
function buildTag() {
  const git = spawnSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' });
  const hash = git.status === 0 ? git.stdout.trim() : 'unknown';
  const date = new Date().toISOString().slice(0, 19).replace('T', ' ');
  return `GIT-hash: ${hash} build by ${userInfo().username}@${hostname()}, ${date}`;
}
const buildTagDefine = JSON.stringify(buildTag());
mkdirSync(dist, { recursive: true });
copyFileSync(join(root, 'src/launch/launch.cjs'), join(dist, 'launch.cjs'));
await Promise.all([
  ...programs.map(async ({ name, entry, cacheRun }) => {
    await build({
      ...common,
      entryPoints: [join(root, entry)],
      outfile: join(dist, `${name}.code.cjs`),
      format: 'cjs',
      define: { 'import.meta.url': '__bsrModuleUrl', __BSR_BUILDTAG__: buildTagDefine },
      banner: { js: "const __bsrModuleUrl=require('node:url').pathToFileURL(__filename).href;" },
    });
    writeFileSync(
      join(dist, `${name}.cjs`),
      `'use strict';\n// ${name}: see src/launch/launch.cjs\nrequire('./launch.cjs').launch(__dirname, '${name}');\n`,
    );
    rmSync(join(dist, `${name}.code.cache`), { force: true });
    // One run to fill the code cache (the usage text runs the whole command-line set-up).
    const r = spawnSync(process.execPath, [join(dist, `${name}.cjs`), ...cacheRun.args], {
      env: { ...process.env, BSR_WRITE_CODE_CACHE: '1' },
      input: cacheRun.input,
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`${name} failed while writing its code cache: ${r.stderr}`);
  }),
  build({
    ...common,
    entryPoints: [join(root, 'tools/lab/cli.ts')],
    outfile: join(dist, 'lab.mjs'),
    format: 'esm',
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
  }),
]);
await generateDocs();
