// The native addon against the host kernel's own generic netlink controller ("nlctrl"), which
// exists everywhere: no bsr module needed. Skipped when the addon has not been built.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { addonCandidates, openNetlinkSocket } from '../../src/netlink/addon.js';
import { resolveFamily } from '../../src/netlink/client.js';
import { decodeFamily, encodeGetFamily, GENL_ID_CTRL } from '../../src/netlink/messages.js';
import { decodeNlMsgs, NLM_F } from '../../src/netlink/wire.js';

const built = addonCandidates().some((p) => existsSync(p));

describe.skipIf(!built)('bsr_netlink addon', () => {
  it('opens a bound socket and resolves nlctrl synchronously', () => {
    const sock = openNetlinkSocket();
    try {
      expect(sock.portId).toBeGreaterThan(0);
      const fam = resolveFamily(sock, 'nlctrl', 7, 2000);
      expect(fam.id).toBe(GENL_ID_CTRL);
      expect(fam.groups.notify).toBeGreaterThan(0);
      // nothing else is queued: recv times out with null instead of blocking
      expect(sock.recv(20)).toBeNull();
    } finally {
      sock.close();
    }
  });

  it('reports a missing family as ENOENT through the ack', () => {
    const sock = openNetlinkSocket();
    try {
      expect(() => resolveFamily(sock, 'nosuchfamily', 8, 2000)).toThrow('bsr kernel module not loaded');
    } finally {
      sock.close();
    }
  });

  it('delivers datagrams asynchronously without blocking the event loop', async () => {
    const sock = openNetlinkSocket();
    try {
      let delivered = false;
      const got = new Promise<Buffer>((resolve, reject) => {
        sock.startReading((err, data) => {
          delivered = true;
          if (err) reject(err);
          else if (data) resolve(data);
        });
      });
      sock.send(encodeGetFamily('nlctrl', NLM_F.REQUEST | NLM_F.ACK, 9));
      // The reply is already queued, but it arrives through the event loop, never inside send().
      expect(delivered).toBe(false);
      const data = await got;
      sock.stopReading();
      const [msg] = decodeNlMsgs(data);
      expect(msg.seq).toBe(9);
      expect(decodeFamily(msg).name).toBe('nlctrl');
    } finally {
      sock.close();
    }
  });

  it('refuses use after close and bad arguments with exceptions, not crashes', () => {
    const sock = openNetlinkSocket();
    sock.close();
    expect(() => sock.send(Buffer.alloc(16))).toThrow(/closed/);
    expect(() => sock.recv(0)).toThrow(/closed/);
    const open = openNetlinkSocket();
    try {
      expect(() => open.send('x' as unknown as Buffer)).toThrow(TypeError);
      // a truncated message is rejected by the kernel with EINVAL rather than answered
      expect(() => open.send(Buffer.alloc(3))).not.toThrow();
    } finally {
      open.close();
    }
  });
});
