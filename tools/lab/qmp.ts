// A minimal QMP (qemu machine protocol) client: one short connection per command.
import { connect } from 'node:net';

export async function qmp(socketPath: string, execute: string, args?: Record<string, unknown>, timeoutMs = 10_000) {
  return new Promise<unknown>((resolve, reject) => {
    const sock = connect(socketPath);
    let buf = '';
    let stage = 0; // 0: greeting, 1: capabilities sent, 2: command sent
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`QMP ${execute} on ${socketPath}: timeout`));
    }, timeoutMs);
    const finish = (err: Error | undefined, value?: unknown) => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    sock.on('error', (e) => finish(new Error(`QMP ${execute} on ${socketPath}: ${e.message}`)));
    sock.on('data', (d) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        let msg: { QMP?: unknown; return?: unknown; error?: { desc?: string }; event?: string };
        try {
          msg = JSON.parse(line);
        } catch {
          continue;
        }
        if (msg.event) continue;
        if (stage === 0 && msg.QMP) {
          stage = 1;
          sock.write(`${JSON.stringify({ execute: 'qmp_capabilities' })}\n`);
        } else if (stage === 1) {
          if (msg.error) return finish(new Error(`QMP capabilities: ${msg.error.desc}`));
          stage = 2;
          sock.write(`${JSON.stringify({ execute, arguments: args })}\n`);
        } else if (stage === 2) {
          if (msg.error) return finish(new Error(`QMP ${execute}: ${msg.error.desc}`));
          return finish(undefined, msg.return);
        }
      }
    });
  });
}
