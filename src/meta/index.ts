// bsrmeta's library: v09 meta-data layout, superblock, activity log, bitmap and dump text form.
import { openMeta } from './commands.js';
import type { MetaIndex } from './layout.js';

export * from './al.js';
export * from './bitmap.js';
export { type OpenMeta, openMeta } from './commands.js';
export * from './crc32c.js';
export { type BlockIo, MetaDevice, zeroRange } from './device.js';
export * from './dump.js';
export * from './fsdetect.js';
export * from './gi.js';
export * from './layout.js';
export * from './superblock.js';

/** The parsed superblock of `device` at `index` (opened read-only, exclusively for block devices). */
export function readSuperblock(device: string, index: MetaIndex) {
  const m = openMeta(device, index, false);
  m.dev.close();
  return m.sb;
}
