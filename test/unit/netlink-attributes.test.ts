import { describe, expect, it } from 'vitest';
import {
  attr,
  be16Attr,
  flagAttr,
  nestedAttr,
  parseAttributeList,
  parseAttributes,
  readBe16,
  readString,
  readU16,
  readU32,
  readU64,
  readU8,
  stringAttr,
  u16Attr,
  u32Attr,
  u64Attr,
  u8Attr,
} from '../../src/netlink/attributes.js';
import { NetlinkParseError } from '../../src/netlink/errors.js';

// struct nlattr { __u16 nla_len; __u16 nla_type; } then payload, padded to NLA_ALIGNTO (4).
// nla_len counts header + payload, not the padding.
const hex = (b: Buffer): string => b.toString('hex');

describe('attribute encoding', () => {
  it('u8: len 5, type, value, 3 bytes of zero padding', () => {
    expect(hex(u8Attr(7, 0xab))).toBe('05000700' + 'ab000000');
  });

  it('u16 and be16 differ only in byte order', () => {
    expect(hex(u16Attr(1, 0x1f90))).toBe('06000100' + '901f0000');
    expect(hex(be16Attr(1, 0x1f90))).toBe('06000100' + '1f900000');
  });

  it('u32 and u64 are little-endian with no padding needed', () => {
    expect(hex(u32Attr(0x0102, 0xdeadbeef))).toBe('08000201' + 'efbeadde');
    expect(hex(u64Attr(3, 0x0102030405060708n))).toBe('0c000300' + '0807060504030201');
  });

  it('string is NUL-terminated and padded', () => {
    // "wrr" + NUL = 4 bytes, len 8
    expect(hex(stringAttr(6, 'wrr'))).toBe('08000600' + '77727200');
    // "nlctrl" + NUL = 7 bytes, len 11, one byte of padding
    expect(hex(stringAttr(2, 'nlctrl'))).toBe('0b000200' + '6e6c6374726c00' + '00');
  });

  it('flag has a header and nothing else', () => {
    expect(hex(flagAttr(9))).toBe('04000900');
  });

  it('raw payload of odd length is padded', () => {
    expect(hex(attr(1, Buffer.from([1, 2, 3, 4, 5])))).toBe('09000100' + '0102030405' + '000000');
  });

  it('nested attribute wraps already-padded children; NLA_F_NESTED only when asked', () => {
    const children = [u8Attr(1, 2), u16Attr(2, 3)];
    // 4 (header) + 8 + 8 = 20 = 0x14
    expect(hex(nestedAttr(5, children))).toBe('14000500' + '05000100' + '02000000' + '06000200' + '03000000');
    expect(hex(nestedAttr(5, children, { nestedFlag: true }).subarray(0, 4))).toBe('14000580');
  });

  it('empty nest is a bare header', () => {
    expect(hex(nestedAttr(1, []))).toBe('04000100');
  });
});

describe('attribute parsing', () => {
  it('round-trips a stream, masking NLA_F_NESTED off the type', () => {
    const stream = Buffer.concat([
      u8Attr(1, 200),
      stringAttr(2, 'eth0'),
      nestedAttr(3, [u32Attr(1, 7), u64Attr(2, 9n)], { nestedFlag: true }),
      be16Attr(4, 443),
    ]);
    const a = parseAttributes(stream);
    expect([...a.keys()]).toEqual([1, 2, 3, 4]);
    expect(readU8(a.get(1)!)).toBe(200);
    expect(readString(a.get(2)!)).toBe('eth0');
    expect(readBe16(a.get(4)!)).toBe(443);
    const inner = parseAttributes(a.get(3)!);
    expect(readU32(inner.get(1)!)).toBe(7);
    expect(readU64(inner.get(2)!)).toBe(9n);
  });

  it('payloads are views, without the padding', () => {
    const stream = stringAttr(2, 'abc');
    const value = parseAttributes(stream).get(2)!;
    expect(value.length).toBe(4);
    expect(value.buffer).toBe(stream.buffer);
  });

  it('last wins in the map, the list keeps every repeat in order', () => {
    const stream = Buffer.concat([u16Attr(1, 10), u16Attr(2, 20), u16Attr(1, 30)]);
    expect(readU16(parseAttributes(stream).get(1)!)).toBe(30);
    expect(parseAttributeList(stream).map((a) => [a.type, readU16(a.value)])).toEqual([
      [1, 10],
      [2, 20],
      [1, 30],
    ]);
  });

  it('honours start and end', () => {
    const stream = Buffer.concat([Buffer.from('xxxx'), u32Attr(1, 5), u32Attr(2, 6)]);
    expect([...parseAttributes(stream, 4, 12).keys()]).toEqual([1]);
  });

  it('accepts a final attribute whose padding is cut by the enclosing length', () => {
    const stream = u8Attr(1, 9).subarray(0, 5);
    expect(readU8(parseAttributes(stream).get(1)!)).toBe(9);
  });

  it('readString stops at NUL, or takes everything when there is none', () => {
    expect(readString(Buffer.from('ab\0cd'))).toBe('ab');
    expect(readString(Buffer.from('abc'))).toBe('abc');
  });
});

describe('malformed attributes throw NetlinkParseError', () => {
  const cases: [string, Buffer][] = [
    ['length below the header size', Buffer.from('02000100', 'hex')],
    ['length 0 (would loop forever)', Buffer.from('0000010000000000', 'hex')],
    ['length past the end', Buffer.from('0c000100aabbccdd', 'hex')],
    ['stray bytes shorter than a header', Buffer.concat([u32Attr(1, 1), Buffer.from('0400', 'hex')])],
  ];
  for (const [what, buf] of cases) {
    it(what, () => {
      expect(() => parseAttributes(buf)).toThrow(NetlinkParseError);
      expect(() => parseAttributeList(buf)).toThrow(NetlinkParseError);
    });
  }

  it('a range outside the buffer', () => {
    expect(() => parseAttributes(Buffer.alloc(8), 4, 12)).toThrow(NetlinkParseError);
  });

  it('a nested attribute whose child overruns the nest', () => {
    const nest = nestedAttr(1, [u32Attr(2, 3)]);
    nest.writeUInt16LE(12, 4); // child claims 12 bytes inside an 8-byte nest body
    const outer = parseAttributes(nest);
    expect(() => parseAttributes(outer.get(1)!)).toThrow(NetlinkParseError);
  });

  it('readers refuse short values', () => {
    expect(() => readU8(Buffer.alloc(0))).toThrow(NetlinkParseError);
    expect(() => readU16(Buffer.alloc(1))).toThrow(NetlinkParseError);
    expect(() => readU32(Buffer.alloc(3))).toThrow(NetlinkParseError);
    expect(() => readU64(Buffer.alloc(4))).toThrow(NetlinkParseError);
    expect(() => readBe16(Buffer.alloc(1))).toThrow(NetlinkParseError);
  });

  it('random bytes never hang: every input parses or throws NetlinkParseError', () => {
    let state = 12345;
    const next = (): number => (state = (state * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let n = 0; n < 2000; n++) {
      const buf = Buffer.from(Array.from({ length: next() % 40 }, next));
      try {
        parseAttributeList(buf);
      } catch (err) {
        expect(err).toBeInstanceOf(NetlinkParseError);
      }
    }
  });
});
