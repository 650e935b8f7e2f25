#!/usr/bin/env node
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
// Bundles each CLI into one self-contained ESM file under dist/ (fast start: no module resolution).
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Every src/cli/NAME.ts is a program: bin/NAME runs dist/NAME.mjs. The lab (test tooling, not
// the product) is bundled too: `npm run lab` runs dist/lab.mjs.
const entries = readdirSync(join(root, 'src/cli'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => [f.slice(0, -3), `src/cli/${f}`]);
entries.push(['lab', 'tools/lab/cli.ts']);
await Promise.all(
  entries.map(([name, source]) =>
    build({
      entryPoints: [join(root, source)],
      outfile: join(root, `dist/${name}.mjs`),
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      minify: true,
      sourcemap: false,
      legalComments: 'none',
      // The native addon is loaded at run time from its build folder.
      external: ['*.node'],
      banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
      logLevel: 'warning',
    }),
  ),
);
