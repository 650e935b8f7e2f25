// Host side of the guest agent protocol (see guest-agent.mjs): one session on one virtio-serial port.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { frame, HEADER, MAGIC0, MAGIC1, T } from './agent-protocol.mjs';
import type { ExecOptions, ExecResult } from './types.js';
import { pidAlive, sleep } from './util.js';

/** How many agent ports each VM has: that many host processes can talk to one node at once. */
export const AGENT_PORTS = 6;

interface Call {
  out: Buffer[];
  err: Buffer[];
  opts: ExecOptions;
  resolve: (r: ExecResult) => void;
  reject: (e: Error) => void;
}

export interface ExecRequest {
  argv?: readonly string[];
  sh?: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** Takes the lock file of a port; false when another live process holds it. */
function tryLock(lockPath: string): boolean {
  mkdirSync(dirname(lockPath), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lockPath, String(process.pid), { flag: 'wx' });
      return true;
    } catch {
      let holder = 0;
      try {
        holder = Number.parseInt(readFileSync(lockPath, 'utf8'), 10);
      } catch {}
      if (holder && holder !== process.pid && pidAlive(holder)) return false;
      if (holder === process.pid) return false;
      try {
        unlinkSync(lockPath);
      } catch {}
    }
  }
  return false;
}

export class AgentClient {
  private buf: Buffer = Buffer.alloc(0);
  private synced = false;
  private nextId = 1;
  private readonly calls = new Map<number, Call>();
  private closedError: Error | undefined;
  private ackWaiter: { resolve: () => void; reject: (e: Error) => void } | undefined;
  private readonly expectAck: Buffer;

  private constructor(
    readonly node: string,
    private readonly sock: Socket,
    private readonly lockPath: string,
    nonce: Buffer,
  ) {
    this.expectAck = frame(T.ACK, 0, nonce);
    sock.on('data', (d: Buffer) => this.onData(d));
    sock.on('error', () => {});
    sock.on('close', () => this.onClose());
  }

  /**
   * Connects to a free agent port of a node. `socketPath(k)` gives the unix socket of port k,
   * `lockPath(k)` its lock file. Waits (up to timeoutMs) for the guest agent to answer.
   */
  static async connect(
    node: string,
    socketPath: (k: number) => string,
    lockPath: (k: number) => string,
    timeoutMs: number,
    alive: () => boolean = () => true,
  ): Promise<AgentClient> {
    const deadline = Date.now() + timeoutMs;
    let port = -1;
    while (port < 0) {
      for (let k = 0; k < AGENT_PORTS; k++) {
        if (tryLock(lockPath(k))) {
          port = k;
          break;
        }
      }
      if (port >= 0) break;
      if (Date.now() > deadline) throw new Error(`${node}: all ${AGENT_PORTS} agent ports are in use`);
      await sleep(200);
    }
    const release = () => {
      try {
        if (readFileSync(lockPath(port), 'utf8') === String(process.pid)) unlinkSync(lockPath(port));
      } catch {}
    };
    try {
      for (;;) {
        if (!alive()) throw new Error(`${node} is not running`);
        const remaining = deadline - Date.now();
        if (remaining <= 0) throw new Error(`${node}: the guest agent did not answer within ${timeoutMs} ms`);
        if (!existsSync(socketPath(port))) {
          await sleep(100);
          continue;
        }
        const sock = await new Promise<Socket | undefined>((resolve) => {
          const s = connect(socketPath(port));
          s.once('connect', () => resolve(s));
          s.once('error', () => resolve(undefined));
        });
        if (!sock) {
          await sleep(100);
          continue;
        }
        const nonce = randomBytes(8);
        const client = new AgentClient(node, sock, lockPath(port), nonce);
        const acked = await client.hello(nonce, Math.min(remaining, 5000));
        if (acked) return client;
        // No answer yet (guest still booting, or the port is wedged): keep the connection and wait more.
        const ok = await client.waitAck(deadline - Date.now(), alive);
        if (ok) return client;
        client.close();
        throw new Error(`${node}: the guest agent did not answer within ${timeoutMs} ms`);
      }
    } catch (e) {
      release();
      throw e;
    }
  }

  private hello(nonce: Buffer, ms: number): Promise<boolean> {
    this.sock.write(frame(T.HELLO, 0, nonce));
    return this.waitAck(ms, () => true);
  }

