// bsrmeta MINOR v09 DEV IDX CMD [ARGS] [OPTIONS]: create, inspect and repair v09 meta data.
import { readSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { metaData } from '../abi/index.js';
import { CliError, EXIT, runCli } from '../common/errors.js';
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

function intOption(name: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) throw new CliError(`${name}: "${value}" is not a number`, EXIT.USAGE);
    const n = Number(value);
    if (n < min || n > max) throw new CliError(`${name} must be ${min}..${max} (got ${n})`, EXIT.USAGE);
    return n;
  };
}

interface Options {
  force?: boolean;
  maxPeers: number;
  alStripes: number;
  alStripeSizeKB: number;
  nodeId?: number;
}

function expectArgs(cmd: string, args: string[], names: string[]): string[] {
  if (args.length !== names.length)
    throw new CliError(
      `${cmd} takes ${names.length ? names.join(' ') : 'no arguments'} (got ${args.length ? args.join(' ') : 'none'})`,
      EXIT.USAGE,
    );
  return args;
}

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
  switch (cmd) {
    case 'create-md': {
      expectArgs(cmd, args, []);
      if (opts.alStripeSizeKB % 4 !== 0) throw new CliError('--al-stripe-size-kB must be a multiple of 4', EXIT.USAGE);
      createMd(ctx, {
        maxPeers: opts.maxPeers,
        alStripes: opts.alStripes,
        alStripeSize4k: opts.alStripeSizeKB / 4,
        nodeId: opts.nodeId ?? -1,
      });
      return;
    }
    case 'dump-md':
      return dumpMd(ctx);
    case 'restore-md':
      return restoreMd(ctx, expectArgs(cmd, args, ['FILE'])[0]);
    case 'verify-dump':
      return verifyDump(ctx, expectArgs(cmd, args, ['FILE'])[0]);
    case 'wipe-md':
      return wipeMd(ctx);
    case 'apply-al':
      return applyAl(ctx);
    case 'check-resize':
      return checkResize(ctx);
    case 'outdate':
      return outdate(ctx);
    case 'invalidate':
      return invalidate(ctx);
    case 'dstate':
      return dstate(ctx);
    case 'get-gi':
      return getGiCmd(ctx, opts.nodeId);
    case 'show-gi':
      return showGiCmd(ctx, opts.nodeId);
    case 'set-gi':
      return setGiCmd(ctx, opts.nodeId, expectArgs(cmd, args, ['GI'])[0]);
    case 'read-dev-uuid':
      return readDevUuid(ctx);
    case 'write-dev-uuid':
      return writeDevUuid(ctx, expectArgs(cmd, args, ['VAL'])[0]);
    case 'forget-peer':
      return forgetPeer(ctx, expectArgs(cmd, args, ['NODE_ID'])[0]);
    default:
      throw new CliError(`unknown command "${cmd}" (see bsrmeta --help)`, EXIT.USAGE);
  }
}

runCli(() => {
  // No arguments at all: show the usage rather than a missing-argument error.
  if (process.argv.length <= 2) process.argv.push('--help');
  const program = new Command('bsrmeta')
    .usage('MINOR v09 DEV IDX CMD [ARGS] [OPTIONS]')
    .description('bsr meta-data tool')
    .argument('<minor>')
    .argument('<format>')
    .argument('<device>')
    .argument('<idx>')
    .argument('<command>')
    .argument('[args...]')
    .option('--force', 'do not ask; overwrite even where create-md would refuse')
    .option('--max-peers <n>', 'create-md: bitmap slots (peers)', intOption('--max-peers', 1, metaData.maxPeers), 1)
    .option(
      '--al-stripes <n>',
      'create-md: activity-log stripes',
      intOption('--al-stripes', 1, 1024),
      metaData.defaultAlStripes,
    )
    .option(
      '--al-stripe-size-kB <n>',
      'create-md: activity-log stripe size in KiB',
      intOption('--al-stripe-size-kB', 4, 1024 * 1024),
      metaData.defaultAlStripeSize4k * 4,
    )
    .option(
      '--node-id <n>',
      "create-md: this node's id; get-gi/show-gi/set-gi: the peer",
      intOption('--node-id', 0, metaData.maxPeers - 1),
    )
    .addHelpText('after', HELP_AFTER)
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Commander has already printed its message.
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? EXIT.OK : EXIT.USAGE;
    }
    throw err;
  }
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
});
