// resync-ratio REPL:RESYNC: the tools read it as bsr.ko does (two whole numbers 1 .. 10000 around
// one colon, at most 11 characters) and refuse anything else before the kernel sees it, with
// FILE:LINE in bsr.conf and the option name on bsrsetup's command line.
import { describe, expect, it } from 'vitest';
import { describeOption, findOption, parseOptionValue, parseRatio, RATIO_MAX } from '../../src/config/options';
import { parseConfigText } from '../../src/config/parser';
import { buildRequest, MODIFY_COMMANDS } from '../../src/netlink/commands';

const ratio = () => {
  const def = findOption('resync-ratio');
  if (!def) throw new Error('no option resync-ratio');
  return def;
};

function confError(text: string): string {
  try {
    parseConfigText(text, 'test.conf');
  } catch (e) {
    return (e as Error).message;
  }
  return '';
}

describe('resync-ratio', () => {
  it('reads REPL:RESYNC', () => {
    expect(parseRatio('3:1')).toEqual({ repl: 3, resync: 1 });
    expect(parseRatio('1:2')).toEqual({ repl: 1, resync: 2 });
    expect(parseRatio(`${RATIO_MAX}:${RATIO_MAX}`)).toEqual({ repl: 10000, resync: 10000 });
    expect(parseRatio('007:1')).toEqual({ repl: 7, resync: 1 });
    expect(parseOptionValue(ratio(), '3:1')).toBe('3:1');
    // the empty text is no ratio: the option unset
    expect(parseOptionValue(ratio(), '')).toBe('');
  });

  it.each([
    '3',
    '3:',
    ':1',
    '0:1',
    '1:0',
    '10001:1',
    '1:10001',
    '-1:2',
    '+1:2',
    '1.5:1',
    '1:2:3',
    ' 3:1',
    '3:1\n',
    '3 : 1',
    'a:b',
    '00000000003:1',
  ])('refuses %j', (raw) => {
    expect(parseRatio(raw)).toBeUndefined();
    expect(() => parseOptionValue(ratio(), raw)).toThrow(
      `resync-ratio: '${raw}' is not REPL:RESYNC (two whole numbers 1 .. 10000, e.g. 3:1)`,
    );
  });

  it('says its format in help and the man page', () => {
    expect(describeOption(ratio())).toBe('REPL:RESYNC, two whole numbers 1 .. 10000 (e.g. 3:1), or "" for none');
  });

  it('bsr.conf: taken in a disk section, refused with FILE:LINE', () => {
    expect(confError('common {\n  disk {\n    resync-ratio 3:1;\n  }\n}')).toBe('');
    expect(confError('common {\n  disk {\n    c-min-rate 1M;\n    resync-ratio 3:0;\n  }\n}')).toBe(
      "test.conf:4: resync-ratio: '3:0' is not REPL:RESYNC (two whole numbers 1 .. 10000, e.g. 3:1)",
    );
  });

  it('bsrsetup peer-device-options: sent as text, refused before the kernel', () => {
    const spec = MODIFY_COMMANDS.find((c) => c.name === 'peer-device-options');
    if (!spec) throw new Error('no peer-device-options');
    expect(buildRequest(spec, ['r0', '1', '0', '--resync-ratio=3:1', '--c-min-rate=1M']).attrs).toEqual({
      CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_peer_node_id: 1, ctx_volume: 0 },
      PEER_DEVICE_OPTS: { 'resync-ratio': '3:1', 'c-min-rate': 1024 },
    });
    expect(() => buildRequest(spec, ['r0', '1', '0', '--resync-ratio=1:20000'])).toThrow(/resync-ratio: '1:20000'/);
  });
});
