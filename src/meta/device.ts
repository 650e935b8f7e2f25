// The meta device: a regular file or a block device, opened exclusively, read and written at
// absolute byte offsets in large chunks.
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  openSync,
  readFileSync,
  readSync,
  statSync,
  writeSync,
} from 'node:fs';
import { CliError } from '../common/errors.js';

/** Bytes moved per read/write call for bulk work (bitmap zeroing, copying). */
export const CHUNK = 8 * 1024 * 1024;

export interface BlockIo {
  readonly size: number;
  read(pos: number, len: number): Buffer;
  write(pos: number, data: Uint8Array): void;
}

/**
 * The size of a block device in bytes, from sysfs by its device number: a device node made without
 * udev (e.g. `dmsetup mknodes`, /dev/mapper/NAME) has a name sysfs does not know.
 */
export function blockDeviceSize(path: string): number {
  const rdev = statSync(path, { bigint: true }).rdev;
  const major = ((rdev >> 8n) & 0xfffn) | ((rdev >> 32n) & ~0xfffn);
  const minor = (rdev & 0xffn) | ((rdev >> 12n) & ~0xffn);
  const sysfs = `/sys/dev/block/${major}:${minor}/size`;
  try {
    return Number(readFileSync(sysfs, 'utf8').trim()) * 512;
  } catch {
    throw new CliError(`${path}: cannot read the size of block device ${major}:${minor} from ${sysfs}`);
  }
}

export class MetaDevice implements BlockIo {
  private constructor(
    readonly path: string,
    private fd: number,
    readonly size: number,
    readonly isBlockDevice: boolean,
  ) {}

  /**
   * Opens `path`. Block devices are opened with O_EXCL, which the kernel refuses while the device
   * is mounted, attached or otherwise claimed: meta data must not change under a user.
   */
  static open(path: string, writable: boolean): MetaDevice {
    let fd: number;
    const mode = writable ? constants.O_RDWR : constants.O_RDONLY;
    try {
      fd = openSync(path, mode);
    } catch (err) {
      throw new CliError(`${path}: cannot open: ${(err as Error).message}`);
    }
    const st = fstatSync(fd);
    if (st.isBlockDevice()) {
      closeSync(fd);
      try {
        fd = openSync(path, mode | constants.O_EXCL);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EBUSY')
          throw new CliError(
            `${path}: device is in use (mounted, attached by the kernel or opened exclusively): refusing to touch its meta data`,
          );
        throw new CliError(`${path}: cannot open exclusively: ${(err as Error).message}`);
      }
      return new MetaDevice(path, fd, blockDeviceSize(path), true);
    }
    if (!st.isFile()) {
      closeSync(fd);
      throw new CliError(`${path}: not a block device or regular file`);
    }
    return new MetaDevice(path, fd, st.size, false);
  }

  private check(pos: number, len: number): void {
    if (pos < 0 || pos + len > this.size)
      throw new CliError(`${this.path}: access [${pos}, ${pos + len}) beyond the device end (${this.size})`);
  }

  read(pos: number, len: number): Buffer {
    this.check(pos, len);
    const buf = Buffer.alloc(len);
    let done = 0;
    while (done < len) {
      const n = readSync(this.fd, buf, done, Math.min(len - done, CHUNK), pos + done);
      if (n === 0) throw new CliError(`${this.path}: unexpected end of device at ${pos + done}`);
      done += n;
    }
    return buf;
  }

  write(pos: number, data: Uint8Array): void {
    this.check(pos, data.length);
    let done = 0;
    while (done < data.length) {
      done += writeSync(this.fd, data, done, Math.min(data.length - done, CHUNK), pos + done);
    }
  }

  sync(): void {
    fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

/**
 * Makes [pos, pos+len) all zero. Chunks that already read as zero are not rewritten, so a sparse
 * file stays sparse and a 1 TiB device's bitmap is initialized in seconds.
 */
export function zeroRange(io: BlockIo, pos: number, len: number): void {
  for (let off = 0; off < len; off += CHUNK) {
    const n = Math.min(CHUNK, len - off);
    const cur = io.read(pos + off, n);
    if (!isZero(cur)) io.write(pos + off, Buffer.alloc(n));
  }
}

/** Offset of the first non-zero byte in [pos, pos+len), read chunk by chunk; undefined when all zero. */
export function firstNonZero(io: BlockIo, pos: number, len: number): number | undefined {
  for (let off = 0; off < len; off += CHUNK) {
    const chunk = io.read(pos + off, Math.min(CHUNK, len - off));
    if (!isZero(chunk)) return pos + off + chunk.findIndex((b) => b !== 0);
  }
  return undefined;
}

const ZEROS = Buffer.alloc(CHUNK);

export function isZero(buf: Uint8Array): boolean {
  // memcmp against a zero chunk: bitmaps are large and mostly zero.
  for (let off = 0; off < buf.length; off += CHUNK) {
    const part = buf.subarray(off, Math.min(buf.length, off + CHUNK));
    if (Buffer.compare(part, ZEROS.subarray(0, part.length)) !== 0) return false;
  }
  return true;
}
