// Bench driver for this project's engine: bsr.ko driven by bsrmeta/bsrsetup in the guests (the same
// steps `bsradm up` plans), one resource "bench" with minor 0 on the backing disk, internal meta data.
import { defaultValue, findOption, formatOptionValue } from '../../../src/config/options.js';
import { currentState, resourceState, switchProtocol, waitConnectedScript, waitUpToDate } from '../bsr-wait.js';
import { guestCli } from '../paths.js';
import type { Lab, NodeName } from '../types.js';
import type { BenchContext, BenchEngine } from './engine.js';
import { bsrImplemented, bsrsetupArgs } from './settings.js';

/** `bench --engine bsr` runs only when this is true. */
export const BSR_DRIVER_IMPLEMENTED = true;

export class BsrEngineNotImplemented extends Error {
  constructor() {
    super('bsr engine driver not implemented yet (tools/lab/bench/bsr.ts)');
  }
}

export class BsrEngine implements BenchEngine {
  readonly name = 'bsr';
  readonly device = '/dev/bsr0';

  /** `resourceOptions`: new-resource options, e.g. "--fast-sync=no" */
  constructor(private readonly resourceOptions = '') {}

  private ids(ctx: BenchContext): Record<string, number> {
    return { [ctx.primary]: 0, [ctx.secondary]: 1 };
  }

  private nodes(ctx: BenchContext) {
    const ids = this.ids(ctx);
    return [ctx.primary, ctx.secondary].map((node) => ({
      node,
      peerId: ids[node === ctx.primary ? ctx.secondary : ctx.primary],
    }));
  }

  private tools(lab: Lab) {
    return { S: guestCli(lab.repoRoot, 'bsrsetup'), M: guestCli(lab.repoRoot, 'bsrmeta') };
  }

  /** native/kmod/bsr.ko; with drbd.ko loaded it takes a dynamic block major (147 is DRBD's). */
  async loadModule(lab: Lab, node: NodeName): Promise<void> {
    await lab.loadModule(node);
  }

  async setup(lab: Lab, ctx: BenchContext): Promise<void> {
    const { S, M } = this.tools(lab);
    const ids = this.ids(ctx);
    const s = ctx.settings;
    for (const n of [ctx.primary, ctx.secondary]) {
      const p = n === ctx.primary ? ctx.secondary : ctx.primary;
      await lab.sh(
        n,
        [
          `${M} --force 0 v09 ${ctx.backingDisk} internal create-md --max-peers=2 </dev/null >/dev/null`,
          `${S} new-resource bench ${ids[n]} ${this.resourceOptions}`.trimEnd(),
          `${S} new-minor bench 0 0`,
          `${S} new-peer bench ${ids[p]} --_name=${p} --protocol=C ${bsrsetupArgs(bsrImplemented(s.net))}`,
          `${S} new-path bench ${ids[p]} ipv4:${lab.address(n, p)}:${ctx.port} ipv4:${lab.address(p, n)}:${ctx.port}`,
          `${S} attach 0 ${ctx.backingDisk} ${ctx.backingDisk} internal ${bsrsetupArgs(bsrImplemented(s.disk))}`,
          ...(Object.keys(s.resync).length
            ? [`${S} peer-device-options bench ${ids[p]} 0 ${bsrsetupArgs(bsrImplemented(s.resync))}`]
            : []),
          `${S} connect bench ${ids[p]}`,
        ].join('\n'),
      );
    }
    await this.waitConnected(lab, ctx);
    // the state watchers start now, not inside a timed wait (waitSynced)
    await Promise.all([ctx.primary, ctx.secondary].map((n) => currentState(lab, n, 'bench')));
  }

  private async waitConnected(lab: Lab, ctx: BenchContext): Promise<void> {
    const script = waitConnectedScript(this.tools(lab).S, 'bench', 120);
    await Promise.all([ctx.primary, ctx.secondary].map((n) => lab.sh(n, script)));
  }

  async forcePrimary(lab: Lab, ctx: BenchContext): Promise<void> {
    await lab.sh(ctx.primary, `${this.tools(lab).S} primary bench --force`);
  }

  /**
   * Both nodes UpToDate and Established, as the guests' state watchers report it (bsr-wait.ts).
   * The watchers run from setup on: a waiting CLI started here (wait-sync-resource, about half
   * a second of node start-up on each single-CPU guest) would share the CPU with the very sync
   * it times. While the sync handshake runs, the peer devices are Off, not Established.
   */
  async waitSynced(lab: Lab, ctx: BenchContext): Promise<number> {
    return (await this.armSyncWait(lab, ctx))();
  }

