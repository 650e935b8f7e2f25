// Netlink framing: nlmsghdr, genlmsghdr and attributes (TLVs), host byte order.
// Pure functions on Buffers so every byte can be checked by unit tests without a kernel.

export const NLMSG_HDRLEN = 16;
export const GENL_HDRLEN = 4;
export const NLA_HDRLEN = 4;

export const NLM_F = {
  REQUEST: 0x1,
  MULTI: 0x2,
  ACK: 0x4,
  ECHO: 0x8,
  DUMP_INTR: 0x10,
  ROOT: 0x100,
  MATCH: 0x200,
  DUMP: 0x300,
  /** In an NLMSG_ERROR: the echoed request was cut to its header. */
  CAPPED: 0x100,
  /** In an NLMSG_ERROR or NLMSG_DONE: extended ack TLVs follow. */
  ACK_TLVS: 0x200,
} as const;

export const NLMSG = { NOOP: 1, ERROR: 2, DONE: 3, OVERRUN: 4 } as const;

export const NLA_F_NESTED = 0x8000;
export const NLA_F_NET_BYTEORDER = 0x4000;
export const NLA_TYPE_MASK = ~(NLA_F_NESTED | NLA_F_NET_BYTEORDER) & 0xffff;

/** Extended ack attributes in NLMSG_ERROR / NLMSG_DONE. */
export const NLMSGERR_ATTR = { MSG: 1, OFFS: 2, COOKIE: 3, POLICY: 4, MISS_TYPE: 5, MISS_NEST: 6 } as const;

/** Malformed input from the kernel (or a fixture): never trusted, always bounds-checked. */
export class NetlinkParseError extends Error {}

export const align4 = (n: number): number => (n + 3) & ~3;

export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** The bytes after the 16-byte header, exactly nlmsg_len - 16 long. */
  payload: Buffer;
}

export function encodeNlMsg(type: number, flags: number, seq: number, pid: number, payload: Buffer): Buffer {
  const len = NLMSG_HDRLEN + payload.length;
  const out = Buffer.alloc(align4(len));
  out.writeUInt32LE(len, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(flags, 6);
  out.writeUInt32LE(seq >>> 0, 8);
  out.writeUInt32LE(pid >>> 0, 12);
  payload.copy(out, NLMSG_HDRLEN);
  return out;
}

/** Splits one datagram into its messages; rejects lengths that run past the end. */
export function decodeNlMsgs(buf: Buffer): NlMsg[] {
  const out: NlMsg[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < NLMSG_HDRLEN) throw new NetlinkParseError(`truncated netlink header at offset ${off}`);
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || len > buf.length - off) {
      throw new NetlinkParseError(`bad netlink message length ${len} at offset ${off}`);
    }
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

export interface GenlHeader {
  cmd: number;
  version: number;
}

export function encodeGenlHeader(cmd: number, version: number): Buffer {
  const b = Buffer.alloc(GENL_HDRLEN);
  b[0] = cmd;
  b[1] = version;
  return b;
}

export function decodeGenlHeader(payload: Buffer): GenlHeader {
  if (payload.length < GENL_HDRLEN) throw new NetlinkParseError('truncated generic netlink header');
  return { cmd: payload[0], version: payload[1] };
}

export interface RawAttr {
  /** Type with the NESTED / NET_BYTEORDER flags masked off. */
  type: number;
  nested: boolean;
  value: Buffer;
}

export function encodeAttr(type: number, value: Buffer, nested = false): Buffer {
  const len = NLA_HDRLEN + value.length;
  if (len > 0xffff) throw new RangeError(`attribute ${type} too long (${value.length} bytes)`);
  const out = Buffer.alloc(align4(len));
  out.writeUInt16LE(len, 0);
  out.writeUInt16LE(type | (nested ? NLA_F_NESTED : 0), 2);
  value.copy(out, NLA_HDRLEN);
  return out;
}

/** Walks a run of attributes; every length is checked against the enclosing buffer. */
export function decodeAttrs(buf: Buffer): RawAttr[] {
  const out: RawAttr[] = [];
  let off = 0;
  while (off < buf.length) {
    if (buf.length - off < NLA_HDRLEN) throw new NetlinkParseError(`truncated attribute header at offset ${off}`);
    const len = buf.readUInt16LE(off);
    const rawType = buf.readUInt16LE(off + 2);
    if (len < NLA_HDRLEN || len > buf.length - off) {
      throw new NetlinkParseError(`bad attribute length ${len} at offset ${off}`);
    }
    out.push({
      type: rawType & NLA_TYPE_MASK,
      nested: (rawType & NLA_F_NESTED) !== 0,
      value: buf.subarray(off + NLA_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** A NUL-terminated (or, leniently, unterminated) string attribute. */
export function attrString(value: Buffer): string {
  const nul = value.indexOf(0);
  return value.subarray(0, nul < 0 ? value.length : nul).toString('utf8');
}

export function stringValue(text: string): Buffer {
  return Buffer.concat([Buffer.from(text, 'utf8'), Buffer.alloc(1)]);
}

export interface ExtAck {
  message?: string;
  offset?: number;
  missingType?: number;
}

function decodeExtAck(tlvs: Buffer): ExtAck {
  const ack: ExtAck = {};
  for (const a of decodeAttrs(tlvs)) {
    if (a.type === NLMSGERR_ATTR.MSG) ack.message = attrString(a.value);
    else if (a.type === NLMSGERR_ATTR.OFFS && a.value.length >= 4) ack.offset = a.value.readUInt32LE(0);
    else if (a.type === NLMSGERR_ATTR.MISS_TYPE && a.value.length >= 4) ack.missingType = a.value.readUInt32LE(0);
  }
  return ack;
}

export interface NlError {
  /** 0 for a plain ack, else a negative errno. */
  error: number;
  /** Sequence number of the request being answered (from the echoed header). */
  requestSeq: number;
  ext: ExtAck;
}

/** Parses an NLMSG_ERROR payload: error code, echoed request header (+ body unless capped), ext ack TLVs. */
export function decodeNlError(msg: NlMsg): NlError {
  const p = msg.payload;
  if (p.length < 4 + NLMSG_HDRLEN) throw new NetlinkParseError('truncated netlink error message');
  const error = p.readInt32LE(0);
  const origLen = p.readUInt32LE(4);
  const requestSeq = p.readUInt32LE(12);
  let tlvStart = 4 + NLMSG_HDRLEN;
  if (!(msg.flags & NLM_F.CAPPED)) {
    if (origLen < NLMSG_HDRLEN || 4 + origLen > p.length) throw new NetlinkParseError('bad echoed request length');
    tlvStart = 4 + align4(origLen);
  }
  const ext = msg.flags & NLM_F.ACK_TLVS && tlvStart < p.length ? decodeExtAck(p.subarray(tlvStart)) : {};
  return { error, requestSeq, ext };
}

/** NLMSG_DONE carries the dump's final status (0 or -errno) and possibly ext ack TLVs. */
export function decodeNlDone(msg: NlMsg): { error: number; ext: ExtAck } {
  const p = msg.payload;
  if (p.length < 4) return { error: 0, ext: {} };
  const ext = msg.flags & NLM_F.ACK_TLVS && p.length > 4 ? decodeExtAck(p.subarray(4)) : {};
  return { error: p.readInt32LE(0), ext };
}
