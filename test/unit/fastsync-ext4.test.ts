// FastSync's used-block map of ext2/3/4 on real images made by mkfs.ext4/mkfs.ext2 and filled
// and thinned by debugfs (no loop device, no mount), and its refusals of corrupted fields.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extUsedMap } from '../../src/fastsync/ext.js';
import { fileIo, MAP_CHUNK_WORDS, mapChunks } from '../../src/fastsync/map.js';
import { FsMapError, MAP_BLOCK, type UsedMap } from '../../src/fastsync/used-map.js';

const dir = mkdtempSync(join(tmpdir(), 'bsr-fastsync-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SBIN = { PATH: `/usr/sbin:/sbin:${process.env.PATH}` };
const run = (cmd: string, args: string[]) =>
  execFileSync(cmd, args, { env: { ...process.env, ...SBIN }, stdio: ['pipe', 'pipe', 'pipe'] }).toString();

function makeImage(name: string, size: number, mkfs: string[], script: string): string {
  const img = join(dir, name);
  writeFileSync(img, '');
  execFileSync('truncate', ['-s', String(size), img]);
  run(mkfs[0], [...mkfs.slice(1), '-q', '-F', img]);
  for (const [file, bytes] of [
    ['small', 3000],
    ['medium', 400_000],
    ['large', 3_000_000],
  ] as const) {
    writeFileSync(join(dir, file), Buffer.alloc(bytes, file));
  }
  writeFileSync(join(dir, 'script'), script);
  execFileSync('sh', ['-c', `cd ${dir} && debugfs -w -f script ${img}`], {
    env: { ...process.env, ...SBIN },
    stdio: 'pipe',
  });
  return img;
}

const FILL = `mkdir d
write small small
write medium medium
write large large
write large d/large2
write medium d/medium2
rm large
rm d/medium2
`;

function fsBlocksOf(img: string, path: string): number[] {
  return run('debugfs', ['-R', `blocks ${path}`, img])
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);
}

const isSet = (m: UsedMap, block4k: number) => (m.bits[block4k >> 3] & (1 << (block4k & 7))) !== 0;
const headerField = (img: string, name: string) =>
  Number(
    /^(.+?):\s+(\d+)$/m.exec(
      run('dumpe2fs', ['-h', img])
        .split('\n')
        .find((l) => l.startsWith(`${name}:`)) ?? '',
    )?.[2],
  );

function mapOf(img: string): UsedMap {
  const io = fileIo(img);
  try {
    const m = extUsedMap(io, io.size);
    if (!m) throw new Error('no ext file system found');
    return m;
  } finally {
    io.close();
  }
}

describe('ext used-block map', () => {
  for (const [name, mkfs] of [
    ['ext4-4k', ['mkfs.ext4', '-b', '4096']],
    ['ext4-1k', ['mkfs.ext4', '-b', '1024']],
    ['ext4-32bit-uninit', ['mkfs.ext4', '-b', '4096', '-O', '^64bit,^flex_bg,^metadata_csum,uninit_bg']],
    ['ext2', ['mkfs.ext2', '-b', '4096']],
  ] as const) {
    it(`${name}: marks exactly the used blocks`, () => {
      const img = makeImage(`${name}.img`, 96 * 1024 * 1024, [...mkfs], FILL);
      const m = mapOf(img);
      expect(m.fsType).toBe(name.startsWith('ext2') ? 'ext2' : 'ext4');
      const ratio = m.fsBlockSize / MAP_BLOCK;
      for (const path of ['small', 'medium', 'd/large2']) {
        const blocks = fsBlocksOf(img, path);
        expect(blocks.length).toBeGreaterThan(0);
        for (const b of blocks) expect(isSet(m, Math.floor(b * ratio))).toBe(true);
      }
      const used = headerField(img, 'Block count') - headerField(img, 'Free blocks');
      if (m.fsBlockSize === MAP_BLOCK) {
        expect(m.usedBlocks).toBe(used);
      } else {
        // 1 KiB blocks: a 4 KiB map block is used when any of its four is
        expect(m.usedBlocks).toBeGreaterThanOrEqual(Math.ceil(used / 4));
        expect(m.usedBlocks).toBeLessThanOrEqual(used);
      }
      // a deleted 3 MB file left its blocks free: far less than the whole device is used
      expect(m.usedBlocks * MAP_BLOCK).toBeLessThan(m.mapBlocks * MAP_BLOCK * 0.5);
    });
  }

  it('covers a device larger than the file system, nothing past the file system', () => {
    const img = makeImage('small-fs.img', 32 * 1024 * 1024, ['mkfs.ext4', '-b', '4096'], 'write small small\n');
    const io = fileIo(img);
    const m = extUsedMap(io, 64 * 1024 * 1024);
    io.close();
    expect(m?.mapBlocks).toBe(16384);
    for (let b = 8192; b < 16384; b++) expect(isSet(m as UsedMap, b)).toBe(false);
  });

  it('finds no ext file system on zeros', () => {
    const img = join(dir, 'zero.img');
    writeFileSync(img, Buffer.alloc(1024 * 1024));
    const io = fileIo(img);
    expect(extUsedMap(io, io.size)).toBeUndefined();
    io.close();
  });

  it('sends the map of 1 GiB in one message (the ABI maximum of fsm_words)', () => {
    expect(MAP_CHUNK_WORDS).toBe((1024 * 1024 * 1024) / 4096 / 64);
  });

  it('splits the map into ordered chunks that end with the last flag', () => {
    const img = makeImage('chunks.img', 96 * 1024 * 1024, ['mkfs.ext4', '-b', '4096'], FILL);
    const m = mapOf(img);
    const chunks = [...mapChunks(m, 1024)];
    expect(chunks.length).toBe(Math.ceil(m.mapBlocks / (1024 * 64)));
    expect(chunks.map((c) => c.firstBlock)).toEqual(chunks.map((_, i) => i * 1024 * 64));
    expect(chunks.filter((c) => c.last).length).toBe(1);
    expect(chunks.at(-1)?.last).toBe(true);
    for (const c of chunks) expect(c.words.length % 8).toBe(0);
  });
});

describe('ext used-block map refuses corrupted fields, naming them', () => {
  const base = () => {
    const img = makeImage(
      `bad-${Math.random().toString(36).slice(2)}.img`,
      32 * 1024 * 1024,
      ['mkfs.ext4', '-b', '4096'],
      FILL,
    );
    return { img, data: readFileSync(img) };
  };
  const corrupt = (edit: (b: Buffer) => void, field: RegExp) => {
    const { img, data } = base();
    edit(data);
    writeFileSync(img, data);
    const io = fileIo(img);
    try {
      expect(() => extUsedMap(io, io.size)).toThrow(FsMapError);
      expect(() => extUsedMap(io, io.size)).toThrow(field);
    } finally {
      io.close();
    }
  };
  const SB = 1024;

  it('s_log_block_size', () => corrupt((b) => b.writeUInt32LE(9, SB + 24), /s_log_block_size = 9/));
  it('s_blocks_count beyond the device', () =>
    corrupt((b) => b.writeUInt32LE(0x7fffffff, SB + 4), /s_blocks_count = 2147483647: .*larger than the device/));
  it('s_blocks_per_group', () => corrupt((b) => b.writeUInt32LE(0, SB + 32), /s_blocks_per_group = 0/));
  it('s_inodes_per_group', () => corrupt((b) => b.writeUInt32LE(1 << 20, SB + 40), /s_inodes_per_group/));
  it('s_desc_size', () => corrupt((b) => b.writeUInt16LE(48, SB + 0xfe), /s_desc_size = 48/));
  it('needs_recovery', () =>
    corrupt((b) => b.writeUInt32LE(b.readUInt32LE(SB + 0x60) | 4, SB + 0x60), /needs_recovery/));
  it('unknown incompat feature', () =>
    corrupt((b) => b.writeUInt32LE(b.readUInt32LE(SB + 0x60) | 0x4000000, SB + 0x60), /unknown to FastSync/));
  it('a group block bitmap outside the file system', () =>
    corrupt((b) => b.writeUInt32LE(0x00ffffff, 4096), /group 0 bg_block_bitmap = 16777215/));
  it('a group inode table running past the end', () =>
    corrupt((b) => b.writeUInt32LE(8191, 4096 + 8), /group 0 bg_inode_table = 8191/));
});
