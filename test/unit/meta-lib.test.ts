// Unit tests of the v09 meta-data library (no devices: an in-memory BlockIo).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { metaData } from '../../src/abi/index.js';
import { blockDeviceSize } from '../../src/meta/device.js';
import {
  AL_FREE,
  AL_TYPE,
  alBlockOf,
  allSlotRuns,
  type BlockIo,
  bitmapBytesFor,
  computeLayout,
  crc32cRaw,
  crc32cStandard,
  decodeTransaction,
  encodeTransaction,
  getGi,
  newSuperblock,
  parseDump,
  parseSuperblock,
  replayAl,
  serializeSuperblock,
  setBits,
  setGi,
  slotRuns,
  slotWords,
  validTransactions,
  writeBitmapFromRuns,
  writeDump,
} from '../../src/meta/index.js';

const SB = metaData.superblock;
const TR = metaData.alTransaction;

function memIo(size: number): BlockIo & { buf: Buffer } {
  const buf = Buffer.alloc(size);
  return {
    buf,
    size,
    read: (pos, len) => Buffer.from(buf.subarray(pos, pos + len)),
    write: (pos, data) => {
      buf.set(data, pos);
    },
  };
}

describe('crc32c', () => {
  const check = Buffer.from('123456789');
  it('matches the standard CRC-32C check value and RFC 3720 vectors', () => {
    expect(crc32cStandard(check)).toBe(0xe3069283);
    expect(crc32cStandard(Buffer.alloc(32))).toBe(0x8a9136aa);
    expect(crc32cStandard(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32cStandard(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
  });
  it('raw (seed 0, no final xor) relates to the standard form by CRC linearity', () => {
    // raw(s, d) = raw(s, zeros) ^ raw(0, d), so standard(d) = raw(0, d) ^ raw(~0, zeros) ^ ~0.
    const raw0 = crc32cRaw(0, check);
    const ffOverZeros = crc32cRaw(0xffffffff, Buffer.alloc(check.length));
    expect((raw0 ^ ffOverZeros ^ 0xffffffff) >>> 0).toBe(0xe3069283);
    expect(raw0).not.toBe(0xe3069283);
    expect(crc32cRaw(0, Buffer.alloc(64))).toBe(0); // seed 0 over zeros stays 0: no hidden inversion
  });
});

describe('layout', () => {
  const al = { alStripes: 1, alStripeSize4k: 80 };
  it('internal: data ends where the bitmap starts, and is the largest that fits', () => {
    for (const mp of [1, 2, 3, 32]) {
      // 134557696: the bitmap area that lets the data end at the bitmap start is one block larger
      // than the formula gives for that data size (see the layout note in computeLayout).
      for (const size of [64 << 20, (1 << 30) + 12345, 10 * 2 ** 30 + 7 * 4096, 2 ** 40, 134557696]) {
        const l = computeLayout(size, { kind: 'internal' }, mp, al);
        const sb = Math.floor(size / 4096) * 4096 - 4096;
        expect(l.sbOffset).toBe(sb);
        expect(l.alStart).toBe(sb - 327680);
        expect(l.dataSize).toBe(l.bmStart);
        expect(l.bmStart + l.bmSize).toBe(l.alStart);
        expect(l.bmSize).toBeGreaterThanOrEqual(bitmapBytesFor(l.bmStart, mp));
        // Definition from internals.md: largest multiple of 4 KiB d with d + bm(d) <= AL start.
        let d = Math.floor(l.alStart / 4096) * 4096;
        while (d + bitmapBytesFor(d, mp) > l.alStart) d -= 4096;
        expect(l.bmStart).toBe(d);
        expect(l.mdSizeSect * 512).toBe(4096 + 327680 + l.bmSize);
        expect(l.alOffsetSect).toBe(-640);
        expect(l.bmOffsetSect).toBe(-(327680 + l.bmSize) / 512);
      }
    }
  });
  it('external flexible and indexed', () => {
    const f = computeLayout(100 << 20, { kind: 'flexible' }, 2, al);
    expect([f.sbOffset, f.alOffsetSect, f.bmOffsetSect, f.mdSizeSect]).toEqual([0, 8, 8 + 640, (100 << 20) / 512]);
    const x = computeLayout(300 << 20, { kind: 'indexed', slot: 1 }, 1, al);
    expect([x.sbOffset, x.alStart, x.mdSizeSect]).toEqual([128 << 20, (128 << 20) + 4096, 262144]);
    expect(() => computeLayout(200 << 20, { kind: 'indexed', slot: 1 }, 1, al)).toThrow(/too small/);
  });
  it('bitmap size formula', () => {
    expect(bitmapBytesFor(2 ** 40, 1)).toBe(32 << 20);
    expect(bitmapBytesFor(4096, 3)).toBe(4096);
  });
});

describe('superblock', () => {
  const layout = computeLayout(64 << 20, { kind: 'internal' }, 2, { alStripes: 1, alStripeSize4k: 80 });
  it('serializes to the ABI offsets, big-endian', () => {
    const sb = newSuperblock(layout, 3);
    sb.peers[5].bitmapIndex = 1;
    sb.peers[5].bitmapUuid = 0x1122334455667788n;
    sb.historyUuids[31] = 0xfedcba9876543210n;
    const b = serializeSuperblock(sb);
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    expect(v.getUint32(SB.magic.offset)).toBe(0x8374026d);
    expect(v.getBigUint64(SB.current_uuid.offset)).toBe(4n);
    expect(v.getUint32(SB.flags.offset)).toBe(metaData.flags.AL_CLEAN);
    expect(v.getInt32(SB.node_id.offset)).toBe(3);
    expect(v.getUint32(SB.bm_max_peers.offset)).toBe(2);
    expect(v.getInt32(SB.al_offset.offset)).toBe(-640);
    const peer5 = SB.peers.offset + 5 * SB.peers.stride;
    expect(v.getInt32(peer5 + metaData.peerSlot.bitmap_index.offset)).toBe(1);
    expect(v.getBigUint64(peer5 + metaData.peerSlot.bitmap_uuid.offset)).toBe(0x1122334455667788n);
    expect(v.getInt32(SB.peers.offset + metaData.peerSlot.bitmap_index.offset)).toBe(-1);
    expect(v.getBigUint64(SB.history_uuids.offset + 31 * 8)).toBe(0xfedcba9876543210n);
  });
  it('parse/serialize keeps every byte, reserved ones included', () => {
    const raw = Buffer.alloc(4096);
    for (let i = 0; i < raw.length; i++) raw[i] = (i * 131 + 7) & 0xff;
    expect(serializeSuperblock(parseSuperblock(raw)).equals(raw)).toBe(true);
  });
});

describe('activity log', () => {
  const g = { alStripes: 3, alStripeSize4k: 4 };
  it('encodes at the ABI offsets with a crc32c(0) over the block', () => {
    const b = encodeTransaction({
      trNumber: 7,
      type: AL_TYPE.UPDATE,
      updates: [{ slot: 2, extent: 99 }],
      contextStart: 0,
      context: [5, AL_FREE],
    });
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    expect(v.getUint32(TR.magic.offset)).toBe(metaData.alTransactionMagic);
    expect(v.getUint32(TR.tr_number.offset)).toBe(7);
    expect(v.getUint16(TR.n_updates.offset)).toBe(1);
    expect(v.getUint16(TR.update_slot_nr.offset)).toBe(2);
    expect(v.getUint32(TR.update_extent_nr.offset)).toBe(99);
    expect(v.getUint16(TR.context_size.offset)).toBe(2);
    expect(v.getUint32(TR.context.offset)).toBe(5);
    const crc = v.getUint32(TR.crc32c.offset);
    const zeroed = Buffer.from(b);
    zeroed.writeUInt32BE(0, TR.crc32c.offset);
    expect(crc).toBe(crc32cRaw(0, zeroed));
    b[3000] ^= 1;
    expect(decodeTransaction(b)).toBeUndefined();
  });
  it('stripes the ring: transaction i goes to (i mod stripes) * stripe_size + i div stripes', () => {
    expect([0, 1, 2, 3, 4, 11, 12].map((t) => alBlockOf(t, g))).toEqual([0, 4, 8, 1, 5, 11, 0]);
  });
  it('orders transactions wrap-safe and replays context before updates', () => {
    const area = Buffer.alloc(12 * 4096);
    const put = (tr: number, updates: { slot: number; extent: number }[], context: number[] = []) =>
      encodeTransaction({ trNumber: tr, type: AL_TYPE.UPDATE, updates, contextStart: 0, context }).copy(
        area,
        alBlockOf(tr, g) * 4096,
      );
    const base = 2 ** 32 - 2;
    put(base, [{ slot: 0, extent: 10 }]);
    put(base + 1, [{ slot: 1, extent: 11 }]);
    put(0, [{ slot: 0, extent: 12 }], [10, 11]); // context holds the old slot 0, the update replaces it
    put(1, [{ slot: 2, extent: 13 }]);
    expect(validTransactions(area, g).map((t) => t.trNumber)).toEqual([base, base + 1, 0, 1]);
    const r = replayAl(area, g, 4);
    expect(r.slots).toEqual([12, 11, 13, AL_FREE]);
    expect(r.activeExtents).toEqual([11, 12, 13]);
    expect(r.lastTr).toBe(1);
  });
});

describe('bitmap and dump', () => {
  it('sets bits in the interleaved little-endian words and dumps/restores them exactly', () => {
    const devSize = 64 << 20;
    const io = memIo(devSize);
    const layout = computeLayout(devSize, { kind: 'internal' }, 3, { alStripes: 1, alStripeSize4k: 8 });
    setBits(io, layout, [1], 70, 200);
    const word = (w: number, s: number) => io.buf.readBigUInt64LE(layout.bmStart + (w * 3 + s) * 8);
    expect(word(1, 1)).toBe(0xffffffffffffffc0n);
    expect(word(2, 1)).toBe(0xffffffffffffffffn);
    expect(word(3, 1)).toBe(0xffn);
    expect(word(1, 0)).toBe(0n);
    expect(word(1, 2)).toBe(0n);
    expect([...slotRuns(io, layout, 1)].slice(0, 4)).toEqual([
      { count: 1, value: 0n },
      { count: 1, value: 0xffffffffffffffc0n },
      { count: 1, value: 0xffffffffffffffffn },
      { count: 1, value: 0xffn },
    ]);
    const sb = newSuperblock(layout, 0);
    sb.extra[2000] = 0x5a; // an unknown byte must survive the round trip
    io.buf.fill(0xab, layout.alStart + 4096, layout.alStart + 3 * 4096);
    io.write(layout.sbOffset, serializeSuperblock(sb));
    let text = '';
    writeDump(
      sb,
      layout,
      io,
      (t) => {
        text += t;
      },
      'mem',
    );
    const parsed = parseDump(text, 'mem.dump');
    const copy = memIo(devSize);
    copy.write(layout.alStart, parsed.al);
    writeBitmapFromRuns(copy, layout, parsed.bitmap);
    copy.write(layout.sbOffset, serializeSuperblock(parsed.sb));
    expect(
      copy.buf.subarray(layout.areaStart, layout.areaEnd).equals(io.buf.subarray(layout.areaStart, layout.areaEnd)),
    ).toBe(true);
    expect(text).toMatch(/activity-log \{\n {4}0x00001000 (ab){32} \* 256;\n\}/);
  });
  it('walks interleaved slots across chunk boundaries and partial rows exactly', () => {
    // 20 MiB + 8 bytes of bitmap with 3 slots: several 8 MiB chunks and a last row that is not whole.
    const bmSize = 20 * 1024 * 1024 + 4096;
    const io = memIo(bmSize);
    // Noise at the start, around each chunk boundary and in the last row; ones and zeros elsewhere.
    const noise = (from: number, to: number) => {
      for (let i = from; i < to; i += 4) io.buf.writeUInt32LE((i * 2654435761) >>> 0, i);
    };
    noise(0, 4096);
    noise((8 << 20) - 4096, (8 << 20) + 4096);
    noise((16 << 20) - 4096, (16 << 20) + 4096);
    noise(bmSize - 4096, bmSize);
    io.buf.fill(0xff, 1 << 20, 3 << 20);
    const base = computeLayout(64 << 20, { kind: 'internal' }, 3, { alStripes: 1, alStripeSize4k: 8 });
    const layout = { ...base, bmStart: 0, bmSize };
    const runs = [0, 1, 2].map((s) => [...slotRuns(io, layout, s)]);
    runs.forEach((r, s) => {
      expect(r.reduce((n, x) => n + x.count, 0)).toBe(slotWords(bmSize, 3, s));
    });
    // The single-pass reader gives the same runs, and gives up on a bitmap too noisy for memory.
    const all = allSlotRuns(io, layout);
    const same = all?.every(
      (r, s) =>
        r.length === runs[s].length && r.every((x, i) => x.count === runs[s][i].count && x.value === runs[s][i].value),
    );
    expect(same).toBe(true);
    expect(allSlotRuns(io, layout, 100)).toBeUndefined();
    const copy = memIo(bmSize);
    writeBitmapFromRuns(copy, layout, runs);
    expect(copy.buf.equals(io.buf)).toBe(true);
  });
  it('reports dump syntax errors with FILE:LINE', () => {
    expect(() => parseDump('version "v09";\nmax-peers 1\n', 'x.dump')).toThrow(/x\.dump:\d+: /);
    expect(() => parseDump('version "v08";\n', 'x.dump')).toThrow(/only version "v09"/);
  });
});

describe('generation identifiers', () => {
  it('get-gi output fed to set-gi changes nothing; fields may be left empty', () => {
    const layout = computeLayout(64 << 20, { kind: 'internal' }, 1, { alStripes: 1, alStripeSize4k: 80 });
    const sb = newSuperblock(layout, 0);
    sb.peers[1].bitmapIndex = 0;
    setGi(sb, 1, 'ABCDEF0123456789:1111:2222::1:1:0:0::1:0:1');
    const gi = getGi(sb, 1);
    expect(gi).toBe('ABCDEF0123456789:0000000000001111:0000000000002222:0000000000000000:1:1:0:0:1:1:0:1');
    setGi(sb, 1, gi);
    expect(getGi(sb, 1)).toBe(gi);
    expect(() => setGi(sb, undefined, ':5')).toThrow(/--node-id/);
  });
});

describe('block device size', () => {
  // A node made without udev (dmsetup mknodes, mknod) has a name sysfs does not know.
  it('is read by device number, whatever the node is called', () => {
    const dev = readdirSync('/sys/class/block').find((d) => !d.startsWith('loop'));
    if (!dev) return;
    const [major, minor] = readFileSync(`/sys/class/block/${dev}/dev`, 'utf8').trim().split(':').map(Number);
    const dir = mkdtempSync(join(tmpdir(), 'bsr-node-'));
    try {
      execFileSync('mknod', [join(dir, 'renamed'), 'b', String(major), String(minor)]);
      const want = Number(readFileSync(`/sys/class/block/${dev}/size`, 'utf8')) * 512;
      expect(blockDeviceSize(join(dir, 'renamed'))).toBe(want);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
