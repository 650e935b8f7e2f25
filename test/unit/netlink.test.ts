import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { abi } from '../../src/abi/index.js';
import { decodeTop, encodeSet, encodeTop, setOf } from '../../src/netlink/attrs.js';
import { decodeBsrMessage, decodeFamily, encodeBsrMessage, encodeGetFamily } from '../../src/netlink/messages.js';
import { toStateObject } from '../../src/netlink/objects.js';
import {
  decodeAttrs,
  decodeNlDone,
  decodeNlError,
  decodeNlMsgs,
  encodeAttr,
  encodeNlMsg,
  NetlinkParseError,
  NLM_F,
  NLMSG,
} from '../../src/netlink/wire.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const fixture = (name: string) =>
  readFileSync(join(__dirname, '../fixtures/netlink', name), 'utf8')
    .trim()
    .split('\n')
    .map((l) => hex(l));

describe('netlink framing', () => {
  it('encodes nlmsghdr little-endian with the length before padding', () => {
    const b = encodeNlMsg(0x1c, NLM_F.REQUEST | NLM_F.ACK, 7, 0, hex('0102 03'));
    expect(b.toString('hex')).toBe(`13000000 1c00 0500 07000000 00000000 010203 00`.replace(/ /g, ''));
  });

  it('pads attributes to 4 bytes and sets NLA_F_NESTED when asked', () => {
    expect(encodeAttr(2, Buffer.from('ab\0')).toString('hex')).toBe('0700020061620000');
    expect(encodeAttr(3, Buffer.alloc(0), true).toString('hex')).toBe('04000380');
  });

  it('decodes attributes and masks the flag bits off the type', () => {
    const attrs = decodeAttrs(hex('0700020061620000 04000380 0500 0100 2a000000'));
    expect(attrs.map((a) => [a.type, a.nested, a.value.toString('hex')])).toEqual([
      [2, false, '616200'],
      [3, true, ''],
      [1, false, '2a'],
    ]);
  });

  it('rejects malformed attributes and messages instead of reading past the end', () => {
    expect(() => decodeAttrs(hex('0300 0100'))).toThrow(NetlinkParseError); // len < header
    expect(() => decodeAttrs(hex('0900 0100 00000000'))).toThrow(NetlinkParseError); // runs past end
    expect(() => decodeAttrs(hex('0800 01'))).toThrow(NetlinkParseError); // truncated header
    expect(() => decodeNlMsgs(hex('0f000000 0200 0000 00000000 00000000'))).toThrow(NetlinkParseError);
    expect(() => decodeNlMsgs(hex('40000000 0200 0000 00000000 00000000'))).toThrow(NetlinkParseError);
    expect(() => decodeNlMsgs(hex('10000000 0200'))).toThrow(NetlinkParseError);
  });

  it('splits a datagram holding several aligned messages', () => {
    const a = encodeNlMsg(0x20, NLM_F.MULTI, 5, 99, hex('aa'));
    const b = encodeNlMsg(NLMSG.DONE, NLM_F.MULTI, 5, 99, hex('00000000'));
    const msgs = decodeNlMsgs(Buffer.concat([a, b]));
    expect(msgs.map((m) => [m.type, m.seq, m.pid, m.payload.toString('hex')])).toEqual([
      [0x20, 5, 99, 'aa'],
      [NLMSG.DONE, 5, 99, '00000000'],
    ]);
    expect(decodeNlDone(msgs[1]).error).toBe(0);
  });
});

