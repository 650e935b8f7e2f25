// Loads the N-API addon (native/addon). esbuild leaves `*.node` outside the bundle, so it is
// found at run time relative to this module: dist/NAME.code.cjs or src/netlink/addon.ts.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CliError, EXIT } from '../common/errors.js';

/** The socket the addon provides; tests substitute a scripted fake. */
export interface NetlinkSocket {
  readonly portId: number;
  send(buf: Buffer): void;
  /** Next datagram, or null once timeoutMs passed (-1: wait forever). */
  recv(timeoutMs: number): Buffer | null;
  addMembership(group: number): void;
  startReading(cb: (err: (Error & { code?: string }) | null, data?: Buffer) => void): void;
  stopReading(): void;
  close(): void;
}

interface Addon {
  Socket: new (protocol?: number) => NetlinkSocket;
}

const ADDON_REL = 'native/addon/build/Release/bsr_netlink.node';
let cached: Addon | undefined;

export function addonCandidates(): string[] {
  const here = dirname(fileURLToPath(import.meta.url));
  const list = [resolve(here, '..', ADDON_REL), resolve(here, '../..', ADDON_REL)];
  if (process.env.BSR_NETLINK_ADDON) list.unshift(resolve(process.env.BSR_NETLINK_ADDON));
  return list;
}

export function loadAddon(): Addon {
  if (cached) return cached;
  const path = addonCandidates().find((p) => existsSync(p));
  if (!path) {
    throw new CliError(
      `the netlink addon is not built (looked for ${addonCandidates().join(', ')}); run: npm run build:addon`,
      EXIT.FAILURE,
    );
  }
  if (path.endsWith('.node')) {
    // process.dlopen: require() would first resolve and realpath the path (a stat per directory)
    const module = { exports: {} };
    process.dlopen(module, path);
    cached = module.exports as Addon;
  } else {
    cached = createRequire(import.meta.url)(path) as Addon; // a scripted stand-in (unit tests)
  }
  return cached;
}

export function openNetlinkSocket(): NetlinkSocket {
  return new (loadAddon().Socket)();
}
