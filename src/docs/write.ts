// Writes the generated documents: man/NAME.8, man/bsr.conf.5 and completion/bsr.
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bashCompletion } from './completion';
import { manPages } from './man';

/** Every generated file: path under the repository root -> content. */
export function generatedDocs(): Map<string, string> {
  const files = new Map<string, string>();
  for (const [name, text] of manPages()) files.set(`man/${name}`, text);
  files.set('completion/bsr', bashCompletion());
  return files;
}

/** Writes through a temporary file and a rename: a reader never sees half a page. */
export function writeDocs(root: string): string[] {
  const written: string[] = [];
  for (const [path, text] of generatedDocs()) {
    const file = join(root, path);
    mkdirSync(join(file, '..'), { recursive: true });
    // One temporary name per process: builds run side by side in the unit tests.
    writeFileSync(`${file}.${process.pid}.tmp`, text);
    renameSync(`${file}.${process.pid}.tmp`, file);
    written.push(path);
  }
  return written;
}
