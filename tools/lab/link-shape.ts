// WAN-like links in the lab: tc's netem on each end of a link delays and rate-limits what that
// end sends, so a scenario or the bench can model a slow or distant peer.
import type { Lab, LinkShape, NodeName } from './types.js';

const RATE = /^\d+(\.\d+)?(bit|kbit|mbit|gbit|bps|kbps|mbps|gbps)$/;
const DELAY = /^\d+(\.\d+)?(us|ms|s)$/;

/**
 * What a full queue holds, in packets: netem drops past it, so it must hold what a fast sender
 * puts in flight on a slow link (the bandwidth-delay product and the socket buffers).
 */
const QUEUE_PACKETS = 10_000;

/** netem's arguments for a shape; throws on a value tc would not take or on an empty shape. */
export function netemArgs(shape: LinkShape): string {
  const args: string[] = [];
  if (shape.delay !== undefined) {
    if (!DELAY.test(shape.delay)) throw new Error(`link shape: delay ${shape.delay}: expected e.g. 20ms (us, ms, s)`);
    args.push(`delay ${shape.delay}`);
  }
  if (shape.rate !== undefined) {
    if (!RATE.test(shape.rate))
      throw new Error(`link shape: rate ${shape.rate}: expected e.g. 10mbit (bit, kbit, mbit, gbit, bps...)`);
    args.push(`rate ${shape.rate}`);
  }
  if (!args.length) throw new Error('link shape: give a rate, a delay or both');
  return `${args.join(' ')} limit ${QUEUE_PACKETS}`;
}

/** `RATE,DELAY` (either may be left out: `32mbit,`, `,20ms`), checked as netemArgs checks it. */
export function parseLinkShape(text: string | undefined): LinkShape | undefined {
  if (text === undefined) return undefined;
  const [rate, delay, ...rest] = text.split(',').map((x) => x.trim());
  if (rest.length) throw new Error(`link shape ${text}: expected RATE,DELAY (e.g. 32mbit,20ms)`);
  const shape: LinkShape = { ...(rate ? { rate } : {}), ...(delay ? { delay } : {}) };
  netemArgs(shape);
  return shape;
}

/** The guest script that shapes what interface `dev` sends. */
export function shapeScript(dev: string, shape: LinkShape): string {
  return `modprobe sch_netem\ntc qdisc replace dev ${dev} root netem ${netemArgs(shape)}`;
}

/** The guest script that removes any shaping from interface `dev` (none is fine). */
export function unshapeScript(dev: string): string {
  return `tc qdisc del dev ${dev} root 2>/dev/null || true`;
}

export interface LinkFigures {
  /** TCP payload throughput, 10^6 bytes/s */
  tcp_MBps: number;
  rtt_us: number;
  rtt_median_us: number;
}

/** The port link-bench.py listens on (not bsr's). */
const LINK_PORT = 7799;

/**
 * The link from p to s as a replication stream sees it (test/lab/scripts/link-bench.py): s serves,
 * p sends `file` (or its first `bytes`) with sendfile, received with MSG_TRUNC (no user-space copy
 * on either side), then times `rttCount` ping-pongs of `rttSize` bytes.
 */
export async function measureLink(
  lab: Lab,
  p: NodeName,
  s: NodeName,
  o: { file: string; bytes?: number; rttCount: number; rttSize: number },
): Promise<LinkFigures> {
  const script = `python3 ${lab.repoRoot}/test/lab/scripts/link-bench.py`;
  const server = lab.sh(s, `${script} serve ${lab.address(s, p)} ${LINK_PORT} --timeout 60`, { timeoutMs: 180_000 });
  server.catch(() => {});
  const bytes = o.bytes === undefined ? '' : ` --bytes ${o.bytes}`;
  const out = await lab.sh(
    p,
    `${script} run ${lab.address(s, p)} ${LINK_PORT} --from ${lab.address(p, s)} --file ${o.file}${bytes} --count ${o.rttCount} --size ${o.rttSize}`,
    { timeoutMs: 180_000 },
  );
  await server;
  const j = JSON.parse(out.trim().split('\n').at(-1) ?? '') as {
    tcp_MBps: number;
    rtt_mean_us: number;
    rtt_median_us: number;
  };
  return { tcp_MBps: j.tcp_MBps, rtt_us: j.rtt_mean_us, rtt_median_us: j.rtt_median_us };
}
