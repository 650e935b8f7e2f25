// bsrcon: node-local switches kept as small files in /etc/bsr.d (BSR_ETC_DIR overrides it).
//   .use_fast_sync    "0" | "1"   FastSync (resync only blocks a file system uses)
//   .handler_use      "0" | "1"   whether the kernel's handlers (before-resync-target, ...) run
//   .log_level        "sys=N\ndbg=N\n"  minimum levels for the system log and the debug log
//   .maxlogfile_cnt   "N"         how many rotated log files /var/log/bsr keeps
// Log levels are syslog numbers: 0 emerg, 1 alert, 2 crit, 3 err, 4 warning, 5 notice, 6 info, 7 debug.
// The Windows-only commands print "not supported on Linux" and exit 2.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CommandSpec, ProgramSpec } from '../commands/spec.js';
import { CliError, EXIT, runCli } from '../common/errors.js';

const PROG = 'bsrcon';
const LEVELS = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];
const DEFAULT_LEVELS = { sys: 3, dbg: 6 };
const DEFAULT_MAX_LOGFILES = 10;

const WINDOWS_ONLY = new Set([
  '/nodelayedack',
  '/delayedack_enable',
  '/delaydack_enable',
  '/release_vol',
  '/get_volume_size',
  '/dismount',
  '/status',
  '/info',
  '/md5',
]);

const etcDir = () => process.env.BSR_ETC_DIR || '/etc/bsr.d';

function readSetting(name: string): string | undefined {
  try {
    return readFileSync(join(etcDir(), name), 'utf8').trim();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new CliError(`${PROG}: cannot read ${join(etcDir(), name)}: ${(e as Error).message}`);
  }
}

