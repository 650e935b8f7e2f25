// Checks the steps bsradm planned before the first one runs: a flag or value bsrsetup would refuse
// halfway through `up` is refused here, with nothing done.
import { buildRequest, MODIFY_COMMANDS, UsageError } from '../netlink/commands';
import type { Step } from './steps';

const BY_NAME = new Map(MODIFY_COMMANDS.map((spec) => [spec.name, spec]));

/**
 * Runs bsrsetup's own argument check (the request it would send, built and thrown away) on every
 * bsrsetup step that changes state. Returns the first step refused, with bsrsetup's reason.
 */
export function refusedStep(steps: Step[]): { step: Step; reason: string } | undefined {
  for (const step of steps) {
    const spec = step.program === 'bsrsetup' ? BY_NAME.get(step.args[0]) : undefined;
    if (!spec) continue;
    try {
      buildRequest(spec, step.args.slice(1));
    } catch (err) {
      if (err instanceof UsageError) return { step, reason: err.message };
      throw err;
    }
  }
  return undefined;
}
