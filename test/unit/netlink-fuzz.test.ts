// Malformed input must be refused with NetlinkParseError, never read out of bounds or crash.
import { describe, expect, it } from 'vitest';
import { abi } from '../../src/abi/index.js';
import { decodeBsrMessage, decodeFamily, encodeBsrMessage } from '../../src/netlink/messages.js';
import { toStateObject } from '../../src/netlink/objects.js';
import { decodeNlDone, decodeNlError, decodeNlMsgs, NetlinkParseError, NLMSG } from '../../src/netlink/wire.js';

/** xorshift32: reproducible pseudo-random bytes. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

/** Decodes a datagram the way the client does; returns 'ok' or 'refused'. */
function decodeAll(buf: Buffer): 'ok' | 'refused' {
  try {
    for (const m of decodeNlMsgs(buf)) {
      if (m.type === NLMSG.ERROR) decodeNlError(m);
      else if (m.type === NLMSG.DONE) decodeNlDone(m);
      else if (m.type === 0x10) decodeFamily(m);
      else toStateObject(decodeBsrMessage(m));
    }
    return 'ok';
  } catch (e) {
    if (e instanceof NetlinkParseError) return 'refused';
    throw e;
  }
}

const valid = encodeBsrMessage(0x1c, 2, 5, {
  cmd: abi.commands.DEVICE_STATE,
  minor: 1,
  attrs: {
    CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_volume: 0 },
    NOTIFICATION_HEADER: { nh_type: 2 },
    DEVICE_INFO: { dev_disk_state: 9, is_intentional_diskless: 0 },
    DEVICE_STATISTICS: { dev_size: 1024n, history_uuids: Buffer.alloc(16, 1) },
    ATTACH_PARMS: { backing_dev: '/dev/vdb', meta_dev: '/dev/vdb', meta_dev_idx: -1 },
  },
});

describe('decoding hostile input', () => {
  it('accepts the unmodified message', () => {
    expect(decodeAll(valid)).toBe('ok');
  });

  it('refuses every truncation of a valid message cleanly', () => {
    const results = new Set<string>();
    for (let n = 1; n < valid.length; n++) results.add(decodeAll(valid.subarray(0, n)));
    expect(results).toEqual(new Set(['refused']));
  });

  it('survives 10,000 random byte flips in a valid message', () => {
    const r = rng(0xb5d);
    const seen = { ok: 0, refused: 0 };
    for (let i = 0; i < 10000; i++) {
      const b = Buffer.from(valid);
      const flips = 1 + Math.floor(r() * 4);
      for (let k = 0; k < flips; k++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
      seen[decodeAll(b)]++;
    }
    // both outcomes occur: flips in values decode, flips in lengths are refused
    expect(seen.ok).toBeGreaterThan(0);
    expect(seen.refused).toBeGreaterThan(0);
  });

  it('survives random datagrams of every message type', () => {
    const r = rng(42);
    const outcomes = new Set<string>();
    for (let i = 0; i < 5000; i++) {
      const len = 16 + Math.floor(r() * 80);
      const b = Buffer.alloc(len);
      for (let k = 0; k < len; k++) b[k] = Math.floor(r() * 256);
      b.writeUInt32LE(len, 0);
      b.writeUInt16LE([NLMSG.ERROR, NLMSG.DONE, 0x10, 0x1c][i % 4], 4);
      outcomes.add(decodeAll(b)); // throws on anything but NetlinkParseError
    }
    expect(outcomes.has('refused')).toBe(true);
  });
});
