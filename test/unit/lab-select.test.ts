// Which scenarios `lab test [FILTER...]` runs: tools/lab/runner.ts selected().
import { describe, expect, it } from 'vitest';
import { selected } from '../../tools/lab/runner';

describe('lab test filters', () => {
  it('selects every scenario without a filter, but not the benchmarks', () => {
    expect(selected('resync/after-link-cut', 'resync after a cut')).toBe(true);
    expect(selected('integrity/throughput', 'write throughput', [], true)).toBe(false);
  });

  it('selects by subject, part of an id or a word of the title, benchmarks too', () => {
    expect(selected('resync/after-link-cut', 'x', ['resync/'])).toBe(true);
    expect(selected('resync/after-link-cut', 'x', ['after-link'])).toBe(true);
    expect(selected('resync/after-link-cut', 'resync after a cut', ['cut'])).toBe(true);
    expect(selected('resync/after-link-cut', 'x', ['verify'])).toBe(false);
    expect(selected('integrity/throughput', 'write throughput', ['integrity'], true)).toBe(true);
  });
});
