// `npm run lab -- <command>`: the qemu lab (see docs/lab.md).
import { Command } from 'commander';
import { runFastSyncBench } from './bench/fastsync.js';
import { runBenchCommand } from './bench/run.js';
import { parseSettingsMode } from './bench/settings.js';
import { parsePhases } from './bench/stats.js';
import { LabImpl, labDown, labUp } from './lab.js';
import { parseLinkShape } from './link-shape.js';
import { findRepoRoot, labStateDir } from './paths.js';
import { runScenarios } from './runner.js';
import { setup } from './setup.js';
import { isNodeName } from './topology.js';
import type { NodeName } from './types.js';

const log = (m: string) => process.stderr.write(`lab: ${m}\n`);

function nodeArg(s: string): NodeName {
  if (!isNodeName(s)) throw new Error(`unknown node ${s} (alpha, bravo, charlie)`);
  return s;
}

async function main(argv: string[]): Promise<number> {
  const repoRoot = findRepoRoot();
  const stateDir = labStateDir(repoRoot);
  let exitCode = 0;
  const program = new Command('lab')
    .description('qemu lab: Linux VMs with the bsr module, for tests, the demo and benchmarks')
    .showHelpAfterError();

  // the guest kernel (and the bsr.ko built for it): Debian 12's 6.1 unless asked otherwise
  const kernelOption = '--kernel <series>';
  const kernelHelp = 'guest kernel: 6.1 (default, or $BSR_KERNEL), 6.12, or an exact version';
  program.hook('preAction', (_program, command) => {
    const kernel = command.opts().kernel;
    if (typeof kernel === 'string') process.env.BSR_KERNEL = kernel;
  });

  program
    .command('setup')
    .description('install packages and the kernel headers, fetch the guest kernel matching them, build the initramfs')
    .option(kernelOption, kernelHelp)
    .action(async () => {
      const k = await setup(stateDir, { log });
      log(`ready: kernel ${k.kver} (${k.vmlinuz}), initramfs ${k.initramfs}`);
    });

  program
    .command('up')
    .description('boot a fresh lab (empty disks) and wait until every node answers')
    .option('--nodes <n>', 'number of nodes: 2 (alpha, bravo) or 3 (+ charlie)', '2')
    .option('--disk-size <size>', 'size of each of /dev/vda and /dev/vdb', '512M')
    .option('--memory <MiB>', 'memory per node in MiB', '1536')
    .option(kernelOption, kernelHelp)
    .action(async (o: { nodes: string; diskSize: string; memory: string }) => {
      const nodes = Number.parseInt(o.nodes, 10);
      if (nodes !== 2 && nodes !== 3) throw new Error('--nodes must be 2 or 3');
      const t0 = Date.now();
      const lab = await labUp({ nodes, diskSize: o.diskSize, memoryMiB: Number.parseInt(o.memory, 10), log }, repoRoot);
      lab.close();
      log(`up in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${lab.nodes.join(', ')} (npm run lab -- info)`);
    });

  program
    .command('down')
    .description('stop every node (disks are kept until the next up)')
    .action(async () => {
      const stopped = await labDown(stateDir);
      log(stopped.length ? `stopped ${stopped.join(', ')}` : 'nothing was running');
    });

  program
    .command('info')
    .description("the nodes, whether they run, and each node's own address on its link to each peer")
    .option('--json', 'JSON output')
    .action((o: { json?: boolean }) => {
      const lab = LabImpl.attach(repoRoot, stateDir);
      const info = lab.info();
      if (o.json) {
        process.stdout.write(`${JSON.stringify(info, null, 2)}\n`);
        return;
      }
      const cut = lab.cutLinks().map(([a, b]) => `${a}-${b}`);
      for (const [n, i] of Object.entries(info.nodes)) {
        const addrs = Object.entries(i?.addresses ?? {})
          .map(([p, a]) => `${a} (${i?.interfaces[p as NodeName]}, to ${p})`)
          .join(', ');
        process.stdout.write(`${n.padEnd(8)} ${i?.running ? 'running' : 'stopped'}  ${addrs}\n`);
      }
      process.stdout.write(`disks: /dev/vda, /dev/vdb, ${info.diskSize} each; cut links: ${cut.join(' ') || 'none'}\n`);
    });

  program
    .command('exec')
    .description('run a command in a guest, streaming its output; exits with its exit code')
    .argument('<node>')
    .argument('<command...>')
    .option('--timeout <s>', 'kill the command after this many seconds', '3600')
    .action(async (node: string, command: string[], o: { timeout: string }) => {
      const lab = LabImpl.attach(repoRoot, stateDir);
      const stdin = process.stdin.isTTY ? undefined : await readStdin();
      const r = await lab.exec(nodeArg(node), command.length === 1 ? command[0] : command, {
        input: stdin,
        timeoutMs: Number.parseFloat(o.timeout) * 1000,
        onStdout: (c) => process.stdout.write(c),
        onStderr: (c) => process.stderr.write(c),
      });
      lab.close();
      exitCode = r.code;
    });

  const link = program.command('link').description('cut, restore or shape the link between two nodes');
  link
    .command('shape')
    .description('model a WAN: each end sends at most --rate, --delay later (tc netem; undone by restore)')
    .argument('<a>')
    .argument('<b>')
    .option('--rate <rate>', 'e.g. 10mbit (tc units: bit, kbit, mbit, gbit, bps, kbps, mbps)')
    .option('--delay <delay>', 'one way, e.g. 20ms (the round trip gains twice that)')
    .action(async (a: string, b: string, o: { rate?: string; delay?: string }) => {
      const lab = LabImpl.attach(repoRoot, stateDir);
      await lab.linkShape(nodeArg(a), nodeArg(b), o);
      lab.close();
      log(`link ${a}-${b} shaped: ${[o.rate, o.delay && `${o.delay} delay`].filter(Boolean).join(', ')}`);
    });
  for (const action of ['cut', 'restore'] as const) {
    link
      .command(action)
      .argument('<a>')
      .argument('<b>')
      .action(async (a: string, b: string) => {
        const lab = LabImpl.attach(repoRoot, stateDir);
        if (action === 'cut') await lab.linkCut(nodeArg(a), nodeArg(b));
        else await lab.linkRestore(nodeArg(a), nodeArg(b));
        lab.close();
        log(`link ${a}-${b} ${action === 'cut' ? 'cut' : 'restored'}`);
      });
  }

  program
    .command('crash')
    .description('hard stop of a node (qemu killed); its disks are kept')
    .argument('<node>')
    .action(async (node: string) => {
      const lab = LabImpl.attach(repoRoot, stateDir);
      await lab.crash(nodeArg(node));
      log(`${node} crashed`);
    });

  program
    .command('boot')
    .description('boot a stopped node again on the same disks and links')
    .argument('<node>')
    .action(async (node: string) => {
      const lab = LabImpl.attach(repoRoot, stateDir);
      const t0 = Date.now();
      await lab.boot(nodeArg(node));
      lab.close();
      log(`${node} up in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    });

  program
    .command('dmesg')
    .description("a guest's kernel log")
    .argument('<node>')
    .action(async (node: string) => {
      const lab = LabImpl.attach(repoRoot, stateDir);
      process.stdout.write(await lab.dmesg(nodeArg(node)));
      lab.close();
    });

  program
    .command('load-module')
    .description("load the project's native/kmod/bsr.ko (or a given .ko / module name) in every node or one")
    .argument('[node]')
    .option('--path <ko>', 'module file or name', '')
    .action(async (node: string | undefined, o: { path: string }) => {
      const lab = LabImpl.attach(repoRoot, stateDir);
      const nodes = node ? [nodeArg(node)] : lab.nodes;
      for (const n of nodes) await lab.loadModule(n, o.path || undefined);
      lab.close();
      log(`loaded on ${nodes.join(', ')}`);
    });

  program
    .command('test')
    .description(
      'run the lab scenarios test/lab/SUBJECT/NAME.lab.ts; each FILTER selects a subject (resync), an id or part of one, or a word of a title',
    )
    .argument('[filters...]')
    .option('--list', 'list the selected scenarios instead of running them')
    .option('--keep', 'leave the lab running afterwards')
    .option('-j, --jobs <n>', 'scenarios run at the same time, each in its own lab (default BSR_LAB_JOBS or 1)')
    .option(kernelOption, kernelHelp)
    .action(async (filters: string[], o: { keep?: boolean; jobs?: string; list?: boolean }) => {
      const jobs = o.jobs === undefined ? undefined : Number(o.jobs);
      if (jobs !== undefined && !(Number.isInteger(jobs) && jobs >= 1))
        throw new Error(`--jobs ${o.jobs}: a positive integer`);
      const r = await runScenarios({ repoRoot, filters, keep: o.keep ?? false, jobs, list: o.list });
      exitCode = r.failed > 0 ? 1 : 0;
    });

  program
    .command('bench')
    .description(
      'the reference benchmark in a fresh two-node lab: the engines side by side, phases interleaved A-B-B-A (docs/lab.md)',
    )
    .option('--engine <engine>', 'drbd84, bsr or both', 'drbd84')
    .option('--settings <mode>', 'equal (the same durability and data path options in both) or default', 'equal')
    .option(
      '--phases <list>',
      'only these phases, comma separated: initial, seq-c, seq-c-integrity, seq-a, lat, resync, csums, ahead, verify',
    )
    .option('--wan <rate,delay>', 'a WAN link for the whole bench, e.g. 32mbit,20ms (link shape: rate, delay each way)')
    .option('--out <file>', 'write the results as JSON to this file')
    .action(async (o: { engine: string; settings: string; phases?: string; wan?: string; out?: string }) => {
      exitCode = await runBenchCommand({
        repoRoot,
        engine: o.engine,
        settings: parseSettingsMode(o.settings),
        phases: parsePhases(o.phases),
        wan: parseLinkShape(o.wan),
        out: o.out,
        log,
      });
    });

  program
    .command('bench-fastsync')
    .description(
      'FastSync against full syncs in a fresh two-node lab: the initial sync of a 1 GiB device with ext4 about 10 % used, by bsr with and without FastSync and by DRBD 8.4, interleaved (docs/lab.md)',
    )
    .option('--out <file>', 'write the results as JSON to this file')
    .action(async (o: { out?: string }) => {
      exitCode = await runFastSyncBench({ repoRoot, out: o.out, log });
    });

  await program.parseAsync(argv);
  return exitCode;
}

function readStdin(): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    process.stdin.on('data', (c: Buffer) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks)));
    process.stdin.on('error', reject);
  });
}

/** Exits once stdout and stderr are flushed (agent sockets may linger: do not wait for them). */
function exitAfterFlush(code: number): void {
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}

main(process.argv).then(exitAfterFlush, (e: Error) => {
  process.stderr.write(`lab: ${e.message}\n`);
  exitAfterFlush(1);
});