  private waitAck(ms: number, alive: () => boolean): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          clearInterval(poll);
          this.ackWaiter = undefined;
          resolve(false);
        },
        Math.max(0, ms),
      );
      const poll = setInterval(() => {
        if (!alive() || this.closedError) {
          clearTimeout(timer);
          clearInterval(poll);
          this.ackWaiter = undefined;
          resolve(false);
        }
      }, 250);
      this.ackWaiter = {
        resolve: () => {
          clearTimeout(timer);
          clearInterval(poll);
          resolve(true);
        },
        reject: () => {
          clearTimeout(timer);
          clearInterval(poll);
          resolve(false);
        },
      };
    });
  }

  get closed(): boolean {
    return this.closedError !== undefined;
  }

  private onData(d: Buffer): void {
    this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
    if (!this.synced) {
      // Output of an earlier session may precede our acknowledgement: skip up to it.
      const at = this.buf.indexOf(this.expectAck);
      if (at < 0) {
        if (this.buf.length > this.expectAck.length)
          this.buf = this.buf.subarray(this.buf.length - this.expectAck.length);
        return;
      }
      this.buf = this.buf.subarray(at + this.expectAck.length);
      this.synced = true;
      this.ackWaiter?.resolve();
      this.ackWaiter = undefined;
    }
    while (this.buf.length >= HEADER) {
      if (this.buf[0] !== MAGIC0 || this.buf[1] !== MAGIC1) {
        this.fail(new Error(`${this.node}: agent protocol out of sync`));
        this.sock.destroy();
        return;
      }
      const len = this.buf.readUInt32BE(7);
      if (this.buf.length < HEADER + len) break;
      const type = this.buf[2];
      const id = this.buf.readUInt32BE(3);
      const payload = this.buf.subarray(HEADER, HEADER + len);
      this.buf = this.buf.subarray(HEADER + len);
      this.dispatch(type, id, payload);
    }
  }

  private dispatch(type: number, id: number, payload: Buffer): void {
    const call = this.calls.get(id);
    if (!call) return;
    switch (type) {
      case T.STDOUT: {
        const c = Buffer.from(payload);
        call.out.push(c);
        call.opts.onStdout?.(c);
        break;
      }
      case T.STDERR: {
        const c = Buffer.from(payload);
        call.err.push(c);
        call.opts.onStderr?.(c);
        break;
      }
      case T.EXIT: {
        this.calls.delete(id);
        const exit = JSON.parse(payload.toString()) as { code: number };
        call.resolve({
          code: exit.code,
          stdout: Buffer.concat(call.out).toString(),
          stderr: Buffer.concat(call.err).toString(),
        });
        break;
      }
      case T.ERROR: {
        this.calls.delete(id);
        const msg = payload.toString();
        const stderr = `${Buffer.concat(call.err).toString()}${msg}\n`;
        call.opts.onStderr?.(Buffer.from(`${msg}\n`));
        call.resolve({ code: 127, stdout: Buffer.concat(call.out).toString(), stderr });
        break;
      }
      default:
        break;
    }
  }

  private fail(e: Error): void {
    if (!this.closedError) this.closedError = e;
    for (const c of this.calls.values()) c.reject(e);
    this.calls.clear();
    this.ackWaiter?.reject(e);
    this.ackWaiter = undefined;
  }

  private onClose(): void {
    this.fail(new Error(`${this.node}: connection to the guest lost (crashed or stopped?)`));
    try {
      if (readFileSync(this.lockPath, 'utf8') === String(process.pid)) unlinkSync(this.lockPath);
    } catch {}
  }

  /** Runs one command; rejects only when the connection is lost or on timeout. */
  exec(req: ExecRequest, opts: ExecOptions = {}): Promise<ExecResult> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    const timeoutMs = opts.timeoutMs ?? 600_000;
    return new Promise<ExecResult>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const stop = () => {
        if (this.calls.has(id)) this.sock.write(frame(T.KILL, id, JSON.stringify({ signal: 'SIGKILL' })));
      };
      const done = () => {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', stop);
      };
      this.calls.set(id, {
        out: [],
        err: [],
        opts,
        resolve: (r) => {
          done();
          resolve(r);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      });
      timer = setTimeout(() => {
        if (!this.calls.has(id)) return;
        this.sock.write(frame(T.KILL, id, JSON.stringify({ signal: 'SIGKILL' })));
        this.calls.delete(id);
        const what = req.argv ? req.argv.join(' ') : (req.sh ?? '');
        reject(new Error(`${this.node}: command timed out after ${timeoutMs} ms: ${what.slice(0, 300)}`));
      }, timeoutMs);
      const body = JSON.stringify({ argv: req.argv, sh: req.sh, env: req.env, cwd: req.cwd });
      this.sock.write(frame(T.START, id, body));
      if (opts.input !== undefined && opts.input.length > 0) {
        const data = Buffer.isBuffer(opts.input) ? opts.input : Buffer.from(opts.input);
        for (let off = 0; off < data.length; off += 60 * 1024) {
          this.sock.write(frame(T.STDIN, id, data.subarray(off, off + 60 * 1024)));
        }
      }
      if (opts.stdin) {
        opts.stdin((data) => {
          if (this.calls.has(id)) this.sock.write(frame(T.STDIN, id, data));
        });
      } else this.sock.write(frame(T.STDIN_EOF, id));
      if (opts.signal?.aborted) stop();
      else opts.signal?.addEventListener('abort', stop, { once: true });
    });
  }

  /** Ends the session: the guest kills this session's commands; pending calls reject. */
  close(): void {
    this.fail(new Error(`${this.node}: agent connection closed`));
    this.sock.destroy();
    try {
      if (readFileSync(this.lockPath, 'utf8') === String(process.pid)) unlinkSync(this.lockPath);
    } catch {}
  }
}
