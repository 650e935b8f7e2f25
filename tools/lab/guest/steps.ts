// The lab's runner of several tool command lines in one guest process: each line of stdin is
// `bsrsetup ARGS` or `bsrmeta ARGS` (words split on blanks), run in order exactly as that program
// runs them, stopping at the first that fails with its exit code. A fixture's create-md and six
// or seven bsrsetup steps then pay one node start-up in the emulated guest (about a second under
// load) instead of one each; the programs themselves are what the scenarios run everywhere else.
// Test tooling, not the product.
import { readFileSync } from 'node:fs';
import { bsrmeta } from '../../../src/commands/bsrmeta.js';
import { bsrsetup } from '../../../src/commands/bsrsetup.js';
import { runCli } from '../../../src/common/errors.js';

const PROGRAMS: Record<string, (argv: string[]) => Promise<number>> = { bsrsetup, bsrmeta };

void runCli(async () => {
  const lines = readFileSync(0, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  for (const line of lines) {
    const [name, ...argv] = line.split(/\s+/);
    const program = PROGRAMS[name];
    if (!program) throw new Error(`not a program this runner knows: ${line}`);
    const code = await program(argv);
    if (code !== 0) {
      process.stderr.write(`${line}: exit code ${code}\n`);
      return code;
    }
  }
  return 0;
});
