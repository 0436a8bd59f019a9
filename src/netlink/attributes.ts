// Netlink attributes (struct nlattr): 2-byte length, 2-byte type, payload, padding to 4 bytes.
// Host byte order (little-endian on x86_64) unless the name says otherwise.
import { NLA_ALIGNTO, NLA_F_NESTED, NLA_HDRLEN, NLA_TYPE_MASK } from './constants.js';
import { NetlinkParseError } from './errors.js';

export function align(length: number): number {
  return (length + NLA_ALIGNTO - 1) & ~(NLA_ALIGNTO - 1);
}

function header(type: number, payloadLength: number): Buffer {
  const out = Buffer.alloc(align(NLA_HDRLEN + payloadLength));
  out.writeUInt16LE(NLA_HDRLEN + payloadLength, 0);
  out.writeUInt16LE(type, 2);
  return out;
}

export function attr(type: number, payload: Buffer): Buffer {
  const out = header(type, payload.length);
  payload.copy(out, NLA_HDRLEN);
  return out;
}

export function u8Attr(type: number, v: number): Buffer {
  const out = header(type, 1);
  out.writeUInt8(v, NLA_HDRLEN);
  return out;
}

export function u16Attr(type: number, v: number): Buffer {
  const out = header(type, 2);
  out.writeUInt16LE(v, NLA_HDRLEN);
  return out;
}

export function u32Attr(type: number, v: number): Buffer {
  const out = header(type, 4);
  out.writeUInt32LE(v, NLA_HDRLEN);
  return out;
}

export function u64Attr(type: number, v: bigint): Buffer {
  const out = header(type, 8);
  out.writeBigUInt64LE(v, NLA_HDRLEN);
  return out;
}

/** Network byte order, as the kernel keeps ports. */
export function be16Attr(type: number, v: number): Buffer {
  const out = header(type, 2);
  out.writeUInt16BE(v, NLA_HDRLEN);
  return out;
}

export function stringAttr(type: number, s: string): Buffer {
  const length = Buffer.byteLength(s);
  const out = header(type, length + 1);
  out.write(s, NLA_HDRLEN);
  return out;
}

export function flagAttr(type: number): Buffer {
  return header(type, 0);
}

/** Children are already-encoded attributes; each is padded, so the concatenation is a valid stream. */
export function nestedAttr(type: number, children: readonly Buffer[], options: { nestedFlag?: boolean } = {}): Buffer {
  let length = 0;
  for (const child of children) length += child.length;
  const out = header(options.nestedFlag ? type | NLA_F_NESTED : type, length);
  let offset = NLA_HDRLEN;
  for (const child of children) offset += child.copy(out, offset);
  return out;
}

/** Calls `visit` for each attribute in buf[start, end); payloads are views, not copies. */
function walk(buf: Buffer, start: number, end: number, visit: (type: number, value: Buffer) => void): void {
  if (start < 0 || end > buf.length || start > end) {
    throw new NetlinkParseError(`attribute range ${start}..${end} lies outside a ${buf.length}-byte buffer`);
  }
  let offset = start;
  while (offset < end) {
    if (end - offset < NLA_HDRLEN) {
      throw new NetlinkParseError(`${end - offset} stray bytes after the last attribute at offset ${offset}`);
    }
    const length = buf.readUInt16LE(offset);
    const type = buf.readUInt16LE(offset + 2);
    if (length < NLA_HDRLEN) {
      throw new NetlinkParseError(`attribute at offset ${offset} has length ${length}, less than its header`);
    }
    if (offset + length > end) {
      throw new NetlinkParseError(
        `attribute type ${type & NLA_TYPE_MASK} at offset ${offset} claims ${length} bytes, only ${end - offset} remain`,
      );
    }
    visit(type & NLA_TYPE_MASK, buf.subarray(offset + NLA_HDRLEN, offset + length));
    // The final attribute's padding may be cut off by the enclosing length.
    offset = Math.min(offset + align(length), end);
  }
}

/** Attributes by type (flags masked off); when a type repeats, the last one wins. */
export function parseAttributes(buf: Buffer, start = 0, end = buf.length): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  walk(buf, start, end, (type, value) => out.set(type, value));
  return out;
}

/** Attributes in order, repeats kept (for arrays such as CTRL_ATTR_MCAST_GROUPS). */
export function parseAttributeList(buf: Buffer, start = 0, end = buf.length): { type: number; value: Buffer }[] {
  const out: { type: number; value: Buffer }[] = [];
  walk(buf, start, end, (type, value) => out.push({ type, value }));
  return out;
}

function need(value: Buffer, bytes: number, what: string): void {
  if (value.length < bytes) {
    throw new NetlinkParseError(`a ${what} attribute needs ${bytes} bytes, it has ${value.length}`);
  }
}

export function readU8(value: Buffer): number {
  need(value, 1, 'u8');
  return value.readUInt8(0);
}

export function readU16(value: Buffer): number {
  need(value, 2, 'u16');
  return value.readUInt16LE(0);
}

export function readU32(value: Buffer): number {
  need(value, 4, 'u32');
  return value.readUInt32LE(0);
}

export function readU64(value: Buffer): bigint {
  need(value, 8, 'u64');
  return value.readBigUInt64LE(0);
}

export function readBe16(value: Buffer): number {
  need(value, 2, 'be16');
  return value.readUInt16BE(0);
}

/** Up to the first NUL, or the whole payload when the kernel sent none. */
export function readString(value: Buffer): string {
  const nul = value.indexOf(0);
  return value.toString('utf8', 0, nul === -1 ? value.length : nul);
}
