// The guest agent's frame format, shared by the guest side (guest-agent.mjs, plain JS run by the
// guest's node) and the host side (agent-client.ts). Both directions:
// magic 0xB5 0x7A, type (u8), id (u32 BE), length (u32 BE), payload.

export const MAGIC0 = 0xb5;
export const MAGIC1 = 0x7a;
export const HEADER = 11;

/** Frame types: host -> guest below 128, guest -> host from 129. */
export const T = Object.freeze({
  HELLO: 1, // 8-byte nonce: a new host process took the port
  START: 2, // JSON command
  STDIN: 3,
  STDIN_EOF: 4,
  KILL: 5, // JSON signal
  ACK: 129, // the HELLO nonce echoed
  STDOUT: 130,
  STDERR: 131,
  EXIT: 132, // JSON exit status
  ERROR: 133, // text
});

export function frame(type, id, payload) {
  const body = payload === undefined ? Buffer.alloc(0) : Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  const h = Buffer.alloc(HEADER);
  h[0] = MAGIC0;
  h[1] = MAGIC1;
  h[2] = type;
  h.writeUInt32BE(id >>> 0, 3);
  h.writeUInt32BE(body.length, 7);
  return Buffer.concat([h, body]);
}
