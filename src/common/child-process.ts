// node:child_process pulls in net and stream (~10 ms at start-up); most commands never run a
// program, so it is required on first use (a require, not import(): the bundles run as scripts
// with a code cache, see src/launch/launch.cjs).
import { createRequire } from 'node:module';

export function childProcess(): typeof import('node:child_process') {
  return createRequire(import.meta.url)('node:child_process');
}
