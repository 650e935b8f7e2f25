// The lab's watcher of bsr state in a guest: one long-lived process per node that follows
// resources for the host's waits, so a wait costs a line on stdin instead of a node start-up in
// the emulated guest (about a second under load). Each `watch ID RES` line starts what
// `bsrsetup events2 RES --json --statistics` prints (its own netlink sockets, family resolved
// afresh: a reloaded module is followed like by a new events2), every output line prefixed with
// `ID `; `stop ID` ends it. A watch that fails prints `ID !MESSAGE` and ends. Test tooling.
import { createInterface } from 'node:readline';
import { openNetlinkSocket } from '../../../src/netlink/addon.js';
import { BsrClient, type Subscription } from '../../../src/netlink/client.js';
import { followEvents } from '../../../src/status/follow.js';

const watches = new Map<string, { client: BsrClient; sub?: Subscription }>();

function end(id: string): void {
  const w = watches.get(id);
  if (!w) return;
  watches.delete(id);
  w.sub?.close();
  w.client.close();
}

function fail(id: string, e: unknown): void {
  end(id);
  process.stdout.write(`${id} !${(e as Error).message.replace(/\n/g, ' ')}\n`);
}

async function watch(id: string, res: string): Promise<void> {
  let client: BsrClient;
  try {
    client = BsrClient.open(openNetlinkSocket);
  } catch (e) {
    return fail(id, e);
  }
  const w: { client: BsrClient; sub?: Subscription } = { client };
  watches.set(id, w);
  try {
    w.sub = await followEvents(
      client,
      res,
      { json: true, statistics: true },
      (line) => process.stdout.write(`${id} ${line}\n`),
      (e) => fail(id, e),
    );
  } catch (e) {
    fail(id, e);
  }
}

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  const [verb, id, res] = line.trim().split(/\s+/);
  if (verb === 'watch' && id && res) void watch(id, res);
  else if (verb === 'stop' && id) end(id);
  else if (line.trim()) process.stdout.write(`- !not a request: ${line}\n`);
});
// the host closed stdin (or went away): nothing more to follow
input.on('close', () => {
  for (const id of [...watches.keys()]) end(id);
  process.exit(0);
});