describe('bsr messages', () => {
  it('encodes new-resource r0 0 byte for byte', () => {
    const b = encodeBsrMessage(0x1c, NLM_F.REQUEST | NLM_F.ACK, 7, {
      cmd: abi.commands.NEW_RESOURCE,
      attrs: { CFG_CONTEXT: { ctx_resource_name: 'r0' }, RESOURCE_OPTS: { 'node-id': 0 } },
    });
    const expected =
      '34000000 1c00 0500 07000000 00000000' + // nlmsghdr: len 52
      '07 02 0000' + // genl: NEW_RESOURCE, version 2
      'ffffffff 00000000' + // bsr header: no minor, flags 0
      '0c00 0280 0700 0200 72300000' + // CFG_CONTEXT { ctx_resource_name "r0" }
      '0c00 0480 0800 0800 00000000'; // RESOURCE_OPTS { node-id 0 }
    expect(b.toString('hex')).toBe(expected.replace(/ /g, ''));
  });

  it('orders set members by id and encodes every type', () => {
    const b = encodeSet('disk_conf', setOf('DISK_CONF'), { 'resync-after': -1, size: 2048n, 'disk-flushes': 1 });
    expect(b.toString('hex')).toBe(
      ['0c00 0100 0008000000000000', '0500 0400 01000000', '0800 0800 ffffffff'].join('').replace(/ /g, ''),
    );
  });

  it('encodes congestion-fill as u64 beyond 32 bits', () => {
    const b = encodeSet('net_conf', setOf('NET_CONF'), { 'congestion-fill': 10737418240n });
    expect(b.toString('hex')).toBe('0c001a000000008002000000');
  });

  it('round-trips top-level attributes', () => {
    const attrs = {
      ATTACH_PARMS: { backing_dev: '/dev/vdb', meta_dev: '/dev/vdc', meta_dev_idx: -2 },
      DISK_CONF: { size: 0xfedcba9876543210n, 'on-io-error': 3, 'md-flushes': 0 },
      PATH_PARMS: { my_addr: hex('02001b58 0a01011f 0000000000000000') },
    };
    const decoded = decodeTop(encodeTop(attrs));
    expect(decoded.attrs).toEqual(attrs);
    expect(decoded.all.map((a) => a.name)).toEqual(['DISK_CONF', 'PATH_PARMS', 'ATTACH_PARMS']);
  });

  it('refuses values the kernel policy would refuse', () => {
    const set = setOf('DISK_CONF');
    expect(() => encodeSet('disk_conf', set, { 'no-such': 1 })).toThrow(/not a member/);
    expect(() => encodeSet('disk_conf', set, { 'al-extents': -1 })).toThrow(/out of range/);
    expect(() => encodeSet('disk_conf', set, { 'disk-flushes': 256 })).toThrow(/out of range/);
    expect(() => encodeSet('disk_conf', set, { 'al-extents': 'x' })).toThrow(/integer/);
    expect(() => encodeSet('net_conf', setOf('NET_CONF'), { _name: 'x'.repeat(64) })).toThrow(/longer than 63/);
    expect(() => encodeSet('net_conf', setOf('NET_CONF'), { _name: 'x'.repeat(63) })).not.toThrow();
  });

  it('rejects a known attribute with the wrong size and skips unknown ids', () => {
    // DISK_CONF { id 9 (al-extents, u32) with 2 bytes }
    expect(() => decodeTop(hex('0c00 0380 0600 0900 0100 0000'))).toThrow(NetlinkParseError);
    // DISK_CONF { id 200 unknown } and an unknown top-level id 250
    expect(decodeTop(hex('0c00 0380 0800 c800 01000000 0800 fa00 01000000')).attrs).toEqual({ DISK_CONF: {} });
  });

  it('decodes a reply: header minor and ret_code, context, info text', () => {
    const payload = Buffer.concat([
      hex('0c 02 0000'),
      hex('01000000 6e000000'), // minor 1, ret_code 110 (NO_RESOURCE)
      encodeTop({ CFG_REPLY: { info_text: 'unknown resource r9' } }),
    ]);
    const m = decodeBsrMessage({ type: 0x1c, flags: 0, seq: 3, pid: 0, payload });
    expect(m.cmd).toBe(abi.commands.ATTACH);
    expect(m.minor).toBe(1);
    expect(m.retCode).toBe(abi.retCodes.NO_RESOURCE);
    expect(m.attrs.CFG_REPLY?.info_text).toBe('unknown resource r9');
  });

  it('classifies notifications and dump replies as state objects', () => {
    const note = decodeBsrMessage({
      type: 0x1c,
      flags: 0,
      seq: 0,
      pid: 0,
      payload: Buffer.concat([
        hex('25 02 0000 ffffffff 00000000'),
        encodeTop({
          CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_peer_node_id: 1, ctx_volume: 0 },
          NOTIFICATION_HEADER: { nh_type: abi.notificationTypes.CHANGE | abi.notificationTypes.NOTIFY_CONTINUES },
          PEER_DEVICE_INFO: { peer_repl_state: 7 },
        }),
      ]),
    });
    expect(toStateObject(note)).toMatchObject({
      kind: 'peer-device',
      action: 'change',
      continues: true,
      resource: 'r0',
      peerNodeId: 1,
      volume: 0,
      minor: undefined,
    });
    const dumped = decodeBsrMessage({
      type: 0x1c,
      flags: NLM_F.MULTI,
      seq: 4,
      pid: 0,
      payload: Buffer.concat([
        hex('1f 02 0000 05000000 00000000'),
        encodeTop({ CFG_CONTEXT: { ctx_resource_name: 'r1', ctx_volume: 0xffffffff } }),
      ]),
    });
    expect(toStateObject(dumped)).toMatchObject({ kind: 'device', action: 'exists', minor: 5, volume: undefined });
  });
});

