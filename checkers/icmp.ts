// ICMP and ICMPv6 echo messages (RFC 792, RFC 4443), as a raw socket sends and receives them.
// Pure: byte layouts only.

export type IcmpFamily = 'inet' | 'inet6';

const ECHO_REQUEST = { inet: 8, inet6: 128 } as const;
const ECHO_REPLY = { inet: 0, inet6: 129 } as const;
const UNREACHABLE = { inet: 3, inet6: 1 } as const;
const HEADER = 8;
const IPV6_HEADER = 40;

/** The Internet checksum: one's complement of the one's complement sum of 16-bit words. */
export function internetChecksum(data: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < data.length; i += 2) sum += data.readUInt16BE(i);
  if (data.length % 2 === 1) sum += data[data.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An echo request. ICMPv6's checksum is left 0: the kernel fills it in for raw ICMPv6 sockets. */
export function encodeEchoRequest(family: IcmpFamily, id: number, seq: number, payload: Buffer): Buffer {
  const packet = Buffer.alloc(HEADER + payload.length);
  packet[0] = ECHO_REQUEST[family];
  packet.writeUInt16BE(id, 4);
  packet.writeUInt16BE(seq, 6);
  payload.copy(packet, HEADER);
  if (family === 'inet') packet.writeUInt16BE(internetChecksum(packet), 2);
  return packet;
}

export type IcmpMessage =
  | { kind: 'reply'; id: number; seq: number }
  /** Destination unreachable about one of our echo requests (code as the kernel sent it). */
  | { kind: 'unreachable'; id: number; seq: number; code: number };

/** The ICMP message in a received datagram (IPv4 raw sockets include the IP header), or null if not ours to read. */
export function parseIcmp(family: IcmpFamily, datagram: Buffer): IcmpMessage | null {
  let at = 0;
  if (family === 'inet') {
    if (datagram.length < 20) return null;
    at = (datagram[0]! & 0x0f) * 4;
  }
  if (datagram.length < at + HEADER) return null;
  const type = datagram[at]!;
  if (type === ECHO_REPLY[family]) {
    return { kind: 'reply', id: datagram.readUInt16BE(at + 4), seq: datagram.readUInt16BE(at + 6) };
  }
  if (type !== UNREACHABLE[family]) return null;
  // The error quotes the offending packet: its IP header, then (at least) our 8-byte echo header.
  const quoted = at + HEADER;
  const inner = family === 'inet' ? quoted + (datagram[quoted]! & 0x0f) * 4 : quoted + IPV6_HEADER;
  if (datagram.length < inner + HEADER || datagram[inner] !== ECHO_REQUEST[family]) return null;
  return { kind: 'unreachable', id: datagram.readUInt16BE(inner + 4), seq: datagram.readUInt16BE(inner + 6), code: datagram[at + 1]! };
}

const v4Codes = ['network unreachable', 'host unreachable', 'protocol unreachable', 'port unreachable'];
const v6Codes = ['no route to destination', 'administratively prohibited', 'beyond scope of source', 'address unreachable', 'port unreachable'];

export function describeUnreachable(family: IcmpFamily, code: number): string {
  const words = (family === 'inet' ? v4Codes : v6Codes)[code];
  return `ICMP${family === 'inet6' ? 'v6' : ''} ${words ?? `destination unreachable (code ${code})`}`;
}
