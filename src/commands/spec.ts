// One command-spec table per program (names, arguments, options, what runs) and the one adapter
// that turns it into commander commands. The same tables feed help, the man pages
// (scripts/gen-docs.mjs) and the bash completion, so none of them can list a command or an option
// the program does not have. Only the command named on the command line is built (all of them for
// help): building every commander object costs more than the rest of a dry run.
import { Command, CommanderError, Option } from 'commander';
import { EXIT } from '../common/errors';

/** What bash completion offers for an argument. */
export type Completion = 'resource' | 'file' | 'none';

export interface ArgSpec {
  name: string;
  description?: string;
  optional?: boolean;
  variadic?: boolean;
  complete?: Completion;
}

export interface OptionSpec {
  /** commander's form: `-v, --verbose`, `--wait-timeout <SECONDS>`, `--size=<VALUE>` (only `=`). */
  flags: string;
  description: string;
  default?: string | number;
  /** Turns the value into what run() gets; throws the program's own usage error. */
  parse?: (value: string) => unknown;
  /** The values completion offers. */
  values?: readonly string[];
}

export interface CommandSpec {
  name: string;
  summary: string;
  args: ArgSpec[];
  /** Options commander parses and hands to run(). */
  options?: OptionSpec[];
  /**
   * Options the command accepts but checks itself (bsrsetup's `--name=value` from the option
   * table) or passes on to the tool it runs (bsradm's `--force`): listed in help, man page and
   * completion, left in the words run() gets.
   */
  checkedByRun?: OptionSpec[];
  /** Words that are not options of the table reach run() unchecked (handlers, sh-* helpers). */
  anyWords?: boolean;
  /** No --help of its own: `--help` is one of the words. */
  noHelp?: boolean;
  /** Run by the kernel (a handler), not typed by users: not offered by completion. */
  internal?: boolean;
  /** run(arguments..., options, command), as commander calls an action. */
  run: (...params: never[]) => unknown;
}

export interface ProgramSpec {
  name: string;
  summary: string;
  /** The usage line when it is not commander's `[options] [command]`. */
  usage?: string;
  options: OptionSpec[];
  commands: CommandSpec[];
  /** Text after the generated help (bsrmeta's list of commands). */
  helpAfter?: string;
}

/** `<RES>`, `[RES]`, `[resources...]` */
export function argumentText(arg: ArgSpec): string {
  const name = `${arg.name}${arg.variadic ? '...' : ''}`;
  return arg.optional ? `[${name}]` : `<${name}>`;
}

/** The long name of an option (`--wait-timeout`), or its short one. */
export function optionName(option: OptionSpec): string {
  return /--[\w-]+/.exec(option.flags)?.[0] ?? option.flags.split(/[ ,]/)[0];
}

/** Whether the option takes a value (`--size <VALUE>`, `--size=<VALUE>`). */
export function takesValue(option: OptionSpec): boolean {
  return option.flags.includes('<');
}

export function commanderOption(spec: OptionSpec): Option {
  const option = new Option(spec.flags, spec.description);
  if (spec.parse) option.argParser(spec.parse);
  if (spec.default !== undefined) option.default(spec.default);
  return option;
}

/** Help text for the options a command checks itself or passes on. */
function checkedByRunHelp(options: OptionSpec[]): string {
  if (options.length === 0) return '';
  const width = Math.max(...options.map((o) => o.flags.length)) + 2;
  return `\nOptions checked by the command:\n${options.map((o) => `  ${o.flags.padEnd(width)}${o.description}`).join('\n')}\n`;
}

/** run()'s result, for the program to return as its exit code. */
export type ResultSink = (result: unknown) => void;

export function addCommand(program: Command, spec: CommandSpec, done: ResultSink = () => {}): Command {
  const command = program.command(spec.name).description(spec.summary);
  for (const arg of spec.args) command.argument(argumentText(arg), arg.description);
  for (const option of spec.options ?? []) command.addOption(commanderOption(option));
  // `in`, not the value: the list may be a getter, computed only when the help is shown.
  if ('checkedByRun' in spec) command.addHelpText('after', () => checkedByRunHelp(spec.checkedByRun ?? []));
  if (spec.anyWords) command.allowUnknownOption().allowExcessArguments();
  else if ('checkedByRun' in spec) command.allowUnknownOption();
  if (spec.noHelp) command.helpOption(false);
  const run = spec.run as (...params: unknown[]) => unknown;
  command.action(async (...params: unknown[]) => done(await run(...params)));
  return command;
}

/**
 * Adds the command `name` to the program, or every command when `name` is none of them (help, a
 * typing error commander answers with the list).
 */
export function addCommands(program: Command, spec: ProgramSpec, name: string | undefined, done?: ResultSink): void {
  const only = spec.commands.find((c) => c.name === name);
  for (const command of only ? [only] : spec.commands) addCommand(program, command, done);
}

/**
 * The program's commander object: its options, usage and help text, commander's exits turned into
 * exceptions (set before the commands are added: they inherit it).
 */
export function programFor(spec: ProgramSpec): Command {
  const program = new Command(spec.name).description(spec.summary).exitOverride();
  if (spec.usage) program.usage(spec.usage);
  for (const option of spec.options) program.addOption(commanderOption(option));
  if (spec.helpAfter) program.addHelpText('after', spec.helpAfter);
  return program;
}

/**
 * Parses and runs. commander has printed its own message for a usage error (exit 2) and for
 * help (exit 0); errors of the commands themselves pass through.
 */
export async function parseCommandLine(program: Command, args: string[]): Promise<number | undefined> {
  try {
    await program.parseAsync(args, { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    throw err;
  }
  return undefined;
}
