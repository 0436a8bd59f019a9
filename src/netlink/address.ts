// IP address bytes <-> text. IPv6 text follows glibc's inet_ntop (what `ip` and `ipvsadm` print):
// lowercase, the longest run of two or more zero groups as "::", IPv4 tail for ::a.b.c.d and ::ffff:a.b.c.d.
import { isIPv4, isIPv6 } from 'node:net';

export type AddressFamily = 'inet' | 'inet6';

export class InvalidAddressError extends Error {
  readonly code = 'EINVALIDADDRESS';

  constructor(message: string) {
    super(message);
    this.name = 'InvalidAddressError';
  }
}

function formatIPv4(buf: Buffer, offset: number): string {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}`;
}

export function formatAddress(buf: Buffer): string {
  if (buf.length === 4) return formatIPv4(buf, 0);
  if (buf.length !== 16) throw new InvalidAddressError(`an IP address has 4 or 16 bytes, not ${buf.length}`);
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(i));
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestLength < 2) bestStart = -1;
  const ipv4Tail = bestStart === 0 && (bestLength === 6 || (bestLength === 5 && groups[5] === 0xffff));
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += i === 0 ? '::' : ':';
      i += bestLength - 1;
      continue;
    }
    if (i === 6 && ipv4Tail) return out + formatIPv4(buf, 12);
    out += groups[i]!.toString(16) + (i < 7 ? ':' : '');
  }
  return out;
}

function parseIPv4(text: string, out: Buffer, offset: number): void {
  text.split('.').forEach((part, i) => out.writeUInt8(Number(part), offset + i));
}

function parseIPv6(text: string): Buffer {
  const out = Buffer.alloc(16);
  // A dotted IPv4 tail is the last two groups written another way.
  const lastColon = text.lastIndexOf(':');
  let body = text;
  if (text.includes('.', lastColon)) {
    const v4 = Buffer.alloc(4);
    parseIPv4(text.slice(lastColon + 1), v4, 0);
    body = `${text.slice(0, lastColon + 1)}${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const [head = '', tail] = body.split('::');
  const groupsOf = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  groupsOf(head).forEach((g, i) => out.writeUInt16BE(g, i * 2));
  if (tail !== undefined) {
    const tailGroups = groupsOf(tail);
    tailGroups.forEach((g, i) => out.writeUInt16BE(g, 16 - (tailGroups.length - i) * 2));
  }
  return out;
}

export function parseAddress(text: string): { family: AddressFamily; bytes: Buffer } {
  if (isIPv4(text)) {
    const bytes = Buffer.alloc(4);
    parseIPv4(text, bytes, 0);
    return { family: 'inet', bytes };
  }
  if (isIPv6(text) && !text.includes('%')) return { family: 'inet6', bytes: parseIPv6(text) };
  throw new InvalidAddressError(`"${text}" is not an IPv4 or IPv6 address`);
}
