import { describe, expect, it } from 'vitest';
import { netemArgs, shapeScript } from '../../tools/lab/link-shape.js';

describe('lab link shape', () => {
  it('turns a rate and a delay into netem arguments with a deep queue', () => {
    expect(netemArgs({ rate: '10mbit', delay: '20ms' })).toBe('delay 20ms rate 10mbit limit 10000');
    expect(netemArgs({ delay: '1.5ms' })).toBe('delay 1.5ms limit 10000');
    expect(shapeScript('to-bravo', { rate: '2mbps' })).toContain('tc qdisc replace dev to-bravo root netem rate 2mbps');
  });

  it('refuses values tc would not take, and an empty shape, naming them', () => {
    expect(() => netemArgs({ rate: '10 mbit' })).toThrow(/rate 10 mbit/);
    expect(() => netemArgs({ rate: '10mbit; reboot' })).toThrow(/rate/);
    expect(() => netemArgs({ delay: '20' })).toThrow(/delay 20:/);
    expect(() => netemArgs({})).toThrow(/a rate, a delay or both/);
  });
});
