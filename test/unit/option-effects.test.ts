// Every option bsr.ko implements names the check that shows its effect (test/lab/option-effects.ts);
// every other one is marked unimplemented in bsr-abi.json, which makes the kernel and the tools refuse it.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { abi } from '../../src/abi/index';
import { NOT_SHOWN_YET, OPTION_EFFECTS, OPTION_SETS } from '../lab/option-effects';

const ROOT = join(__dirname, '../..');

function checkFile(shownIn: string): string {
  return shownIn.startsWith('unit/')
    ? join(ROOT, 'test/unit', `${shownIn.slice('unit/'.length)}.test.ts`)
    : join(ROOT, 'test/lab', `${shownIn}.lab.ts`);
}

const fields = OPTION_SETS.flatMap((set) =>
  Object.entries(abi.sets[set] ?? {}).map(([name, f]) => ({ key: `${set}.${name}`, unimplemented: !!f.unimplemented })),
);

describe('option effects', () => {
  it('covers every option set', () => {
    for (const set of OPTION_SETS) expect(abi.sets[set], set).toBeDefined();
    expect(fields.length).toBeGreaterThan(80);
  });

  it('names a check for every implemented option, none for an unimplemented one', () => {
    const missing = fields.filter((f) => !f.unimplemented && !OPTION_EFFECTS[f.key] && !NOT_SHOWN_YET.includes(f.key));
    const refusedButListed = fields.filter(
      (f) => f.unimplemented && (OPTION_EFFECTS[f.key] || NOT_SHOWN_YET.includes(f.key)),
    );
    expect(missing.map((f) => f.key)).toEqual([]);
    expect(refusedButListed.map((f) => f.key)).toEqual([]);
  });

  it('lists only options of the ABI, each once', () => {
    const known = new Set(fields.map((f) => f.key));
    for (const key of [...Object.keys(OPTION_EFFECTS), ...NOT_SHOWN_YET]) expect(known.has(key), key).toBe(true);
    for (const key of NOT_SHOWN_YET) expect(OPTION_EFFECTS[key], key).toBeUndefined();
  });

  it.each(Object.entries(OPTION_EFFECTS))('%s: its check exists and sets it', (_key, effect) => {
    const file = checkFile(effect.shownIn);
    expect(existsSync(file), file).toBe(true);
    expect(readFileSync(file, 'utf8')).toContain(effect.token);
  });
});
