// What `bsrsetup events2` prints, as a function: the state of a resource (or of all) and then
// every change, one formatted line each. The lab's guest monitor follows the same stream.
import type { BsrClient, Subscription } from '../netlink/client.js';
import type { StateObject } from '../netlink/objects.js';
import { EventFormatter, type EventsOptions } from './events.js';
import { buildTree } from './model.js';
import { snapshot } from './query.js';

/**
 * Writes the state of `res` (every resource when undefined) and `exists -`, then, unless `now`,
 * one line per event until the returned subscription is closed. onError gets a failure of the
 * events socket.
 */
export async function followEvents(
  c: BsrClient,
  res: string | undefined,
  opts: EventsOptions & { now?: boolean },
  write: (line: string) => void,
  onError: (e: Error) => void,
): Promise<Subscription | undefined> {
  const { toStateObject } = await import('../netlink/objects.js');
  const fmt = new EventFormatter(opts);
  const emit = (obj: StateObject) => {
    const line = fmt.format(obj);
    if (line !== undefined) write(line);
  };
  // Join the group before dumping so nothing that changes during the dump is lost: the dump is
  // synchronous, so events queue in the socket meanwhile and are read after `exists -`.
  const sub = opts.now
    ? undefined
    : c.subscribe((msg) => {
        const obj = toStateObject(msg);
        if (obj && (!res || obj.resource === res)) emit(obj);
      }, onError);
  try {
    for (const r of buildTree(snapshot(c, res))) {
      if (r.obj) emit(r.obj);
      for (const d of r.devices) emit(d);
      for (const conn of r.connections) {
        emit(conn.obj);
        for (const p of conn.paths) emit(p);
        for (const pd of conn.peerDevices) emit(pd);
      }
    }
  } catch (e) {
    sub?.close();
    throw e;
  }
  write(fmt.endOfInitialState());
  return sub;
}
