// Bench driver for this project's engine: bsr.ko driven by bsrmeta/bsrsetup in the guests (the same
// steps `bsradm up` plans), one resource "bench" with minor 0 on the backing disk, internal meta data.
import { resourceState, switchProtocol, waitConnectedScript, waitUpToDate } from '../bsr-wait.js';
import { guestCli } from '../paths.js';
import type { Lab } from '../types.js';
import type { BenchContext, BenchEngine } from './engine.js';

/** `bench --engine bsr` runs only when this is true. */
export const BSR_DRIVER_IMPLEMENTED = true;

export class BsrEngineNotImplemented extends Error {
  constructor() {
    super('bsr engine driver not implemented yet (tools/lab/bench/bsr.ts)');
  }
}

const NET = '--protocol=C --connect-int=2 --ping-int=2 --ping-timeout=10';
// fixed resync rate, as fast as the option allows (the drbd84 driver uses 1000M)
const PD = '--c-plan-ahead=0 --resync-rate=1000M';

export class BsrEngine implements BenchEngine {
  readonly name = 'bsr';
  readonly device = '/dev/bsr0';
  readonly usesBsrModule = true;

  private ids(ctx: BenchContext): Record<string, number> {
    return { [ctx.primary]: 0, [ctx.secondary]: 1 };
  }

  private tools(lab: Lab) {
    return { S: guestCli(lab.repoRoot, 'bsrsetup'), M: guestCli(lab.repoRoot, 'bsrmeta') };
  }

  async setup(lab: Lab, ctx: BenchContext): Promise<void> {
    const { S, M } = this.tools(lab);
    const ids = this.ids(ctx);
    for (const n of [ctx.primary, ctx.secondary]) {
      const p = n === ctx.primary ? ctx.secondary : ctx.primary;
      await lab.sh(
        n,
        [
          `${M} --force 0 v09 ${ctx.backingDisk} internal create-md --max-peers=2 </dev/null >/dev/null`,
          `${S} new-resource bench ${ids[n]}`,
          `${S} new-minor bench 0 0`,
          `${S} new-peer bench ${ids[p]} --_name=${p} ${NET}`,
          `${S} new-path bench ${ids[p]} ipv4:${lab.address(n, p)}:${ctx.port} ipv4:${lab.address(p, n)}:${ctx.port}`,
          `${S} attach 0 ${ctx.backingDisk} ${ctx.backingDisk} internal`,
          `${S} peer-device-options bench ${ids[p]} 0 ${PD}`,
          `${S} connect bench ${ids[p]}`,
        ].join('\n'),
      );
    }
    await this.waitConnected(lab, ctx);
  }

  private async waitConnected(lab: Lab, ctx: BenchContext): Promise<void> {
    const script = waitConnectedScript(this.tools(lab).S, 'bench', 120);
    await Promise.all([ctx.primary, ctx.secondary].map((n) => lab.sh(n, script)));
  }

  async forcePrimary(lab: Lab, ctx: BenchContext): Promise<void> {
    await lab.sh(ctx.primary, `${this.tools(lab).S} primary bench --force`);
  }

  /** bsrsetup wait-sync-resource on both nodes: returns when connected and no resync runs. */
  async waitSynced(lab: Lab, ctx: BenchContext): Promise<void> {
    const script = `${this.tools(lab).S} wait-sync-resource bench --wait-timeout=600`;
    await Promise.all([ctx.primary, ctx.secondary].map((n) => lab.sh(n, script)));
  }

  async checkSynced(lab: Lab, ctx: BenchContext): Promise<void> {
    const { S } = this.tools(lab);
    await Promise.all([ctx.primary, ctx.secondary].map((n) => waitUpToDate(lab, n, S, 'bench', 120)));
  }

  async setProtocol(lab: Lab, ctx: BenchContext, protocol: 'A' | 'C'): Promise<void> {
    const ids = this.ids(ctx);
    const nodes = [ctx.primary, ctx.secondary].map((node) => ({
      node,
      peerId: ids[node === ctx.primary ? ctx.secondary : ctx.primary],
    }));
    await switchProtocol(lab, this.tools(lab).S, 'bench', nodes, protocol);
    await this.checkSynced(lab, ctx);
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

  peerData(ctx: BenchContext): { device: string; offsetMiB: number } {
    return { device: ctx.backingDisk, offsetMiB: 0 };
  }

  async teardown(lab: Lab, ctx: BenchContext): Promise<void> {
    const { S } = this.tools(lab);
    for (const n of [ctx.primary, ctx.secondary])
      await lab.exec(n, ['sh', '-c', `${S} secondary bench; ${S} down bench`]);
  }
}