  /** The watches (their netlink sockets and first state dump) start before the sync does. */
  async armSyncWait(lab: Lab, ctx: BenchContext): Promise<() => Promise<number>> {
    const ready: Promise<void>[] = [];
    const done = Promise.all(
      [ctx.primary, ctx.secondary].map((n) => {
        let onReady = () => {};
        ready.push(new Promise<void>((r) => (onReady = r)));
        return waitUpToDate(lab, n, 'bench', 900, onReady);
      }),
    ).then(() => performance.now() / 1000);
    // a failure before the caller waits is its to see, not an unhandled rejection
    done.catch(() => {});
    await Promise.race([Promise.all(ready), done]);
    return () => done;
  }

  async checkSynced(lab: Lab, ctx: BenchContext): Promise<void> {
    await Promise.all([ctx.primary, ctx.secondary].map((n) => waitUpToDate(lab, n, 'bench', 120)));
  }

  async setProtocol(lab: Lab, ctx: BenchContext, protocol: 'A' | 'C'): Promise<void> {
    await switchProtocol(lab, this.tools(lab).S, 'bench', this.nodes(ctx), protocol);
    await this.checkSynced(lab, ctx);
  }

  /** Disconnected while the two nodes' options differ (the handshake refuses a digest mismatch). */
  async setNetOptions(lab: Lab, ctx: BenchContext, options: Readonly<Record<string, string>>): Promise<void> {
    const { S } = this.tools(lab);
    const args = Object.entries(options)
      .map(([k, v]) => `--${k}=${v}`)
      .join(' ');
    await this.disconnect(lab, ctx);
    await Promise.all(
      this.nodes(ctx).map(({ node, peerId }) => lab.sh(node, `${S} net-options bench ${peerId} ${args}`)),
    );
    await this.reconnect(lab, ctx);
  }

  async waitDisconnected(lab: Lab, ctx: BenchContext): Promise<void> {
    await lab.waitFor(
      'the primary to notice the cut',
      async () =>
        (await resourceState(lab, ctx.primary, this.tools(lab).S, 'bench'))?.connections.every(
          (c) => c.connection !== 'Connected',
        ),
      120_000,
      200,
    );
  }

  async disconnect(lab: Lab, ctx: BenchContext): Promise<void> {
    const { S } = this.tools(lab);
    await Promise.all(this.nodes(ctx).map(({ node, peerId }) => lab.sh(node, `${S} disconnect bench ${peerId}`)));
  }

  async reconnect(lab: Lab, ctx: BenchContext): Promise<void> {
    const { S } = this.tools(lab);
    await Promise.all(this.nodes(ctx).map(({ node, peerId }) => lab.sh(node, `${S} connect bench ${peerId}`)));
    await this.waitConnected(lab, ctx);
    await this.checkSynced(lab, ctx);
  }

  async show(lab: Lab, ctx: BenchContext): Promise<string> {
    return lab.sh(ctx.primary, `${this.tools(lab).S} show bench --show-defaults`);
  }

  /** The option table's default (src/config/options.ts), which bsr.ko also uses for an option never set. */
  defaultOf(keyword: string): string | undefined {
    const def = findOption(keyword);
    const v = def && defaultValue(def);
    return def && v !== undefined ? formatOptionValue(def, v) : undefined;
  }

  peerData(ctx: BenchContext): { device: string; offsetMiB: number } {
    return { device: ctx.backingDisk, offsetMiB: 0 };
  }

  /** `bsrsetup verify`, then wait-sync-volume; the count comes from the kernel log's summary line. */
  async verify(lab: Lab, ctx: BenchContext): Promise<{ end: number; foundKiB: number }> {
    const { S } = this.tools(lab);
    const peer = this.ids(ctx)[ctx.secondary];
    await lab.sh(ctx.primary, `dmesg -c > /dev/null; ${S} verify bench ${peer} 0`);
    await lab.sh(ctx.primary, `${S} wait-sync-volume bench ${peer} 0 --wait-timeout=900`, { timeoutMs: 960_000 });
    const end = performance.now() / 1000;
    const log = await lab.dmesg(ctx.primary);
    const done = /online verify done at sector \d+: (\d+) KiB out of sync/.exec(log);
    if (!done) {
      const tail = async (n: NodeName) =>
        (await lab.dmesg(n))
          .split('\n')
          .filter((l) => l.includes('bsr: '))
          .slice(-12)
          .join('\n');
      throw new Error(
        `bsr: no "online verify done" line in the kernel log:\n${await tail(ctx.primary)}\n${ctx.secondary}:\n${await tail(ctx.secondary)}`,
      );
    }
    return { end, foundKiB: Number(done[1]) };
  }

  async aheadCount(lab: Lab, ctx: BenchContext): Promise<number> {
    return (await lab.dmesg(ctx.primary)).split('\n').filter((l) => / reached: pulling ahead$/.test(l)).length;
  }

  async teardown(lab: Lab, ctx: BenchContext): Promise<void> {
    const { S } = this.tools(lab);
    for (const n of [ctx.primary, ctx.secondary])
      await lab.exec(n, ['sh', '-c', `${S} secondary bench; ${S} down bench`]);
  }
}
