// The lab's guest agent: runs inside every lab VM (the host's node, read through the 9p root share).
// `up` copies this file to the lab state folder; the guest init starts it with the port names.
//
// It serves commands over virtio-serial ports (/dev/vportNpM named agent0..agentN). Each port is
// one session of one host process; commands of a session are multiplexed by id (frames: agent-protocol.mjs).
// When the host side of a port disconnects, the session's commands are killed (SIGKILL, process group).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import { frame, HEADER, MAGIC0, MAGIC1, T } from './agent-protocol.mjs';

const MAX_CHUNK = 60 * 1024;
const HIGH_WATER = 4 * 1024 * 1024;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

class Port {
  constructor(name, dev) {
    this.name = name;
    this.dev = dev;
    this.fd = fs.openSync(dev, 'r+');
    this.queue = [];
    this.queued = 0;
    this.writing = false;
    this.procs = new Map();
    this.session = 0;
    this.waiters = [];
    this.connected = false;
  }

  send(type, id, payload) {
    const buf = frame(type, id, payload);
    this.queue.push({ buf, session: this.session });
    this.queued += buf.length;
    this.pump();
  }

  pump() {
    if (this.writing) return;
    const item = this.queue.shift();
    if (!item) {
      for (const w of this.waiters.splice(0)) w();
      return;
    }
    this.queued -= item.buf.length;
    if (item.session !== this.session) {
      this.pump();
      return;
    }
    this.writing = true;
    const writeAll = (off) => {
      fs.write(this.fd, item.buf, off, item.buf.length - off, null, (err, n) => {
        if (err) {
          this.writing = false;
          setTimeout(() => this.pump(), 100);
          return;
        }
        if (off + n < item.buf.length) writeAll(off + n);
        else {
          this.writing = false;
          if (this.queued < HIGH_WATER) for (const w of this.waiters.splice(0)) w();
          this.pump();
        }
      });
    };
    writeAll(0);
  }

