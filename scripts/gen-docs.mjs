#!/usr/bin/env node
// Generates the man pages (man/*.8, man/bsr.conf.5) and the bash completion (completion/bsr) from
// the command tables and the option table (src/docs). The files are committed, so a package can
// be built from a checkout; a unit test fails when they are stale. Also run by scripts/build.mjs.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export async function generateDocs() {
  const dir = mkdtempSync(join(tmpdir(), 'bsr-docs-'));
  try {
    const outfile = join(dir, 'docs.mjs');
    await build({
      entryPoints: [join(root, 'src/docs/write.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      format: 'esm',
      external: ['*.node'],
      banner: { js: "import{createRequire as __cr}from'node:module';const require=__cr(import.meta.url);" },
      logLevel: 'warning',
    });
    const { writeDocs } = await import(pathToFileURL(outfile).href);
    return writeDocs(root);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const path of await generateDocs()) console.log(path);
}