/** Written through a temporary file and a rename, so readers never see half a file. */
function writeSetting(name: string, text: string): void {
  const dir = etcDir();
  const file = join(dir, name);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${file}.tmp`, text);
    renameSync(`${file}.tmp`, file);
  } catch (e) {
    throw new CliError(`${PROG}: cannot write ${file}: ${(e as Error).message}`);
  }
}

function usage(message: string): never {
  throw new CliError(`${PROG}: ${message}`, EXIT.USAGE);
}

function switchArg(command: string, args: string[]): '0' | '1' {
  if (args.length !== 1 || (args[0] !== '0' && args[0] !== '1')) usage(`usage: ${command} 0|1`);
  return args[0] as '0' | '1';
}

const switchState = (name: string) => (readSetting(name) === '1' ? 1 : 0);

export function readLogLevels(): { sys: number; dbg: number } {
  const levels = { ...DEFAULT_LEVELS };
  for (const line of (readSetting('.log_level') ?? '').split('\n')) {
    const m = /^(sys|dbg)\s*=\s*(\d)$/.exec(line.trim());
    if (m && Number(m[2]) < LEVELS.length) levels[m[1] as 'sys' | 'dbg'] = Number(m[2]);
  }
  return levels;
}

function parseLevel(text: string): number {
  const byName = LEVELS.indexOf(text.toLowerCase());
  if (byName >= 0) return byName;
  if (/^\d$/.test(text) && Number(text) < LEVELS.length) return Number(text);
  return usage(`log level must be 0..7 or one of ${LEVELS.join(', ')}, not '${text}'`);
}

function maxLogFiles(): number {
  const n = Number(readSetting('.maxlogfile_cnt'));
  return Number.isInteger(n) && n > 0 ? n : DEFAULT_MAX_LOGFILES;
}

/** bsrcon's commands: Windows-style `/name` words, dispatched from this table (no commander). */
interface ConCommand extends CommandSpec {
  /** run(arguments, output, the command's name) */
  run: (args: string[], out: (text: string) => void, name: string) => number;
}

function setSwitch(file: string, what: string): ConCommand['run'] {
  return (args, out, name) => {
    writeSetting(file, `${switchArg(name, args)}\n`);
    out(`${what} ${args[0] === '1' ? 'enabled' : 'disabled'}\n`);
    return EXIT.OK;
  };
}

const ON_OFF = [{ name: '0|1' }];

export const BSRCON_COMMANDS: ConCommand[] = [
  {
    name: '/set_fast_sync',
    summary: 'turn FastSync off or on',
    args: ON_OFF,
    run: setSwitch('.use_fast_sync', 'fast sync'),
  },
  {
    name: '/get_fast_sync',
    summary: 'show whether FastSync is on',
    args: [],
    run: (_args, out) => {
      const on = switchState('.use_fast_sync');
      out(`fast sync is ${on ? 'enabled' : 'disabled'} (${on})\n`);
      return EXIT.OK;
    },
  },
  {
    name: '/minlog_lv',
    summary: 'minimum level (0..7 or emerg..debug) for the system or debug log',
    args: [{ name: 'sys|dbg' }, { name: 'LEVEL' }],
    run: (args, out) => {
      if (args.length !== 2 || (args[0] !== 'sys' && args[0] !== 'dbg')) usage('usage: /minlog_lv sys|dbg LEVEL');
      const which = args[0] as 'sys' | 'dbg';
      const levels = readLogLevels();
      levels[which] = parseLevel(args[1]);
      writeSetting('.log_level', `sys=${levels.sys}\ndbg=${levels.dbg}\n`);
      out(`${which} log level set to ${levels[which]} (${LEVELS[levels[which]]})\n`);
      return EXIT.OK;
    },
  },
  {
    name: '/get_log_info',
    summary: 'show the log levels and the log file count',
    args: [],
    run: (_args, out) => {
      const levels = readLogLevels();
      out(
        `sys log level: ${levels.sys} (${LEVELS[levels.sys]})\n` +
          `dbg log level: ${levels.dbg} (${LEVELS[levels.dbg]})\n` +
          `max log file count: ${maxLogFiles()}\n`,
      );
      return EXIT.OK;
    },
  },
  {
    name: '/handler_use',
    summary: "turn the kernel's handler calls off or on",
    args: ON_OFF,
    run: setSwitch('.handler_use', 'handlers'),
  },
  {
    name: '/get_handler_info',
    summary: 'show whether handlers are called',
    args: [],
    run: (_args, out) => {
      const on = switchState('.handler_use');
      out(`handler use is ${on ? 'enabled' : 'disabled'} (${on})\n`);
      return EXIT.OK;
    },
  },
  {
    name: '/maxlogfile_cnt',
    summary: 'keep N rotated log files',
    args: [{ name: 'N' }],
    run: (args, out) => {
      if (args.length !== 1 || !/^\d+$/.test(args[0]) || Number(args[0]) < 1 || Number(args[0]) > 1000) {
        usage('usage: /maxlogfile_cnt N (1..1000)');
      }
      writeSetting('.maxlogfile_cnt', `${Number(args[0])}\n`);
      out(`max log file count set to ${Number(args[0])}\n`);
      return EXIT.OK;
    },
  },
];

/** `/name ARGS`, as help and the man page write a command. */
export const conCommandText = (c: CommandSpec) => [c.name, ...c.args.map((a) => a.name)].join(' ');

export const BSRCON: ProgramSpec = {
  name: PROG,
  summary: 'node-local switches of bsr kept in /etc/bsr.d',
  usage: 'COMMAND [ARGS]',
  options: [],
  commands: BSRCON_COMMANDS,
};

const HELP = `usage: bsrcon COMMAND [ARGS]\n${BSRCON_COMMANDS.map((c) => `  ${conCommandText(c).padEnd(26)}${c.summary}\n`).join('')}`;

export function bsrcon(argv: string[], out: (text: string) => void): number {
  const [command, ...args] = argv;
  if (command === undefined || ['/?', '/help', '--help'].includes(command)) {
    out(HELP);
    return command === undefined ? EXIT.USAGE : EXIT.OK;
  }
  const found = BSRCON_COMMANDS.find((c) => c.name === command);
  if (found) return found.run(args, out, found.name);
  if (WINDOWS_ONLY.has(command.toLowerCase()))
    throw new CliError(`${PROG}: ${command}: not supported on Linux`, EXIT.USAGE);
  return usage(`unknown command '${command}' (bsrcon /help lists them)`);
}

// Run only as the program, not when a test imports bsrcon().
if (process.argv[1] && /bsrcon(\.(code\.)?[cm]?[jt]s)?$/.test(process.argv[1])) {
  void runCli(() => bsrcon(process.argv.slice(2), (t) => process.stdout.write(t)));
}
