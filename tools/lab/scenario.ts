// A lab scenario: the default export of a test/lab/SUBJECT/NAME.lab.ts file, run by
// `node dist/lab.mjs test`. Its id is SUBJECT/NAME (e.g. resync/after-link-cut).
import type { Lab } from './types.js';

export type { DiskFaults, ExecOptions, ExecResult, Lab, LabInfo, NodeInfo, NodeName } from './types.js';
export { LabExecError, NODE_NAMES } from './types.js';

/**
 * Every scenario starts on nodes as if freshly booted: empty disks of its size, empty writable
 * folders (/tmp, /run, /var/..., /etc changes dropped), all links up, no dm or loop devices, and the
 * project's bsr.ko loaded when it has been built. The runner keeps the nodes booted between
 * scenarios and resets them (tools/lab/reset.ts) unless a scenario asks for a pristine boot.
 */
export interface Scenario {
  /** One line on what it shows (the id SUBJECT/NAME comes from the file's place). */
  title: string;
  /** How many nodes the lab needs: alpha, bravo (and charlie). */
  nodes: 2 | 3;
  /** Size of each of /dev/vda and /dev/vdb. Default "512M". */
  diskSize?: string;
  /** Time limit for `run`, in seconds. Default 300. */
  timeoutSec?: number;
  /**
   * Load native/kmod/bsr.ko at every boot when it has been built (default true). Set false for
   * scenarios using the guest kernel's DRBD 8.4: bsr.ko and drbd.ko claim the same block major.
   */
  bsrModule?: boolean;
  /** Boot fresh nodes for this scenario instead of resetting booted ones (e.g. it checks boot itself). */
  pristine?: boolean;
  /**
   * A benchmark: it prints figures rather than checks a behaviour, so a run without filters (npm
   * test) leaves it out; a filter that selects it runs it (`lab test integrity/throughput`).
   */
  benchmark?: boolean;
  run(lab: Lab): Promise<void>;
}

/** Identity helper giving type checking to a scenario literal: `export default scenario({...})`. */
export function scenario(s: Scenario): Scenario {
  return s;
}
