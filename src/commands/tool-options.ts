// The options of bsrsetup's commands as data, apart from the code that runs them: bsradm passes
// them on (and documents and completes them) without loading bsrsetup.
import { describeOption, type OptionDef, optionsOfSet } from '../config/options.js';
import { type ModifyCommand, OPTIONS_ON_STDIN, SET_DEFAULTS_OK } from '../netlink/commands.js';
import type { OptionSpec } from './spec.js';

/** A config option as bsrsetup takes it: `--name=VALUE`, a yes/no option also bare. */
function configOption(def: OptionDef): OptionSpec {
  const bare = def.kind === 'flag' || def.kind === 'boolean';
  return {
    flags: bare ? `--${def.keyword}` : `--${def.keyword}=<VALUE>`,
    description: describeOption(def),
    values: def.kind === 'boolean' ? ['yes', 'no'] : def.values,
  };
}

/** The options a modify command checks itself (buildRequest): its own, then the option table's. */
export function modifyCommandOptions(spec: ModifyCommand): OptionSpec[] {
  const own = Object.entries(spec.params ?? {}).map(([name, p]) => ({
    flags: p.kind === 'flag' ? `--${name}` : `--${name}=<${p.kind === 'int' ? 'N' : 'SIZE'}>`,
    description:
      p.kind === 'sectors' ? 'sectors, or bytes with a K, M or G suffix' : p.kind === 'int' ? 'a number' : 'yes or no',
  }));
  const fromInput = spec.optionSets
    ? [{ flags: OPTIONS_ON_STDIN, description: 'read more --name=value options from stdin, each ended by a NUL' }]
    : [];
  const reset = SET_DEFAULTS_OK.has(spec.name)
    ? [{ flags: '--set-defaults', description: 'reset the options not given to their defaults' }]
    : [];
  const fromTable = (spec.optionSets ?? []).flatMap((set) =>
    optionsOfSet(set).filter((def) => !def.notInConfig || def.kind === 'flag'),
  );
  return [...own, ...reset, ...fromInput, ...fromTable.map(configOption)];
}

/** The options of bsrsetup's wait-* commands (bsradm passes startup {} as these). */
export const WAIT_OPTIONS: OptionSpec[] = [
  { flags: '--wait-timeout <SECONDS>', description: 'give up after this long (0 = forever)', default: '0' },
  {
    flags: '--degr-wfc-timeout <SECONDS>',
    description: 'instead, when this node lost a peer before (the cluster degraded; 0 = forever)',
  },
  {
    flags: '--outdated-wfc-timeout <SECONDS>',
    description: "instead, when this node's data are Outdated (0 = forever)",
  },
  { flags: '--wait-after-sb', description: 'wait on when a connection goes StandAlone (split brain) meanwhile' },
];
