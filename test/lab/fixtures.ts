// The shared fixtures of the lab scenarios: resource r0 (minor 1, volume 0) on /dev/vda, driven
// through bsrsetup/bsrmeta in the guests. twoNodes(): alpha (node-id 0) and bravo (node-id 1)
// replicating; singleNode(): one node with bravo configured as its (unconnected) peer.
import { createHash, randomBytes } from 'node:crypto';
import {
  currentState,
  type ResourceEvents,
  switchProtocol,
  waitEvents,
  waitUpToDate,
} from '../../tools/lab/bsr-wait.js';
import { guestCli, guestSteps } from '../../tools/lab/paths.js';
import type { Lab, NodeName } from '../../tools/lab/scenario.js';

export const NODES: readonly NodeName[] = ['alpha', 'bravo'];
export const PEER: Record<string, NodeName> = { alpha: 'bravo', bravo: 'alpha' };
export const ID: Record<string, number> = { alpha: 0, bravo: 1 };
const MIB = 1 << 20;
/** short ping and reconnect intervals, so a cut or crashed peer is noticed within seconds */
/**
 * The peer-device options of r0 unless a scenario gives its own: resync and verify as fast as
 * the lab goes. Verify requests of 256 blocks: the default 10 (4 KiB blocks a request) spares a
 * production disk's I/O but makes whole-disk verifies in the lab several times slower. c-min-rate
 * 0: no application-I/O throttle (resync/sync-controls checks it), so a resync under a
 * scenario's writer is not held to 250 KiB/s.
 */
export const FAST_PD = '--c-plan-ahead=0 --resync-rate=1000M --ov-req-num=256 --c-min-rate=0';
export const FAST_NET = '--ping-int=2 --ping-timeout=20 --connect-int=2';

export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

export interface R0Options {
  /** resource options of new-resource, e.g. "--persist-role=yes" */
  res?: string;
  net?: string;
  /** peer-device options, e.g. "--c-plan-ahead=0 --resync-rate=400M" */
  pd?: string;
  createMd?: boolean;
  /** the backing disk, default /dev/vda */
  disk?: string;
  /** disk options of the attach, e.g. "--on-io-error=detach" */
  attach?: string;
  /** external meta data: its device and index (`flexible` or N); default internal on the disk */
  meta?: { dev: string; idx: string };
  /** connect at the end (default true) */
  connect?: boolean;
  /** the path's peer address (A.B.C.D:PORT), default the peer's own on port 7789: a proxy in between */
  peerAddr?: string;
}

