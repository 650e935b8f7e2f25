// Whole messages: bsr requests/replies (genl header + bsr family header + attributes) and the
// generic netlink controller's family lookup.
import { abi } from '../abi/index.js';
import { type DecodedTop, decodeTop, encodeTop, type TopAttrs } from './attrs.js';
import {
  attrString,
  decodeAttrs,
  decodeGenlHeader,
  encodeAttr,
  encodeGenlHeader,
  encodeNlMsg,
  GENL_HDRLEN,
  NetlinkParseError,
  type NlMsg,
  stringValue,
} from './wire.js';

/** Minor number meaning "not addressed by minor" (resource- or connection-level requests). */
export const NO_MINOR = 0xffffffff;
export const BSR_HDRLEN = abi.genl.userHeaderSize;

export interface BsrRequest {
  cmd: number;
  minor?: number;
  /** bsr header flags, e.g. BSR_GENL_F_SET_DEFAULTS. */
  flags?: number;
  attrs?: TopAttrs;
}

export function encodeBsrPayload(req: BsrRequest): Buffer {
  const hdr = Buffer.alloc(BSR_HDRLEN);
  hdr.writeUInt32LE((req.minor ?? NO_MINOR) >>> 0, 0);
  hdr.writeUInt32LE((req.flags ?? 0) >>> 0, 4);
  return Buffer.concat([encodeGenlHeader(req.cmd, abi.genl.version), hdr, encodeTop(req.attrs ?? {})]);
}

export function encodeBsrMessage(familyId: number, nlFlags: number, seq: number, req: BsrRequest): Buffer {
  return encodeNlMsg(familyId, nlFlags, seq, 0, encodeBsrPayload(req));
}

export interface BsrMessage extends DecodedTop {
  cmd: number;
  minor: number;
  /** The header's second word read as ret_code (replies) - same bits as flags (requests). */
  retCode: number;
  seq: number;
  nlFlags: number;
}

export function decodeBsrMessage(msg: NlMsg): BsrMessage {
  const { cmd } = decodeGenlHeader(msg.payload);
  const p = msg.payload;
  if (p.length < GENL_HDRLEN + BSR_HDRLEN) throw new NetlinkParseError('truncated bsr header');
  const minor = p.readUInt32LE(GENL_HDRLEN);
  const retCode = p.readInt32LE(GENL_HDRLEN + 4);
  return { cmd, minor, retCode, seq: msg.seq, nlFlags: msg.flags, ...decodeTop(p.subarray(GENL_HDRLEN + BSR_HDRLEN)) };
}

// Generic netlink controller (linux/genetlink.h)
export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD = { NEWFAMILY: 1, GETFAMILY: 3 } as const;
export const CTRL_ATTR = { FAMILY_ID: 1, FAMILY_NAME: 2, VERSION: 3, HDRSIZE: 4, MAXATTR: 5, MCAST_GROUPS: 7 } as const;
export const CTRL_ATTR_MCAST_GRP = { NAME: 1, ID: 2 } as const;

export function encodeGetFamily(name: string, nlFlags: number, seq: number): Buffer {
  const payload = Buffer.concat([
    encodeGenlHeader(CTRL_CMD.GETFAMILY, 1),
    encodeAttr(CTRL_ATTR.FAMILY_NAME, stringValue(name)),
  ]);
  return encodeNlMsg(GENL_ID_CTRL, nlFlags, seq, 0, payload);
}

export interface FamilyInfo {
  id: number;
  name: string;
  version: number;
  groups: Record<string, number>;
}

export function decodeFamily(msg: NlMsg): FamilyInfo {
  const { cmd } = decodeGenlHeader(msg.payload);
  if (cmd !== CTRL_CMD.NEWFAMILY) throw new NetlinkParseError(`unexpected controller command ${cmd}`);
  const info: FamilyInfo = { id: -1, name: '', version: 0, groups: {} };
  for (const a of decodeAttrs(msg.payload.subarray(GENL_HDRLEN))) {
    if (a.type === CTRL_ATTR.FAMILY_ID && a.value.length >= 2) info.id = a.value.readUInt16LE(0);
    else if (a.type === CTRL_ATTR.FAMILY_NAME) info.name = attrString(a.value);
    else if (a.type === CTRL_ATTR.VERSION && a.value.length >= 4) info.version = a.value.readUInt32LE(0);
    else if (a.type === CTRL_ATTR.MCAST_GROUPS) {
      // An array: each element is a nested attribute (type = index) holding NAME and ID.
      for (const grp of decodeAttrs(a.value)) {
        let name: string | undefined;
        let id: number | undefined;
        for (const g of decodeAttrs(grp.value)) {
          if (g.type === CTRL_ATTR_MCAST_GRP.NAME) name = attrString(g.value);
          else if (g.type === CTRL_ATTR_MCAST_GRP.ID && g.value.length >= 4) id = g.value.readUInt32LE(0);
        }
        if (name !== undefined && id !== undefined) info.groups[name] = id;
      }
    }
  }
  if (info.id < 0) throw new NetlinkParseError('controller reply without a family id');
  return info;
}
