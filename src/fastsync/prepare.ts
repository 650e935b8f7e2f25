// What bsrsetup does before a command that may start a full sync from this node (`primary
// --force` of data that are not UpToDate, `invalidate-remote`) or a verify from it: check the
// file system of each device that would be the source (e2fsck -fn, xfs_repair -n; refused when
// damaged unless --skip-check-fs), then read which blocks it uses and hand that map to the
// kernel (FAST_SYNC_MAP), which marks only those blocks for the full sync, or compares only
// them in the verify. Why in user space: docs/fastsync.md.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { abi } from '../abi/index.js';
import { childProcess } from '../common/child-process.js';
import { CliError } from '../common/errors.js';
import type { BlockIo } from '../meta/device.js';
import { type BsrClient, KernelError } from '../netlink/client.js';
import type { StateObject } from '../netlink/objects.js';
import { diskState } from '../status/fields.js';
import { snapshot } from '../status/query.js';
import { extUsedMap, hasExtSuperblock } from './ext.js';
import { fileIo, type MapChunk, mapChunks } from './map.js';
import { FsMapError, type UsedMap } from './used-map.js';
import { hasXfsSuperblock, xfsUsedMap } from './xfs.js';

const SBIN_PATH = `/usr/sbin:/sbin:/usr/bin:/bin:${process.env.PATH ?? ''}`;

/** bsrcon's node-wide switch (`bsrcon /set_fast_sync 0|1`, file .use_fast_sync): on unless "0". */
export function fastSyncSwitchOn(etcDir = process.env.BSR_ETC_DIR || '/etc/bsr.d'): boolean {
  try {
    return readFileSync(join(etcDir, '.use_fast_sync'), 'utf8').trim() !== '0';
  } catch {
    return true;
  }
}

interface SourceDevice {
  minor: number;
  backingDev: string;
  bytes: number;
}

/** The attached devices of `resource` (those of `volume` only when given), with their data size. */
function sourceDevices(objs: StateObject[], pick: (o: StateObject) => boolean): SourceDevice[] {
  return objs
    .filter((o) => o.kind === 'device' && o.minor !== undefined && pick(o))
    .flatMap((o) => {
      const dev = o.msg.attrs.ATTACH_PARMS?.backing_dev;
      const sectors = o.msg.attrs.DEVICE_STATISTICS?.dev_size;
      if (typeof dev !== 'string' || dev === '' || sectors === undefined) return [];
      return [{ minor: o.minor as number, backingDev: dev, bytes: Number(sectors) * 512 }];
    });
}

function run(cmd: string, args: string[]) {
  const r = childProcess().spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, PATH: SBIN_PATH } });
  if (r.error) throw new CliError(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  return r;
}

/**
 * Drops the backing device's cached pages: bsr.ko writes it with bios that bypass that
 * cache, so a page read earlier (blkid, an earlier check) may be stale.
 */
function dropCache(dev: string) {
  run('blockdev', ['--flushbufs', dev]);
}

/** The mount point of /dev/bsrMINOR, if it is mounted. */
function mountPointOf(minor: number): string | undefined {
  let rdev: number;
  try {
    rdev = statSync(`/dev/bsr${minor}`).rdev;
  } catch {
    return undefined;
  }
  const id = `${(rdev >> 8) & 0xfff}:${(rdev & 0xff) | ((rdev >> 12) & 0xfff00)}`;
  const line = readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .find((l) => l.split(' ')[2] === id);
  return line?.split(' ')[4]?.replace(/\\040/g, ' ');
}

/** Runs `fn` with the file system at `mountPoint` frozen (its journal checkpointed, writes held). */
function withFrozen<T>(mountPoint: string | undefined, fn: () => T): T {
  if (!mountPoint) return fn();
  const f = run('fsfreeze', ['--freeze', mountPoint]);
  if (f.status !== 0) throw new CliError(`fsfreeze --freeze ${mountPoint}: ${f.stderr.trim()}`);
  try {
    return fn();
  } finally {
    run('fsfreeze', ['--unfreeze', mountPoint]);
  }
}

export interface PrepareOptions {
  /** the command's name, for messages */
  command: string;
  checkFs: boolean;
  /** bsrcon's switch; the resource's fast-sync option is read from the kernel (both must allow it) */
  fastSync: boolean;
  /** tell what happens (stderr) */
  say: (line: string) => void;
  /** what the command does without a map, for messages */
  without: string;
}

/** A file system FastSync reads: how to recognise it, check it read-only, and map it. */
interface FsReader {
  has(io: BlockIo): boolean;
  /** the read-only check of the unmounted file system, exit 0 when clean */
  check: [string, ...string[]];
  /** `frozen`: mounted and frozen while read */
  usedMap(io: BlockIo, deviceBytes: number, frozen: boolean): UsedMap | undefined;
}

const READERS: FsReader[] = [
  { has: hasExtSuperblock, check: ['e2fsck', '-fn'], usedMap: (io, bytes) => extUsedMap(io, bytes) },
  { has: hasXfsSuperblock, check: ['xfs_repair', '-n'], usedMap: xfsUsedMap },
];

