// Bench driver for this project's engine (bsr.ko + bsradm). To be written by the kernel engineers:
// implement BenchEngine (see engine.ts and drbd84.ts for the reference driver) with the same phases.
import type { Lab } from '../types.js';
import type { BenchContext, BenchEngine } from './engine.js';

/** Set to true once the driver below is written: `bench --engine bsr` refuses to start before. */
export const BSR_DRIVER_IMPLEMENTED = false;

export class BsrEngineNotImplemented extends Error {
  constructor() {
    super('bsr engine driver not implemented yet (src/lab/bench/bsr.ts)');
  }
}

export class BsrEngine implements BenchEngine {
  readonly name = 'bsr';
  readonly device = '/dev/bsr0';
  readonly usesBsrModule = true;

  async setup(_lab: Lab, _ctx: BenchContext): Promise<void> {
    throw new BsrEngineNotImplemented();
  }
  async forcePrimary(_lab: Lab, _ctx: BenchContext): Promise<void> {
    throw new BsrEngineNotImplemented();
  }
  async waitSynced(_lab: Lab, _ctx: BenchContext): Promise<void> {
    throw new BsrEngineNotImplemented();
  }
  async setProtocol(_lab: Lab, _ctx: BenchContext, _protocol: 'A' | 'C'): Promise<void> {
    throw new BsrEngineNotImplemented();
  }
  async waitDisconnected(_lab: Lab, _ctx: BenchContext): Promise<void> {
    throw new BsrEngineNotImplemented();
  }
  peerData(ctx: BenchContext): { device: string; offsetMiB: number } {
    return { device: ctx.backingDisk, offsetMiB: 0 };
  }
  async teardown(_lab: Lab, _ctx: BenchContext): Promise<void> {
    throw new BsrEngineNotImplemented();
  }
}
