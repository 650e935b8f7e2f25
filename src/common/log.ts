// Tool logging to /var/log/bsr/NAME.log. pino is loaded on the first message only, so commands
// that log nothing (dry runs, dumps, sh-* helpers) do not pay for it at start-up. When the log
// cannot be written (no permission, read-only file system) logging silently turns itself off.
import { accessSync, constants, existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const LOG_DIR = '/var/log/bsr';

type Logger = {
  info(fields: object, message: string): void;
  error(fields: object, message: string): void;
  flush?(): void;
};

const loggers = new Map<string, Promise<Logger | undefined>>();

/** The log file of a tool; `BSR_LOG_FILE` redirects it (tests, unprivileged runs). */
export function logFile(tool: string): string {
  return process.env.BSR_LOG_FILE ?? join(LOG_DIR, `${tool}.log`);
}

function writable(file: string): boolean {
  try {
    // One level only (/var/log/bsr under /var/log): Node 20's recursive mkdir spins forever on
    // some paths (e.g. under /proc) instead of failing.
    const dir = dirname(file);
    if (!existsSync(dir)) mkdirSync(dir);
    accessSync(dir, constants.W_OK);
    try {
      accessSync(file, constants.W_OK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return false;
    }
    return true;
  } catch {
    return false;
  }
}

async function openLogger(tool: string): Promise<Logger | undefined> {
  const file = logFile(tool);
  if (!writable(file)) return undefined;
  try {
    const { pino } = await import('pino');
    // Synchronous writes: a CLI may exit right after logging.
    const destination = pino.destination({ dest: file, sync: true });
    const created: Logger = pino({ name: tool, base: { pid: process.pid } }, destination);
    return created;
  } catch {
    return undefined;
  }
}

function logger(tool: string): Promise<Logger | undefined> {
  let pending = loggers.get(tool);
  if (!pending) {
    pending = openLogger(tool);
    loggers.set(tool, pending);
  }
  return pending;
}

export async function logInfo(tool: string, message: string, fields: object = {}): Promise<void> {
  (await logger(tool))?.info(fields, message);
}

export async function logError(tool: string, message: string, fields: object = {}): Promise<void> {
  (await logger(tool))?.error(fields, message);
}