export function twoNodes(lab: Lab) {
  const repo = lab.repoRoot;
  const S = guestCli(repo, 'bsrsetup');
  const M = guestCli(repo, 'bsrmeta');
  const sh = (n: NodeName, script: string) => lab.sh(n, `cd ${repo}\n${script}`);
  const exec = (n: NodeName, script: string) => lab.exec(n, ['sh', '-c', script]);

  async function up(n: NodeName, o: R0Options = {}) {
    const p = PEER[n];
    const disk = o.disk ?? '/dev/vda';
    const md = o.meta ?? { dev: disk, idx: 'internal' };
    await sh(
      n,
      guestSteps(repo, [
        ...(o.createMd === false ? [] : [`bsrmeta --force 1 v09 ${md.dev} ${md.idx} create-md --max-peers=2`]),
        `bsrsetup new-resource r0 ${ID[n]} ${o.res ?? ''}`,
        'bsrsetup new-minor r0 1 0',
        `bsrsetup new-peer r0 ${ID[p]} --_name=${p} ${o.net ?? ''}`,
        `bsrsetup new-path r0 ${ID[p]} ipv4:${lab.address(n, p)}:7789 ipv4:${o.peerAddr ?? `${lab.address(p, n)}:7789`}`,
        `bsrsetup attach 1 ${disk} ${md.dev} ${md.idx} ${o.attach ?? ''}`,
        `bsrsetup peer-device-options r0 ${ID[p]} 0 ${o.pd ?? FAST_PD}`,
        ...(o.connect === false ? [] : [`bsrsetup connect r0 ${ID[p]}`]),
      ]),
    );
  }

  /**
   * Volume 1 (minor 2) on node n: a 16 MiB dm-linear of /dev/vdb named vol1 with its own meta
   * data, attached (while connected, the attach restarts the connection); then `then`. Returns
   * the command's output. Whoever calls it removes vol1 after `down` (dmsetup remove vol1).
   */
  function addVolume(n: NodeName, then = ''): Promise<string> {
    return sh(
      n,
      `dmsetup create vol1 --table "0 32768 linear /dev/vdb 0" && dmsetup mknodes
dev=/dev/$(dmsetup info -c -o blkdevname --noheadings vol1)
${M} --force 2 v09 $dev internal create-md --max-peers=2 </dev/null >/dev/null
${S} new-minor r0 2 1
${S} attach 2 $dev $dev internal
${then}`,
    );
  }

  /**
   * r0 with two volumes on node n, one connection: volume 0 minor 1 on /dev/vda, volume 1 minor 2
   * on /dev/vdb, fresh meta data on both; `net` the new-peer options, `pd` each volume's
   * peer-device options, `attach2` volume 1's disk options; connected at the end.
   */
  async function upTwoVolumes(n: NodeName, o: { net: string; pd: [string, string]; attach2?: string }) {
    const p = PEER[n];
    await sh(
      n,
      `for d in /dev/vda /dev/vdb; do ${M} --force 1 v09 $d internal create-md --max-peers=2 </dev/null; done
${guestSteps(repo, [
  `bsrsetup new-resource r0 ${ID[n]}`,
  'bsrsetup new-minor r0 1 0',
  'bsrsetup new-minor r0 2 1',
  `bsrsetup new-peer r0 ${ID[p]} --_name=${p} ${o.net}`,
  `bsrsetup new-path r0 ${ID[p]} ipv4:${lab.address(n, p)}:7789 ipv4:${lab.address(p, n)}:7789`,
  'bsrsetup attach 1 /dev/vda /dev/vda internal',
  `bsrsetup attach 2 /dev/vdb /dev/vdb internal ${o.attach2 ?? ''}`,
  `bsrsetup peer-device-options r0 ${ID[p]} 0 ${o.pd[0]}`,
  `bsrsetup peer-device-options r0 ${ID[p]} 1 ${o.pd[1]}`,
  `bsrsetup connect r0 ${ID[p]}`,
])}`,
    );
  }

  async function status(n: NodeName): Promise<string> {
    return sh(n, `${S} status r0 -v -s`);
  }

  /**
   * A field of r0 on node n now (as events2 dumps it): volume 0's peer device's (replication,
   * peer-disk, out-of-sync, received...), else its connection's, the device's (disk, written...)
   * or the resource's.
   */
  async function pdField(n: NodeName, key: string): Promise<string | undefined> {
    return (await fieldsOf(n))(key);
  }

  /** One look at r0 on node n, its fields looked up as pdField does. */
  async function fieldsOf(n: NodeName): Promise<(key: string) => string | undefined> {
    const r = await currentState(lab, n, 'r0');
    return (key) => r.field(key);
  }

  /** Whether node n's connection to its peer is Connected (from `status --json`). */
  async function connected(n: NodeName): Promise<boolean> {
    return (await pdField(n, 'connection')) === 'Connected';
  }

  /**
   * Waits until `check` holds for r0 on node n, following its notifications (what events2 prints,
   * through the node's state watcher); returns what `check` returned.
   */
  function waitState<T>(
    n: NodeName,
    what: string,
    check: (r: ResourceEvents) => T | undefined | null | false,
    timeoutMs = 60_000,
  ): Promise<T> {
    return waitEvents(lab, n, 'r0', `${n}: ${what}`, check, timeoutMs);
  }

  /** Waits until node n's connection to its peer is Connected, or with `connected` false, until it is not. */
  function waitConnection(n: NodeName, connected: boolean, timeoutMs = 60_000): Promise<boolean> {
    const want = connected ? 'connected' : 'the connection lost';
    return waitState(n, want, (r) => (r.field('connection') === 'Connected') === connected, timeoutMs);
  }

  /** Waits until every connection of r0 is Connected on both nodes. */
  async function waitConnected(timeoutMs = 60_000) {
    const all = (r: ResourceEvents) =>
      r.connections().length > 0 && r.connections().every((c) => c.connection === 'Connected');
    await Promise.all(NODES.map((n) => waitState(n, 'every connection Connected', all, timeoutMs)));
  }

  async function waitSynced(timeoutMs = 180_000) {
    await Promise.all(NODES.map((n) => waitUpToDate(lab, n, 'r0', Math.ceil(timeoutMs / 1000))));
  }

  /** Both nodes switch r0 to another protocol; resolves once reconnected and UpToDate. */
  async function setProtocol(protocol: string, timeoutMs = 60_000) {
    await switchProtocol(
      lab,
      S,
      'r0',
      NODES.map((n) => ({ node: n, peerId: ID[PEER[n]] })),
      protocol,
    );
    await waitSynced(timeoutMs);
  }

  /**
   * Starts scripts/block-writer.py in the background on alpha: writer ID overwrites `blocks` 4 KiB
   * blocks from `first` with O_DIRECT writes of `perWrite` blocks until stopWriter().
   */
  async function startWriter(id: number, first: number, blocks: number, perWrite: number) {
    await sh(
      'alpha',
      `rm -f /tmp/stop /tmp/writer.out
nohup sh -c 'python3 ${repo}/test/lab/scripts/block-writer.py /dev/bsr1 ${id} ${first} ${blocks} ${perWrite} --until=/tmp/stop > /tmp/writer.out 2>&1; echo rc=$? >> /tmp/writer.out' > /dev/null 2>&1 &`,
    );
  }

  /** Stops the writer of startWriter(); asserts that every one of its writes succeeded. */
  async function stopWriter(timeoutMs = 120_000) {
    await sh('alpha', 'touch /tmp/stop');
    const out = await lab.waitFor(
      'the writer to stop',
      async () => {
        const o = await sh('alpha', 'cat /tmp/writer.out 2>/dev/null || true');
        return /rc=\d+/.test(o) ? o : undefined;
      },
      timeoutMs,
      300,
    );
    lab.log(`writer: ${out.trim().replace(/\n/g, ' ')}`);
    assert(/rc=0/.test(out), `the writer saw an error:\n${out}`);
  }

  /** sha256 of length MiB starting at offset MiB of a device (a backing disk is read on the host). */
  async function sum(n: NodeName, dev: string, offMiB: number, lenMiB: number): Promise<string> {
    const disk = /^\/dev\/(vda|vdb)$/.exec(dev)?.[1] as 'vda' | 'vdb' | undefined;
    if (disk) return lab.diskSum(n, disk, offMiB * MIB, lenMiB * MIB);
    const out = await sh(n, `dd if=${dev} bs=1M skip=${offMiB} count=${lenMiB} iflag=direct status=none | sha256sum`);
    return out.split(' ')[0];
  }

  /** sha256 of `count` 4 KiB blocks from block `first` of node n's backing disk /dev/vda (O_DIRECT). */
  async function blocksSum(n: NodeName, first: number, count: number): Promise<string> {
    return lab.diskSum(n, 'vda', first * 4096, count * 4096);
  }

  /**
   * Four O_DIRECT writers on alpha (scripts/block-writer.py) overwrite the same `blocks` 4 KiB blocks
   * of /dev/bsr1 from `first` at once with distinct patterns, `writes` writes each; returns their counts.
   */
  async function overlappingWriters(first: number, blocks: number, writes: number): Promise<string[]> {
    const w = `python3 ${repo}/test/lab/scripts/block-writer.py`;
    const counts = await sh(
      'alpha',
      `pids=
for i in 1 2 3 4; do ${w} /dev/bsr1 $i ${first} ${blocks} 4 ${writes} > /tmp/ov$i & pids="$pids $!"; done
for p in $pids; do wait $p; done
cat /tmp/ov1 /tmp/ov2 /tmp/ov3 /tmp/ov4`,
    );
    return counts.trim().split(/\s+/);
  }

  /**
   * Crashes node n (a kernel panic; the lab then notes it stopped) in the guest command that
   * first runs `check`, a script that exits non-zero, its reason on stdout, when n is not in the
   * state to crash in: nothing may change between the check and the crash.
   */
  async function crashIf(n: NodeName, check: string) {
    const failed = await lab.exec(n, ['sh', '-c', `cd ${repo}\n${check}\necho c > /proc/sysrq-trigger`]).then(
      (r) => `${n} did not crash: exit ${r.code} ${r.stdout}${r.stderr}`,
      () => undefined,
    );
    assert(failed === undefined, failed ?? '');
    await lab.crash(n);
  }

  async function down(n: NodeName) {
    await exec(n, `${S} secondary r0; ${S} down r0`);
  }

  async function checkDmesg(n: NodeName) {
    const d = await lab.dmesg(n);
    assert(
      !/WARNING:|BUG:|Oops|general protection|KASAN|list_del corruption/.test(d),
      `${n}: kernel warning:\n${d.slice(-4000)}`,
    );
  }

  /** Fails when a node's kernel log shows a dropped connection (where the scenario expects none). */
  async function assertNoConnectionLoss() {
    for (const n of NODES) {
      const log = (await lab.dmesg(n)).split('\n').filter((l) => l.includes('bsr: '));
      const lost = log.some((l) => /connection lost|PingAck|did not complete|unexpected packet|bad packet/.test(l));
      assert(!lost, `${n} lost the connection:\n${log.slice(-40).join('\n')}`);
    }
  }

  async function downAll() {
    // every node Secondary first (a demotion hands its writes to the peers), then down together
    await Promise.all(NODES.map((n) => exec(n, `${S} secondary r0`)));
    await Promise.all(
      NODES.map(async (n) => {
        await sh(n, `${S} down r0 || true\nrmmod bsr`);
        await checkDmesg(n);
      }),
    );
  }

  /** Both nodes up and connected, the initial sync skipped (new-current-uuid --clear-bitmap). */
  async function upSkipSync(o: R0Options = {}) {
    // both nodes at once: each up is 8 CLI starts in its own guest
    await Promise.all(NODES.map((n) => up(n, o)));
    await waitConnected();
    await sh('alpha', `${S} new-current-uuid --clear-bitmap 1`);
    await waitSynced(30_000);
  }

  /** Writes len MiB of fresh random data at off MiB on node n's /dev/bsr1; returns its sha256. */
  async function write(n: NodeName, offMiB: number, lenMiB: number): Promise<string> {
    const data = randomBytes(lenMiB * MIB);
    const file = lab.shareFile(data);
    // 4 MiB direct writes: bigger than one DATA packet, so the block layer must split them
    await sh(n, `dd if=${file} of=/dev/bsr1 bs=4M seek=${offMiB * MIB} oflag=direct,seek_bytes status=none`);
    return createHash('sha256').update(data).digest('hex');
  }

  /** A numeric statistics field of the peer-device (KiB for sizes). */
  async function stat(n: NodeName, key: string): Promise<number> {
    return Number((await pdField(n, key)) ?? 'NaN');
  }

  /** Several numeric statistics fields of the peer-device, from one `status --json`. */
  async function stats<K extends string>(n: NodeName, keys: readonly K[]): Promise<Record<K, number>> {
    const field = await fieldsOf(n);
    return Object.fromEntries(keys.map((k) => [k, Number(field(k) ?? 'NaN')])) as Record<K, number>;
  }

  return {
    S,
    crashIf,
    M,
    /** A guest command running these `bsrsetup ...` / `bsrmeta ...` lines in one process (guestSteps). */
    steps: (lines: string[]) => guestSteps(repo, lines),
    sh,
    exec,
    up,
    upTwoVolumes,
    upSkipSync,
    addVolume,
    write,
    stat,
    stats,
    status,
    pdField,
    connected,
    waitState,
    waitConnection,
    waitConnected,
    waitSynced,
    setProtocol,
    startWriter,
    stopWriter,
    sum,
    blocksSum,
    overlappingWriters,
    down,
    downAll,
    checkDmesg,
    assertNoConnectionLoss,
  };
}

