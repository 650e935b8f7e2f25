// Path addresses: `ipv4:A.B.C.D:PORT` / `ipv6:[ADDR[%SCOPE]]:PORT` on the command line, struct
// sockaddr_in / sockaddr_in6 in PATH_PARMS (family and scope id in host order, port and address
// big-endian).
import { networkInterfaces } from 'node:os';

const AF_INET = 2;
const AF_INET6 = 10;
const SOCKADDR_IN_LEN = 16;
const SOCKADDR_IN6_LEN = 28;

export interface PathAddress {
  family: 'ipv4' | 'ipv6';
  address: string;
  port: number;
  /** IPv6 scope (zone) of a link-local address: an interface name or index (`fe80::1%eth0`). */
  scope?: string;
}

// Validated here rather than with node:net's isIP*: loading node:net (and node:stream with it)
// costs every CLI call a third of a second in the lab's emulated guests.
const IPV4_OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${IPV4_OCTET}(?:\\.${IPV4_OCTET}){3}$`);

export function isIPv4(text: string): boolean {
  return IPV4.test(text);
}

/** Hex words and colons (an IPv4 tail allowed), checked by the WHATWG URL host parser. */
export function isIPv6(text: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(text)) return false;
  try {
    new URL(`http://[${text}]/`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses `ipv4:10.1.1.31:7000`, `10.1.1.31:7000`, `ipv6:[fd00::1]:7000`, `ipv6:[fe80::1%eth0]:7000`;
 * undefined when malformed.
 */
export function parseAddress(text: string): PathAddress | undefined {
  const m = /^(?:(ipv4|ipv6):)?(?:\[([0-9A-Fa-f:.]+)(?:%([\w.-]+))?\]|([0-9.]+)):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const port = Number(m[5]);
  if (port > 65535) return undefined;
  if (m[2] !== undefined) {
    if (m[1] === 'ipv4' || !isIPv6(m[2])) return undefined;
    return { family: 'ipv6', address: m[2], port, ...(m[3] === undefined ? {} : { scope: m[3] }) };
  }
  if (m[1] === 'ipv6' || !isIPv4(m[4])) return undefined;
  return { family: 'ipv4', address: m[4], port };
}

export function formatAddress(a: PathAddress): string {
  if (a.family === 'ipv4') return `ipv4:${a.address}:${a.port}`;
  return `ipv6:[${a.address}${a.scope === undefined ? '' : `%${a.scope}`}]:${a.port}`;
}

/**
 * The interface index a scope names, as getaddrinfo gives drbdsetup: a number is the index, a
 * name is looked up among the interfaces (through a link-local address, which carries the index).
 */
export function scopeIndex(scope: string): number | undefined {
  if (/^\d+$/.test(scope)) return Number(scope);
  return networkInterfaces()[scope]?.find((info) => info.family === 'IPv6' && info.scopeid)?.scopeid;
}

/** The interface name of a scope id, or the number when no interface has it. */
function scopeName(id: number): string {
  for (const [name, infos] of Object.entries(networkInterfaces())) {
    if (infos?.some((info) => info.family === 'IPv6' && info.scopeid === id)) return name;
  }
  return String(id);
}

function ipv6Words(address: string): number[] {
  // Expand "::" and an embedded IPv4 tail into eight 16-bit words.
  let text = address;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = v4[1].split('.').map(Number);
    text = `${text.slice(0, v4.index)}${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((w) => Number.parseInt(w, 16));
}

/** The sockaddr; `scopeId` is the interface index of an IPv6 scope (see scopeIndex). */
export function encodeSockaddr(a: PathAddress, scopeId = 0): Buffer {
  if (a.family === 'ipv4') {
    const b = Buffer.alloc(SOCKADDR_IN_LEN);
    b.writeUInt16LE(AF_INET, 0);
    b.writeUInt16BE(a.port, 2);
    a.address.split('.').forEach((octet, i) => {
      b[4 + i] = Number(octet);
    });
    return b;
  }
  const b = Buffer.alloc(SOCKADDR_IN6_LEN);
  b.writeUInt16LE(AF_INET6, 0);
  b.writeUInt16BE(a.port, 2);
  ipv6Words(a.address).forEach((w, i) => {
    b.writeUInt16BE(w, 8 + 2 * i);
  });
  b.writeUInt32LE(scopeId, 24);
  return b;
}

export function decodeSockaddr(b: Buffer): PathAddress | undefined {
  if (b.length < 4) return undefined;
  const family = b.readUInt16LE(0);
  const port = b.readUInt16BE(2);
  if (family === AF_INET && b.length >= 8) return { family: 'ipv4', address: [...b.subarray(4, 8)].join('.'), port };
  if (family === AF_INET6 && b.length >= 24) {
    const words: string[] = [];
    for (let i = 0; i < 8; i++) words.push(b.readUInt16BE(8 + 2 * i).toString(16));
    // Shorten the longest run of zero words to "::" (RFC 5952).
    let best = -1;
    let bestLen = 1;
    for (let i = 0; i < 8; ) {
      let j = i;
      while (j < 8 && words[j] === '0') j++;
      if (j - i > bestLen) {
        best = i;
        bestLen = j - i;
      }
      i = j === i ? i + 1 : j;
    }
    const address =
      best < 0 ? words.join(':') : `${words.slice(0, best).join(':')}::${words.slice(best + bestLen).join(':')}`;
    const scopeId = b.length >= SOCKADDR_IN6_LEN ? b.readUInt32LE(24) : 0;
    return { family: 'ipv6', address, port, ...(scopeId === 0 ? {} : { scope: scopeName(scopeId) }) };
  }
  return undefined;
}
