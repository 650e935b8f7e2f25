// BsrClient: requests, dumps and events over the bsr generic netlink family.
import { getSystemErrorName } from 'node:util';
import { abi, retCodeName } from '../abi/index.js';
import type { NetlinkSocket } from './addon.js';
import {
  type BsrMessage,
  type BsrRequest,
  decodeBsrMessage,
  decodeFamily,
  encodeBsrMessage,
  encodeGetFamily,
  type FamilyInfo,
} from './messages.js';
import {
  decodeNlDone,
  decodeNlError,
  decodeNlMsgs,
  type ExtAck,
  NetlinkParseError,
  NLM_F,
  NLMSG,
  type NlMsg,
} from './wire.js';

/** The kernel refused a request: `codeName` is a bsr ret code name (e.g. NO_RESOURCE) or an errno name. */
export class KernelError extends Error {
  constructor(
    readonly codeName: string,
    readonly detail: string,
    readonly retCode?: number,
    readonly errno?: number,
  ) {
    super(detail ? `${codeName}: ${detail}` : codeName);
  }
}

/** The bsr generic netlink family is not registered: the module is not loaded. */
export class ModuleNotLoadedError extends Error {
  constructor() {
    super('bsr kernel module not loaded');
  }
}

/** Name of an ack's error: -errno as ENOENT etc.; a positive value is taken as a bsr ret code. */
function ackErrorName(error: number): string {
  if (error > 0) return retCodeName(error);
  try {
    return getSystemErrorName(error);
  } catch {
    return `errno ${-error}`;
  }
}

function ackError(error: number, ext: ExtAck): KernelError {
  return new KernelError(
    ackErrorName(error),
    ext.message ?? '',
    error > 0 ? error : undefined,
    error < 0 ? -error : undefined,
  );
}

const NO_ERROR = abi.retCodes.NO_ERROR;
const KNOWN_RET_CODES = new Set(Object.values(abi.retCodes));

/** A reply's ret_code as an error, or undefined when it reports success. */
export function replyError(m: BsrMessage): KernelError | undefined {
  if (m.retCode === NO_ERROR || m.retCode === 0 || !KNOWN_RET_CODES.has(m.retCode)) return undefined;
  const text = m.attrs.CFG_REPLY?.info_text;
  return new KernelError(retCodeName(m.retCode), typeof text === 'string' ? text.trim() : '', m.retCode);
}

export interface ClientOptions {
  /** How long to wait for each reply datagram (ms). */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = Number(process.env.BSR_NL_TIMEOUT_MS) || 300_000;

interface Exchange {
  replies: NlMsg[];
  /** The failure reported by the ack or NLMSG_DONE, if any. */
  error?: KernelError;
}

/** Collects the messages answering one request: until the ack (request) or NLMSG_DONE (dump). */
function exchange(sock: NetlinkSocket, seq: number, dump: boolean, timeoutMs: number): Exchange {
  const replies: NlMsg[] = [];
  for (;;) {
    const data = sock.recv(timeoutMs);
    if (!data) throw new KernelError('TIMEOUT', `no answer from the kernel within ${timeoutMs / 1000} s`);
    for (const msg of decodeNlMsgs(data)) {
      if (msg.seq !== seq) continue; // a late answer to an earlier request
      if (msg.type === NLMSG.ERROR) {
        const e = decodeNlError(msg);
        if (e.error !== 0) return { replies, error: ackError(e.error, e.ext) };
        if (!dump) return { replies };
        continue;
      }
      if (msg.type === NLMSG.DONE) {
        const d = decodeNlDone(msg);
        if (d.error !== 0) return { replies, error: ackError(d.error, d.ext) };
        if (dump) return { replies };
        continue;
      }
      if (msg.type === NLMSG.NOOP || msg.type === NLMSG.OVERRUN) continue;
      replies.push(msg);
    }
  }
}

/**
 * Replies first: a bsr reply names the refusal precisely (ret code + info text), the ack that
 * follows only repeats it as an error number.
 */
function checkExchange(x: Exchange): BsrMessage[] {
  const replies = x.replies.map(decodeBsrMessage);
  for (const r of replies) {
    const err = replyError(r);
    if (err) throw err;
  }
  if (x.error) throw x.error;
  return replies;
}

export function resolveFamily(sock: NetlinkSocket, name: string, seq: number, timeoutMs: number): FamilyInfo {
  sock.send(encodeGetFamily(name, NLM_F.REQUEST | NLM_F.ACK, seq));
  const { replies, error } = exchange(sock, seq, false, timeoutMs);
  if (error?.errno === 2) throw new ModuleNotLoadedError(); // ENOENT: no such family
  if (error) throw error;
  if (replies.length === 0) throw new NetlinkParseError('controller sent no family description');
  return decodeFamily(replies[0]);
}

export interface Subscription {
  close(): void;
}

export class BsrClient {
  private seq: number;

  constructor(
    private readonly sock: NetlinkSocket,
    readonly family: FamilyInfo,
    private readonly openSocket: () => NetlinkSocket,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {
    this.seq = (Date.now() & 0xffff) << 8;
  }

  /** Opens a socket and resolves the bsr family; throws ModuleNotLoadedError when it is absent. */
  static open(openSocket: () => NetlinkSocket, opts: ClientOptions = {}): BsrClient {
    const sock = openSocket();
    try {
      const timeout = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      const family = resolveFamily(sock, abi.genl.family, 1, timeout);
      return new BsrClient(sock, family, openSocket, timeout);
    } catch (e) {
      sock.close();
      throw e;
    }
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0 || 1;
    return this.seq;
  }

  /** Sends a command and returns its replies; a refusing ret_code or errno throws KernelError. */
  request(req: BsrRequest): BsrMessage[] {
    const seq = this.nextSeq();
    this.sock.send(encodeBsrMessage(this.family.id, NLM_F.REQUEST | NLM_F.ACK, seq, req));
    return checkExchange(exchange(this.sock, seq, false, this.timeoutMs));
  }

  /** Runs a dump (GET_RESOURCES, ...) and returns one message per object. */
  dump(req: BsrRequest): BsrMessage[] {
    // A dump interrupted by concurrent changes (NLM_F_DUMP_INTR) is retried a few times.
    for (let attempt = 0; ; attempt++) {
      const seq = this.nextSeq();
      this.sock.send(encodeBsrMessage(this.family.id, NLM_F.REQUEST | NLM_F.DUMP, seq, req));
      const x = exchange(this.sock, seq, true, this.timeoutMs);
      if (attempt < 3 && !x.error && x.replies.some((m) => m.flags & NLM_F.DUMP_INTR)) continue;
      return checkExchange(x);
    }
  }

  /**
   * Joins the events multicast group on a socket of its own, so events never mix with replies,
   * and calls onMessage for each notification without blocking the event loop.
   */
  subscribe(onMessage: (m: BsrMessage) => void, onError: (e: Error) => void): Subscription {
    const group = this.family.groups[abi.genl.mcastGroup];
    if (group === undefined)
      throw new KernelError('ENOENT', `family ${abi.genl.family} has no "${abi.genl.mcastGroup}" group`);
    const sock = this.openSocket();
    sock.addMembership(group);
    sock.startReading((err, data) => {
      if (err) return onError(err);
      if (!data) return;
      try {
        for (const msg of decodeNlMsgs(data)) {
          if (msg.type === this.family.id) onMessage(decodeBsrMessage(msg));
        }
      } catch (e) {
        onError(e as Error);
      }
    });
    return {
      close: () => {
        sock.stopReading();
        sock.close();
      },
    };
  }

  close(): void {
    this.sock.close();
  }
}
