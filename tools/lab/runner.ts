// The lab scenario runner: `node dist/lab.mjs test [FILTER]`.
// Discovers test/lab/SUBJECT/NAME.lab.ts, bundles each with esbuild into STATE/scenarios/, runs each under its
// time limit on a lab of the node count and disk size it asks for (kept booted between scenarios
// and reset, see reset.ts), then fails it when a guest kernel log shows a BUG, Oops, WARNING,
// general protection fault or hung task from its own run.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type LabImpl, labDown, labUp } from './lab.js';
import { labStateDir } from './paths.js';
import { cleanupLab, prepareLab } from './reset.js';
import type { Scenario } from './scenario.js';
import { setup, setupDone } from './setup.js';
import type { NodeName } from './types.js';
import { withTimeout } from './util.js';
import { LabFiles } from './vm.js';

/** Kernel log lines that fail a scenario. */
export const KERNEL_TROUBLE = /BUG:|Oops|WARNING:|general protection fault|hung_task/;

export interface RunOptions {
  repoRoot: string;
  /** Scenarios selected by any of these (all when empty). */
  filters?: string[];
  /** Leave the last lab running. */
  keep: boolean;
  /** Scenarios run at the same time, each in its own lab (default BSR_LAB_JOBS or 1). */
  jobs?: number;
  /** Print the selected scenarios (id, nodes, disk size, time limit, title) instead of running them. */
  list?: boolean;
  /** Where scenario files are (default REPO/test/lab, one folder per subject). */
  dir?: string;
  out?: (line: string) => void;
}

