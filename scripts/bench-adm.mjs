#!/usr/bin/env node
// Prints (does not assert) bsradm's costs:
//  1. whole-process time of `bsradm -c conf-examples/bsr.conf -d up r0` against bare `node -e 0`
//     (median; hyperfine when installed, else spawnSync loops). Target: within 1.6x of node -e 0.
//  2. parse+plan time of a generated 500-resource config, in process (median). Target: < 300 ms.
// Run `npm run build` first.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(fileURLToPath(import.meta.url), '../..');
const bundle = join(root, 'dist/bsradm.cjs');
if (!existsSync(bundle)) {
  console.error('dist/bsradm.cjs missing: run npm run build');
  process.exit(1);
}
const work = mkdtempSync(join(tmpdir(), 'bench-adm-'));
const env = { ...process.env, __BSR_NODE__: 'alpha' };

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function hasHyperfine() {
  return spawnSync('hyperfine', ['--version'], { stdio: 'ignore' }).status === 0;
}

/**
 * Median wall time in ms of each command line (arrays of argv) and, with hyperfine, the mean CPU
 * time (user + system), which a busy machine distorts less than the wall time.
 */
function wallTimes(commands, runs) {
  if (hasHyperfine()) {
    const out = join(work, 'hyperfine.json');
    const args = ['-N', '--warmup', '3', '--runs', String(runs), '--export-json', out];
    const result = spawnSync('hyperfine', [...args, ...commands.map((c) => c.join(' '))], {
      env,
      cwd: root,
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    if (result.status === 0) {
      return JSON.parse(readFileSync(out, 'utf8')).results.map((r) => ({
        wall: median(r.times) * 1000,
        cpu: (r.user + r.system) * 1000,
      }));
    }
  }
  return commands.map(([file, ...args]) => {
    const times = [];
    for (let i = 0; i < runs + 3; i++) {
      const start = process.hrtime.bigint();
      spawnSync(file, args, { env, cwd: root, stdio: 'ignore' });
      if (i >= 3) times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    return { wall: median(times) };
  });
}

function describeRun(label, run, base) {
  const cpu = run.cpu === undefined ? '' : `, cpu ${run.cpu.toFixed(1)} ms`;
  if (!base) return `${label}: median ${run.wall.toFixed(1)} ms${cpu}`;
  const cpuRatio = base.cpu && run.cpu ? `, cpu ${(run.cpu / base.cpu).toFixed(2)}x` : '';
  const ratio = ` (${(run.wall / base.wall).toFixed(2)}x node -e 0${cpuRatio}; target <= 1.6x)`;
  return `${label}: median ${run.wall.toFixed(1)} ms${cpu}${ratio}`;
}

function generateConfig(count) {
  const parts = [
    'common {\n  net { protocol C; max-epoch-size 20000; }\n  disk { resync-rate 100M; al-extents 3389; }\n}\n',
  ];
  for (let i = 0; i < count; i++) {
    parts.push(`resource r${i} {
  device /dev/bsr${i} minor ${i};
  disk /dev/vg/lv${i};
  meta-disk internal;
  net { ko-count 7; }
  on alpha { address 10.99.1.1:${7000 + i}; node-id 0; }
  on bravo { address 10.99.1.2:${7000 + i}; node-id 1; }
}
`);
  }
  return parts.join('');
}

const runs = Number(process.env.BENCH_RUNS ?? 30);
const example = join(root, 'conf-examples/bsr.conf');
const [bare, adm] = wallTimes(
  [
    ['node', '-e', '0'],
    ['node', bundle, '-c', example, '-d', 'up', 'r0'],
  ],
  runs,
);
console.log(describeRun('startup: node -e 0', bare));
console.log(describeRun('startup: bsradm -d up r0', adm, bare));

// Parse + plan in process, through the same sources the CLI bundles.
const big = join(work, 'big.conf');
writeFileSync(big, generateConfig(500));
const entry = join(work, 'entry.ts');
writeFileSync(
  entry,
  `export { loadConfig } from ${JSON.stringify(join(root, 'src/config/index.ts'))};
export { selectResources } from ${JSON.stringify(join(root, 'src/config/local.ts'))};
export { makeTarget, planCommand } from ${JSON.stringify(join(root, 'src/planner/commands.ts'))};
export { formatStep } from ${JSON.stringify(join(root, 'src/planner/steps.ts'))};
`,
);
const libFile = join(work, 'lib.mjs');
await build({
  entryPoints: [entry],
  outfile: libFile,
  bundle: true,
  platform: 'node',
  format: 'esm',
  logLevel: 'error',
});
const lib = await import(pathToFileURL(libFile).href);
const planTimes = [];
const planCpu = [];
let stepCount = 0;
for (let i = 0; i < 15; i++) {
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const config = lib.loadConfig(big);
  const targets = lib.selectResources(config, ['all'], 'alpha').map((r) => lib.makeTarget(r));
  const steps = lib.planCommand('up', targets).map(lib.formatStep);
  planTimes.push(performance.now() - start);
  const cpu = process.cpuUsage(cpuStart);
  planCpu.push((cpu.user + cpu.system) / 1000);
  stepCount = steps.length;
}
console.log(
  `parse+plan: 500 resources, ${stepCount} steps: median ${median(planTimes.slice(3)).toFixed(1)} ms ` +
    `(cpu ${median(planCpu.slice(3)).toFixed(1)} ms); first, cold run ${planTimes[0].toFixed(1)} ms ` +
    `(cpu ${planCpu[0].toFixed(1)} ms) (target < 300 ms)`,
);
const [whole] = wallTimes([['node', bundle, '-c', big, '-d', 'up', 'all']], Math.min(runs, 10));
console.log(describeRun('whole process: bsradm -d up all on 500 resources', whole));
rmSync(work, { recursive: true, force: true });
