// The Internet checksum (RFC 1071) and the pseudo-headers VRRPv3 prepends (RFC 9568 §5.2.8).

export const IPPROTO_VRRP = 112;

/** One's-complement sum of 16-bit big-endian words, continuing from `sum` (unfolded). */
function onesComplementSum(data: Uint8Array, sum = 0): number {
  const even = data.length & ~1;
  for (let i = 0; i < even; i += 2) sum += (data[i]! << 8) | data[i + 1]!;
  if (even !== data.length) sum += data[even]! << 8;
  return sum;
}

/** Folds a running sum to 16 bits and complements it: the value carried in the checksum field. */
function finishChecksum(sum: number): number {
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

/** Checksum over `data` with an optional pseudo-header first; 0 means "verifies" for data holding its checksum. */
export function internetChecksum(data: Uint8Array, pseudoHeader?: Uint8Array): number {
  const start = pseudoHeader ? onesComplementSum(pseudoHeader) : 0;
  return finishChecksum(onesComplementSum(data, start));
}

/** IPv4 pseudo-header: source, destination, zero, protocol, upper-layer length (RFC 768 layout). */
export function ipv4PseudoHeader(source: Uint8Array, destination: Uint8Array, length: number): Buffer {
  const h = Buffer.alloc(12);
  h.set(source, 0);
  h.set(destination, 4);
  h[9] = IPPROTO_VRRP;
  h.writeUInt16BE(length, 10);
  return h;
}

/** IPv6 pseudo-header (RFC 8200 §8.1): source, destination, 32-bit length, 3 zero bytes, next header. */
export function ipv6PseudoHeader(source: Uint8Array, destination: Uint8Array, length: number): Buffer {
  const h = Buffer.alloc(40);
  h.set(source, 0);
  h.set(destination, 16);
  h.writeUInt32BE(length, 32);
  h[39] = IPPROTO_VRRP;
  return h;
}
