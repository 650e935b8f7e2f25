// Options bsr.ko does not implement yet are marked `"unimplemented": true` in bsr-abi.json.
// The kernel and the tools both accept only their `default`; these tests keep the two in step.
import { describe, expect, it } from 'vitest';
import { abi } from '../../src/abi/index';
import { loadConfigText } from '../../src/config/index';
import {
  defaultValue,
  findOption,
  kernelValue,
  OPTIONS,
  type OptionDef,
  OptionValueError,
  parseOptionValue,
  unimplementedDefault,
} from '../../src/config/options';
import { errorOf } from './config-helpers';

function def(keyword: string): OptionDef {
  const found = findOption(keyword);
  if (!found) throw new Error(`no option ${keyword}`);
  return found;
}

/** The option-table options whose ABI field is marked unimplemented, with that field's default. */
const MARKED = OPTIONS.flatMap((d) => {
  const field = d.abiSet ? abi.sets[d.abiSet]?.[d.keyword] : undefined;
  return field?.unimplemented ? [{ def: d, unimplemented: field.default }] : [];
});

/** A two-node resource whose net section is `net` (on line 4). */
const withNet = (net: string) => `resource r0 {
  device /dev/bsr0 minor 0;
  disk /dev/vdb; meta-disk internal;
  net { ${net} }
  on alpha { address 10.99.1.1:7789; node-id 0; }
  on bravo { address 10.99.1.2:7789; node-id 1; }
}
`;

/** A value of the option other than its default, in config syntax, or undefined if there is none. */
function otherValue(d: OptionDef): string | undefined {
  switch (d.kind) {
    case 'numeric': {
      const n = Number(d.default);
      if (d.max === undefined || n + 1 <= d.max) return String(n + 1);
      return String(n - 1);
    }
    case 'boolean':
      return d.default === 'yes' ? 'no' : 'yes';
    case 'enum':
      return d.values?.find((v) => v !== d.default);
    case 'string':
      return d.default === 'x' ? 'y' : 'x';
    case 'flag':
      return '';
  }
}

describe('unimplemented options: the ABI marks and the option table agree', () => {
  it('marks the options the kernel does not implement yet', () => {
    expect(MARKED.map((m) => m.def.keyword).sort()).toEqual(
      [
        'disk-barrier',
        'disk-drain',
        'discard-zeroes-if-aligned',
        'disable-write-same',
        'disk-timeout',
        'read-balancing',
        'rs-discard-granularity',
        'always-asbp',
        'tcp-cork',
        'socket-check-timeout',
        'transport',
        'max-io-depth',
        'peer-ack-window',
        'peer-ack-delay',
        'target-only',
      ].sort(),
    );
  });

  it.each(MARKED.map((m) => [m.def.keyword, m] as const))(
    "%s: the ABI's one accepted value is the kernel value of the tools' default",
    (_keyword, { def: d, unimplemented }) => {
      // Flags are off by default; a string without a default is the empty string.
      const dflt = defaultValue(d) ?? (d.kind === 'flag' ? false : '');
      const expected = kernelValue(d, dflt);
      expect(unimplemented).toBe(typeof expected === 'bigint' ? Number(expected) : expected);
      if (d.kind === 'flag') expect(unimplemented).toBe(0);
      if (d.kind === 'string') expect(unimplemented).toBe(d.default ?? '');
      expect(unimplementedDefault(d)).toBe(d.kind === 'flag' ? 'false' : (d.default ?? ''));
    },
  );

  it.each(MARKED.map((m) => [m.def.keyword, m.def] as const))(
    '%s: parseOptionValue takes the default and refuses any other value',
    (keyword, d) => {
      if (d.default !== undefined) expect(() => parseOptionValue(d, d.default as string)).not.toThrow();
      const other = otherValue(d);
      expect(other, `${keyword} has a value other than its default`).toBeDefined();
      expect(() => parseOptionValue(d, other as string)).toThrow(OptionValueError);
      expect(() => parseOptionValue(d, other as string)).toThrow(
        new RegExp(`^${keyword} .*: not implemented by bsr yet; only its default \\(.*\\) is accepted$`),
      );
    },
  );

  it('leaves implemented options alone', () => {
    for (const d of OPTIONS) {
      const field = d.abiSet ? abi.sets[d.abiSet]?.[d.keyword] : undefined;
      if (!field?.unimplemented) expect(unimplementedDefault(d), d.keyword).toBeUndefined();
    }
    expect(parseOptionValue(def('max-epoch-size'), '8000')).toBe(8000);
    expect(parseOptionValue(def('persist-role'), 'yes')).toBe(true);
  });
});

describe('unimplemented options in a config file', () => {
  it('socket-check-timeout other than its default fails at FILE:LINE', () => {
    expect(errorOf(withNet('socket-check-timeout 20;'))).toBe(
      'test.conf:4: socket-check-timeout 20: not implemented by bsr yet; only its default (5) is accepted',
    );
  });

  it('socket-check-timeout at its default loads', () => {
    const config = loadConfigText(withNet('socket-check-timeout 5;'), 'test.conf');
    expect(config.resources[0].connections[0].net.get('socket-check-timeout')?.value).toBe(5);
  });
});

describe('unimplemented values of an implemented option', () => {
  it('after-sb policies: the implemented ones load, the others fail at FILE:LINE', () => {
    const config = loadConfigText(
      withNet('after-sb-0pri discard-zero-changes; after-sb-1pri discard-secondary;'),
      'test.conf',
    );
    expect(config.resources[0].connections[0].net.get('after-sb-1pri')?.value).toBe('discard-secondary');
    for (const [keyword, value] of [
      ['after-sb-0pri', 'discard-younger-primary'],
      ['after-sb-0pri', 'discard-older-primary'],
      ['after-sb-1pri', 'violently-as0p'],
      ['after-sb-1pri', 'call-pri-lost-after-sb'],
    ]) {
      expect(errorOf(withNet(`${keyword} ${value};`))).toBe(
        `test.conf:4: ${keyword} ${value}: not implemented by bsr yet`,
      );
    }
  });

  it('every value the ABI marks is one of its enum', () => {
    for (const [set, fields] of Object.entries(abi.sets)) {
      for (const [name, field] of Object.entries(fields)) {
        for (const v of field.unimplementedValues ?? []) expect(abi.enums[name], `${set}.${name}`).toContain(v);
      }
    }
  });
});

describe('unimplemented options in parseOptionValue', () => {
  it('refuses rr-conflict violently', () => {
    expect(() => parseOptionValue(def('rr-conflict'), 'violently')).toThrow(
      'rr-conflict violently: not implemented by bsr yet',
    );
  });

  it('accepts rr-conflict disconnect and call-pri-lost, transport tcp and on-no-data-accessible suspend-io', () => {
    expect(parseOptionValue(def('rr-conflict'), 'disconnect')).toBe('disconnect');
    expect(parseOptionValue(def('rr-conflict'), 'call-pri-lost')).toBe('call-pri-lost');
    expect(parseOptionValue(def('transport'), 'tcp')).toBe('tcp');
    expect(parseOptionValue(def('on-no-data-accessible'), 'suspend-io')).toBe('suspend-io');
  });
});