describe('errors and acks', () => {
  it('parses a real kernel ENOENT (capped, no TLVs) captured from a family lookup', () => {
    const [dgram] = fixture('ctrl-getfamily-missing.hex');
    const [msg] = decodeNlMsgs(dgram);
    expect(msg.type).toBe(NLMSG.ERROR);
    expect(decodeNlError(msg)).toEqual({ error: -2, requestSeq: 12, ext: {} });
  });

  it('parses a real bsr.ko policy refusal with extack (message, offset, policy)', () => {
    // Captured in the lab: NEW_MINOR whose ctx_volume (u32) was sent as 2 bytes.
    const [dgram] = fixture('bsr-new-minor-einval-extack.hex');
    const [msg] = decodeNlMsgs(dgram);
    expect(msg.flags).toBe(NLM_F.CAPPED | NLM_F.ACK_TLVS);
    expect(decodeNlError(msg)).toEqual({
      error: -22,
      requestSeq: 2,
      ext: { message: 'invalid attribute length', offset: 40 },
    });
  });

  it('parses an extended ack with message and offset (capped)', () => {
    const err =
      '3c000000 0200 0003 09000000 00000000' + // ERROR (60 bytes), flags CAPPED|ACK_TLVS
      'eaffffff' + // -EINVAL
      '24000000 1c00 0500 09000000 00000000' + // echoed request header, seq 9
      '0e00 0100 626164206d696e6f7200 0000' + // NLMSGERR_ATTR_MSG "bad minor"
      '0800 0200 24000000'; // NLMSGERR_ATTR_OFFS 36
    const [msg] = decodeNlMsgs(hex(err));
    expect(decodeNlError(msg)).toEqual({ error: -22, requestSeq: 9, ext: { message: 'bad minor', offset: 36 } });
  });

  it('skips the echoed request body when the error is not capped', () => {
    const req = encodeNlMsg(0x1c, 5, 4, 0, hex('0e020000 ffffffff 00000000'));
    const tlv = encodeAttr(1, Buffer.from('need CAP_NET_ADMIN\0'));
    const payload = Buffer.concat([hex('ffffffff'), req, tlv]); // -EPERM
    const [msg] = decodeNlMsgs(encodeNlMsg(NLMSG.ERROR, NLM_F.ACK_TLVS, 4, 0, payload));
    expect(decodeNlError(msg)).toEqual({ error: -1, requestSeq: 4, ext: { message: 'need CAP_NET_ADMIN' } });
  });

  it('rejects an error message whose echoed request length lies', () => {
    const [msg] = decodeNlMsgs(
      hex('24000000 0200 0000 01000000 00000000 eaffffff ff000000 1c000500 01000000 00000000'),
    );
    expect(() => decodeNlError(msg)).toThrow(NetlinkParseError);
    expect(() => decodeNlError({ ...msg, payload: msg.payload.subarray(0, 10) })).toThrow(NetlinkParseError);
  });

  it('reads a failed dump status with its message from NLMSG_DONE', () => {
    const payload = Buffer.concat([hex('edffffff'), encodeAttr(1, Buffer.from('no such resource\0'))]);
    const [msg] = decodeNlMsgs(encodeNlMsg(NLMSG.DONE, NLM_F.MULTI | NLM_F.ACK_TLVS, 1, 0, payload));
    expect(decodeNlDone(msg)).toEqual({ error: -19, ext: { message: 'no such resource' } });
  });
});

describe('generic netlink controller', () => {
  it('encodes CTRL_CMD_GETFAMILY for "bsr"', () => {
    expect(encodeGetFamily('bsr', NLM_F.REQUEST | NLM_F.ACK, 1).toString('hex')).toBe(
      '1c000000 1000 0500 01000000 00000000 03 01 0000 0800 0200 62737200'.replace(/ /g, ''),
    );
  });

  it('decodes a real controller reply (nlctrl) with its multicast group', () => {
    const [reply, ack] = fixture('ctrl-getfamily-nlctrl.hex');
    const [msg] = decodeNlMsgs(reply);
    const fam = decodeFamily(msg);
    expect(fam.id).toBe(0x10);
    expect(fam.name).toBe('nlctrl');
    expect(fam.version).toBeGreaterThan(0);
    expect(fam.groups).toEqual({ notify: 0x10 });
    expect(decodeNlError(decodeNlMsgs(ack)[0]).error).toBe(0);
  });

  it('decodes a hand-built bsr family with the events group', () => {
    const grp = encodeAttr(
      1,
      Buffer.concat([encodeAttr(1, Buffer.from('events\0')), encodeAttr(2, hex('05000000'))]),
      true,
    );
    const payload = Buffer.concat([
      hex('01 02 0000'),
      encodeAttr(1, hex('1c00')),
      encodeAttr(2, Buffer.from('bsr\0')),
      encodeAttr(3, hex('02000000')),
      encodeAttr(7, grp, true),
    ]);
    const [msg] = decodeNlMsgs(encodeNlMsg(0x10, 0, 1, 0, payload));
    expect(decodeFamily(msg)).toEqual({ id: 0x1c, name: 'bsr', version: 2, groups: { events: 5 } });
  });
});
