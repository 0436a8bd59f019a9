import { describe, expect, it } from 'vitest';
import { stringAttr, u32Attr } from '../../src/netlink/attributes.js';
import {
  NLM_F_ACK,
  NLM_F_ACK_TLVS,
  NLM_F_CAPPED,
  NLM_F_MULTI,
  NLM_F_REQUEST,
  NLMSG_DONE,
  NLMSG_ERROR,
  NLMSGERR_ATTR_MSG,
  NLMSGERR_ATTR_OFFS,
} from '../../src/netlink/constants.js';
import { NetlinkParseError } from '../../src/netlink/errors.js';
import { decodeError, decodeMessages, encodeHeader, type NetlinkMessage } from '../../src/netlink/message.js';

// struct nlmsghdr { __u32 nlmsg_len; __u16 nlmsg_type; __u16 nlmsg_flags; __u32 nlmsg_seq; __u32 nlmsg_pid; }
describe('encodeHeader', () => {
  it('lays out 16 little-endian bytes', () => {
    const h = encodeHeader(0x24, 0x10, NLM_F_REQUEST | NLM_F_ACK, 0x01020304, 0xa0b0c0d0);
    expect(h.toString('hex')).toBe('24000000' + '1000' + '0500' + '04030201' + 'd0c0b0a0');
  });

  it('pid defaults to 0 (the kernel) and seq is taken as unsigned', () => {
    expect(encodeHeader(16, 3, 0, -1).toString('hex')).toBe('10000000' + '0300' + '0000' + 'ffffffff' + '00000000');
  });
});

function message(type: number, flags: number, seq: number, payload: Buffer, pid = 77): Buffer {
  return Buffer.concat([encodeHeader(16 + payload.length, type, flags, seq, pid), payload]);
}

describe('decodeMessages', () => {
  it('splits a datagram into messages, honouring 4-byte alignment', () => {
    const odd = Buffer.from([1, 2, 3, 4, 5]);
    const first = Buffer.concat([message(0x20, NLM_F_MULTI, 9, odd), Buffer.alloc(3)]);
    first.writeUInt32LE(21, 0); // nlmsg_len excludes the padding
    const dgram = Buffer.concat([first, message(NLMSG_DONE, NLM_F_MULTI, 9, Buffer.alloc(4))]);
    const msgs = decodeMessages(dgram);
    expect(msgs.map((m) => [m.type, m.flags, m.seq, m.pid, m.payload.length])).toEqual([
      [0x20, NLM_F_MULTI, 9, 77, 5],
      [NLMSG_DONE, NLM_F_MULTI, 9, 77, 4],
    ]);
    expect([...msgs[0]!.payload]).toEqual([1, 2, 3, 4, 5]);
  });

  it('an empty datagram holds no messages', () => {
    expect(decodeMessages(Buffer.alloc(0))).toEqual([]);
  });

  const bad: [string, Buffer][] = [
    ['fewer than 16 bytes', Buffer.alloc(10)],
    ['nlmsg_len below the header (0 would loop)', Buffer.concat([encodeHeader(0, 1, 0, 1), Buffer.alloc(4)])],
    ['nlmsg_len past the end (truncated)', encodeHeader(64, 0x20, 0, 1)],
    ['a good message followed by a short tail', Buffer.concat([message(0x20, 0, 1, Buffer.alloc(4)), Buffer.alloc(8)])],
  ];
  for (const [what, buf] of bad) {
    it(`throws NetlinkParseError: ${what}`, () => {
      expect(() => decodeMessages(buf)).toThrow(NetlinkParseError);
    });
  }
});

/** NLMSG_ERROR payload: int error, then the request's header (and payload unless capped), then TLVs. */
function errorMessage(errno: number, flags: number, body: Buffer[]): NetlinkMessage {
  const head = Buffer.alloc(4);
  head.writeInt32LE(-errno, 0);
  return { type: NLMSG_ERROR, flags, seq: 5, pid: 0, payload: Buffer.concat([head, ...body]) };
}

describe('decodeError', () => {
  const request = message(0x1c, NLM_F_REQUEST | NLM_F_ACK, 5, stringAttr(2, 'IPVS'), 0);

  it('an ACK is errno 0', () => {
    expect(decodeError(errorMessage(0, NLM_F_CAPPED, [request.subarray(0, 16)]))).toEqual({ errno: 0 });
  });

  it('a plain error gives the positive errno', () => {
    expect(decodeError(errorMessage(17, 0, [request]))).toEqual({ errno: 17 });
  });

  it('extended ACK after a capped echo: message text and offset', () => {
    const msg = errorMessage(22, NLM_F_CAPPED | NLM_F_ACK_TLVS, [
      request.subarray(0, 16),
      stringAttr(NLMSGERR_ATTR_MSG, 'Unknown family'),
      u32Attr(NLMSGERR_ATTR_OFFS, 20),
    ]);
    expect(decodeError(msg)).toEqual({ errno: 22, kernelMessage: 'Unknown family', offset: 20 });
  });

  it('extended ACK after a full echo (NETLINK_CAP_ACK off): TLVs start after the whole request', () => {
    const msg = errorMessage(95, NLM_F_ACK_TLVS, [request, stringAttr(NLMSGERR_ATTR_MSG, 'not supported')]);
    expect(decodeError(msg)).toEqual({ errno: 95, kernelMessage: 'not supported' });
  });

  it('a payload too short for the error code throws', () => {
    expect(() => decodeError({ type: NLMSG_ERROR, flags: 0, seq: 1, pid: 0, payload: Buffer.alloc(2) })).toThrow(
      NetlinkParseError,
    );
  });

  it('TLV flag with an echo longer than the payload throws', () => {
    const lying = Buffer.from(request.subarray(0, 16));
    lying.writeUInt32LE(400, 0);
    expect(() => decodeError(errorMessage(22, NLM_F_ACK_TLVS, [lying]))).toThrow(NetlinkParseError);
  });
});
