import { describe, expect, it } from 'vitest';
import { abi } from '../../src/abi/index.js';
import type { NetlinkSocket } from '../../src/netlink/addon.js';
import { encodeTop, type TopAttrs } from '../../src/netlink/attrs.js';
import { BsrClient, KernelError, ModuleNotLoadedError } from '../../src/netlink/client.js';
import { decodeBsrMessage, GENL_ID_CTRL } from '../../src/netlink/messages.js';
import { decodeNlMsgs, encodeAttr, encodeNlMsg, NLM_F, NLMSG, type NlMsg } from '../../src/netlink/wire.js';

const FAMILY = 0x1c;
const GROUP = 7;

/** A scripted kernel: answers each request datagram with the datagrams `answer` returns. */
class FakeSocket implements NetlinkSocket {
  readonly portId = 4242;
  queue: Buffer[] = [];
  sent: NlMsg[] = [];
  groups: number[] = [];
  reader?: (err: Error | null, data?: Buffer) => void;
  closed = false;
  constructor(private readonly answer: (req: NlMsg) => Buffer[]) {}
  send(buf: Buffer): void {
    const [msg] = decodeNlMsgs(buf);
    this.sent.push(msg);
    this.queue.push(...this.answer(msg));
  }
  recv(): Buffer | null {
    return this.queue.shift() ?? null;
  }
  addMembership(group: number): void {
    this.groups.push(group);
  }
  startReading(cb: (err: Error | null, data?: Buffer) => void): void {
    this.reader = cb;
  }
  stopReading(): void {
    this.reader = undefined;
  }
  close(): void {
    this.closed = true;
  }
}

const ack = (req: NlMsg, error = 0, tlvs: Buffer = Buffer.alloc(0)) => {
  const echoed = Buffer.alloc(16);
  echoed.writeUInt32LE(req.seq, 8);
  const payload = Buffer.concat([Buffer.alloc(4), echoed, tlvs]);
  payload.writeInt32LE(error, 0);
  return encodeNlMsg(NLMSG.ERROR, NLM_F.CAPPED | (tlvs.length ? NLM_F.ACK_TLVS : 0), req.seq, 4242, payload);
};

const bsrReply = (seq: number, cmd: number, minor: number, retCode: number, attrs: TopAttrs, flags = 0) => {
  const hdr = Buffer.alloc(12);
  hdr[0] = cmd;
  hdr[1] = 2;
  hdr.writeUInt32LE(minor, 4);
  hdr.writeInt32LE(retCode, 8);
  return encodeNlMsg(FAMILY, flags, seq, 4242, Buffer.concat([hdr, encodeTop(attrs)]));
};

const familyReply = (req: NlMsg) => {
  const grp = encodeAttr(
    1,
    Buffer.concat([encodeAttr(1, Buffer.from('events\0')), encodeAttr(2, Buffer.from([GROUP, 0, 0, 0]))]),
    true,
  );
  const payload = Buffer.concat([
    Buffer.from([1, 2, 0, 0]),
    encodeAttr(1, Buffer.from([FAMILY, 0])),
    encodeAttr(2, Buffer.from('bsr\0')),
    encodeAttr(7, grp, true),
  ]);
  return [encodeNlMsg(GENL_ID_CTRL, 0, req.seq, 4242, payload), ack(req)];
};

function kernel(handle: (req: NlMsg) => Buffer[]) {
  const sockets: FakeSocket[] = [];
  const open = () => {
    const s = new FakeSocket((req) => (req.type === GENL_ID_CTRL ? familyReply(req) : handle(req)));
    sockets.push(s);
    return s;
  };
  return { open, sockets };
}