export interface UpOptions {
  /** also configure the path to bravo (port 7789), which an unconnected peer does not need */
  path?: boolean;
  /** disk options of the attach, e.g. "--al-extents=67" */
  attach?: string;
}

export function singleNode(lab: Lab, n: NodeName) {
  const repo = lab.repoRoot;
  const S = guestCli(repo, 'bsrsetup');
  const M = guestCli(repo, 'bsrmeta');
  const sh = (script: string) => lab.sh(n, `cd ${repo}\n${script}`);
  /** create-md for r0's minor 1 on /dev/vda; the caller adds any redirection of its output */
  const createMd = `${M} --force 1 v09 /dev/vda internal create-md --max-peers=2 </dev/null`;

  /** The bsrsetup lines that bring r0 up (no connect): a script, so callers can append to it. */
  function upScript(o: UpOptions = {}): string {
    const lines = ['bsrsetup new-resource r0 0', 'bsrsetup new-minor r0 1 0', 'bsrsetup new-peer r0 1 --_name=bravo'];
    if (o.path)
      lines.push(`bsrsetup new-path r0 1 ipv4:${lab.address(n, 'bravo')}:7789 ipv4:${lab.address('bravo', n)}:7789`);
    lines.push(`bsrsetup attach 1 /dev/vda /dev/vda internal ${o.attach ?? ''}`);
    return guestSteps(repo, lines);
  }

  /** The first object of `kind` in `events2 --now --statistics --json res`, or undefined. */
  async function statsObject(res: string, kind: string) {
    const ev = await sh(`${S} events2 --now --statistics --json ${res}`);
    const o = ev
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, string | number>)
      .find((x) => x.object === kind);
    return { ev, o };
  }

  /** A guest command running these `bsrsetup ...` / `bsrmeta ...` lines in one process (guestSteps). */
  const steps = (lines: string[]) => guestSteps(repo, lines);
  return { repo, S, M, sh, createMd, upScript, steps, statsObject };
}
