// persist-role, recorded by the tools: `bsradm primary` and `bsradm secondary` of a resource whose
// options say `persist-role yes` write the role they set to STATE_DIR/persist-role/RES, and
// `bsradm apply-persist-role RES` (bsr.service, after `up` at boot) promotes the resource again
// when that record says Primary. The record outlives `down`, a crash and a reboot: only an
// explicit role change through bsradm changes it.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export type RecordedRole = 'Primary' | 'Secondary';

/** Where bsr keeps state across reboots (bsr-utils creates it). */
export const DEFAULT_STATE_DIR = '/var/lib/bsr';

function recordPath(stateDir: string, resource: string): string {
  return join(stateDir, 'persist-role', resource);
}

/** Writes the record whole or not at all (a crash mid-write must not leave half a role). */
export function recordRole(stateDir: string, resource: string, role: RecordedRole): void {
  const path = recordPath(stateDir, resource);
  mkdirSync(join(stateDir, 'persist-role'), { recursive: true });
  writeFileSync(`${path}.tmp`, `${role}\n`);
  renameSync(`${path}.tmp`, path);
}

/** The recorded role, or undefined when none was recorded (or the record is not a role). */
export function recordedRole(stateDir: string, resource: string): RecordedRole | undefined {
  let text: string;
  try {
    text = readFileSync(recordPath(stateDir, resource), 'utf8').trim();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  return text === 'Primary' || text === 'Secondary' ? text : undefined;
}