  /** Resolves when the output queue is below the high-water mark. */
  drained() {
    if (this.queued < HIGH_WATER) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  endSession() {
    this.session++;
    this.queue = [];
    this.queued = 0;
    for (const w of this.waiters.splice(0)) w();
    for (const p of this.procs.values()) killGroup(p, 'SIGKILL');
    this.procs.clear();
  }

  async readLoop() {
    let pending = Buffer.alloc(0);
    const buf = Buffer.alloc(256 * 1024);
    for (;;) {
      const n = await new Promise((resolve) => {
        fs.read(this.fd, buf, 0, buf.length, null, (err, count) => resolve(err ? -1 : count));
      });
      if (n <= 0) {
        // Host side not connected (or just disconnected): end the session, poll for a new one.
        if (this.connected) {
          this.connected = false;
          pending = Buffer.alloc(0);
          this.endSession();
        }
        await sleep(n < 0 ? 200 : idlePollMs(this));
        continue;
      }
      this.connected = true;
      pending = pending.length ? Buffer.concat([pending, buf.subarray(0, n)]) : Buffer.from(buf.subarray(0, n));
      while (pending.length >= HEADER) {
        if (pending[0] !== MAGIC0 || pending[1] !== MAGIC1) {
          // Out of sync (should not happen): drop bytes up to the next magic.
          const next = pending.indexOf(MAGIC0, 1);
          pending = next < 0 ? Buffer.alloc(0) : pending.subarray(next);
          continue;
        }
        const len = pending.readUInt32BE(7);
        if (pending.length < HEADER + len) break;
        const type = pending[2];
        const id = pending.readUInt32BE(3);
        const payload = pending.subarray(HEADER, HEADER + len);
        pending = pending.subarray(HEADER + len);
        this.handle(type, id, Buffer.from(payload));
      }
    }
  }

  handle(type, id, payload) {
    switch (type) {
      case T.HELLO: // a new host process took this port
        this.endSession();
        this.send(T.ACK, 0, payload);
        break;
      case T.START:
        this.start(id, payload);
        break;
      case T.STDIN: {
        const p = this.procs.get(id);
        if (p?.stdin.writable) p.stdin.write(payload);
        break;
      }
      case T.STDIN_EOF: {
        const p = this.procs.get(id);
        if (p?.stdin.writable) p.stdin.end();
        break;
      }
      case T.KILL: {
        const p = this.procs.get(id);
        let sig = 'SIGKILL';
        try {
          sig = JSON.parse(payload.toString()).signal || sig;
        } catch {}
        if (p) killGroup(p, sig);
        break;
      }
      default:
        break;
    }
  }

  start(id, payload) {
    let req;
    try {
      req = JSON.parse(payload.toString());
    } catch (e) {
      this.send(T.ERROR, id, `bad request: ${e.message}`);
      return;
    }
    const argv = req.argv ?? ['/bin/sh', '-c', req.sh ?? 'true'];
    let child;
    try {
      child = spawn(argv[0], argv.slice(1), {
        cwd: req.cwd || '/',
        env: { ...process.env, ...(req.env || {}) },
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true,
      });
    } catch (e) {
      this.send(T.ERROR, id, `spawn ${argv[0]}: ${e.message}`);
      return;
    }
    const session = this.session;
    this.procs.set(id, child);
    let open = 2;
    let exit;
    let spawnError;
    let reported = false;
    const finish = () => {
      if (reported || open > 0 || exit === undefined || session !== this.session) return;
      reported = true;
      this.procs.delete(id);
      if (spawnError) this.send(T.ERROR, id, spawnError);
      else this.send(T.EXIT, id, JSON.stringify(exit));
    };
    const pipe = (stream, type) => {
      stream.on('data', (chunk) => {
        for (let off = 0; off < chunk.length; off += MAX_CHUNK) {
          this.send(type, id, chunk.subarray(off, off + MAX_CHUNK));
        }
        if (this.queued >= HIGH_WATER) {
          stream.pause();
          this.drained().then(() => stream.resume());
        }
      });
      stream.on('close', () => {
        open--;
        finish();
      });
    };
    pipe(child.stdout, T.STDOUT);
    pipe(child.stderr, T.STDERR);
    child.stdin.on('error', () => {});
    child.on('error', (e) => {
      spawnError = `spawn ${argv[0]}: ${e.message}`;
      if (exit === undefined) exit = { code: 127 };
      open = 0;
      finish();
    });
    child.on('exit', (code, signal) => {
      exit = { code: code ?? 128 + (signalNumber(signal) || 9), signal: signal ?? undefined };
      finish();
      // Background processes that inherited stdout/stderr would keep the call open: stop waiting
      // for their output shortly after the command itself has exited.
      if (open > 0) {
        setTimeout(() => {
          if (open <= 0) return;
          open = 0;
          finish();
          child.stdout.destroy();
          child.stderr.destroy();
        }, 1000);
      }
    });
  }
}

function signalNumber(sig) {
  return (sig && os.constants.signals[sig]) || 0;
}

function killGroup(child, sig) {
  try {
    process.kill(-child.pid, sig);
  } catch {
    try {
      child.kill(sig);
    } catch {}
  }
}

/** Every port, in the order host processes take them (agent0 first). */
let allPorts = [];

/**
 * How long an unconnected port sleeps before it reads again (a read of a port the host has not
 * opened returns at once: virtio-serial cannot wait for the host). A host process takes the
 * first free port, so the first unconnected one answers within 250 ms; the others poll every
 * 2 s. Each read costs ~5 ms of emulated CPU: five ports read every 50 ms kept the agent of an
 * idle guest 9 % busy (2 % now), CPU the loaded lab host lacks.
 */
function idlePollMs(port) {
  return allPorts.find((p) => !p.connected) === port ? 250 : 2000;
}

function findPorts() {
  const found = [];
  const base = '/sys/class/virtio-ports';
  let names = [];
  try {
    names = fs.readdirSync(base);
  } catch {
    return found;
  }
  for (const dev of names) {
    try {
      const name = fs.readFileSync(`${base}/${dev}/name`, 'utf8').trim();
      if (name.startsWith('agent')) found.push({ name, dev: `/dev/${dev}` });
    } catch {}
  }
  return found;
}

process.on('uncaughtException', (e) => {
  process.stderr.write(`agent: ${e.stack || e}\n`);
});
process.on('SIGPIPE', () => {});

let ports = findPorts();
for (let i = 0; ports.length === 0 && i < 100; i++) {
  await sleep(100);
  ports = findPorts();
}
if (ports.length === 0) {
  process.stderr.write('agent: no virtio agent ports\n');
  process.exit(1);
}
const agentNumber = (name) => Number(name.replace(/^agent/, ''));
ports.sort((a, b) => agentNumber(a.name) - agentNumber(b.name));
allPorts = ports.map((p) => new Port(p.name, p.dev));
for (const p of allPorts) p.readLoop();
try {
  const up = fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0];
  fs.writeFileSync('/dev/kmsg', `lab-agent: serving ${ports.length} ports at ${up} s\n`);
} catch {}
