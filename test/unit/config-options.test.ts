import { describe, expect, it } from 'vitest';
import { abi } from '../../src/abi/index';
import {
  type AbiOptionSet,
  findOption,
  formatOptionValue,
  kernelValue,
  OPTIONS,
  optionsOfSet,
  parseOptionValue,
} from '../../src/config/options';

const SETS: AbiOptionSet[] = ['disk_conf', 'peer_device_conf', 'net_conf', 'res_opts', 'node_opts'];

function def(keyword: string) {
  const found = findOption(keyword);
  if (!found) throw new Error(`no option ${keyword}`);
  return found;
}

describe('option table against bsr-abi.json', () => {
  it.each(SETS)('every %s field has exactly one option and every option of the set is a field', (set) => {
    const fields = Object.keys(abi.sets[set]).sort();
    const options = optionsOfSet(set)
      .map((d) => d.keyword)
      .sort();
    expect(options).toEqual(fields);
  });

  it('kinds agree with the ABI field types', () => {
    for (const set of SETS) {
      for (const [keyword, field] of Object.entries(abi.sets[set])) {
        const option = optionsOfSet(set).find((d) => d.keyword === keyword);
        if (!option) throw new Error(`${set}.${keyword} missing`);
        if (field.type === 'string') expect(option.kind, keyword).toBe('string');
        else if (field.type === 'u8') expect(['boolean', 'flag'], keyword).toContain(option.kind);
        else expect(['numeric', 'enum'], keyword).toContain(option.kind);
      }
    }
  });

  it('enum options list the ABI names in ABI order', () => {
    for (const option of OPTIONS.filter((d) => d.kind === 'enum' && d.abiSet)) {
      const abiNames = abi.enums[option.keyword].filter((n) => n !== '_');
      expect(option.values, option.keyword).toEqual(abiNames);
    }
  });

  it('every default parses and lies in its range', () => {
    for (const option of OPTIONS) {
      if (option.default === undefined) continue;
      expect(() => parseOptionValue(option, option.default as string), option.keyword).not.toThrow();
    }
  });

  it('plumbing-only fields are marked as not written in a config', () => {
    for (const keyword of ['_name', 'discard-my-data', 'tentative', 'node-id']) {
      expect(findOption(keyword)?.notInConfig, keyword).toBe(true);
    }
  });
});

