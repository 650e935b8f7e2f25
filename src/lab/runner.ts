// The lab scenario runner: `node dist/lab.mjs test [FILTER]`.
// Discovers test/lab/*.lab.ts, bundles each with esbuild into STATE/scenarios/, boots a fresh lab
// for each (same node count and disk size as asked), runs it under its time limit, then fails it
// when a guest kernel log shows a BUG, Oops, WARNING, general protection fault or hung task.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { labDown, labUp } from './lab.js';
import { labStateDir } from './paths.js';
import type { Scenario } from './scenario.js';
import { setup, setupDone } from './setup.js';
import type { NodeName } from './types.js';
import { withTimeout } from './util.js';
import { LabFiles } from './vm.js';

/** Kernel log lines that fail a scenario. */
export const KERNEL_TROUBLE = /BUG:|Oops|WARNING:|general protection fault|hung_task/;

export interface RunOptions {
  repoRoot: string;
  filter?: string;
  /** Leave the last lab running. */
  keep: boolean;
  /** Scenarios run at the same time, each in its own lab (default BSR_LAB_JOBS or 1). */
  jobs?: number;
  /** Where scenario files are (default REPO/test/lab). */
  dir?: string;
  out?: (line: string) => void;
}

export interface ScenarioResult {
  file: string;
  name: string;
  ok: boolean;
  seconds: number;
  error?: string;
}

type EsbuildApi = { build: (o: Record<string, unknown>) => Promise<unknown> };

/** esbuild is loaded from the repository's node_modules at run time (it cannot be bundled). */
async function loadEsbuild(repoRoot: string): Promise<EsbuildApi> {
  const req = createRequire(join(repoRoot, 'package.json'));
  const path = req.resolve('esbuild');
  return (await import(pathToFileURL(path).href)) as EsbuildApi;
}

async function bundleScenario(esbuild: EsbuildApi, file: string, outDir: string): Promise<string> {
  const out = join(outDir, `${basename(file, '.ts')}.${Date.now()}.mjs`);
  await esbuild.build({
    entryPoints: [file],
    outfile: out,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: 'inline',
    logLevel: 'error',
    external: ['*.node'],
    banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
  });
  return out;
}

/** Kernel trouble lines in every guest's dmesg and in the console logs (which also cover crashed boots). */
async function kernelTrouble(
  lab: { nodes: readonly NodeName[]; dmesg(n: NodeName): Promise<string> },
  files: LabFiles,
): Promise<string[]> {
  const found: string[] = [];
  for (const n of lab.nodes) {
    const texts: string[] = [];
    if (files.running(n)) {
      try {
        texts.push(await withTimeout(lab.dmesg(n), 30_000, 'dmesg timed out'));
      } catch (e) {
        found.push(`${n}: cannot read dmesg: ${(e as Error).message}`);
      }
    }
    try {
      texts.push(readFileSync(files.consoleLog(n), 'utf8'));
    } catch {}
    const seen = new Set<string>();
    for (const t of texts) {
      for (const line of t.split('\n')) {
        if (!KERNEL_TROUBLE.test(line)) continue;
        const key = line.replace(/^\[\s*[\d.]+\]\s*/, '').trim();
        if (seen.has(key)) continue;
        seen.add(key);
        found.push(`${n}: ${line.trim()}`);
      }
    }
  }
  return found;
}

interface Loaded {
  file: string;
  name: string;
  scenario?: Scenario;
  loadError?: string;
}

/** Bundles and imports every scenario file; keeps those matching the filter (by file or name). */
async function loadScenarios(dir: string, bundleDir: string, repoRoot: string, filter?: string): Promise<Loaded[]> {
  const scenarioFiles = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.lab.ts'))
        .sort()
        .map((f) => join(dir, f))
    : [];
  const esbuild = scenarioFiles.length ? await loadEsbuild(repoRoot) : undefined;
  const loaded: Loaded[] = [];
  for (const file of scenarioFiles) {
    const fileMatches = !filter || basename(file).includes(filter);
    try {
      if (!esbuild) throw new Error('esbuild missing');
      const bundle = await bundleScenario(esbuild, file, bundleDir);
      const mod = (await import(pathToFileURL(bundle).href)) as { default?: Scenario };
      const scenario = mod.default;
      if (!scenario || typeof scenario.run !== 'function') throw new Error('no default-exported Scenario');
      const name = scenario.name || basename(file, '.lab.ts');
      if (fileMatches || (filter && name.includes(filter))) loaded.push({ file, name, scenario });
    } catch (e) {
      if (fileMatches) loaded.push({ file, name: basename(file, '.lab.ts'), loadError: (e as Error).message });
    }
  }
  return loaded;
}

