// bsrmeta MINOR v09 DEV IDX CMD [ARGS] [OPTIONS]: create, inspect and repair v09 meta data. The
// table of its commands and options, and what each runs.
import { readSync } from 'node:fs';
import { CliError, EXIT } from '../common/errors.js';
import {
  applyAl,
  CONFIRM_QUESTION,
  checkResize,
  createMd,
  dstate,
  dumpMd,
  forgetPeer,
  getGiCmd,
  invalidate,
  type MetaContext,
  outdate,
  readDevUuid,
  restoreMd,
  setGiCmd,
  showGiCmd,
  verifyDump,
  wipeMd,
  writeDevUuid,
} from '../meta/commands.js';
import { parseIndex } from '../meta/layout.js';
import { BSRMETA_OPTIONS } from './bsrmeta-options.js';
import { type CommandSpec, type ProgramSpec, parseCommandLine, programFor } from './spec.js';

const HELP_AFTER = `
IDX is internal, flexible, or N (indexed external meta data, 128 MiB slot N).

Commands:
  create-md [--max-peers N] [--al-stripes N] [--al-stripe-size-kB N] [--node-id N]
  dump-md | restore-md FILE | verify-dump FILE | wipe-md
  get-gi | show-gi | set-gi GI   ([--node-id N] picks the peer whose bitmap UUID is shown)
  outdate | invalidate | dstate | apply-al | check-resize
  read-dev-uuid | write-dev-uuid VAL | forget-peer NODE_ID

Destructive steps ask "Do you want to proceed?" and read the answer from stdin: create-md over
anything that is not all zero where it writes (old meta data, data, a partition table, LVM2, LUKS,
swap or a file system signature), wipe-md, restore-md, set-gi, invalidate, forget-peer. Anything
but "yes", or end of input, cancels with exit code ${EXIT.DECLINED}. --force answers yes, and also lets
create-md overwrite the end of a file system that reaches into the meta-data area.`;

/** Reads one line from stdin synchronously (the prompt must block); EOF gives undefined. */
function readLine(): string | undefined {
  const bytes: number[] = [];
  const one = Buffer.alloc(1);
  for (;;) {
    let n: number;
    try {
      n = readSync(0, one, 0, 1, null);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A non-blocking stdin has no data yet: wait briefly and retry.
      if (code === 'EAGAIN') {
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
        continue;
      }
      if (code === 'EOF' || code === 'EBADF' || code === 'ENXIO')
        return bytes.length ? Buffer.from(bytes).toString() : undefined;
      throw err;
    }
    if (n === 0) return bytes.length ? Buffer.from(bytes).toString() : undefined;
    if (one[0] === 0x0a) return Buffer.from(bytes).toString();
    bytes.push(one[0]);
  }
}

interface Options {
  force?: boolean;
  maxPeers: number;
  alStripes: number;
  alStripeSizeKB: number;
  nodeId?: number;
}

/** A bsrmeta command: run(ctx, its arguments, the options), the arguments checked against `args`. */
interface MetaCommand extends CommandSpec {
  run: (ctx: MetaContext, args: string[], opts: Options) => void;
}

/** A command without arguments: the context is all it needs. */
const plain = (name: string, summary: string, run: (ctx: MetaContext) => void): MetaCommand => ({
  name,
  summary,
  args: [],
  run: (ctx) => run(ctx),
});

