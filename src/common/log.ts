// Tool logging to /var/log/bsr/NAME.log. pino is loaded on the first message only, so commands
// that log nothing (dry runs, dumps, sh-* helpers) do not pay for it at start-up. When the log
// cannot be written (no permission, read-only file system) logging silently turns itself off.
import { chmodSync, closeSync, existsSync, fchmodSync, mkdirSync, openSync } from 'node:fs';
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

/**
 * Opens the log for appending, readable by its owner only: the steps it records name devices,
 * peers and addresses. A folder made here is 0700, bsr's own folder is closed to 0700 when found
 * wider, and the file is 0600 whatever mode it had (an older version, a copy by hand). Returns
 * undefined when it cannot be written.
 */
function openPrivate(file: string): number | undefined {
  try {
    // One level only (/var/log/bsr under /var/log): Node 20's recursive mkdir spins forever on
    // some paths (e.g. under /proc) instead of failing.
    const dir = dirname(file);
    if (!existsSync(dir)) mkdirSync(dir, { mode: 0o700 });
    else if (dir === LOG_DIR) chmodSync(dir, 0o700);
    const fd = openSync(file, 'a', 0o600);
    try {
      fchmodSync(fd, 0o600);
    } catch (err) {
      closeSync(fd);
      throw err;
    }
    return fd;
  } catch {
    return undefined;
  }
}

async function openLogger(tool: string): Promise<Logger | undefined> {
  const fd = openPrivate(logFile(tool));
  if (fd === undefined) return undefined;
  try {
    const { pino } = await import('pino');
    // Synchronous writes: a CLI may exit right after logging.
    const destination = pino.destination({ fd, sync: true });
    const created: Logger = pino({ name: tool, base: { pid: process.pid } }, destination);
    return created;
  } catch {
    closeSync(fd);
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
