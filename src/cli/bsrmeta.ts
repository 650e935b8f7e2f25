// bsrmeta: creates, inspects and repairs v09 meta data (src/commands/bsrmeta.ts).
import { bsrmeta } from '../commands/bsrmeta.js';
import { runCli } from '../common/errors.js';

void runCli(() => bsrmeta(process.argv.slice(2)));
