// The few TCP segments a half-open probe sends and reads (RFC 9293): a SYN out, a SYN-ACK or RST
// back, and the SYN quoted inside an ICMP error. Pure: byte layouts only.

export const SYN_LENGTH = 24; // 20-byte header + the MSS option, as every real SYN carries one

const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const ACK = 0x10;
const WINDOW = 64240;
const OPTION_MSS = 2;
const IPV4_HEADER_MIN = 20;
const IPV6_HEADER = 40;
const TCP_HEADER = 20;
const ICMP_HEADER = 8;
const PROTO_TCP = 6;

/** Writes a SYN from `sourcePort` to `destinationPort` with sequence number `isn` into `segment` (checksum 0). */
export function writeSyn(segment: Buffer, sourcePort: number, destinationPort: number, isn: number, mss: number): void {
  segment.writeUInt16BE(sourcePort, 0);
  segment.writeUInt16BE(destinationPort, 2);
  segment.writeUInt32BE(isn >>> 0, 4);
  segment.writeUInt32BE(0, 8);
  segment[12] = (SYN_LENGTH / 4) << 4;
  segment[13] = SYN;
  segment.writeUInt16BE(WINDOW, 14);
  segment.writeUInt32BE(0, 16); // checksum, urgent pointer
  segment[20] = OPTION_MSS;
  segment[21] = 4;
  segment.writeUInt16BE(mss, 22);
}

/**
 * The TCP checksum over the pseudo-header (source, destination, protocol, length) and the
 * segment; `source` and `destination` are 4 or 16 address bytes. The segment's checksum field
 * must be 0 when computing, and the result verifies to 0 when it is filled in.
 */
export function tcpChecksum(segment: Buffer, source: Buffer, destination: Buffer): number {
  let sum = PROTO_TCP + segment.length;
  for (let i = 0; i < source.length; i += 2) sum += (source[i]! << 8) | source[i + 1]!;
  for (let i = 0; i < destination.length; i += 2) sum += (destination[i]! << 8) | destination[i + 1]!;
  const even = segment.length & ~1;
  for (let i = 0; i < even; i += 2) sum += (segment[i]! << 8) | segment[i + 1]!;
  if (even !== segment.length) sum += segment[even]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function fillChecksum(segment: Buffer, source: Buffer, destination: Buffer): void {
  segment.writeUInt16BE(0, 16);
  segment.writeUInt16BE(tcpChecksum(segment, source, destination), 16);
}

/** What a reply says about one SYN; filled in place so the receive loop allocates nothing. */
export interface SegmentReply {
  kind: 'syn-ack' | 'reset';
  /** The peer's port (the SYN's destination) and ours (its source). */
  peerPort: number;
  ourPort: number;
  /** The SYN's sequence number + 1, as the peer acknowledged it. */
  ack: number;
}

export function emptyReply(): SegmentReply {
  return { kind: 'reset', peerPort: 0, ourPort: 0, ack: 0 };
}

/**
 * Reads a segment that answers a SYN: SYN-ACK, or RST with ACK (what a closed port sends).
 * IPv4 raw sockets deliver the IP header too (`withIpHeader`); IPv6 ones do not. Anything else
 * (our own SYN seen on loopback, data, a bare RST) returns false.
 */
export function readReply(datagram: Buffer, withIpHeader: boolean, into: SegmentReply): boolean {
  let at = 0;
  if (withIpHeader) {
    if (datagram.length < IPV4_HEADER_MIN) return false;
    at = (datagram[0]! & 0x0f) * 4;
  }
  if (datagram.length < at + TCP_HEADER) return false;
  const flags = datagram[at + 13]!;
  if ((flags & ACK) === 0 || (flags & FIN) !== 0) return false;
  if ((flags & (SYN | RST)) === SYN) into.kind = 'syn-ack';
  else if ((flags & (SYN | RST)) === RST) into.kind = 'reset';
  else return false;
  into.peerPort = datagram.readUInt16BE(at);
  into.ourPort = datagram.readUInt16BE(at + 2);
  into.ack = datagram.readUInt32BE(at + 8);
  return true;
}

/** A SYN of ours quoted in an ICMP destination-unreachable, keyed like a reply (ack = its seq + 1). */
export interface QuotedSyn {
  code: number;
  destination: Buffer;
  peerPort: number;
  ourPort: number;
  ack: number;
}

const UNREACHABLE = { inet: 3, inet6: 1 } as const;

/**
 * The SYN inside a destination-unreachable error (RFC 792 / RFC 4443 quote at least the IP header
 * and 8 bytes of the original segment: ports and sequence number). IPv4 raw ICMP sockets deliver
 * the outer IP header; IPv6 ones do not.
 */
export function readQuotedSyn(family: 'inet' | 'inet6', datagram: Buffer): QuotedSyn | null {
  let at = 0;
  if (family === 'inet') {
    if (datagram.length < IPV4_HEADER_MIN) return null;
    at = (datagram[0]! & 0x0f) * 4;
  }
  if (datagram.length < at + ICMP_HEADER || datagram[at] !== UNREACHABLE[family]) return null;
  const code = datagram[at + 1]!;
  const quoted = at + ICMP_HEADER;
  let segment: number;
  let destination: Buffer;
  if (family === 'inet') {
    if (datagram.length < quoted + IPV4_HEADER_MIN || datagram[quoted + 9] !== PROTO_TCP) return null;
    segment = quoted + (datagram[quoted]! & 0x0f) * 4;
    destination = datagram.subarray(quoted + 16, quoted + 20);
  } else {
    if (datagram.length < quoted + IPV6_HEADER || datagram[quoted + 6] !== PROTO_TCP) return null;
    segment = quoted + IPV6_HEADER;
    destination = datagram.subarray(quoted + 24, quoted + 40);
  }
  if (datagram.length < segment + 8) return null;
  return {
    code,
    destination,
    ourPort: datagram.readUInt16BE(segment),
    peerPort: datagram.readUInt16BE(segment + 2),
    ack: (datagram.readUInt32BE(segment + 4) + 1) >>> 0,
  };
}
