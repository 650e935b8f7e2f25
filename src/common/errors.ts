// Errors that carry the process exit code the CLIs promise (see README: exit codes).

export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  /** A configuration error: FILE:LINE: message, nothing was run. */
  CONFIG: 10,
  /** A kernel request was refused (the message says why). */
  KERNEL: 11,
  /** The user declined a destructive step. */
  DECLINED: 16,
  /** The module is not loaded / the netlink family is missing. */
  NO_MODULE: 20,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.FAILURE,
  ) {
    super(message);
  }
}

/** A configuration error at FILE:LINE; printed as `FILE:LINE: message`, exit code 10. */
export class ConfigError extends CliError {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly detail: string,
  ) {
    super(`${file}:${line}: ${detail}`, EXIT.CONFIG);
  }
}

/** What a shell reports for a program killed by SIGPIPE (128 + 13). */
const EXIT_BROKEN_PIPE = 141;

/**
 * Output that cannot be written ends the program at once: a reader that went away (`| head`,
 * EPIPE) quietly with 141, as SIGPIPE ends a C tool; anything else (ENOSPC) with one line on
 * stderr and exit 1. Without this Node prints an unhandled 'error' event with a stack trace.
 */
function onOutputError(err: NodeJS.ErrnoException): void {
  if (err.code === 'EPIPE') process.exit(EXIT_BROKEN_PIPE);
  process.stderr.write(`cannot write the output: ${err.message}\n`);
  process.exit(EXIT.FAILURE);
}

/** Runs a CLI main function: prints CliError messages on stderr and exits with their code. */
export async function runCli(main: () => Promise<number | undefined> | number | undefined): Promise<void> {
  process.stdout.on('error', onOutputError);
  try {
    const code = await main();
    process.exitCode = code ?? 0;
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`${err.message}\n`);
      process.exitCode = err.exitCode;
    } else {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = EXIT.FAILURE;
    }
  }
}