describe('parseOptionValue', () => {
  it('reads size suffixes in the option unit', () => {
    expect(parseOptionValue(def('resync-rate'), '250k')).toBe(250);
    expect(parseOptionValue(def('resync-rate'), '4M')).toBe(4096);
    expect(parseOptionValue(def('resync-rate'), '4096')).toBe(4096);
    expect(parseOptionValue(def('sndbuf-size'), '1M')).toBe(1048576);
    expect(parseOptionValue(def('c-fill-target'), '1M')).toBe(2048);
    expect(parseOptionValue(def('size'), '1G')).toBe(2097152);
  });

  it('scales k/K/m/M/g/G/s as drbdsetup does, from the option unit', () => {
    // Plain counts and byte sizes: the suffix multiplies (drbdsetup scale '1').
    expect(parseOptionValue(def('max-epoch-size'), '8k')).toBe(8192);
    expect(parseOptionValue(def('al-extents'), '8K')).toBe(8192);
    expect(parseOptionValue(def('max-epoch-size'), '16k')).toBe(16384);
    expect(parseOptionValue(def('sndbuf-size'), '1m')).toBe(1048576);
    expect(parseOptionValue(def('rcvbuf-size'), '2s')).toBe(1024);
    // KiB options (scale 'k'): M is 1024, s rounds up to whole KiB.
    expect(parseOptionValue(def('c-max-rate'), '100M')).toBe(102400);
    expect(parseOptionValue(def('c-min-rate'), '1g')).toBe(1048576);
    expect(parseOptionValue(def('resync-rate'), '3s')).toBe(2);
    // Sector options (scale 's'): s is 1, k is 2.
    expect(parseOptionValue(def('c-fill-target'), '10s')).toBe(10);
    expect(parseOptionValue(def('c-fill-target'), '1k')).toBe(2);
    expect(parseOptionValue(def('size'), '1g')).toBe(2097152);
  });

  it('refuses a suffix that is not a drbdsetup unit', () => {
    expect(() => parseOptionValue(def('max-epoch-size'), '8T')).toThrow(
      "max-epoch-size: '8T': unknown unit 'T' (k, M, G or s)",
    );
    expect(() => parseOptionValue(def('sndbuf-size'), '1MB')).toThrow(
      "sndbuf-size: '1MB': unknown unit 'MB' (k, M, G or s)",
    );
    expect(() => parseOptionValue(def('resync-rate'), '4KiB')).toThrow("unknown unit 'KiB'");
    expect(() => parseOptionValue(def('max-epoch-size'), '8k')).not.toThrow();
  });

  it('refuses suffixes on time options', () => {
    expect(() => parseOptionValue(def('timeout'), '6k')).toThrow("timeout: '6k' is not a number");
  });

  it('says the allowed range', () => {
    expect(() => parseOptionValue(def('al-extents'), '66')).toThrow(
      'al-extents: 66 is out of range, allowed 67 .. 65534',
    );
    expect(() => parseOptionValue(def('timeout'), '601')).toThrow('allowed 1 .. 600 (0.1s)');
  });

  it('reports the wrong type', () => {
    expect(() => parseOptionValue(def('disk-flushes'), 'maybe')).toThrow(
      "disk-flushes: expected yes or no, not 'maybe'",
    );
    expect(() => parseOptionValue(def('on-io-error'), 'panic')).toThrow("'panic' is not one of pass_on");
    expect(() => parseOptionValue(def('ko-count'), 'many')).toThrow("ko-count: 'many' is not a number");
  });

  it('refuses two primaries', () => {
    expect(() => parseOptionValue(def('allow-two-primaries'), 'yes')).toThrow('bsr does not support two primaries');
    expect(parseOptionValue(def('allow-two-primaries'), 'no')).toBe(false);
  });
});

describe('kernelValue', () => {
  it('encodes protocol as A=1 B=2 C=3', () => {
    const protocol = def('protocol');
    expect(['A', 'B', 'C'].map((p) => kernelValue(protocol, parseOptionValue(protocol, p)))).toEqual([1, 2, 3]);
  });

  it('encodes booleans as 0/1 and enums as ABI indexes', () => {
    expect(kernelValue(def('disk-flushes'), true)).toBe(1);
    expect(kernelValue(def('tcp-cork'), false)).toBe(0);
    expect(kernelValue(def('on-io-error'), 'detach')).toBe(2);
    expect(kernelValue(def('on-congestion'), 'pull-ahead')).toBe(1);
    expect(kernelValue(def('fencing'), 'resource-and-stonith')).toBe(2);
  });

  it('uses bigint for u64 fields and numbers otherwise', () => {
    expect(kernelValue(def('size'), 2097152)).toBe(2097152n);
    expect(kernelValue(def('resync-rate'), 250)).toBe(250);
    expect(kernelValue(def('shared-secret'), 's3cret')).toBe('s3cret');
  });

  it('formats values back in config syntax', () => {
    expect(formatOptionValue(def('disk-flushes'), false)).toBe('no');
    expect(formatOptionValue(def('resync-rate'), 250)).toBe('250');
  });
});

describe('findOption', () => {
  it('tells apart options sharing a block', () => {
    expect(findOption('resync-rate', ['disk', 'peer-device'])?.section).toBe('peer-device');
    expect(findOption('target-only', ['resource', 'node'])?.abiSet).toBe('node_opts');
    expect(findOption('resync-rate', 'net')).toBeUndefined();
  });
});
