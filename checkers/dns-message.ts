// The one DNS query DNS_CHECK sends and the header fields it reads back (RFC 1035 §4.1). Pure.
import type { DnsType } from '../src/config/model.js';

export const DNS_TYPES: Record<DnsType, number> = {
  A: 1, NS: 2, CNAME: 5, SOA: 6, MX: 15, TXT: 16, AAAA: 28, RRSIG: 46, DNSKEY: 48,
};

const RD = 0x0100;
const CLASS_IN = 1;

export class DnsNameError extends Error {
  readonly code = 'ERR_DNS_NAME';
  override readonly name = 'DnsNameError';
}

/** A standard query with RD set for one question of `type` in class IN. */
export function encodeQuery(id: number, name: string, type: DnsType): Buffer {
  const labels = name === '.' || name === '' ? [] : name.replace(/\.$/, '').split('.');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'ascii');
    if (bytes.length === 0 || bytes.length > 63) throw new DnsNameError(`DNS name "${name}" has an empty or over-long label`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const qname = Buffer.concat(parts);
  if (qname.length > 255) throw new DnsNameError(`DNS name "${name}" is longer than 255 bytes`);
  const packet = Buffer.alloc(12 + qname.length + 4);
  packet.writeUInt16BE(id, 0);
  packet.writeUInt16BE(RD, 2);
  packet.writeUInt16BE(1, 4); // QDCOUNT
  qname.copy(packet, 12);
  packet.writeUInt16BE(DNS_TYPES[type], 12 + qname.length);
  packet.writeUInt16BE(CLASS_IN, 14 + qname.length);
  return packet;
}

export interface ResponseHeader {
  id: number;
  isResponse: boolean;
  rcode: number;
  answers: number;
}

/** The header of a DNS message, or null when it is too short to be one. */
export function parseHeader(message: Buffer): ResponseHeader | null {
  if (message.length < 12) return null;
  const flags = message.readUInt16BE(2);
  return { id: message.readUInt16BE(0), isResponse: (flags & 0x8000) !== 0, rcode: flags & 0x0f, answers: message.readUInt16BE(6) };
}

const rcodes = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

export function rcodeName(rcode: number): string {
  return rcodes[rcode] ?? `RCODE ${rcode}`;
}
