import { describe, expect, it } from 'vitest';
import { formatAddress, InvalidAddressError, parseAddress } from '../../src/netlink/address.js';

const v6 = (hex: string): Buffer => Buffer.from(hex.replace(/[: ]/g, ''), 'hex');

describe('formatAddress', () => {
  it('IPv4 dotted quad', () => {
    expect(formatAddress(Buffer.from([192, 0, 2, 10]))).toBe('192.0.2.10');
    expect(formatAddress(Buffer.from([0, 0, 0, 0]))).toBe('0.0.0.0');
  });

  it.each([
    ['0000 0000 0000 0000 0000 0000 0000 0000', '::'],
    ['0000 0000 0000 0000 0000 0000 0000 0001', '::1'],
    ['2001 0db8 0000 0000 0000 0000 0000 0001', '2001:db8::1'],
    ['2001 0db8 0000 0001 0000 0000 0000 0001', '2001:db8:0:1::1'], // longest run wins
    ['2001 0db8 0000 0000 0001 0000 0000 0001', '2001:db8::1:0:0:1'], // first of equal runs
    ['2001 0db8 0001 0000 0001 0001 0001 0001', '2001:db8:1:0:1:1:1:1'], // a single zero group stays
    ['fe80 0000 0000 0000 abcd 00ff fe00 0001', 'fe80::abcd:ff:fe00:1'],
    ['2001 0db8 0000 0000 0000 0000 0000 0000', '2001:db8::'],
    ['0000 0000 0000 0000 0000 ffff c000 020a', '::ffff:192.0.2.10'],
    ['0000 0000 0000 0000 0000 0000 c000 020a', '::192.0.2.10'],
    ['FFFF FFFF FFFF FFFF FFFF FFFF FFFF FFFF', 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff'],
  ])('%s -> %s', (hex, text) => {
    expect(formatAddress(v6(hex))).toBe(text);
  });

  it('refuses other lengths', () => {
    expect(() => formatAddress(Buffer.alloc(6))).toThrow(InvalidAddressError);
  });
});

describe('parseAddress', () => {
  it('IPv4', () => {
    expect(parseAddress('10.1.2.3')).toEqual({ family: 'inet', bytes: Buffer.from([10, 1, 2, 3]) });
  });

  it.each([
    ['::', '00000000000000000000000000000000'],
    ['::1', '00000000000000000000000000000001'],
    ['2001:db8::1', '20010db8000000000000000000000001'],
    ['2001:DB8:0:1::', '20010db8000000010000000000000000'],
    ['::ffff:192.0.2.10', '00000000000000000000ffffc000020a'],
    ['64:ff9b::10.0.0.1', '0064ff9b0000000000000000 0a000001'.replace(' ', '')],
    ['1:2:3:4:5:6:7:8', '00010002000300040005000600070008'],
  ])('%s', (text, hex) => {
    const { family, bytes } = parseAddress(text);
    expect(family).toBe('inet6');
    expect(bytes.toString('hex')).toBe(hex);
  });

  it('round-trips through formatAddress', () => {
    for (const text of ['2001:db8::1:0:0:1', 'fe80::1', '::ffff:1.2.3.4', '2001:db8:0:1::1', '198.51.100.7']) {
      expect(formatAddress(parseAddress(text).bytes)).toBe(text);
    }
  });

  it.each(['', '1.2.3', '256.1.1.1', '2001:db8::1::2', 'fe80::1%eth0', 'eth0', '1.2.3.4/24'])('refuses %j', (text) => {
    expect(() => parseAddress(text)).toThrow(InvalidAddressError);
  });
});
