import { describe, expect, it } from 'vitest';
import { netemArgs, parseLinkShape, shapeScript } from '../../tools/lab/link-shape.js';

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

  it('reads the bench --wan RATE,DELAY, either part optional, checked like a shape', () => {
    expect(parseLinkShape(undefined)).toBeUndefined();
    expect(parseLinkShape('32mbit,20ms')).toEqual({ rate: '32mbit', delay: '20ms' });
    expect(parseLinkShape('32mbit,')).toEqual({ rate: '32mbit' });
    expect(parseLinkShape(',20ms')).toEqual({ delay: '20ms' });
    expect(() => parseLinkShape('32mbit,20ms,1')).toThrow(/RATE,DELAY/);
    expect(() => parseLinkShape('fast,20ms')).toThrow(/rate fast/);
    expect(() => parseLinkShape(',')).toThrow(/a rate, a delay or both/);
  });
});
