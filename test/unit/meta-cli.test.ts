// bsrmeta end to end: every command on a sparse file and on a loop device, checked byte for byte
// against the ABI offsets with DataView (independently of the library's serializer).
import { execFileSync } from 'node:child_process';
import { chmodSync, closeSync, constants, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { metaData } from '../../src/abi/index.js';
import {
  AL_TYPE,
  alBlockOf,
  computeLayout,
  encodeTransaction,
  type Layout,
  parseIndex,
  parseSuperblock,
  serializeSuperblock,
} from '../../src/meta/index.js';
import {
  BSRADM,
  bsrmeta,
  buildCli,
  CLI,
  loopDevice,
  loopUnavailable,
  ROOT,
  readAt,
  removeDir,
  runCli,
  sizeOf,
  sparseFile,
  type TestDev,
  tempDir,
} from './meta-helpers.js';

const SB = metaData.superblock;
const PEER = metaData.peerSlot;
const F = metaData.flags;
const MiB = 1 << 20;
const AL_DEFAULT = 320 * 1024;
const AL_GEOMETRY = { alStripes: 1, alStripeSize4k: 80 };

let dir: string;
const open: TestDev[] = [];
const loopSkip = loopUnavailable();
if (loopSkip) console.warn(`*** bsrmeta loop-device tests SKIPPED: losetup failed: ${loopSkip}`);

beforeAll(async () => {
  dir = tempDir();
  await buildCli();
}, 60000);
afterEach(() => {
  for (const d of open.splice(0)) d.close();
});
afterAll(() => {
  removeDir(dir);
  removeDir(dirname(CLI));
});

let seq = 0;
type Kind = 'file' | 'loop';
function makeDev(kind: Kind, bytes: number): TestDev {
  const name = `dev${seq++}.img`;
  const d = kind === 'file' ? sparseFile(dir, name, bytes) : loopDevice(dir, name, bytes);
  open.push(d);
  return d;
}

/** Superblock fields decoded with DataView at the ABI offsets. */
function decodeSb(path: string, offset: number) {
  const b = readAt(path, offset, 4096);
  const v = new DataView(b.buffer, b.byteOffset, 4096);
  const peer = (i: number) => {
    const base = SB.peers.offset + i * SB.peers.stride;
    return {
      bitmapUuid: v.getBigUint64(base + PEER.bitmap_uuid.offset),
      flags: v.getUint32(base + PEER.flags.offset),
      bitmapIndex: v.getInt32(base + PEER.bitmap_index.offset),
    };
  };
  return {
    raw: b,
    magic: v.getUint32(SB.magic.offset),
    effectiveSize: v.getBigUint64(SB.effective_size.offset),
    currentUuid: v.getBigUint64(SB.current_uuid.offset),
    deviceUuid: v.getBigUint64(SB.device_uuid.offset),
    flags: v.getUint32(SB.flags.offset),
    mdSizeSect: v.getUint32(SB.md_size_sect.offset),
    alOffset: v.getInt32(SB.al_offset.offset),
    bmOffset: v.getInt32(SB.bm_offset.offset),
    bmBytesPerBit: v.getUint32(SB.bm_bytes_per_bit.offset),
    laPeerMaxBioSize: v.getUint32(SB.la_peer_max_bio_size.offset),
    bmMaxPeers: v.getUint32(SB.bm_max_peers.offset),
    nodeId: v.getInt32(SB.node_id.offset),
    alStripes: v.getUint32(SB.al_stripes.offset),
    alStripeSize4k: v.getUint32(SB.al_stripe_size_4k.offset),
    peer,
    history: (i: number) => v.getBigUint64(SB.history_uuids.offset + i * 8),
  };
}

const internalSb = (path: string) => Math.floor(sizeOf(path) / 4096) * 4096 - 4096;

function writeAt(path: string, pos: number, data: Uint8Array): void {
  const fd = openSync(path, constants.O_WRONLY);
  try {
    writeSync(fd, data, 0, data.length, pos);
  } finally {
    closeSync(fd);
  }
}

/** Edits the superblock through the library, the way the kernel would update it. */
function editSb(path: string, sbOffset: number, edit: (sb: ReturnType<typeof parseSuperblock>) => void): void {
  const sb = parseSuperblock(readAt(path, sbOffset, 4096));
  edit(sb);
  writeAt(path, sbOffset, serializeSuperblock(sb));
}

/** Bit `bit` of bitmap slot `slot`, read from the raw interleaved little-endian words. */
function bitOf(path: string, l: { bmStart: number; maxPeers: number }, slot: number, bit: number): boolean {
  const word = Math.floor(bit / 64);
  const b = readAt(path, l.bmStart + (word * l.maxPeers + slot) * 8, 8);
  return ((b.readBigUInt64LE(0) >> BigInt(bit % 64)) & 1n) === 1n;
}

function layoutOf(path: string, maxPeers = 1): Layout {
  return computeLayout(sizeOf(path), { kind: 'internal' }, maxPeers, { alStripes: 1, alStripeSize4k: 80 });
}

function mdArea(path: string, l: Layout): Buffer {
  return readAt(path, l.areaStart, l.areaEnd - l.areaStart);
}

const md = (d: TestDev, ...args: string[]) => bsrmeta(['0', 'v09', d.path, 'internal', ...args]);
const mdIn = (d: TestDev, input: string, ...args: string[]) =>
  bsrmeta(['0', 'v09', d.path, 'internal', ...args], input);

for (const kind of ['file', 'loop'] as Kind[]) {
  describe.skipIf(kind === 'loop' && loopSkip !== undefined)(`bsrmeta on a ${kind}`, { timeout: 60000 }, () => {
    it('create-md writes the documented superblock, a zero AL and a zero bitmap', async () => {
      const d = makeDev(kind, 64 * MiB);
      writeAt(d.path, 0, Buffer.alloc(0));
      // Garbage where AL and bitmap go: create-md (told to go ahead) must zero it.
      const l = layoutOf(d.path);
      writeAt(d.path, l.bmStart, Buffer.alloc(l.bmSize + l.alSize, 0x77));
      const r = await md(d, 'create-md', '--force');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(
        /\n\ninitializing activity log\ninitializing bitmap \(4 KB\) to all zero\nWriting meta data...\nNew bsr meta data block successfully created.\n$/,
      );
      const sb = decodeSb(d.path, internalSb(d.path));
      expect(sb.magic).toBe(0x8374026d);
      expect(sb.currentUuid).toBe(4n);
      expect(sb.flags).toBe(F.AL_CLEAN);
      expect(sb.nodeId).toBe(-1);
      expect(sb.bmBytesPerBit).toBe(4096);
      expect(sb.laPeerMaxBioSize).toBe(1048576);
      expect(sb.bmMaxPeers).toBe(1);
      expect([sb.alStripes, sb.alStripeSize4k]).toEqual([1, 80]);
      expect(sb.alOffset).toBe(-AL_DEFAULT / 512);
      expect(sb.bmOffset).toBe(-(AL_DEFAULT + 4096) / 512);
      expect(sb.mdSizeSect).toBe((4096 + AL_DEFAULT + 4096) / 512);
      expect(sb.deviceUuid).not.toBe(0n);
      expect(sb.effectiveSize).toBe(0n);
      for (let i = 0; i < 32; i++) expect(sb.peer(i).bitmapIndex).toBe(-1);
      expect(readAt(d.path, l.bmStart, l.bmSize + l.alSize).every((b) => b === 0)).toBe(true);
      expect((await md(d, 'dstate')).stdout).toBe('Inconsistent\n');
    });

    it('create-md options: --max-peers, --al-stripes, --al-stripe-size-kB, --node-id', async () => {
      const d = makeDev(kind, 256 * MiB);
      const r = await md(
        d,
        'create-md',
        '--max-peers',
        '3',
        '--al-stripes',
        '2',
        '--al-stripe-size-kB',
        '64',
        '--node-id',
        '2',
      );
      expect(r.status).toBe(0);
      const sb = decodeSb(d.path, internalSb(d.path));
      const al = 2 * 64 * 1024;
      const l = computeLayout(256 * MiB, { kind: 'internal' }, 3, { alStripes: 2, alStripeSize4k: 16 });
      expect([sb.bmMaxPeers, sb.nodeId, sb.alStripes, sb.alStripeSize4k]).toEqual([3, 2, 2, 16]);
      expect(sb.alOffset).toBe(-al / 512);
      // 256 MiB of data at 3 slots: 3 * 8 KiB of words, so 6 blocks.
      expect(l.bmSize).toBe(24 * 1024);
      expect(sb.bmOffset).toBe(-(al + l.bmSize) / 512);
      expect((await md(d, 'create-md', '--max-peers', '33', '--force')).status).toBe(2);
      expect((await md(d, 'create-md', '--al-stripe-size-kB', '6', '--force')).status).toBe(2);
    });

    it('create-md over existing meta data asks; EOF or "no" declines (16) and leaves it untouched', async () => {
      const d = makeDev(kind, 64 * MiB);
      expect((await md(d, 'create-md')).status).toBe(0);
      const l = layoutOf(d.path);
      const before = mdArea(d.path, l);
      for (const input of ['', 'no\n', 'YES\n']) {
        const r = await mdIn(d, input, 'create-md');
        expect(r.status).toBe(16);
        expect(r.stdout).toContain('There appears to be a v09 meta data block already in place');
        expect(r.stdout).toContain("Do you want to proceed?\n[need to type 'yes' to confirm]\n");
        expect(mdArea(d.path, l).equals(before)).toBe(true);
      }
      const uuid = decodeSb(d.path, l.sbOffset).deviceUuid;
      expect((await mdIn(d, 'yes\n', 'create-md')).status).toBe(0);
      const afterYes = decodeSb(d.path, l.sbOffset).deviceUuid;
      expect(afterYes).not.toBe(uuid);
      const forced = await md(d, 'create-md', '--force');
      expect(forced.status).toBe(0);
      expect(forced.stdout).not.toContain('Do you want to proceed');
    });

    it('refuses an ext4 file system reaching into the meta data area unless --force', async () => {
      const d = makeDev(kind, 64 * MiB);
      execFileSync('mkfs.ext4', ['-q', '-F', d.path]);
      const l = layoutOf(d.path);
      const before = mdArea(d.path, l);
      const r = await md(d, 'create-md');
      expect(r.status).toBe(1);
      expect(r.stdout).toMatch(/Found ext4 file system of 64 MiB/);
      expect(r.stderr).toMatch(/Operation refused/);
      expect(mdArea(d.path, l).equals(before)).toBe(true);
      expect((await md(d, 'create-md', '--force')).status).toBe(0);
      expect(decodeSb(d.path, l.sbOffset).magic).toBe(0x8374026d);
    });

    it('accepts a file system that ends before the meta data area', async () => {
      const d = makeDev(kind, 64 * MiB);
      execFileSync('mkfs.ext4', ['-q', '-F', d.path, '32M']);
      const r = await md(d, 'create-md');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('Found ext4 file system of 32 MiB; it ends before the meta data area.');
    });

    it('dump-md then restore-md is byte-identical over the whole meta data area', async () => {
      const d = makeDev(kind, 128 * MiB);
      expect((await md(d, 'create-md', '--max-peers', '2')).status).toBe(0);
      const l = layoutOf(d.path, 2);
      // Make every part non-trivial: peers, UUIDs, flags, an unknown superblock byte, AL, bitmap.
      editSb(d.path, l.sbOffset, (sb) => {
        sb.peers[1] = { bitmapUuid: 0xaaaan, bitmapDagtag: 77n, flags: 3, bitmapIndex: 0 };
        sb.peers[4] = { bitmapUuid: 0xbbbbn, bitmapDagtag: 0n, flags: 0, bitmapIndex: 1 };
        sb.historyUuids[0] = 0x1234n;
        sb.flags = F.CONSISTENT | F.WAS_UP_TO_DATE;
        sb.effectiveSize = 123456n;
        sb.extra[4000] = 0x42;
      });
      writeAt(
        d.path,
        l.alStart,
        encodeTransaction({ trNumber: 5, type: 0, updates: [{ slot: 0, extent: 3 }], contextStart: 0, context: [] }),
      );
      const bits = Buffer.alloc(4096);
      for (let i = 0; i < bits.length; i++) bits[i] = (i * 37) & 0xff;
      writeAt(d.path, l.bmStart + 8192, bits);
      const original = mdArea(d.path, l);
      const dump = await md(d, 'dump-md');
      expect(dump.status).toBe(0);
      expect(dump.stdout).toMatch(/^version "v09";$/m);
      expect(dump.stdout).toMatch(/^max-peers 2;$/m);
      expect(dump.stdout).toMatch(/^la-size-sect 123456;$/m);
      expect(dump.stdout).toMatch(/^peer\[4\] \{\n {4}bitmap-index 1;/m);
      const file = join(dir, `dump-${kind}.txt`);
      writeFileSync(file, dump.stdout);
      expect((await md(d, 'verify-dump', file)).status).toBe(0);
      // Destroy the whole area, then restore.
      writeAt(d.path, l.areaStart, Buffer.alloc(l.areaEnd - l.areaStart, 0x99));
      const declined = await md(d, 'restore-md', file);
      expect(declined.status).toBe(16);
      expect(mdArea(d.path, l).every((b) => b === 0x99)).toBe(true);
      const r = await mdIn(d, 'yes\n', 'restore-md', file);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(mdArea(d.path, l).equals(original)).toBe(true);
    });

    it('verify-dump reports a broken dump with FILE:LINE', async () => {
      const d = makeDev(kind, 64 * MiB);
      expect((await md(d, 'create-md')).status).toBe(0);
      const file = join(dir, `bad-${kind}.txt`);
      writeFileSync(file, (await md(d, 'dump-md')).stdout.replace('max-peers 1;', 'max-peers 1'));
      const r = await md(d, 'verify-dump', file);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+: `));
      // More bitmap words than the area holds, and a section given twice.
      const good = (await md(d, 'dump-md')).stdout;
      writeFileSync(
        file,
        good.replace(/^bitmap\[0\] \{\n {4}(\d+) times/m, (_, n) => `bitmap[0] {\n    ${Number(n) + 1} times`),
      );
      expect((await md(d, 'verify-dump', file)).stderr).toContain('bitmap[0] has 513 words, the area holds 512');
      writeFileSync(file, `${good}bitmap[0] {\n}\n`);
      expect((await md(d, 'verify-dump', file)).stderr).toMatch(/section "bitmap\[0\]" given twice/);
    });

    it('wipe-md asks, then clears the superblock', async () => {
      const d = makeDev(kind, 64 * MiB);
      expect((await md(d, 'create-md')).status).toBe(0);
      const off = internalSb(d.path);
      expect((await md(d, 'wipe-md')).status).toBe(16);
      expect(decodeSb(d.path, off).magic).toBe(0x8374026d);
      const r = await md(d, 'wipe-md', '--force');
      expect(r.status).toBe(0);
      expect(readAt(d.path, off, 4096).every((b) => b === 0)).toBe(true);
      const dump = await md(d, 'dump-md');
      expect(dump.status).toBe(1);
      expect(dump.stderr).toContain('no valid v09 meta data found');
      expect((await md(d, 'wipe-md')).stdout).toContain('no bsr meta data to wipe');
    });

    it('get-gi / set-gi / show-gi / dstate / outdate / invalidate', async () => {
      const d = makeDev(kind, 64 * MiB);
      expect((await md(d, 'create-md')).status).toBe(0);
      const off = internalSb(d.path);
      expect((await md(d, 'get-gi')).stdout).toBe(
        '0000000000000004:0000000000000000:0000000000000000:0000000000000000:0:0:0:0:1:0:0:0\n',
      );
      // set-gi is destructive: declined without an answer.
      const declined = await md(d, 'set-gi', '1111222233334444:::5:1:1');
      expect(declined.status).toBe(16);
      expect(decodeSb(d.path, off).currentUuid).toBe(4n);
      expect((await mdIn(d, 'yes\n', 'set-gi', '1111222233334444:::5:1:1')).status).toBe(0);
      const sb = decodeSb(d.path, off);
      expect(sb.currentUuid).toBe(0x1111222233334444n);
      expect(sb.history(1)).toBe(5n);
      expect(sb.flags).toBe(F.AL_CLEAN | F.CONSISTENT | F.WAS_UP_TO_DATE);
      expect((await md(d, 'get-gi')).stdout).toBe(
        '1111222233334444:0000000000000000:0000000000000000:0000000000000005:1:1:0:0:1:0:0:0\n',
      );
      expect((await md(d, 'dstate')).stdout).toBe('Consistent\n');
      const show = (await md(d, 'show-gi')).stdout;
      expect(show).toContain('1111222233334444:0000000000000000');
      expect(show).toContain('Current data generation UUID');
      expect(show).toContain('Data consistency flag');
      // Peer fields need a peer: --node-id selects it.
      expect((await md(d, 'set-gi', ':ABCD', '--force')).status).toBe(2);
      expect((await md(d, 'set-gi', ':ABCD:::::::::::1', '--force', '--node-id', '3')).status).toBe(2); // 13 fields
      expect((await md(d, 'set-gi', ':ABCD::::::::::1', '--force', '--node-id', '3')).status).toBe(0);
      expect(decodeSb(d.path, off).peer(3)).toEqual({
        bitmapUuid: 0xabcdn,
        flags: metaData.peerFlags.FULL_SYNC,
        bitmapIndex: -1,
      });
      expect((await md(d, 'get-gi', '--node-id', '3')).stdout).toBe(
        '1111222233334444:000000000000ABCD:0000000000000000:0000000000000005:1:1:0:0:1:0:0:1\n',
      );
      expect((await md(d, 'outdate')).status).toBe(0);
      expect((await md(d, 'dstate')).stdout).toBe('Outdated\n');
      expect((await md(d, 'invalidate')).status).toBe(16);
      expect((await md(d, 'dstate')).stdout).toBe('Outdated\n');
      expect((await md(d, 'invalidate', '--force')).status).toBe(0);
      expect((await md(d, 'dstate')).stdout).toBe('Inconsistent\n');
      expect(decodeSb(d.path, off).flags).toBe(F.AL_CLEAN);
    });

    it('read-dev-uuid / write-dev-uuid', async () => {
      const d = makeDev(kind, 64 * MiB);
      expect((await md(d, 'create-md')).status).toBe(0);
      const off = internalSb(d.path);
      const uuid = decodeSb(d.path, off).deviceUuid;
      expect((await md(d, 'read-dev-uuid')).stdout).toBe(`${uuid.toString(16).toUpperCase().padStart(16, '0')}\n`);
      expect((await md(d, 'write-dev-uuid', '0xDEADBEEF00C0FFEE')).status).toBe(0);
      expect(decodeSb(d.path, off).deviceUuid).toBe(0xdeadbeef00c0ffeen);
      expect((await md(d, 'read-dev-uuid')).stdout).toBe('DEADBEEF00C0FFEE\n');
      expect((await md(d, 'write-dev-uuid', 'xyz')).status).toBe(2);
    });

    it('apply-al replays valid transactions into every assigned bitmap slot and ignores a bad crc', async () => {
      const d = makeDev(kind, 1024 * MiB);
      expect(
        (await md(d, 'create-md', '--max-peers', '2', '--al-stripes', '2', '--al-stripe-size-kB', '32')).status,
      ).toBe(0);
      const l = computeLayout(1024 * MiB, { kind: 'internal' }, 2, { alStripes: 2, alStripeSize4k: 8 });
      editSb(d.path, l.sbOffset, (sb) => {
        sb.peers[1].bitmapIndex = 0;
        sb.peers[3].bitmapIndex = 1;
        sb.flags &= ~F.AL_CLEAN; // the kernel clears it while the AL is in use
        sb.alNrExtents = 61;
      });
      const tr = (n: number, updates: { slot: number; extent: number }[], context: number[] = []) =>
        encodeTransaction({ trNumber: n, type: AL_TYPE.UPDATE, updates, contextStart: 0, context });
      const put = (n: number, block: Buffer) => writeAt(d.path, l.alStart + alBlockOf(n, l) * 4096, block);
      put(
        20,
        tr(20, [
          { slot: 0, extent: 3 },
          { slot: 1, extent: 7 },
        ]),
      );
      put(21, tr(21, [{ slot: 2, extent: 100 }], [3, 7]));
      // Slot 1 moves from extent 7 to extent 255 (the last one of 1 GiB): 7 is no longer active.
      put(22, tr(22, [{ slot: 1, extent: 255 }]));
      const bad = tr(23, [{ slot: 5, extent: 50 }]);
      bad[4000] ^= 0xff; // content changed after the crc was computed
      put(23, bad);
      // Ring of 16 blocks over 2 stripes of 8: transaction 20 is ring index 4, block 0 * 8 + 2.
      expect((await md(d, 'dump-md')).stdout).toContain('    0x00002000 69cb65a200000014');
      const r = await md(d, 'apply-al');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toContain('Replayed 3 AL transactions: 3 active extents');
      const dataBits = Math.floor(l.bmStart / 4096);
      for (const slot of [0, 1]) {
        for (const [extent, on] of [
          [3, true],
          [100, true],
          [255, true],
          [7, false],
          [50, false],
          [4, false],
        ] as const) {
          expect(bitOf(d.path, l, slot, extent * 1024)).toBe(on);
          expect(bitOf(d.path, l, slot, Math.min(extent * 1024 + 1023, dataBits - 1))).toBe(on);
        }
        // Extent 255 reaches past the end of the data: bits there stay clear.
        expect(bitOf(d.path, l, slot, dataBits)).toBe(false);
        expect(bitOf(d.path, l, slot, 3 * 1024 - 1)).toBe(false);
        expect(bitOf(d.path, l, slot, 4 * 1024)).toBe(false);
      }
      // Exactly the bits of extents 3 and 100 plus extent 255 clipped at the end of the data.
      const ones = (slot: number) => {
        const words = l.bmSize / 8 / 2;
        const buf = readAt(d.path, l.bmStart, l.bmSize);
        let n = 0;
        for (let w = 0; w < words; w++) {
          let v = buf.readBigUInt64LE((w * 2 + slot) * 8);
          while (v) {
            n += Number(v & 1n);
            v >>= 1n;
          }
        }
        return n;
      };
      const expected = 2048 + (dataBits - 255 * 1024);
      expect(ones(0)).toBe(expected);
      expect(ones(1)).toBe(expected);
      const sb = decodeSb(d.path, l.sbOffset);
      expect(sb.flags & F.AL_CLEAN).toBe(F.AL_CLEAN);
      // The AL now holds one INITIALIZED transaction numbered 23 and nothing else.
      const al = readAt(d.path, l.alStart, l.alSize);
      const v = new DataView(al.buffer, al.byteOffset + alBlockOf(23, l) * 4096, 4096);
      expect(v.getUint32(metaData.alTransaction.magic.offset)).toBe(metaData.alTransactionMagic);
      expect(v.getUint32(metaData.alTransaction.tr_number.offset)).toBe(23);
      expect(v.getUint16(metaData.alTransaction.transaction_type.offset)).toBe(AL_TYPE.INITIALIZED);
      // Clean now: running it again changes nothing.
      const area = mdArea(d.path, l);
      expect((await md(d, 'apply-al')).status).toBe(0);
      expect(mdArea(d.path, l).equals(area)).toBe(true);
    });

    it('forget-peer clears the peer slot and only its bitmap bits', async () => {
      const d = makeDev(kind, 64 * MiB);
      expect((await md(d, 'create-md', '--max-peers', '2')).status).toBe(0);
      const l = layoutOf(d.path, 2);
      editSb(d.path, l.sbOffset, (sb) => {
        sb.peers[1] = { bitmapUuid: 0x11n, bitmapDagtag: 1n, flags: 1, bitmapIndex: 0 };
        sb.peers[2] = { bitmapUuid: 0x22n, bitmapDagtag: 2n, flags: 1, bitmapIndex: 1 };
      });
      writeAt(d.path, l.bmStart, Buffer.alloc(l.bmSize, 0xff));
      expect((await md(d, 'forget-peer', '2')).status).toBe(16);
      expect(decodeSb(d.path, l.sbOffset).peer(2).bitmapIndex).toBe(1);
      expect((await md(d, 'forget-peer', '2', '--force')).status).toBe(0);
      const sb = decodeSb(d.path, l.sbOffset);
      expect(sb.peer(2)).toEqual({ bitmapUuid: 0n, flags: 0, bitmapIndex: -1 });
      expect(sb.peer(1)).toEqual({ bitmapUuid: 0x11n, flags: 1, bitmapIndex: 0 });
      const bm = readAt(d.path, l.bmStart, l.bmSize);
      for (let w = 0; w < l.bmSize / 16; w++) {
        expect(bm.readBigUInt64LE(w * 16)).toBe(0xffffffffffffffffn);
        expect(bm.readBigUInt64LE(w * 16 + 8)).toBe(0n);
      }
      expect((await md(d, 'forget-peer', '32', '--force')).status).toBe(2);
    });

    it('check-resize moves internal meta data to the new end, keeping bitmap and AL', async () => {
      const d = makeDev(kind, 64 * MiB);
      expect((await md(d, 'create-md')).status).toBe(0);
      expect((await md(d, 'check-resize')).stdout).toBe('no resize needed\n');
      const old = layoutOf(d.path);
      expect((await mdIn(d, 'yes\n', 'set-gi', '0123456789ABCDEF')).status).toBe(0);
      const bits = Buffer.alloc(old.bmSize);
      for (let i = 0; i < bits.length; i++) bits[i] = (i * 13 + 1) & 0xff;
      writeAt(d.path, old.bmStart, bits);
      const al = Buffer.alloc(old.alSize);
      al.fill(0x5c, 4096, 8192);
      writeAt(d.path, old.alStart, al);
      d.resize(200 * MiB);
      expect((await md(d, 'dump-md')).status).toBe(1);
      const r = await md(d, 'check-resize');
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout).toMatch(/Moved internal meta data/);
      const next = layoutOf(d.path);
      const sb = decodeSb(d.path, next.sbOffset);
      expect(sb.magic).toBe(0x8374026d);
      expect(sb.currentUuid).toBe(0x0123456789abcdefn);
      expect(sb.bmOffset).toBe(next.bmOffsetSect);
      expect(sb.mdSizeSect).toBe(next.mdSizeSect);
      expect(readAt(d.path, next.bmStart, old.bmSize).equals(bits)).toBe(true);
      expect(readAt(d.path, next.bmStart + old.bmSize, next.bmSize - old.bmSize).every((b) => b === 0)).toBe(true);
      expect(readAt(d.path, next.alStart, next.alSize).equals(al)).toBe(true);
      expect(readAt(d.path, old.sbOffset, 4096).every((b) => b === 0)).toBe(true);
      expect((await md(d, 'check-resize')).stdout).toBe('no resize needed\n');
      expect((await md(d, 'get-gi')).stdout.startsWith('0123456789ABCDEF:')).toBe(true);
    });

    it('external meta data: flexible at 0 and indexed slots of 128 MiB', async () => {
      const d = makeDev(kind, 300 * MiB);
      const flex = await bsrmeta(['0', 'v09', d.path, 'flexible', 'create-md']);
      expect(flex.status).toBe(0);
      const f = decodeSb(d.path, 0);
      expect([f.magic, f.alOffset, f.bmOffset, f.mdSizeSect]).toEqual([0x8374026d, 8, 8 + 640, (300 * MiB) / 512]);
      const idx = await bsrmeta(['0', 'v09', d.path, '1', 'create-md', '--max-peers', '2']);
      expect(idx.status).toBe(0);
      const x = decodeSb(d.path, 128 * MiB);
      expect([x.magic, x.alOffset, x.bmOffset, x.mdSizeSect, x.bmMaxPeers]).toEqual([0x8374026d, 8, 648, 262144, 2]);
      expect((await bsrmeta(['0', 'v09', d.path, '2', 'create-md'])).status).toBe(1); // slot 2 ends past 300 MiB
      const dump = await bsrmeta(['0', 'v09', d.path, '1', 'dump-md']);
      expect(dump.status).toBe(0);
      const file = join(dir, `ext-${kind}.txt`);
      writeFileSync(file, dump.stdout);
      const area = readAt(d.path, 128 * MiB, 128 * MiB);
      writeAt(d.path, 128 * MiB, Buffer.alloc(8 * MiB, 1));
      expect((await bsrmeta(['0', 'v09', d.path, '1', 'restore-md', file, '--force'])).status).toBe(0);
      expect(readAt(d.path, 128 * MiB, 128 * MiB).equals(area)).toBe(true);
      expect((await bsrmeta(['0', 'v09', d.path, 'flexible', 'check-resize'])).stdout).toContain('no resize needed');
    });
  });
}

describe('bsrmeta refusals and usage', { timeout: 60000 }, () => {
  it('detects xfs and btrfs reaching into the meta data area', async () => {
    for (const [mkfs, type, size] of [
      ['mkfs.xfs', 'xfs', 512 * MiB],
      ['mkfs.btrfs', 'btrfs', 256 * MiB],
    ] as const) {
      const d = makeDev('file', size);
      execFileSync(mkfs, ['-q', '-f', d.path], { stdio: 'ignore' });
      const r = await md(d, 'create-md');
      expect(r.status).toBe(1);
      expect(r.stdout).toContain(`Found ${type} file system of ${size / MiB} MiB`);
    }
  });

  it('usage errors exit 2', async () => {
    const d = makeDev('file', 64 * MiB);
    expect((await bsrmeta(['0', 'v08', d.path, 'internal', 'dump-md'])).status).toBe(2);
    expect((await bsrmeta(['0', 'v09', d.path, 'inside', 'dump-md'])).status).toBe(2);
    expect((await bsrmeta(['0', 'v09', d.path, 'internal', 'frobnicate'])).status).toBe(2);
    expect((await bsrmeta(['0', 'v09', d.path, 'internal'])).status).toBe(2);
    expect((await bsrmeta(['--help'])).status).toBe(0);
  });

  it('create-md on a 1 TiB sparse file is quick', async () => {
    const d = makeDev('file', 2 ** 40);
    const t0 = Date.now();
    const r = await md(d, 'create-md', '--max-peers', '4');
    expect(r.status).toBe(0);
    // Just under 1 TiB of data, 4 slots: just under 4 * 32 MiB of bitmap.
    expect(r.stdout).toMatch(/initializing bitmap \(1310[0-9]{2} KB\) to all zero/);
    expect(Date.now() - t0).toBeLessThan(15000);
  }, 60000);

  it.skipIf(loopSkip !== undefined)('refuses a block device that is in use (exclusive open, mounted)', async () => {
    const d = makeDev('loop', 64 * MiB);
    expect((await md(d, 'create-md')).status).toBe(0);
    const held = openSync(d.path, constants.O_RDONLY | constants.O_EXCL);
    try {
      const r = await md(d, 'dump-md');
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('device is in use');
    } finally {
      closeSync(held);
    }
    const m = makeDev('loop', 64 * MiB);
    execFileSync('mkfs.ext4', ['-q', '-F', m.path]);
    const mnt = join(dir, 'mnt');
    execFileSync('mkdir', ['-p', mnt]);
    try {
      execFileSync('mount', [m.path, mnt], { stdio: 'ignore' });
    } catch {
      console.warn('*** mount not possible here: the mounted-device refusal is not checked');
      return;
    }
    try {
      const r = await md(m, 'create-md', '--force');
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('device is in use');
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

describe('bsrmeta with a committed dump fixture', { timeout: 60000 }, () => {
  const fixture = join(ROOT, 'test/fixtures/meta/v09-internal-64M-2peers.dump');
  const body = (text: string) =>
    text
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .join('\n');

  it('restores the fixture to the documented bytes, dumps it back unchanged, and replays its AL', async () => {
    const d = makeDev('file', 64 * MiB);
    expect((await md(d, 'verify-dump', fixture)).status).toBe(0);
    const r = await md(d, 'restore-md', fixture, '--force');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const l = layoutOf(d.path, 2);
    const sb = decodeSb(d.path, l.sbOffset);
    expect(sb.magic).toBe(0x8374026d);
    expect(sb.currentUuid).toBe(0xc0ffee0000000001n);
    expect(sb.deviceUuid).toBe(0x5eed5eed12345678n);
    expect([sb.history(0), sb.history(1), sb.nodeId, sb.bmMaxPeers]).toEqual([0x2222n, 0x3333n, 0, 2]);
    expect(sb.flags).toBe(F.CONSISTENT | F.WAS_UP_TO_DATE);
    expect(sb.peer(1)).toEqual({ bitmapUuid: 0x1111n, flags: 0, bitmapIndex: 0 });
    expect(sb.peer(2)).toEqual({ bitmapUuid: 0xabcdn, flags: metaData.peerFlags.DEVICE_SEEN, bitmapIndex: 1 });
    // bitmap[0] word 5 and bitmap[1] word 6, interleaved: area words 10 and 13.
    const bm = readAt(d.path, l.bmStart, 128);
    expect(bm.readBigUInt64LE(10 * 8)).toBe(0xffn);
    expect(bm.readBigUInt64LE(13 * 8)).toBe(0x8000000000000001n);
    expect(body((await md(d, 'dump-md')).stdout)).toBe(body(readFileSync(fixture, 'utf8')));
    // AL: tr 7 puts extent 14 in slot 0; tr 8 (context [14]) puts extent 16 in slot 1. The device has
    // 16 extents of data, so extent 16 lies past the end and sets nothing.
    const applied = await md(d, 'apply-al');
    expect(applied.stdout).toContain(
      'Replayed 2 AL transactions: 2 active extents marked out of sync in 2 bitmap slot(s).',
    );
    const dataBits = l.bmStart / 4096;
    for (const slot of [0, 1]) {
      for (const bit of [14 * 1024, 15 * 1024 - 1]) expect(bitOf(d.path, l, slot, bit)).toBe(true);
      for (const bit of [14 * 1024 - 1, 15 * 1024, dataBits - 1, dataBits])
        expect(bitOf(d.path, l, slot, bit)).toBe(false);
    }
    // Slot 0's word 5 (0xff) was there before and stays; the new bits are the whole extent 14.
    expect(readAt(d.path, l.bmStart, 128).readBigUInt64LE(10 * 8)).toBe(0xffn);
  });
});

describe('bsrmeta check-resize with overlapping areas', { timeout: 60000 }, () => {
  it('moves a multi-chunk bitmap up by a few blocks, where old and new areas overlap', async () => {
    const d = makeDev('file', 16 * 2 ** 30);
    expect((await md(d, 'create-md', '--max-peers', '32')).status).toBe(0);
    const old = layoutOf(d.path, 32);
    expect(old.bmSize).toBeGreaterThan(8 * MiB); // more than one 8 MiB chunk
    const marks = [0, 8 * MiB - 8, 8 * MiB + 4096, old.bmSize - 8];
    for (const [i, at] of marks.entries()) writeAt(d.path, old.bmStart + at, Buffer.from(`mark${i}!!!`));
    const al = Buffer.alloc(old.alSize, 0x3c);
    writeAt(d.path, old.alStart, al);
    d.resize(16 * 2 ** 30 + 3 * 4096);
    const r = await md(d, 'check-resize');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const next = layoutOf(d.path, 32);
    expect(next.bmStart - old.bmStart).toBeLessThan(old.bmSize); // the areas overlap
    for (const [i, at] of marks.entries()) expect(readAt(d.path, next.bmStart + at, 8).toString()).toBe(`mark${i}!!!`);
    const bm = readAt(d.path, next.bmStart, next.bmSize);
    let nonZero = 0;
    for (const b of bm) if (b !== 0) nonZero++;
    expect(nonZero).toBe(marks.length * 8); // the 8-byte marks and nothing else
    expect(readAt(d.path, next.alStart, next.alSize).equals(al)).toBe(true);
    expect(decodeSb(d.path, next.sbOffset).bmMaxPeers).toBe(32);
    expect((await md(d, 'check-resize')).stdout).toBe('no resize needed\n');
  });
});

describe('create-md never destroys data without asking', { timeout: 120000 }, () => {
  const WARNING =
    "Found some data\n\n ==> This might destroy existing data! <==\n\nDo you want to proceed?\n[need to type 'yes' to confirm]\n";
  const CREATED =
    'initializing activity log\ninitializing bitmap (4 KB) to all zero\nWriting meta data...\nNew bsr meta data block successfully created.\n';
  const kinds = [
    ['internal', 64 * MiB],
    ['flexible', 64 * MiB],
    ['1', 300 * MiB],
  ] as const;
  const create = (d: TestDev, idx: string, input = '', ...opts: string[]) =>
    bsrmeta(['0', 'v09', d.path, idx, 'create-md', ...opts], input);
  const layoutFor = (idx: string, size: number) => computeLayout(size, parseIndex(idx), 1, AL_GEOMETRY);
  const magicAt = (d: TestDev, l: Layout) => decodeSb(d.path, l.sbOffset).magic;

  for (const [idx, size] of kinds) {
    it(`${idx}: an all-zero area is written without a question`, async () => {
      const d = makeDev('file', size);
      const r = await create(d, idx);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      if (idx === 'internal') expect(r.stdout).toBe(CREATED);
      expect(r.stdout).not.toContain('Do you want to proceed');
      expect(magicAt(d, layoutFor(idx, size))).toBe(0x8374026d);
    });

    it(`${idx}: one non-zero byte anywhere in the superblock, AL or bitmap area is asked about`, async () => {
      const l = layoutFor(idx, size);
      const places: [string, number][] = [
        ['bitmap', l.bmStart],
        ['bitmap', l.bmStart + l.bmSize - 1],
        ['activity log', l.alStart],
        ['activity log', l.alStart + l.alSize - 1],
        ['superblock', l.sbOffset + 4095],
      ];
      for (const [part, at] of places) {
        const d = makeDev('file', size);
        writeAt(d.path, at, Buffer.from([0x01]));
        const before = readAt(d.path, l.areaStart, l.areaEnd - l.areaStart);
        const r = await create(d, idx);
        expect(r.status, `${part} byte ${at}: ${r.stderr}`).toBe(16);
        expect(r.stdout).toContain(
          `Found non-zero data in the ${part} area of the new meta data (first at byte ${at})`,
        );
        expect(r.stdout).toContain(WARNING);
        expect(r.stderr).toContain('No answer (end of input)');
        expect(readAt(d.path, l.areaStart, l.areaEnd - l.areaStart).equals(before)).toBe(true);
      }
    });

    it(`${idx}: only "yes" or --force proceed over data`, async () => {
      const l = layoutFor(idx, size);
      const d = makeDev('file', size);
      const junk = Buffer.alloc(4096, 0x5a);
      writeAt(d.path, l.bmStart, junk);
      for (const input of ['no\n', 'YES\n', 'y\n']) {
        const r = await create(d, idx, input);
        expect(r.status).toBe(16);
        expect(r.stderr).toContain('Operation canceled.');
        expect(readAt(d.path, l.bmStart, 4096).equals(junk)).toBe(true);
        expect(magicAt(d, l)).toBe(0);
      }
      const yes = await create(d, idx, 'yes\n');
      expect(yes.status).toBe(0);
      expect(magicAt(d, l)).toBe(0x8374026d);
      expect(readAt(d.path, l.bmStart, 4096).every((b) => b === 0)).toBe(true);
      const again = makeDev('file', size);
      writeAt(again.path, l.alStart, junk);
      const forced = await create(again, idx, '', '--force');
      expect(forced.status).toBe(0);
      expect(forced.stdout).not.toContain('Do you want to proceed');
      expect(magicAt(again, l)).toBe(0x8374026d);
    });
  }

  it('data outside the meta data area is no reason to ask', async () => {
    const internal = makeDev('file', 64 * MiB);
    const l = layoutFor('internal', 64 * MiB);
    writeAt(internal.path, l.bmStart - 1, Buffer.from([0xff]));
    expect((await create(internal, 'internal')).status).toBe(0);
    // Indexed slot 1: slot 0 holds data; slot 1 is zero.
    const indexed = makeDev('file', 300 * MiB);
    writeAt(indexed.path, 128 * MiB - 1, Buffer.from([0xff]));
    const r = await create(indexed, '1');
    expect(r.stdout).not.toContain('Do you want to proceed');
    expect(r.status).toBe(0);
  });

  it('names LVM2, LUKS, swap, GPT, MBR and NTFS signatures at the start of the device', async () => {
    const sector = (at: number, ...parts: [number, Buffer][]) => {
      const b = Buffer.alloc(at + 512);
      for (const [off, data] of parts) data.copy(b, at + off);
      return b;
    };
    const u64le = (n: number) => {
      const b = Buffer.alloc(8);
      b.writeBigUInt64LE(BigInt(n));
      return b;
    };
    const mbr = sector(0, [446 + 4, Buffer.from([0x83])], [510, Buffer.from([0x55, 0xaa])]);
    const cases: [string, (path: string) => void][] = [
      [
        'an LVM2 physical volume',
        (p) => writeAt(p, 0, sector(512, [0, Buffer.from('LABELONE')], [8, u64le(1)], [24, Buffer.from('LVM2 001')])),
      ],
      ['a LUKS encrypted volume', (p) => writeAt(p, 0, Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe, 0, 2]))],
      ['swap space', (p) => execFileSync('mkswap', [p], { stdio: 'ignore' })],
      [
        'a GPT partition table',
        (p) => {
          const protective = Buffer.from(mbr);
          protective[446 + 4] = 0xee;
          writeAt(p, 0, protective);
          writeAt(p, 512, Buffer.from('EFI PART'));
        },
      ],
      ['an MBR partition table', (p) => writeAt(p, 0, mbr)],
      [
        'an NTFS file system',
        (p) => writeAt(p, 0, sector(0, [3, Buffer.from('NTFS    ')], [510, Buffer.from([0x55, 0xaa])])),
      ],
    ];
    for (const [name, make] of cases) {
      const d = makeDev('file', 64 * MiB);
      make(d.path);
      const l = layoutOf(d.path);
      const r = await md(d, 'create-md');
      expect(r.status, `${name}: ${r.stdout}${r.stderr}`).toBe(16);
      expect(r.stdout).toContain(`Found ${name} on ${d.path}.`);
      expect(r.stdout).toContain(WARNING);
      expect(r.stdout).not.toContain('non-zero data'); // the meta data area itself is zero
      expect(mdArea(d.path, l).every((b) => b === 0)).toBe(true);
      expect(r.stdout.match(/^Found .* on \//gm)).toHaveLength(1); // exactly this one thing, named
      expect((await mdIn(d, 'yes\n', 'create-md')).status).toBe(0);
    }
  });

  it('holds through bsradm: asks, and `bsradm -- --force create-md RES` proceeds', async () => {
    await buildCli('bsradm');
    const d = makeDev('file', 64 * MiB);
    const l = layoutOf(d.path);
    writeAt(d.path, l.alStart + 100, Buffer.from('old data'));
    const conf = join(dir, 'bsr.conf');
    writeFileSync(
      conf,
      `resource r0 {\n  device minor 1;\n  disk ${d.path};\n  meta-disk internal;\n` +
        '  on alice {\n    address ipv4 127.0.0.1:7000;\n  }\n  on bob {\n    address ipv4 127.0.0.2:7000;\n  }\n}\n',
    );
    const wrapper = join(dir, 'bsrmeta-wrapper');
    writeFileSync(wrapper, `#!/bin/sh\nexec node ${CLI} "$@"\n`);
    chmodSync(wrapper, 0o755);
    const env = { ...process.env, __BSR_NODE__: 'alice', BSR_LOG_FILE: join(dir, 'bsradm.log') };
    const bsradm = (args: string[], input = '') => runCli(BSRADM, ['-c', conf, '-m', wrapper, ...args], input, env);
    const declined = await bsradm(['create-md', 'r0']);
    expect(declined.status).toBe(16);
    expect(declined.stdout).toContain('Found non-zero data in the activity log area');
    expect(declined.stdout).toContain(WARNING);
    expect(declined.stderr).toContain('No answer (end of input)');
    expect(readAt(d.path, l.alStart + 100, 8).toString()).toBe('old data');
    expect((await bsradm(['create-md', 'r0'], 'no\n')).status).toBe(16);
    expect(readAt(d.path, l.alStart + 100, 8).toString()).toBe('old data');
    const forced = await bsradm(['--', '--force', 'create-md', 'r0']);
    expect(forced.stderr).toBe('');
    expect(forced.status).toBe(0);
    expect(decodeSb(d.path, l.sbOffset).magic).toBe(0x8374026d);
    expect(readAt(d.path, l.alStart, l.alSize).every((b) => b === 0)).toBe(true);
  });
});
