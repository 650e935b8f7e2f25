// vitest global setup: bundles dist/ once, before any test file runs. The tests that run the
// built programs (bin wrappers, bsradm, completion, secrets...) then see a fresh build, and no
// file rebuilds dist/ while another runs the programs from it.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

export default function buildOnce(): void {
  const build = spawnSync(process.execPath, ['scripts/build.mjs'], {
    cwd: join(__dirname, '../..'),
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new Error(`scripts/build.mjs failed (exit ${build.status}):\n${build.stderr}`);
}