const COMMANDS: MetaCommand[] = [
  {
    name: 'create-md',
    summary: 'write new meta data (asks when anything is in the way)',
    args: [],
    run: (ctx, _args, opts) => {
      if (opts.alStripeSizeKB % 4 !== 0) throw new CliError('--al-stripe-size-kB must be a multiple of 4', EXIT.USAGE);
      createMd(ctx, {
        maxPeers: opts.maxPeers,
        alStripes: opts.alStripes,
        alStripeSize4k: opts.alStripeSizeKB / 4,
        nodeId: opts.nodeId ?? -1,
      });
    },
  },
  plain('dump-md', 'print the meta data as text', dumpMd),
  {
    name: 'restore-md',
    summary: 'write the meta data from a dump-md text',
    args: [{ name: 'FILE', complete: 'file' }],
    run: (ctx, [file]) => restoreMd(ctx, file),
  },
  {
    name: 'verify-dump',
    summary: 'check a dump-md text without writing',
    args: [{ name: 'FILE', complete: 'file' }],
    run: (ctx, [file]) => verifyDump(ctx, file),
  },
  plain('wipe-md', 'destroy the meta data', wipeMd),
  plain('apply-al', 'replay the activity log into the bitmap', applyAl),
  plain('check-resize', 'move the meta data after the lower device grew', checkResize),
  plain('outdate', 'mark the data Outdated', outdate),
  plain('invalidate', 'mark the data Inconsistent (a full resync follows)', invalidate),
  plain('dstate', 'print the disk state the meta data records', dstate),
  {
    name: 'get-gi',
    summary: 'print the generation identifiers',
    args: [],
    run: (ctx, _args, opts) => getGiCmd(ctx, opts.nodeId),
  },
  {
    name: 'show-gi',
    summary: 'explain the generation identifiers',
    args: [],
    run: (ctx, _args, opts) => showGiCmd(ctx, opts.nodeId),
  },
  {
    name: 'set-gi',
    summary: 'set the generation identifiers',
    args: [{ name: 'GI' }],
    run: (ctx, [gi], opts) => setGiCmd(ctx, opts.nodeId, gi),
  },
  plain('read-dev-uuid', 'print the device UUID', readDevUuid),
  {
    name: 'write-dev-uuid',
    summary: 'set the device UUID',
    args: [{ name: 'VAL' }],
    run: (ctx, [value]) => writeDevUuid(ctx, value),
  },
  {
    name: 'forget-peer',
    summary: "drop a peer's bitmap slot",
    args: [{ name: 'NODE_ID' }],
    run: (ctx, [nodeId]) => forgetPeer(ctx, nodeId),
  },
];

export const BSRMETA: ProgramSpec = {
  name: 'bsrmeta',
  summary: 'bsr meta-data tool',
  usage: 'MINOR v09 DEV IDX CMD [ARGS] [OPTIONS]',
  options: BSRMETA_OPTIONS,
  commands: COMMANDS,
  helpAfter: HELP_AFTER,
};

function run(minor: string, format: string, device: string, idx: string, cmd: string, args: string[], opts: Options) {
  if (!/^\d+$/.test(minor)) throw new CliError(`MINOR must be a number (got "${minor}")`, EXIT.USAGE);
  if (format !== 'v09') throw new CliError(`only meta-data format v09 is supported (got "${format}")`, EXIT.USAGE);
  const ctx: MetaContext = {
    device,
    index: parseIndex(idx),
    force: opts.force === true,
    out: (text) => process.stdout.write(text),
    ask: () => {
      process.stdout.write(`${CONFIRM_QUESTION}\n`);
      return readLine();
    },
  };
  const command = COMMANDS.find((c) => c.name === cmd);
  if (!command) throw new CliError(`unknown command "${cmd}" (see bsrmeta --help)`, EXIT.USAGE);
  const names = command.args.map((a) => a.name);
  if (args.length !== names.length)
    throw new CliError(
      `${cmd} takes ${names.length ? names.join(' ') : 'no arguments'} (got ${args.length ? args.join(' ') : 'none'})`,
      EXIT.USAGE,
    );
  command.run(ctx, args, opts);
}

export async function bsrmeta(argv: string[]): Promise<number> {
  const program = programFor(BSRMETA)
    .argument('<minor>')
    .argument('<format>')
    .argument('<device>')
    .argument('<idx>')
    .argument('<command>')
    .argument('[args...]')
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  // No arguments at all: show the usage rather than a missing-argument error.
  const code = await parseCommandLine(program, argv.length === 0 ? ['--help'] : argv);
  if (code !== undefined) return code;
  const [minor, format, device, idx, cmd, args] = program.processedArgs as [
    string,
    string,
    string,
    string,
    string,
    string[],
  ];
  run(minor, format, device, idx, cmd, args, program.opts<Options>());
  return EXIT.OK;
}
