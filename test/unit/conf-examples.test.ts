// conf-examples/ claim only what the engine does: an option shown there carries the mark
// "[not implemented yet: only the default]" exactly when bsr-abi.json marks it unimplemented.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { abi } from '../../src/abi/index';
import { findOption } from '../../src/config/options';

const DIR = join(__dirname, '../../conf-examples');
const MARK = '[not implemented yet: only the default]';

/** Every `KEYWORD VALUE;` of an example (commented out or not) with the comment after it. */
function shownOptions(): { file: string; line: number; keyword: string; comment: string }[] {
  const found = [];
  for (const file of readdirSync(DIR)) {
    const lines = readFileSync(join(DIR, file), 'utf8').split('\n');
    for (const [i, text] of lines.entries()) {
      const m = /^\s*#?\s*([a-z][a-z0-9-]*)\s[^;#]*;\s*(?:#(.*))?$/.exec(text);
      if (m) found.push({ file, line: i + 1, keyword: m[1], comment: m[2] ?? '' });
    }
  }
  return found;
}

describe('conf-examples', () => {
  it('mark exactly the options bsr.ko does not implement yet', () => {
    const wrong: string[] = [];
    let checked = 0;
    for (const o of shownOptions()) {
      const def = findOption(o.keyword);
      const field = def?.abiSet ? abi.sets[def.abiSet]?.[def.keyword] : undefined;
      if (!field) continue;
      checked++;
      if (Boolean(field.unimplemented) !== o.comment.includes(MARK))
        wrong.push(`${o.file}:${o.line}: ${o.keyword} ${field.unimplemented ? 'needs' : 'must not carry'} the mark`);
    }
    expect(checked).toBeGreaterThan(60);
    expect(wrong).toEqual([]);
  });
});
