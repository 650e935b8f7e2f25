// Driving the guest kernel's in-tree DRBD 8.4 with Debian's drbd-utils (drbdadm picks its 8.4
// tools, /usr/lib/drbd/drbdadm-84, for an 8.4 kernel). Used by the drbd84 scenarios and the bench.
import type { Lab, NodeName } from './types.js';
import { shq } from './util.js';

export interface Drbd84Resource {
  name: string;
  /** The two nodes (first is the one usually promoted). */
  nodes: [NodeName, NodeName];
  /** Backing disk in both guests, e.g. "/dev/vda". */
  disk: string;
  minor: number;
  port: number;
  protocol: 'A' | 'B' | 'C';
  /** Resync rate for c-plan-ahead 0 (fixed rate), e.g. "400M". */
  resyncRate?: string;
}

export function drbd84Config(lab: Lab, r: Drbd84Resource): string {
  const [a, b] = r.nodes;
  const host = (n: NodeName, peer: NodeName) =>
    `  on ${n} {\n    device /dev/drbd${r.minor};\n    disk ${r.disk};\n    address ${lab.address(n, peer)}:${r.port};\n    meta-disk internal;\n  }\n`;
  return [
    'global { usage-count no; }',
    `resource ${r.name} {`,
    `  protocol ${r.protocol};`,
    `  disk { resync-rate ${r.resyncRate ?? '400M'}; c-plan-ahead 0; al-extents 1237; }`,
    '  net { max-buffers 8000; max-epoch-size 8000; sndbuf-size 0; rcvbuf-size 0; ping-int 2; connect-int 2; }',
    host(a, b).trimEnd(),
    host(b, a).trimEnd(),
    '}',
    '',
  ].join('\n');
}

export interface Drbd84State {
  cs: string;
  ro: string;
  ds: string;
  /** Out-of-sync KiB. */
  oos: number;
}

/** Parses /proc/drbd for one minor. */
export function parseProcDrbd(text: string, minor: number): Drbd84State | undefined {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => new RegExp(`^\\s*${minor}: cs:`).test(l));
  if (at < 0) return undefined;
  const head = lines[at];
  const stats = lines[at + 1] ?? '';
  const get = (re: RegExp, s: string) => re.exec(s)?.[1] ?? '';
  return {
    cs: get(/cs:(\S+)/, head),
    ro: get(/ro:(\S+)/, head),
    ds: get(/ds:(\S+)/, head),
    oos: Number(get(/oos:(\d+)/, stats) || 0),
  };
}

export async function drbd84State(lab: Lab, node: NodeName, minor: number): Promise<Drbd84State | undefined> {
  return parseProcDrbd(await lab.sh(node, 'cat /proc/drbd'), minor);
}

/** Writes the config, creates meta data and brings the resource up on both nodes (no promotion). */
export async function drbd84Up(lab: Lab, r: Drbd84Resource): Promise<void> {
  const conf = drbd84Config(lab, r);
  await Promise.all(
    r.nodes.map((n) =>
      lab.sh(
        n,
        [
          'modprobe drbd',
          'mkdir -p /run/lock /var/lib/drbd',
          'cat > /etc/drbd.conf',
          `drbdadm create-md --force ${shq(r.name)} >/dev/null 2>&1 || drbdadm create-md --force ${shq(r.name)}`,
          `drbdadm up ${shq(r.name)}`,
        ].join('\n'),
        { input: conf },
      ),
    ),
  );
}

/** Applies a changed config (e.g. another protocol) to a running resource on both nodes. */
export async function drbd84Adjust(lab: Lab, r: Drbd84Resource): Promise<void> {
  const conf = drbd84Config(lab, r);
  await Promise.all(
    r.nodes.map((n) => lab.sh(n, `cat > /etc/drbd.conf\ndrbdadm adjust ${shq(r.name)}`, { input: conf })),
  );
}

export async function drbd84Down(lab: Lab, r: Drbd84Resource): Promise<void> {
  await Promise.all(r.nodes.map((n) => lab.sh(n, `drbdadm down ${shq(r.name)} || true`)));
}

/** Waits until both nodes see the connection established and both disks UpToDate. */
export async function drbd84WaitSynced(lab: Lab, r: Drbd84Resource, timeoutMs = 300_000, intervalMs = 250) {
  await lab.waitFor(
    `${r.name} UpToDate/UpToDate on ${r.nodes.join(' and ')}`,
    async () => {
      for (const n of r.nodes) {
        const s = await drbd84State(lab, n, r.minor);
        if (s?.cs !== 'Connected' || s.ds !== 'UpToDate/UpToDate') return false;
      }
      return true;
    },
    timeoutMs,
    intervalMs,
  );
}

export async function drbd84WaitConnected(lab: Lab, r: Drbd84Resource, timeoutMs = 60_000) {
  await lab.waitFor(
    `${r.name} connected`,
    async () => {
      for (const n of r.nodes) {
        const s = await drbd84State(lab, n, r.minor);
        if (!s || !/^(Connected|SyncSource|SyncTarget|PausedSync[ST])$/.test(s.cs)) return false;
      }
      return true;
    },
    timeoutMs,
  );
}

/** sha256 of `mib` MiB at `offsetMiB` of a device, read with O_DIRECT (bypasses stale caches). */
export async function deviceChecksum(lab: Lab, node: NodeName, dev: string, offsetMiB: number, mib: number) {
  const out = await lab.sh(
    node,
    `dd if=${shq(dev)} bs=1M skip=${offsetMiB} count=${mib} iflag=direct status=none | sha256sum`,
    { timeoutMs: 300_000 },
  );
  return out.split(' ')[0];
}
