// bsradm: reads /etc/bsr.conf and turns each command into bsrsetup/bsrmeta steps (src/commands/bsradm.ts).
import { bsradm } from '../commands/bsradm';
import { runCli } from '../common/errors';

void runCli(() => bsradm(process.argv.slice(2)));
