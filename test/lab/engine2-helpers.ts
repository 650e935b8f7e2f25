// Shared steps of the engine part 2 scenarios: a two-node resource r0 (minor 1, volume 0) on
// /dev/vda of alpha (node-id 0) and bravo (node-id 1), driven through bsrsetup/bsrmeta.
import type { Lab, NodeName } from '../../src/lab/scenario.js';

export const NODES: readonly NodeName[] = ['alpha', 'bravo'];
export const PEER: Record<string, NodeName> = { alpha: 'bravo', bravo: 'alpha' };
export const ID: Record<string, number> = { alpha: 0, bravo: 1 };

export function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}

export interface R0Options {
  net?: string;
  /** peer-device options, e.g. "--c-plan-ahead=0 --resync-rate=400M" */
  pd?: string;
  createMd?: boolean;
}

export function tools(lab: Lab) {
  const repo = lab.repoRoot;
  const S = `${repo}/bin/bsrsetup`;
  const M = `${repo}/bin/bsrmeta`;
  const sh = (n: NodeName, script: string) => lab.sh(n, `cd ${repo}\n${script}`);
  const exec = (n: NodeName, script: string) => lab.exec(n, ['sh', '-c', script]);

  async function up(n: NodeName, o: R0Options = {}) {
    const p = PEER[n];
    if (o.createMd !== false) await sh(n, `${M} --force 1 v09 /dev/vda internal create-md --max-peers=2 </dev/null`);
    await sh(
      n,
      `${S} new-resource r0 ${ID[n]}
${S} new-minor r0 1 0
${S} new-peer r0 ${ID[p]} --_name=${p} ${o.net ?? ''}
${S} new-path r0 ${ID[p]} ipv4:${lab.address(n, p)}:7789 ipv4:${lab.address(p, n)}:7789
${S} attach 1 /dev/vda /dev/vda internal
${S} peer-device-options r0 ${ID[p]} 0 ${o.pd ?? '--c-plan-ahead=0 --resync-rate=1000M'}
${S} connect r0 ${ID[p]}`,
    );
  }

  async function status(n: NodeName): Promise<string> {
    return sh(n, `${S} status r0 -v -s`);
  }

  /** The peer-device line fields of node n (replication, peer-disk, out-of-sync, received...). */
  async function pdField(n: NodeName, key: string): Promise<string | undefined> {
    const st = await status(n);
    const m = new RegExp(`\\b${key}:(\\S+)`).exec(st);
    return m?.[1];
  }

  async function waitConnected(timeoutMs = 60_000) {
    for (const n of NODES) {
      await lab.waitFor(`${n} connected`, async () => /connection:Connected/.test(await status(n)), timeoutMs, 300);
    }
  }

  async function waitSynced(timeoutMs = 180_000) {
    for (const n of NODES) {
      await lab.waitFor(
        `${n} in sync`,
        async () => {
          const st = await status(n);
          return /connection:Connected/.test(st) && /replication:Established/.test(st) &&
            /peer-disk:UpToDate/.test(st) && /\bdisk:UpToDate/.test(st)
            ? st
            : undefined;
        },
        timeoutMs,
        500,
      );
    }
  }

  /** sha256 of length MiB starting at offset MiB of a device. */
  async function sum(n: NodeName, dev: string, offMiB: number, lenMiB: number): Promise<string> {
    const out = await sh(n, `dd if=${dev} bs=1M skip=${offMiB} count=${lenMiB} iflag=direct status=none | sha256sum`);
    return out.split(' ')[0];
  }

  async function down(n: NodeName) {
    await exec(n, `${S} secondary r0; ${S} down r0`);
  }

  async function checkDmesg(n: NodeName) {
    const d = await lab.dmesg(n);
    assert(!/WARNING:|BUG:|Oops|general protection|KASAN|list_del corruption/.test(d), `${n}: kernel warning:\n${d.slice(-4000)}`);
  }

  async function downAll() {
    for (const n of NODES) await down(n);
    for (const n of NODES) {
      await sh(n, 'rmmod bsr');
      await checkDmesg(n);
    }
  }

  return { S, M, sh, exec, up, status, pdField, waitConnected, waitSynced, sum, down, downAll, checkDmesg };
}
