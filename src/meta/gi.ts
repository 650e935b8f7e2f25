// Generation identifiers as get-gi / show-gi / set-gi present them (DRBD style): the current UUID,
// one peer's bitmap UUID, the two youngest history UUIDs and flag digits.
import { CliError, EXIT } from '../common/errors.js';
import { FLAGS, NO_BITMAP, PEER_FLAGS, type Superblock } from './superblock.js';

interface GiFlag {
  label: string;
  peer: boolean;
  mask: number;
}

/** The flag digits after the UUIDs, in order. */
const GI_FLAGS: GiFlag[] = [
  { label: 'Data consistency flag', peer: false, mask: FLAGS.CONSISTENT },
  { label: 'Data was/is currently up-to-date', peer: false, mask: FLAGS.WAS_UP_TO_DATE },
  { label: 'Node was/is currently primary', peer: false, mask: FLAGS.PRIMARY_IND },
  { label: 'Node was in the progress of becoming primary (crashed primary)', peer: false, mask: FLAGS.CRASHED_PRIMARY },
  { label: 'Activity log is clean', peer: false, mask: FLAGS.AL_CLEAN },
  { label: 'Peer was connected', peer: true, mask: PEER_FLAGS.CONNECTED },
  { label: 'Peer is outdated', peer: true, mask: PEER_FLAGS.OUTDATED },
  { label: 'Peer needs a full sync', peer: true, mask: PEER_FLAGS.FULL_SYNC },
];

const UUID_FIELDS = 4;

export const uuidText = (v: bigint): string => v.toString(16).toUpperCase().padStart(16, '0');

/** The peer node-id get-gi talks about: the given one, or the lowest one with a bitmap slot. */
export function giPeer(sb: Superblock, nodeId: number | undefined): number | undefined {
  if (nodeId !== undefined) {
    if (!Number.isInteger(nodeId) || nodeId < 0 || nodeId >= sb.peers.length)
      throw new CliError(`--node-id must be 0..${sb.peers.length - 1}`, EXIT.USAGE);
    return nodeId;
  }
  const i = sb.peers.findIndex((p) => p.bitmapIndex !== NO_BITMAP);
  return i < 0 ? undefined : i;
}

export function getGi(sb: Superblock, peer: number | undefined): string {
  const p = peer === undefined ? undefined : sb.peers[peer];
  const uuids = [sb.currentUuid, p?.bitmapUuid ?? 0n, sb.historyUuids[0], sb.historyUuids[1]].map(uuidText);
  const flags = GI_FLAGS.map((f) => (((f.peer ? (p?.flags ?? 0) : sb.flags) & f.mask) !== 0 ? '1' : '0'));
  return [...uuids, ...flags].join(':');
}

export function showGi(sb: Superblock, peer: number | undefined): string {
  const line = getGi(sb, peer);
  const cols: number[] = [];
  let at = 0;
  for (const part of line.split(':')) {
    cols.push(at);
    at += part.length + 1;
  }
  const bm = peer === undefined ? 'no peer with a bitmap' : `peer node-id ${peer}`;
  const uuidLabels = [
    'Current data generation UUID',
    `Bitmap's base data generation UUID (${bm})`,
    'younger history UUID',
    'older history UUID',
  ];
  const out: string[] = [''];
  // Header: one "+--< label >-" line per UUID, with "|" under the ones already introduced.
  uuidLabels.forEach((label, k) => {
    let s = '';
    for (let j = 0; j < k; j++) s = `${s.padEnd(cols[j] + 8)}|`;
    out.push(`${s.padEnd(cols[k] + 8)}+--<  ${label}  >-`);
  });
  out.push(cols.slice(0, UUID_FIELDS).reduce((s, c) => `${s.padEnd(c + 8)}V`, ''));
  out.push(line);
  const flagCols = cols.slice(UUID_FIELDS);
  out.push(flagCols.reduce((s, c) => `${s.padEnd(c)}^`, ''));
  GI_FLAGS.forEach((f, k) => {
    let s = `  -<  ${f.label}${f.peer && peer !== undefined ? ` (node-id ${peer})` : ''}  >`;
    s = s.length < flagCols[k] ? s.padEnd(flagCols[k], '-') : `${s}-`;
    s += '+';
    for (let j = k + 1; j < flagCols.length; j++) s = `${s.padEnd(flagCols[j])}|`;
    out.push(s);
  });
  out.push('');
  return out.join('\n');
}

function parseUuid(text: string): bigint {
  if (!/^(0x)?[0-9a-fA-F]{1,16}$/.test(text))
    throw new CliError(`"${text}" is not a UUID (up to 16 hex digits)`, EXIT.USAGE);
  return BigInt(text.startsWith('0x') ? text : `0x${text}`);
}

/**
 * Applies a get-gi style string to `sb`. Fields may be left empty (or the string cut short) to keep
 * their value; flag fields are 0 or 1. Changing peer fields needs a peer (--node-id).
 */
export function setGi(sb: Superblock, peer: number | undefined, text: string): void {
  const parts = text.split(':');
  if (parts.length > UUID_FIELDS + GI_FLAGS.length)
    throw new CliError(`set-gi takes at most ${UUID_FIELDS + GI_FLAGS.length} colon-separated fields`, EXIT.USAGE);
  const needPeer = () => {
    if (peer === undefined)
      throw new CliError('no peer has a bitmap slot: give --node-id to set peer fields', EXIT.USAGE);
    return sb.peers[peer];
  };
  parts.forEach((part, i) => {
    if (part === '') return;
    if (i < UUID_FIELDS) {
      const v = parseUuid(part);
      if (i === 0) sb.currentUuid = v;
      else if (i === 1) needPeer().bitmapUuid = v;
      else sb.historyUuids[i - 2] = v;
      return;
    }
    if (part !== '0' && part !== '1')
      throw new CliError(`flag field ${i + 1} must be 0 or 1 (got "${part}")`, EXIT.USAGE);
    const f = GI_FLAGS[i - UUID_FIELDS];
    const on = part === '1';
    if (f.peer) {
      const p = needPeer();
      p.flags = on ? (p.flags | f.mask) >>> 0 : (p.flags & ~f.mask) >>> 0;
    } else sb.flags = on ? (sb.flags | f.mask) >>> 0 : (sb.flags & ~f.mask) >>> 0;
  });
}
