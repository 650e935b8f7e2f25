// bsrmeta's options as data, apart from the code that runs its commands: bsradm passes them on
// (and documents and completes them) without loading bsrmeta.
import { metaData } from '../abi/index.js';
import { CliError, EXIT } from '../common/errors.js';
import type { OptionSpec } from './spec.js';

function intOption(name: string, min: number, max: number) {
  return (value: string): number => {
    if (!/^-?\d+$/.test(value)) throw new CliError(`${name}: "${value}" is not a number`, EXIT.USAGE);
    const n = Number(value);
    if (n < min || n > max) throw new CliError(`${name} must be ${min}..${max} (got ${n})`, EXIT.USAGE);
    return n;
  };
}

export const BSRMETA_OPTIONS: OptionSpec[] = [
  { flags: '--force', description: 'do not ask; overwrite even where create-md would refuse' },
  {
    flags: '--max-peers <n>',
    description: 'create-md: bitmap slots (peers)',
    parse: intOption('--max-peers', 1, metaData.maxPeers),
    default: 1,
  },
  {
    flags: '--al-stripes <n>',
    description: 'create-md: activity-log stripes',
    parse: intOption('--al-stripes', 1, 1024),
    default: metaData.defaultAlStripes,
  },
  {
    flags: '--al-stripe-size-kB <n>',
    description: 'create-md: activity-log stripe size in KiB',
    parse: intOption('--al-stripe-size-kB', 4, 1024 * 1024),
    default: metaData.defaultAlStripeSize4k * 4,
  },
  {
    flags: '--node-id <n>',
    description: "create-md: this node's id; get-gi/show-gi/set-gi: the peer",
    parse: intOption('--node-id', 0, metaData.maxPeers - 1),
  },
];
