// struct nlmsghdr framing: 32-bit length, 16-bit type, 16-bit flags, 32-bit seq, 32-bit port id,
// all host byte order, each message padded to 4 bytes.
import { parseAttributes, readString, readU32, align } from './attributes.js';
import {
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLMSG_HDRLEN,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
} from './constants.js';
import { NetlinkParseError } from './errors.js';

export interface NetlinkMessage {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  /** A view on the received datagram, after the 16-byte header. */
  payload: Buffer;
}

export function encodeHeader(length: number, type: number, flags: number, seq: number, pid = 0): Buffer {
  const out = Buffer.allocUnsafe(NLMSG_HDRLEN);
  out.writeUInt32LE(length, 0);
  out.writeUInt16LE(type, 4);
  out.writeUInt16LE(flags, 6);
  out.writeUInt32LE(seq >>> 0, 8);
  out.writeUInt32LE(pid >>> 0, 12);
  return out;
}

export function decodeMessages(buf: Buffer): NetlinkMessage[] {
  const out: NetlinkMessage[] = [];
  let offset = 0;
  while (offset < buf.length) {
    if (buf.length - offset < NLMSG_HDRLEN) {
      throw new NetlinkParseError(`${buf.length - offset} bytes at offset ${offset} are too short for a netlink header`);
    }
    const length = buf.readUInt32LE(offset);
    if (length < NLMSG_HDRLEN) {
      throw new NetlinkParseError(`netlink message at offset ${offset} has length ${length}, less than its header`);
    }
    if (offset + length > buf.length) {
      throw new NetlinkParseError(
        `netlink message at offset ${offset} claims ${length} bytes, only ${buf.length - offset} remain (truncated datagram?)`,
      );
    }
    out.push({
      type: buf.readUInt16LE(offset + 4),
      flags: buf.readUInt16LE(offset + 6),
      seq: buf.readUInt32LE(offset + 8),
      pid: buf.readUInt32LE(offset + 12),
      payload: buf.subarray(offset + NLMSG_HDRLEN, offset + length),
    });
    offset = Math.min(offset + align(length), buf.length);
  }
  return out;
}

export interface DecodedError {
  /** Positive errno; 0 is an acknowledgement. */
  errno: number;
  kernelMessage?: string;
  /** Byte offset, in the request, of the attribute the kernel objected to. */
  offset?: number;
}

/**
 * NLMSG_ERROR: a negative errno, the request's header (and its payload unless NLM_F_CAPPED),
 * then extended-ACK attributes when NLM_F_ACK_TLVS is set.
 */
export function decodeError(msg: NetlinkMessage): DecodedError {
  const p = msg.payload;
  if (p.length < 4) throw new NetlinkParseError(`an NLMSG_ERROR payload needs 4 bytes, it has ${p.length}`);
  const result: DecodedError = { errno: -p.readInt32LE(0) || 0 };
  if (!(msg.flags & NLM_F_ACK_TLVS)) return result;
  if (p.length < 4 + NLMSG_HDRLEN) {
    throw new NetlinkParseError(`an NLMSG_ERROR with ACK TLVs lacks the echoed request header (${p.length} bytes)`);
  }
  const echoed = msg.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : p.readUInt32LE(4);
  const start = 4 + align(echoed);
  if (start > p.length) {
    throw new NetlinkParseError(`an NLMSG_ERROR echoes ${echoed} request bytes, but only ${p.length - 4} follow`);
  }
  const tlvs = parseAttributes(p, start);
  const text = tlvs.get(NLMSGERR_ATTR_MSG);
  if (text) result.kernelMessage = readString(text);
  const offset = tlvs.get(NLMSGERR_ATTR_OFFS);
  if (offset) result.offset = readU32(offset);
  return result;
}
