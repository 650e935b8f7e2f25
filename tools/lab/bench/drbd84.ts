// Bench driver for the guest kernel's DRBD 8.4 (the reference).
import {
  type Drbd84Resource,
  drbd84Adjust,
  drbd84Down,
  drbd84State,
  drbd84Up,
  drbd84WaitConnected,
  drbd84WaitSynced,
} from '../drbd84.js';
import type { Lab } from '../types.js';
import type { BenchContext, BenchEngine } from './engine.js';

export class Drbd84Engine implements BenchEngine {
  readonly name = 'drbd84';
  readonly device = '/dev/drbd0';
  readonly usesBsrModule = false;
  private res: Drbd84Resource | undefined;

  private resource(ctx: BenchContext): Drbd84Resource {
    this.res ??= {
      name: 'bench',
      nodes: [ctx.primary, ctx.secondary],
      disk: ctx.backingDisk,
      minor: 0,
      port: ctx.port,
      protocol: 'C',
      resyncRate: '1000M',
    };
    return this.res;
  }

  async setup(lab: Lab, ctx: BenchContext): Promise<void> {
    const r = this.resource(ctx);
    await drbd84Up(lab, r);
    await drbd84WaitConnected(lab, r);
  }

  async forcePrimary(lab: Lab, ctx: BenchContext): Promise<void> {
    await lab.sh(ctx.primary, 'drbdadm primary --force bench');
  }

  async waitSynced(lab: Lab, ctx: BenchContext): Promise<void> {
    await drbd84WaitSynced(lab, this.resource(ctx), 600_000, 200);
  }

  /** waitSynced already saw both UpToDate in /proc/drbd. */
  async checkSynced(): Promise<void> {}

  async setProtocol(lab: Lab, ctx: BenchContext, protocol: 'A' | 'C'): Promise<void> {
    const r = this.resource(ctx);
    r.protocol = protocol;
    await drbd84Adjust(lab, r);
    await drbd84WaitConnected(lab, r);
  }

  async waitDisconnected(lab: Lab, ctx: BenchContext): Promise<void> {
    await lab.waitFor('the primary to notice the cut', async () => {
      const s = await drbd84State(lab, ctx.primary, 0);
      return s !== undefined && !/^(Connected|SyncSource|SyncTarget)$/.test(s.cs);
    });
  }

  peerData(ctx: BenchContext): { device: string; offsetMiB: number } {
    return { device: ctx.backingDisk, offsetMiB: 0 };
  }

  async teardown(lab: Lab, ctx: BenchContext): Promise<void> {
    await lab.sh(ctx.primary, 'drbdadm secondary bench || true');
    await drbd84Down(lab, this.resource(ctx));
  }
}
