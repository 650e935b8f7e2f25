// bsrsetup: drives the bsr kernel module over generic netlink (src/commands/bsrsetup.ts).

import { bsrsetup } from '../commands/bsrsetup.js';
import { runCli } from '../common/errors.js';

void runCli(() => bsrsetup(process.argv.slice(2)));
