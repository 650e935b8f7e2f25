// show-gi / get-gi from the running kernel: the UUID_INFO of a device (and the peer device's
// meta-data flags) put into the superblock shape that bsrmeta's formatter (src/meta/gi.ts) reads,
// so both tools print the very same text.
import { getGi, showGi } from '../meta/gi.js';
import { emptyPeer, type Superblock } from '../meta/superblock.js';
import type { SetValues } from '../netlink/attrs.js';

const u64s = (v: unknown): bigint[] => {
  if (!Buffer.isBuffer(v)) return [];
  const out: bigint[] = [];
  for (let off = 0; off + 8 <= v.length; off += 8) out.push(v.readBigUInt64LE(off));
  return out;
};

export interface GiSource {
  /** UUID_INFO of the device. */
  uuid: SetValues;
  /** PEER_DEVICE_STATISTICS of the peer device, when there is one. */
  peerStats?: SetValues;
  peerNodeId: number;
}

/** Only the fields the gi formatter reads are meaningful; the rest stay zero. */
export function giSuperblock(src: GiSource): Superblock {
  const peers = Array.from({ length: 32 }, emptyPeer);
  const bitmaps = u64s(src.uuid.bitmap_uuids);
  const peer = peers[src.peerNodeId];
  if (peer) {
    const fromStats = src.peerStats?.peer_dev_bitmap_uuid;
    peer.bitmapUuid = typeof fromStats === 'bigint' ? fromStats : (bitmaps[src.peerNodeId] ?? 0n);
    peer.flags = Number(src.peerStats?.peer_dev_flags ?? 0);
    peer.bitmapIndex = 0;
  }
  const history = u64s(src.uuid.history_uuids);
  while (history.length < 2) history.push(0n);
  return {
    effectiveSize: 0n,
    currentUuid: typeof src.uuid.current_uuid === 'bigint' ? src.uuid.current_uuid : 0n,
    deviceUuid: 0n,
    flags: Number(src.uuid.md_flags ?? 0),
    magic: 0,
    mdSizeSect: 0,
    alOffset: 0,
    alNrExtents: 0,
    bmOffset: 0,
    bmBytesPerBit: 0,
    laPeerMaxBioSize: 0,
    bmMaxPeers: 0,
    nodeId: -1,
    alStripes: 0,
    alStripeSize4k: 0,
    peers,
    historyUuids: history,
    extra: Buffer.alloc(0),
  };
}

export const formatGetGi = (src: GiSource): string => `${getGi(giSuperblock(src), src.peerNodeId)}\n`;
export const formatShowGi = (src: GiSource): string => showGi(giSuperblock(src), src.peerNodeId);
