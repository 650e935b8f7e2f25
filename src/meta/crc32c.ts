// CRC-32C (Castagnoli), the checksum of AL transactions. The on-disk contract (docs/internals.md) is
// the Linux kernel's crc32c(seed, buf, len): reflected polynomial 0x82F63B78, the seed used as-is and
// no final inversion. The "standard" CRC-32C (check value 0xE3069283 for "123456789") is
// crc32cRaw(0xFFFFFFFF, data) ^ 0xFFFFFFFF with the same table.

const POLY_REFLECTED = 0x82f63b78;

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY_REFLECTED : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** The kernel's crc32c(seed, data): no pre- or post-inversion. AL blocks use seed 0. */
export function crc32cRaw(seed: number, data: Uint8Array): number {
  let c = seed >>> 0;
  for (let i = 0; i < data.length; i++) c = TABLE[(c ^ data[i]) & 0xff] ^ (c >>> 8);
  return c >>> 0;
}

/** The standard CRC-32C (iSCSI, RFC 3720): initial ~0 and final inversion. */
export function crc32cStandard(data: Uint8Array): number {
  return (crc32cRaw(0xffffffff, data) ^ 0xffffffff) >>> 0;
}

/**
 * The standard CRC-32C of `data` with the 4 bytes at `hole` (where the checksum itself is stored)
 * counted as zeros: how xfs v5 checksums its metadata blocks.
 */
export function crc32cStandardWithHole(data: Uint8Array, hole: number): number {
  let c = crc32cRaw(0xffffffff, data.subarray(0, hole));
  c = crc32cRaw(c, new Uint8Array(4));
  c = crc32cRaw(c, data.subarray(hole + 4));
  return (c ^ 0xffffffff) >>> 0;
}
