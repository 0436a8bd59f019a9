import { describe, expect, it } from 'vitest';
import { ETH_P_ARP, PACKET_BROADCAST } from '../../src/native/constants.js';
import {
  InvalidAddressError,
  parseSockaddr,
  sockaddrIn,
  sockaddrLinkLayer,
  sockaddrNetlink,
} from '../../src/native/sockaddr.js';

const hex = (b: Buffer): string => b.toString('hex');

describe('sockaddrIn (IPv4)', () => {
  it('lays out sockaddr_in: family LE, port BE, address, 8 zero bytes', () => {
    expect(hex(sockaddrIn('192.0.2.1', 8080))).toBe('0200' + '1f90' + 'c0000201' + '0000000000000000');
  });

  it('defaults the port to 0 and round-trips', () => {
    const buf = sockaddrIn('10.1.2.254');
    expect(buf.length).toBe(16);
    expect(parseSockaddr(buf)).toEqual({ family: 'inet', address: '10.1.2.254', port: 0 });
    expect(parseSockaddr(sockaddrIn('255.255.255.255', 65535))).toEqual({
      family: 'inet',
      address: '255.255.255.255',
      port: 65535,
    });
  });

  it.each(['1.2.3', '256.0.0.1', '01.2.3.4', '1.2.3.4.5', '', 'localhost', '1.2.3.-4'])('refuses %j', (text) => {
    expect(() => sockaddrIn(text, 1)).toThrow(InvalidAddressError);
  });

  it('refuses bad ports and a scope on IPv4', () => {
    expect(() => sockaddrIn('127.0.0.1', 65536)).toThrow(/port/);
    expect(() => sockaddrIn('127.0.0.1', 1.5)).toThrow(/port/);
    expect(() => sockaddrIn('127.0.0.1', 1, 2)).toThrow(/scope/);
  });
});

describe('sockaddrIn (IPv6)', () => {
  it('lays out sockaddr_in6 with the zone as scope id (LE at offset 24)', () => {
    expect(hex(sockaddrIn('fe80::1%3', 443))).toBe(
      '0a00' + '01bb' + '00000000' + 'fe800000000000000000000000000001' + '03000000',
    );
  });

  it('takes the scope id as an argument too, and refuses a contradicting zone', () => {
    expect(sockaddrIn('fe80::1', 0, 7).readUInt32LE(24)).toBe(7);
    expect(sockaddrIn('fe80::1%7', 0, 7).readUInt32LE(24)).toBe(7);
    expect(() => sockaddrIn('fe80::1%7', 0, 8)).toThrow(/contradicts/);
    expect(() => sockaddrIn('fe80::1%eth0', 0)).toThrow(/interface index/);
  });

  it('parses embedded IPv4 and full forms', () => {
    const address = (text: string) => hex(sockaddrIn(text).subarray(8, 24));
    expect(address('::ffff:192.0.2.1')).toBe('00000000000000000000ffffc0000201');
    expect(address('2001:DB8:0:0:0:0:0:1')).toBe('20010db8000000000000000000000001');
    expect(address('::')).toBe('0'.repeat(32));
  });

  it.each(['1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', ':::', '1:2:3:4:5:6:7::8', 'g::1'])(
    'refuses %j',
    (text) => {
      expect(() => sockaddrIn(text)).toThrow(InvalidAddressError);
    },
  );

  it.each([
    ['2001:db8:0:0:0:0:0:1', '2001:db8::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    ['fe80:0:0:0:0:0:0:0', 'fe80::'],
    ['0:0:0:0:0:ffff:c000:201', '::ffff:192.0.2.1'],
  ])('formats %s as %s (RFC 5952)', (input, expected) => {
    expect(parseSockaddr(sockaddrIn(input))).toMatchObject({ address: expected });
  });

  it('round-trips through parseSockaddr', () => {
    expect(parseSockaddr(sockaddrIn('2001:db8::42', 53))).toEqual({
      family: 'inet6',
      address: '2001:db8::42',
      port: 53,
      scopeId: 0,
    });
    expect(parseSockaddr(sockaddrIn('fe80::a:b%12', 112))).toEqual({
      family: 'inet6',
      address: 'fe80::a:b',
      port: 112,
      scopeId: 12,
    });
  });
});

describe('sockaddrNetlink', () => {
  it('lays out sockaddr_nl: family, pad, pid, groups (all LE)', () => {
    expect(hex(sockaddrNetlink(1234, 5))).toBe('1000' + '0000' + 'd2040000' + '05000000');
    expect(hex(sockaddrNetlink())).toBe('100000000000000000000000');
  });

  it('round-trips, including the top bit of pid and groups', () => {
    expect(parseSockaddr(sockaddrNetlink(0xfffffffe, 0x80000001))).toEqual({
      family: 'netlink',
      pid: 0xfffffffe,
      groups: 0x80000001,
    });
    expect(() => sockaddrNetlink(-1)).toThrow(InvalidAddressError);
  });
});

describe('sockaddrLinkLayer', () => {
  const broadcast = Buffer.from('ffffffffffff', 'hex');

  it('lays out sockaddr_ll: protocol BE, ifindex LE, hatype, pkttype, halen, address', () => {
    const buf = sockaddrLinkLayer({ protocol: ETH_P_ARP, ifindex: 3, address: broadcast });
    expect(hex(buf)).toBe('1100' + '0806' + '03000000' + '0000' + '00' + '06' + 'ffffffffffff' + '0000');
  });

  it('round-trips all fields', () => {
    const mac = Buffer.from('aee3010203e9', 'hex');
    const buf = sockaddrLinkLayer({ protocol: 0x86dd, ifindex: 70000, hatype: 1, pkttype: PACKET_BROADCAST, address: mac });
    expect(parseSockaddr(buf)).toEqual({
      family: 'packet',
      protocol: 0x86dd,
      ifindex: 70000,
      hatype: 1,
      pkttype: PACKET_BROADCAST,
      address: mac,
    });
  });

  it('parses the 18-byte form getsockname returns for Ethernet', () => {
    const full = sockaddrLinkLayer({ protocol: ETH_P_ARP, ifindex: 2, hatype: 1, address: broadcast });
    const parsed = parseSockaddr(full.subarray(0, 18));
    expect(parsed).toMatchObject({ family: 'packet', ifindex: 2, hatype: 1 });
    expect(parsed.family === 'packet' && hex(parsed.address)).toBe('ffffffffffff');
  });

  it('refuses an address longer than sll_addr', () => {
    expect(() => sockaddrLinkLayer({ protocol: 1, ifindex: 1, address: Buffer.alloc(9) })).toThrow(/at most 8/);
  });
});

describe('parseSockaddr', () => {
  it('refuses unknown families and short buffers', () => {
    expect(() => parseSockaddr(Buffer.from('0100', 'hex'))).toThrow(/family 1/);
    expect(() => parseSockaddr(Buffer.alloc(1))).toThrow(InvalidAddressError);
    expect(() => parseSockaddr(sockaddrIn('::1').subarray(0, 20))).toThrow(/sockaddr_in6/);
  });
});