describe('BsrClient', () => {
  it('resolves the family and sends requests to its id with REQUEST|ACK', () => {
    const k = kernel((req) => [bsrReply(req.seq, abi.commands.NEW_MINOR, 1, abi.retCodes.NO_ERROR, {}), ack(req)]);
    const c = BsrClient.open(k.open);
    expect(c.family).toMatchObject({ id: FAMILY, groups: { events: GROUP } });
    const replies = c.request({
      cmd: abi.commands.NEW_MINOR,
      minor: 1,
      attrs: { CFG_CONTEXT: { ctx_resource_name: 'r0', ctx_volume: 0 } },
    });
    expect(replies).toHaveLength(1);
    const sent = k.sockets[0].sent[1];
    expect(sent.type).toBe(FAMILY);
    expect(sent.flags).toBe(NLM_F.REQUEST | NLM_F.ACK);
    const decoded = decodeBsrMessage(sent);
    expect(decoded.minor).toBe(1);
    expect(decoded.attrs.CFG_CONTEXT).toEqual({ ctx_resource_name: 'r0', ctx_volume: 0 });
  });

  it('turns a refusing ret_code into KernelError with the info text', () => {
    const k = kernel((req) => [
      bsrReply(req.seq, abi.commands.PRIMARY, 0xffffffff, abi.retCodes.STATE_REFUSED_INCONSISTENT, {
        CFG_REPLY: { info_text: 'refusing to be Primary with Inconsistent data\n' },
      }),
      ack(req),
    ]);
    const c = BsrClient.open(k.open);
    const err = (() => {
      try {
        c.request({ cmd: abi.commands.PRIMARY });
      } catch (e) {
        return e;
      }
    })() as KernelError;
    expect(err).toBeInstanceOf(KernelError);
    expect(err.codeName).toBe('STATE_REFUSED_INCONSISTENT');
    expect(err.detail).toBe('refusing to be Primary with Inconsistent data');
  });

  it('prefers the reply ret_code over the error the ack repeats, and names positive ack errors as ret codes', () => {
    const msg = encodeAttr(1, Buffer.from('unknown resource r9\0'));
    const k = kernel((req) =>
      req.seq % 2
        ? [
            bsrReply(req.seq, abi.commands.DOWN, 0xffffffff, abi.retCodes.NO_RESOURCE, {
              CFG_REPLY: { info_text: 'unknown resource r9' },
            }),
            ack(req, 101, msg),
          ]
        : [ack(req, abi.retCodes.NO_RESOURCE, msg)],
    );
    const c = BsrClient.open(k.open);
    const expected = expect.objectContaining({ codeName: 'NO_RESOURCE', detail: 'unknown resource r9' });
    expect(() => c.request({ cmd: abi.commands.DOWN })).toThrow(expected);
    expect(() => c.request({ cmd: abi.commands.DOWN })).toThrow(expected);
  });

  it('turns an errno with extack into KernelError', () => {
    const k = kernel((req) => [ack(req, -1, encodeAttr(1, Buffer.from('CAP_NET_ADMIN required\0')))]);
    const c = BsrClient.open(k.open);
    expect(() => c.request({ cmd: abi.commands.DOWN })).toThrow(
      expect.objectContaining({ codeName: 'EPERM', detail: 'CAP_NET_ADMIN required', errno: 1 }),
    );
  });

  it('gathers a multipart dump across datagrams and ignores stale sequence numbers', () => {
    const k = kernel((req) => {
      const r = (name: string) =>
        bsrReply(
          req.seq,
          abi.commands.GET_RESOURCES,
          0xffffffff,
          0,
          { CFG_CONTEXT: { ctx_resource_name: name } },
          NLM_F.MULTI,
        );
      const stale = bsrReply(req.seq - 1, abi.commands.GET_RESOURCES, 0, 0, {}, NLM_F.MULTI);
      const done = encodeNlMsg(NLMSG.DONE, NLM_F.MULTI, req.seq, 4242, Buffer.alloc(4));
      return [Buffer.concat([stale, r('r0'), r('r1')]), Buffer.concat([r('r2'), done])];
    });
    const c = BsrClient.open(k.open);
    const out = c.dump({ cmd: abi.commands.GET_RESOURCES });
    expect(out.map((m) => m.attrs.CFG_CONTEXT?.ctx_resource_name)).toEqual(['r0', 'r1', 'r2']);
    expect(k.sockets[0].sent[1].flags).toBe(NLM_F.REQUEST | NLM_F.DUMP);
  });

  it('reports a missing family as the module not being loaded', () => {
    const open = () => new FakeSocket((req) => [ack(req, -2)]);
    expect(() => BsrClient.open(open)).toThrow(ModuleNotLoadedError);
  });

  it('times out instead of hanging when the kernel stays silent', () => {
    const k = kernel(() => []);
    const c = BsrClient.open(k.open, { timeoutMs: 10 });
    expect(() => c.request({ cmd: abi.commands.DOWN })).toThrow(expect.objectContaining({ codeName: 'TIMEOUT' }));
  });

  it('delivers events from a separate socket joined to the events group', () => {
    const k = kernel(() => []);
    const c = BsrClient.open(k.open);
    const got: string[] = [];
    const errors: Error[] = [];
    const sub = c.subscribe(
      (m) => got.push(String(m.attrs.CFG_CONTEXT?.ctx_resource_name)),
      (e) => errors.push(e),
    );
    const ev = k.sockets[1];
    expect(ev.groups).toEqual([GROUP]);
    ev.reader?.(
      null,
      bsrReply(0, abi.commands.RESOURCE_STATE, 0xffffffff, 0, { CFG_CONTEXT: { ctx_resource_name: 'r0' } }),
    );
    ev.reader?.(null, Buffer.from([1, 2, 3])); // garbage: reported, not thrown
    expect(got).toEqual(['r0']);
    expect(errors).toHaveLength(1);
    sub.close();
    expect(ev.closed).toBe(true);
  });
});
