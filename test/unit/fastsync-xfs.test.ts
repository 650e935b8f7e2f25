// FastSync's used-block map of xfs on real images made by mkfs.xfs (v5 and v4) and filled from
// a proto file (no loop device, no mount), compared with xfs_db's free-space dump; and its
// refusals of corrupted fields, each corrupted field made to pass its CRC so its own check fires.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileIo } from '../../src/fastsync/map.js';
import { FsMapError, MAP_BLOCK, type UsedMap } from '../../src/fastsync/used-map.js';
import { xfsUsedMap } from '../../src/fastsync/xfs.js';
import { crc32cStandardWithHole } from '../../src/meta/crc32c.js';

const dir = mkdtempSync(join(tmpdir(), 'bsr-fastsync-xfs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// mkfs.xfs 6.x refuses file systems under 300 MB and logs under 64 MB outside fstests; these
// variables are its fstests escape, which keeps the test images small.
const ENV = {
  ...process.env,
  PATH: `/usr/sbin:/sbin:${process.env.PATH}`,
  TEST_DIR: dir,
  TEST_DEV: 'x',
  QA_CHECK_FS: '1',
};
const run = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { env: ENV, stdio: ['pipe', 'pipe', 'pipe'] }).toString();

for (const [file, bytes] of [
  ['small', 3000],
  ['medium', 400_000],
  ['large', 3_000_000],
] as const)
  writeFileSync(join(dir, file), Buffer.alloc(bytes, file));
const PROTO = `/dummy
0 0
d--755 0 0
small ---644 0 0 ${dir}/small
medium ---644 0 0 ${dir}/medium
large ---644 0 0 ${dir}/large
d d--755 0 0
large2 ---644 0 0 ${dir}/large
medium2 ---644 0 0 ${dir}/medium
$
$
`;
writeFileSync(join(dir, 'proto'), PROTO);

function makeImage(name: string, size: number, mkfs: string[]): string {
  const img = join(dir, name);
  writeFileSync(img, '');
  execFileSync('truncate', ['-s', String(size), img]);
  const log = mkfs.includes('-l') ? [] : ['-l', 'size=8m'];
  run('mkfs.xfs', [...mkfs, ...log, '-q', '-f', '-p', join(dir, 'proto'), img]);
  return img;
}

const db = (img: string, ...cmds: string[]) => run('xfs_db', ['-r', ...cmds.flatMap((c) => ['-c', c]), img]);
const sbField = (img: string, name: string) =>
  Number(new RegExp(`^${name} = (\\d+)`, 'm').exec(db(img, 'sb 0', `p ${name}`))?.[1]);
const isSet = (m: UsedMap, block4k: number) => (m.bits[block4k >> 3] & (1 << (block4k & 7))) !== 0;

function mapOf(img: string): UsedMap {
  const io = fileIo(img);
  try {
    const m = xfsUsedMap(io, io.size);
    if (!m) throw new Error('no xfs found');
    return m;
  } finally {
    io.close();
  }
}

describe('xfs used-block map', () => {
  for (const [name, mkfs] of [
    ['v5-4k', ['-b', 'size=4096']],
    ['v5-4k-rmapbt', ['-b', 'size=4096', '-m', 'rmapbt=1', '-l', 'size=16m']],
    ['v4-4k', ['-b', 'size=4096', '-m', 'crc=0']],
    ['v5-1k', ['-b', 'size=1024']],
  ] as const) {
    it(`${name}: free are exactly the bnobt's extents, as xfs_db sees them`, () => {
      const img = makeImage(`${name}.img`, 224 * 1024 * 1024, [...mkfs]);
      const m = mapOf(img);
      expect(m.fsType).toBe(name.startsWith('v4') ? 'xfs v4' : 'xfs');
      const bs = sbField(img, 'blocksize');
      const agBlocks = sbField(img, 'agblocks');
      // xfs_db's free space: the bnobt's extents and the blocks on each AG's free list
      const free = db(img, 'freesp -d')
        .split('\n')
        .map((l) => l.trim().split(/\s+/).map(Number))
        .filter((f) => f.length === 3 && f.every(Number.isFinite));
      expect(free.length).toBeGreaterThan(0);
      let freeBlocks = 0;
      let agflBlocks = 0;
      for (let ag = 0; ag < sbField(img, 'agcount'); ag++)
        agflBlocks += Number(/^flcount = (\d+)/m.exec(db(img, `agf ${ag}`, 'p flcount'))?.[1]);
      const freeIn = new Set<number>();
      for (const [ag, bno, len] of free) {
        freeBlocks += len;
        for (let b = 0; b < len; b++) freeIn.add((ag * agBlocks + bno + b) * bs);
      }
      const usedByDb = sbField(img, 'dblocks') - freeBlocks;
      // every map block left out lies wholly in xfs_db's free space (1 KiB blocks: all four)
      const notFree: number[] = [];
      for (let b = 0; b < m.mapBlocks; b++)
        for (let k = 0; !isSet(m, b) && k < MAP_BLOCK / bs; k++)
          if (!freeIn.has(b * MAP_BLOCK + k * bs)) notFree.push(b);
      expect(notFree).toEqual([]);
      if (bs === MAP_BLOCK) {
        // used: what xfs_db calls used plus the free-list blocks (kept for btree splits)
        expect(m.usedBlocks).toBe(usedByDb + agflBlocks);
      } else {
        expect(m.usedBlocks).toBeGreaterThanOrEqual(Math.ceil(((usedByDb + agflBlocks) * bs) / MAP_BLOCK));
      }
      expect(m.usedBlocks * MAP_BLOCK).toBeLessThan(m.mapBlocks * MAP_BLOCK * 0.25);
    });
  }

  it('covers a device larger than the file system, nothing past the file system', () => {
    const img = makeImage('small-fs.img', 224 * 1024 * 1024, ['-b', 'size=4096', '-d', 'size=160m']);
    const io = fileIo(img);
    const m = xfsUsedMap(io, io.size);
    io.close();
    expect(m?.mapBlocks).toBe(57344);
    for (let b = 40960; b < 57344; b++) expect(isSet(m as UsedMap, b)).toBe(false);
  });

  it('finds no xfs on zeros', () => {
    const img = join(dir, 'zero.img');
    writeFileSync(img, Buffer.alloc(1024 * 1024));
    const io = fileIo(img);
    expect(xfsUsedMap(io, io.size)).toBeUndefined();
    io.close();
  });
});

describe('xfs used-block map refuses corrupted fields, naming them', () => {
  // small images: each test copies one
  const v5 = makeImage('base-v5.img', 40 * 1024 * 1024, ['-b', 'size=4096']);
  const v4 = makeImage('base-v4.img', 40 * 1024 * 1024, ['-b', 'size=4096', '-m', 'crc=0']);
  const SECT = 512;
  const BS = 4096;
  const bnoRoot = (b: Buffer) => b.readUInt32BE(SECT + 16) * BS;
  /** Recomputes the CRC-32C stored at `crcOff` of the `len` bytes at `start`. */
  const fixCrc = (b: Buffer, start: number, len: number, crcOff: number) =>
    b.writeUInt32LE(crc32cStandardWithHole(b.subarray(start, start + len), crcOff), start + crcOff);
  const sbCrc = (b: Buffer) => fixCrc(b, 0, SECT, 224);
  const agfCrc = (b: Buffer) => fixCrc(b, SECT, SECT, 216);
  const bnoCrc = (b: Buffer) => fixCrc(b, bnoRoot(b), BS, 52);

  const corrupt = (base: string, edit: (b: Buffer) => void, field: RegExp, opts: { device?: number } = {}) => {
    const img = join(dir, `bad-${Math.random().toString(36).slice(2)}.img`);
    const data = readFileSync(base);
    edit(data);
    writeFileSync(img, data);
    const io = fileIo(img);
    try {
      expect(() => xfsUsedMap(io, opts.device ?? io.size)).toThrow(FsMapError);
      expect(() => xfsUsedMap(io, opts.device ?? io.size)).toThrow(field);
    } finally {
      io.close();
      rmSync(img);
    }
  };

  it('sb_crc', () => corrupt(v5, (b) => b.write('x', 108), /xfs superblock sb_crc = \d+: does not match/));
  it('sb_versionnum', () =>
    corrupt(
      v5,
      (b) => {
        b.writeUInt16BE(0xb4a3, 100);
        sbCrc(b);
      },
      /sb_versionnum = 46243: expected version 4 or 5/,
    ));
  it('sb_blocksize', () =>
    corrupt(
      v5,
      (b) => {
        b.writeUInt32BE(3000, 4);
        sbCrc(b);
      },
      /sb_blocksize = 3000/,
    ));
  it('sb_agblocks', () =>
    corrupt(
      v5,
      (b) => {
        b.writeUInt32BE(10, 84);
        sbCrc(b);
      },
      /sb_agblocks = 10/,
    ));
  it('sb_agcount against sb_dblocks', () =>
    corrupt(
      v5,
      (b) => {
        b.writeUInt32BE(9, 88);
        sbCrc(b);
      },
      /sb_dblocks = 10240: expected .* for 9 AGs/,
    ));
  it('sb_dblocks beyond the device', () =>
    corrupt(v5, () => {}, /sb_dblocks = 10240: .*larger than the device/, { device: 20 * 1024 * 1024 }));
  it('a realtime device', () =>
    corrupt(
      v5,
      (b) => {
        b.writeBigUInt64BE(100n, 16);
        sbCrc(b);
      },
      /sb_rblocks = 100: a realtime device/,
    ));
  it('needsrepair', () =>
    corrupt(
      v5,
      (b) => {
        b.writeUInt32BE(b.readUInt32BE(216) | 0x10, 216);
        sbCrc(b);
      },
      /needsrepair/,
    ));
  it('unknown incompat feature', () =>
    corrupt(
      v5,
      (b) => {
        b.writeUInt32BE(b.readUInt32BE(216) | 0x1000, 216);
        sbCrc(b);
      },
      /unknown to FastSync/,
    ));
  it('a dirty log (the last record is no unmount record)', () =>
    corrupt(
      v5,
      (b) => {
        const logStart = Number(b.readBigUInt64BE(48));
        const agBlkLog = b[124];
        const at = ((logStart >> agBlkLog) * b.readUInt32BE(84) + (logStart & ((1 << agBlkLog) - 1))) * BS;
        b[at + SECT + 9] = 0; // mkfs's unmount record: its first op header's flags
      },
      /xfs log last record = 0: not an unmount record: the log needs recovery/,
    ));
  it('agf_magicnum', () =>
    corrupt(
      v5,
      (b) => {
        b.write('XXXX', SECT);
        agfCrc(b);
      },
      /xfs AG 0 agf_magicnum/,
    ));
  it('agf_crc', () => corrupt(v5, (b) => b.writeUInt32BE(5, SECT + 52), /xfs AG 0 agf_crc = \d+: does not match/));
  it('agf_length', () =>
    corrupt(
      v5,
      (b) => {
        b.writeUInt32BE(5, SECT + 12);
        agfCrc(b);
      },
      /xfs AG 0 agf_length = 5/,
    ));
  it('agf_bno_level', () =>
    corrupt(
      v5,
      (b) => {
        b.writeUInt32BE(12, SECT + 28);
        agfCrc(b);
      },
      /xfs AG 0 agf_bno_level = 12: expected 1..9/,
    ));
  it('agf_freeblks against the bnobt', () =>
    corrupt(
      v5,
      (b) => {
        b.writeUInt32BE(5, SECT + 52);
        agfCrc(b);
      },
      /xfs AG 0 agf_freeblks = 5: the bnobt holds \d+/,
    ));
  it('bnobt bb_crc', () => corrupt(v5, (b) => b.writeUInt32BE(1, bnoRoot(b) + 60), /bnobt block 1 bb_crc/));
  it('bnobt bb_magic', () =>
    corrupt(
      v5,
      (b) => {
        b.write('XXXX', bnoRoot(b));
        bnoCrc(b);
      },
      /xfs AG 0 bnobt block 1 bb_magic/,
    ));
  it('bnobt bb_blkno', () =>
    corrupt(
      v5,
      (b) => {
        b.writeBigUInt64BE(999n, bnoRoot(b) + 16);
        bnoCrc(b);
      },
      /bnobt block 1 bb_blkno = 999/,
    ));
  it('bnobt bb_owner', () =>
    corrupt(
      v5,
      (b) => {
        b.writeUInt32BE(3, bnoRoot(b) + 48);
        bnoCrc(b);
      },
      /bnobt block 1 bb_owner = 3/,
    ));
  it('bnobt bb_numrecs', () =>
    corrupt(
      v5,
      (b) => {
        b.writeUInt16BE(9999, bnoRoot(b) + 6);
        bnoCrc(b);
      },
      /bnobt block 1 bb_numrecs = 9999/,
    ));
  it('bnobt record past the AG (v4)', () =>
    corrupt(v4, (b) => b.writeUInt32BE(0x7fffff, bnoRoot(b) + 16 + 4), /record 0 ar_blockcount = 8388607/));
  it('bnobt record over the AG headers (v4)', () =>
    corrupt(v4, (b) => b.writeUInt32BE(0, bnoRoot(b) + 16), /record 0 ar_startblock = 0: expected from 1 on/));
  it('bnobt records out of order (v4)', () =>
    corrupt(
      v4,
      (b) => {
        b.writeUInt16BE(2, bnoRoot(b) + 6);
        b.writeBigUInt64BE(b.readBigUInt64BE(bnoRoot(b) + 16), bnoRoot(b) + 16 + 8);
      },
      /bnobt block 1 record 1 ar_startblock = \d+: expected from \d+ on/,
    ));
  it('bnobt sibling loop (v4)', () =>
    corrupt(v4, (b) => b.writeUInt32BE(1, bnoRoot(b) + 12), /bnobt block 1 bb_leftsib = 4294967295: expected 1/));
});
