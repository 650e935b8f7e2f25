// Bench driver for the guest kernel's DRBD 8.4 (the reference), with drbd-utils' drbdadm. The
// configuration is the bench's own (settings.ts: the options of `--settings`), not the scenarios'.
import { type Drbd84Resource, drbd84State, drbd84WaitConnected, drbd84WaitSynced } from '../drbd84.js';
import type { Lab, NodeName } from '../types.js';
import { shq } from '../util.js';
import type { BenchContext, BenchEngine } from './engine.js';
import { drbd84BenchConfig } from './settings.js';

export class Drbd84Engine implements BenchEngine {
  readonly name = 'drbd84';
  readonly device = '/dev/drbd0';
  private protocol: 'A' | 'C' = 'C';
  /** Net options a phase set (setNetOptions), on top of the bench's. */
  private netOptions: Record<string, string> = {};

  /** For the state helpers of ../drbd84.ts (they read name, nodes and minor). */
  private resource(ctx: BenchContext): Drbd84Resource {
    return {
      name: 'bench',
      nodes: [ctx.primary, ctx.secondary],
      disk: ctx.backingDisk,
      minor: 0,
      port: ctx.port,
      protocol: this.protocol,
    };
  }

  private config(lab: Lab, ctx: BenchContext): string {
    const hosts = [
      { name: ctx.primary, address: lab.address(ctx.primary, ctx.secondary) },
      { name: ctx.secondary, address: lab.address(ctx.secondary, ctx.primary) },
    ];
    const set = Object.fromEntries(Object.entries(this.netOptions).filter(([, v]) => v !== ''));
    return drbd84BenchConfig(
      { name: 'bench', minor: 0, port: ctx.port, protocol: this.protocol, disk: ctx.backingDisk, hosts },
      { ...ctx.settings, net: { ...ctx.settings.net, ...set } },
    );
  }

  private both<T>(ctx: BenchContext, f: (n: NodeName) => Promise<T>): Promise<T[]> {
    return Promise.all([ctx.primary, ctx.secondary].map(f));
  }

  /** drbd.ko of the guest kernel; it claims block major 147, so it is loaded before bsr.ko. */
  async loadModule(lab: Lab, node: NodeName): Promise<void> {
    await lab.sh(node, 'modprobe drbd');
  }

  async setup(lab: Lab, ctx: BenchContext): Promise<void> {
    this.protocol = 'C';
    this.netOptions = {};
    const conf = this.config(lab, ctx);
    await this.both(ctx, (n) =>
      lab.sh(
        n,
        [
          'mkdir -p /run/lock /var/lib/drbd',
          'cat > /etc/drbd.conf',
          'drbdadm create-md --force bench >/dev/null 2>&1 || drbdadm create-md --force bench',
          'drbdadm up bench',
        ].join('\n'),
        { input: conf },
      ),
    );
    await drbd84WaitConnected(lab, this.resource(ctx));
  }

  async forcePrimary(lab: Lab, ctx: BenchContext): Promise<void> {
    await lab.sh(ctx.primary, 'drbdadm primary --force bench');
  }

  /** Polls /proc/drbd on both nodes (every 200 ms) until Connected and UpToDate/UpToDate. */
  async waitSynced(lab: Lab, ctx: BenchContext): Promise<number> {
    await drbd84WaitSynced(lab, this.resource(ctx), 900_000, 200);
    return performance.now() / 1000;
  }

  /** Polls from the call on: nothing to set up before. */
  async armSyncWait(lab: Lab, ctx: BenchContext): Promise<() => Promise<number>> {
    return () => this.waitSynced(lab, ctx);
  }

  /** waitSynced already saw both UpToDate in /proc/drbd. */
  async checkSynced(): Promise<void> {}

  async setProtocol(lab: Lab, ctx: BenchContext, protocol: 'A' | 'C'): Promise<void> {
    this.protocol = protocol;
    const conf = this.config(lab, ctx);
    await this.both(ctx, (n) => lab.sh(n, 'cat > /etc/drbd.conf\ndrbdadm adjust bench', { input: conf }));
    await drbd84WaitConnected(lab, this.resource(ctx));
  }

  /** Disconnected first: adjust then connects with the new options on both sides. */
  async setNetOptions(lab: Lab, ctx: BenchContext, options: Readonly<Record<string, string>>): Promise<void> {
    Object.assign(this.netOptions, options);
    const conf = this.config(lab, ctx);
    await this.disconnect(lab, ctx);
    await this.both(ctx, (n) => lab.sh(n, 'cat > /etc/drbd.conf\ndrbdadm adjust bench', { input: conf }));
    await drbd84WaitSynced(lab, this.resource(ctx), 300_000, 200);
  }

  async waitDisconnected(lab: Lab, ctx: BenchContext): Promise<void> {
    await lab.waitFor('the primary to notice the cut', async () => {
      const s = await drbd84State(lab, ctx.primary, 0);
      return s !== undefined && !/^(Connected|SyncSource|SyncTarget)$/.test(s.cs);
    });
  }

  async disconnect(lab: Lab, ctx: BenchContext): Promise<void> {
    await this.both(ctx, (n) => lab.sh(n, 'drbdadm disconnect bench'));
  }

  async reconnect(lab: Lab, ctx: BenchContext): Promise<void> {
    await this.both(ctx, (n) => lab.sh(n, 'drbdadm connect bench'));
    await drbd84WaitSynced(lab, this.resource(ctx), 300_000, 200);
  }

  async show(lab: Lab, ctx: BenchContext): Promise<string> {
    const args = `show bench --show-defaults`;
    return lab.sh(ctx.primary, `drbdsetup ${args} 2>/dev/null || ${shq('/usr/lib/drbd/drbdsetup-84')} ${args}`);
  }

  peerData(ctx: BenchContext): { device: string; offsetMiB: number } {
    return { device: ctx.backingDisk, offsetMiB: 0 };
  }

  /** `drbdadm verify`, then /proc/drbd every 200 ms until the run has ended (Connected again). */
  async verify(lab: Lab, ctx: BenchContext): Promise<{ end: number; foundKiB: number }> {
    await lab.sh(ctx.primary, 'drbdadm verify bench');
    let end = 0;
    const s = await lab.waitFor(
      'DRBD 8.4 to end its verify',
      async () => {
        const st = await drbd84State(lab, ctx.primary, 0);
        end = performance.now() / 1000;
        return st?.cs === 'Connected' ? st : undefined;
      },
      900_000,
      200,
    );
    return { end, foundKiB: s.oos };
  }

  /** DRBD 8.4 logs each state change: `conn( Connected -> Ahead )`. */
  async aheadCount(lab: Lab, ctx: BenchContext): Promise<number> {
    return (await lab.dmesg(ctx.primary)).split('\n').filter((l) => /\bdrbd.*conn\( \w+ -> Ahead \)/.test(l)).length;
  }

  async teardown(lab: Lab, ctx: BenchContext): Promise<void> {
    await lab.sh(ctx.primary, 'drbdadm secondary bench || true');
    await this.both(ctx, (n) => lab.sh(n, 'drbdadm down bench || true'));
  }
}