/** Boots a fresh lab in `stateDir`, runs one scenario under its time limit, checks the kernel logs. */
async function runOne(s: Scenario, name: string, repoRoot: string, stateDir: string): Promise<string | undefined> {
  const files = new LabFiles(stateDir);
  let error: string | undefined;
  const log = (m: string) => process.stderr.write(`[${name}] ${m}\n`);
  try {
    log(`booting ${s.nodes} nodes (${s.diskSize ?? '512M'} disks)`);
    const lab = await labUp(
      { nodes: s.nodes, diskSize: s.diskSize ?? '512M', loadBsr: s.bsrModule ?? true, stateDir },
      repoRoot,
    );
    lab.logger = log;
    const limit = (s.timeoutSec ?? 300) * 1000;
    try {
      await withTimeout(s.run(lab), limit, `timed out after ${s.timeoutSec ?? 300} s`);
    } catch (e) {
      error = (e as Error).stack ?? String(e);
    }
    const trouble = await kernelTrouble(lab, files);
    if (trouble.length) {
      const msg = `kernel log trouble:\n  ${trouble.slice(0, 20).join('\n  ')}`;
      error = error ? `${error}\n${msg}` : msg;
    }
    lab.close();
  } catch (e) {
    error = (e as Error).stack ?? String(e);
  }
  return error;
}

/**
 * Runs the scenarios, `jobs` at a time (BSR_LAB_JOBS, default 1): job k > 0 keeps its lab in
 * STATE/job-k, so parallel labs never share disks, sockets or agents.
 */
export async function runScenarios(
  o: RunOptions,
): Promise<{ passed: number; failed: number; results: ScenarioResult[] }> {
  const out = o.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const dir = o.dir ?? join(o.repoRoot, 'test', 'lab');
  const baseDir = labStateDir(o.repoRoot);
  const bundleDir = join(baseDir, 'scenarios');
  rmSync(bundleDir, { recursive: true, force: true });
  mkdirSync(bundleDir, { recursive: true });
  const queue = await loadScenarios(dir, bundleDir, o.repoRoot, o.filter);
  const jobs = Math.max(1, Math.min(o.jobs ?? (Number(process.env.BSR_LAB_JOBS) || 1), queue.length));
  // In parallel the longest scenarios go first (their time limit stands in for their length),
  // so that no long one starts last while the other job idles.
  if (jobs > 1) queue.sort((a, b) => (b.scenario?.timeoutSec ?? 300) - (a.scenario?.timeoutSec ?? 300));
  const stateDirs = Array.from({ length: jobs }, (_, k) => (k === 0 ? baseDir : join(baseDir, `job-${k}`)));
  if (queue.length && !setupDone()) await setup(baseDir, { log: (m) => process.stderr.write(`lab: ${m}\n`) });

  const results: ScenarioResult[] = [];
  const report = (r: ScenarioResult, stateDir: string) => {
    results.push(r);
    if (!r.error) {
      out(`PASS ${r.name} (${r.seconds.toFixed(1)} s)`);
      return;
    }
    out(`FAIL ${r.name} (${r.seconds.toFixed(1)} s)`);
    out(
      r.error
        .split('\n')
        .map((l) => `    ${l}`)
        .join('\n'),
    );
    out(`    (guest consoles: ${new LabFiles(stateDir).runDir}/NODE.console.log)`);
  };
  const worker = async (stateDir: string) => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const t0 = Date.now();
      const error = next.scenario
        ? await runOne(next.scenario, next.name, o.repoRoot, stateDir)
        : `cannot load ${next.file}: ${next.loadError}`;
      report({ file: next.file, name: next.name, ok: !error, seconds: (Date.now() - t0) / 1000, error }, stateDir);
    }
    if (!o.keep || stateDir !== baseDir) await labDown(stateDir);
  };
  await Promise.all(stateDirs.map(worker));
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  out(`${passed} passed, ${failed} failed`);
  return { passed, failed, results };
}