export interface ScenarioResult {
  file: string;
  /** SUBJECT/NAME */
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
  const out = join(outDir, `${basename(dirname(file))}-${basename(file, '.ts')}.${Date.now()}.mjs`);
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

/**
 * Kernel trouble lines in every guest's dmesg and in the console logs (which also cover crashed
 * boots). The guests' logs are read and cleared in one step: the next scenario on the kept lab
 * starts with an empty one.
 */
async function kernelTrouble(
  lab: { nodes: readonly NodeName[]; sh(n: NodeName, script: string): Promise<string> },
  files: LabFiles,
  consoleFrom: Map<NodeName, number>,
): Promise<string[]> {
  const perNode = await Promise.all(
    lab.nodes.map(async (n) => {
      const found: string[] = [];
      const texts: string[] = [];
      if (files.running(n)) {
        try {
          texts.push(await withTimeout(lab.sh(n, 'dmesg -c'), 30_000, 'dmesg timed out'));
        } catch (e) {
          found.push(`${n}: cannot read dmesg: ${(e as Error).message}`);
        }
      }
      try {
        texts.push(
          readFileSync(files.consoleLog(n))
            .subarray(consoleFrom.get(n) ?? 0)
            .toString('utf8'),
        );
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
      return found;
    }),
  );
  return perNode.flat();
}

interface Loaded {
  file: string;
  /** SUBJECT/NAME from test/lab/SUBJECT/NAME.lab.ts */
  id: string;
  scenario?: Scenario;
  loadError?: string;
}

/** The scenario files under `dir`, one folder per subject: [id, path], sorted by id. */
export function scenarioFiles(dir: string): [string, string][] {
  if (!existsSync(dir)) return [];
  const found: [string, string][] = [];
  for (const subject of readdirSync(dir, { withFileTypes: true })) {
    if (!subject.isDirectory()) continue;
    for (const f of readdirSync(join(dir, subject.name))) {
      if (f.endsWith('.lab.ts'))
        found.push([`${subject.name}/${f.slice(0, -'.lab.ts'.length)}`, join(dir, subject.name, f)]);
    }
  }
  return found.sort((a, b) => a[0].localeCompare(b[0]));
}

/**
 * Whether a scenario is selected by one of FILTERS: a subject (`resync`, `resync/`), an id or a
 * part of one (`after-link`), or a word of its title. No filter selects every scenario but the
 * benchmarks.
 */
export function selected(id: string, title: string, filters: string[] = [], benchmark = false): boolean {
  if (filters.length === 0) return !benchmark;
  return filters.some((f) => id.includes(f) || title.includes(f));
}

/** Bundles and imports every scenario file; keeps those the filter selects. */
async function loadScenarios(dir: string, bundleDir: string, repoRoot: string, filters?: string[]): Promise<Loaded[]> {
  const files = scenarioFiles(dir);
  const esbuild = files.length ? await loadEsbuild(repoRoot) : undefined;
  const loaded: Loaded[] = [];
  for (const [id, file] of files) {
    try {
      if (!esbuild) throw new Error('esbuild missing');
      const bundle = await bundleScenario(esbuild, file, bundleDir);
      const mod = (await import(pathToFileURL(bundle).href)) as { default?: Scenario };
      const scenario = mod.default;
      if (!scenario || typeof scenario.run !== 'function') throw new Error('no default-exported Scenario');
      if (selected(id, scenario.title ?? '', filters, scenario.benchmark)) loaded.push({ file, id, scenario });
    } catch (e) {
      if (selected(id, '', filters)) loaded.push({ file, id, loadError: (e as Error).message });
    }
  }
  return loaded;
}

/** What a scenario needs of a lab that a reset cannot change (disk size and module can be changed). */
function labShape(s: Scenario): string {
  return `nodes=${s.nodes}`;
}

/**
 * One job's lab, kept booted across scenarios: after a scenario its nodes are cleaned up (see
 * reset.ts) and the next scenario of the same shape runs on them. A scenario that failed, asked for
 * a pristine boot, or left nodes that cannot be cleaned up costs a reboot.
 */
class JobLab {
  private lab?: LabImpl;
  private shape?: string;
  boots = 0;
  constructor(
    private readonly repoRoot: string,
    private readonly stateDir: string,
  ) {}

  /** A lab ready for `s`: the kept one, reset, or a freshly booted one. */
  async acquire(s: Scenario, log: (m: string) => void): Promise<LabImpl> {
    const diskSize = s.diskSize ?? '512M';
    const loadBsr = s.bsrModule ?? true;
    if (this.lab && this.shape === labShape(s) && !s.pristine) {
      try {
        const lab = await prepareLab(this.lab, diskSize, loadBsr);
        lab.logger = log;
        this.lab = lab;
        log(`reusing the booted ${s.nodes} nodes (${diskSize} disks)`);
        return lab;
      } catch (e) {
        log(`cannot reuse the lab (${(e as Error).message}): booting`);
      }
    }
    this.release();
    log(`booting ${s.nodes} nodes (${diskSize} disks)`);
    this.boots++;
    const lab = await labUp({ nodes: s.nodes, diskSize, loadBsr, stateDir: this.stateDir }, this.repoRoot);
    lab.logger = log;
    this.lab = lab;
    this.shape = labShape(s);
    return lab;
  }

  /** After a scenario: cleans the nodes up for the next one, or forgets the lab (the next one boots). */
  async settle(keep: boolean, log: (m: string) => void): Promise<void> {
    const lab = this.lab;
    if (!lab) return;
    lab.close();
    rmSync(lab.files.shareDir, { recursive: true, force: true });
    if (!keep) return this.release();
    try {
      await cleanupLab(lab);
    } catch (e) {
      log(`cleanup failed, the next scenario boots afresh: ${(e as Error).message}`);
      this.release();
    }
  }

  release(): void {
    this.lab?.close();
    this.lab = undefined;
    this.shape = undefined;
  }
}

/** Byte length of each node's console log now: trouble is looked for only past it. */
function consoleOffsets(files: LabFiles, nodes: readonly NodeName[]): Map<NodeName, number> {
  const at = new Map<NodeName, number>();
  for (const n of nodes) {
    try {
      at.set(n, statSync(files.consoleLog(n)).size);
    } catch {
      at.set(n, 0);
    }
  }
  return at;
}

/**
 * Runs one scenario on the job's lab under its time limit, cleans the nodes up, then checks the
 * kernel logs of what this scenario did (dmesg since the last clear, the consoles since it started).
 */
async function runOne(s: Scenario, name: string, job: JobLab, stateDir: string): Promise<string | undefined> {
  const files = new LabFiles(stateDir);
  let error: string | undefined;
  const log = (m: string) => process.stderr.write(`[${name}] ${m}\n`);
  try {
    log(s.title);
    const lab = await job.acquire(s, log);
    const offsets = consoleOffsets(files, lab.nodes);
    const execBefore = { ...lab.execStats };
    const limit = (s.timeoutSec ?? 300) * 1000;
    try {
      await withTimeout(s.run(lab), limit, `timed out after ${s.timeoutSec ?? 300} s`);
    } catch (e) {
      error = (e as Error).stack ?? String(e);
    }
    // where the time went: what the scenario ran in the guests (calls overlap across nodes)
    const commands = lab.execStats.commands - execBefore.commands;
    log(`${commands} guest commands, ${((lab.execStats.ms - execBefore.ms) / 1000).toFixed(1)} s in them`);
    await job.settle(!error, log);
    const trouble = await kernelTrouble(lab, files, offsets);
    if (trouble.length) {
      const msg = `kernel log trouble:\n  ${trouble.slice(0, 20).join('\n  ')}`;
      error = error ? `${error}\n${msg}` : msg;
      job.release();
    }
    lab.close();
  } catch (e) {
    error = (e as Error).stack ?? String(e);
    job.release();
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
  const queue = await loadScenarios(dir, bundleDir, o.repoRoot, o.filters);
  if (o.list) {
    for (const q of queue) {
      const s = q.scenario;
      out(
        s
          ? `${q.id.padEnd(34)} ${s.nodes} nodes ${(s.diskSize ?? '512M').padStart(4)} ${String(s.timeoutSec ?? 300).padStart(4)} s  ${s.title}`
          : `${q.id.padEnd(34)} cannot load: ${q.loadError}`,
      );
    }
    return { passed: 0, failed: 0, results: [] };
  }
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
  let boots = 0;
  const worker = async (stateDir: string) => {
    const job = new JobLab(o.repoRoot, stateDir);
    for (let next = queue.shift(); next; next = queue.shift()) {
      const t0 = Date.now();
      const error = next.scenario
        ? await runOne(next.scenario, next.id, job, stateDir)
        : `cannot load ${next.file}: ${next.loadError}`;
      report({ file: next.file, name: next.id, ok: !error, seconds: (Date.now() - t0) / 1000, error }, stateDir);
    }
    job.release();
    boots += job.boots;
    if (!o.keep || stateDir !== baseDir) await labDown(stateDir);
  };
  const t0 = Date.now();
  await Promise.all(stateDirs.map(worker));
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  const total = (Date.now() - t0) / 1000;
  const mean = results.length ? total / results.length : 0;
  out(`lab: ${results.length} scenarios in ${total.toFixed(0)} s (${mean.toFixed(1)} s each), ${boots} boots`);
  out(`${passed} passed, ${failed} failed`);
  return { passed, failed, results };
}