/** The read-only check of an unmounted file system; a refusal names the device and what to do. */
function checkFilesystem(d: SourceDevice, reader: FsReader, o: PrepareOptions) {
  const [cmd, ...args] = reader.check;
  const r = run(cmd, [...args, d.backingDev]);
  if (r.status === 0) {
    o.say(`minor ${d.minor}: file system check of ${d.backingDev}: clean`);
    return;
  }
  // the last findings, without the checkers' progress lines
  const tail = `${r.stdout}${r.stderr}`
    .trim()
    .split('\n')
    .filter((l) => !/^\s*(Pass \d|Phase \d|- |No modify flag)/.test(l))
    .slice(-6)
    .join('\n  ');
  throw new CliError(
    `bsrsetup: ${o.command}: the file system on ${d.backingDev} (minor ${d.minor}) failed its check (${reader.check.join(' ')} exit ${r.status}); nothing was changed. Repair it with ${cmd}, or skip the check with --skip-check-fs:\n  ${tail}`,
  );
}

/** EOPNOTSUPP: a module older than FAST_SYNC_MAP (genetlink knows no such command). */
const NO_SUCH_COMMAND = 95;

/**
 * Hands the map over; returns why the kernel took none (it then syncs all): a module without
 * FastSync, or a resync already running (the command itself then says what it makes of that).
 */
function sendMap(client: BsrClient, minor: number, map: UsedMap): string | undefined {
  for (const c of mapChunks(map)) {
    try {
      requestChunk(client, minor, map, c);
    } catch (e) {
      if (!(e instanceof KernelError)) throw e;
      if (c.firstBlock === 0 && e.errno === NO_SUCH_COMMAND) return 'the loaded bsr module has no FastSync';
      if (e.codeName === 'BUSY') return e.detail;
      throw e;
    }
  }
  return undefined;
}

function requestChunk(client: BsrClient, minor: number, map: UsedMap, c: MapChunk) {
  client.request({
    cmd: abi.commands.FAST_SYNC_MAP,
    minor,
    attrs: {
      FAST_SYNC_MAP_PARMS: {
        fsm_first_block: BigInt(c.firstBlock),
        fsm_map_blocks: BigInt(map.mapBlocks),
        fsm_words: c.words,
        fsm_last: c.last ? 1 : 0,
      },
    },
  });
}

/** Reads the map of one device (frozen when mounted) and hands it to the kernel. */
function prepareDevice(client: BsrClient, d: SourceDevice, o: PrepareOptions, off: string | undefined) {
  const mountPoint = mountPointOf(d.minor);
  dropCache(d.backingDev);
  const io = fileIo(d.backingDev);
  let map: UsedMap | undefined;
  try {
    const reader = READERS.find((r) => r.has(io));
    // the checkers read only unmounted file systems (a forced promotion finds them unmounted)
    if (o.checkFs && !mountPoint && reader) checkFilesystem(d, reader, o);
    // neither the map nor a freeze when the kernel would not use the map
    if (off) {
      o.say(`minor ${d.minor}: FastSync is off (${off}): ${o.without}`);
      return;
    }
    map = withFrozen(mountPoint, () => {
      // an unmounted file system did not change since the drop above (the check only reads);
      // a mounted one wrote through bsr.ko until the freeze
      if (mountPoint) dropCache(d.backingDev);
      return reader?.usedMap(io, d.bytes, mountPoint !== undefined);
    });
  } catch (e) {
    if (!(e instanceof FsMapError)) throw e;
    o.say(`minor ${d.minor}: no FastSync map of ${d.backingDev}: ${e.message}: ${o.without}`);
    return;
  } finally {
    io.close();
  }
  if (!map) {
    o.say(`minor ${d.minor}: no ext2/3/4 or xfs file system on ${d.backingDev}: ${o.without}`);
    return;
  }
  const refused = sendMap(client, d.minor, map);
  if (refused) {
    o.say(`minor ${d.minor}: no FastSync map: ${refused}`);
    return;
  }
  o.say(
    `minor ${d.minor}: FastSync map of ${d.backingDev} (${map.fsType}): ${map.usedBlocks * 4} KiB used of ${map.mapBlocks * 4} KiB`,
  );
}

/** Why FastSync is off for `resource`: bsrcon's switch or the resource's `fast-sync no`. */
function fastSyncOff(objs: StateObject[], resource: string, o: PrepareOptions): string | undefined {
  if (!o.fastSync) return 'bsrcon /set_fast_sync 0';
  const res = objs.find((x) => x.kind === 'resource');
  if (res?.msg.attrs.RESOURCE_OPTS?.['fast-sync'] === 0) return `fast-sync no on ${resource}`;
  return undefined;
}

/** Before `primary --force RES`: every attached device of RES whose data are not UpToDate. */
export function prepareForcedPrimary(client: BsrClient, resource: string, o: PrepareOptions) {
  const objs = snapshot(client, resource);
  const off = fastSyncOff(objs, resource, o);
  for (const d of sourceDevices(objs, (dev) => diskState(dev) !== 'UpToDate')) prepareDevice(client, d, o, off);
}

/** Before `invalidate-remote RES PEER VOL` or `verify RES PEER VOL`: the device of that volume. */
export function prepareVolumeSource(client: BsrClient, resource: string, volume: number, o: PrepareOptions) {
  const objs = snapshot(client, resource);
  const off = fastSyncOff(objs, resource, o);
  for (const d of sourceDevices(objs, (dev) => dev.volume === volume)) prepareDevice(client, d, o, off);
}
