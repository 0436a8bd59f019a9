import { describe, expect, it } from 'vitest';
import { encodeGratuitousArp, encodeUnsolicitedNeighbourAdvert, GratuitousArpError } from '../../src/vrrp/garp.js';
import { ipMreqn, ipv4Header, ipv6Mreq, parseIpv6Ancillary } from '../../src/vrrp/transport.js';
import { parseIpv4Packet } from '../../src/vrrp/packet.js';

const mac = Buffer.from('02005e0001ab', 'hex');

describe('gratuitous ARP', () => {
  it('is an ARP request with sender = target = VIP and a broadcast target MAC', () => {
    expect(encodeGratuitousArp(mac, '10.99.0.100').toString('hex')).toBe(
      '0001' + '0800' + '06' + '04' + '0001' + '02005e0001ab' + '0a630064' + 'ffffffffffff' + '0a630064',
    );
    expect(() => encodeGratuitousArp(mac, '2001:db8::1')).toThrow(GratuitousArpError);
  });
});

describe('unsolicited neighbour advertisement', () => {
  it('has type 136, only the override flag, the target and its link-layer address option', () => {
    expect(encodeUnsolicitedNeighbourAdvert(mac, '2001:db8::64').toString('hex')).toBe(
      '88' + '00' + '0000' + '20000000' + '20010db8000000000000000000000064' + '02' + '01' + '02005e0001ab',
    );
  });
});

describe('socket structures', () => {
  it('ip_mreqn: group, any address, ifindex (little-endian int)', () => {
    expect(ipMreqn('224.0.0.18', 7).toString('hex')).toBe('e0000012' + '00000000' + '07000000');
  });

  it('ipv6_mreq: group then ifindex', () => {
    expect(ipv6Mreq('ff02::12', 3).toString('hex')).toBe('ff020000000000000000000000000012' + '03000000');
  });

  it('the IPv4 header we send parses back with TTL 255 and protocol 112', () => {
    const header = ipv4Header('10.99.0.2', '224.0.0.18', 20, 255);
    expect(header[1]).toBe(0xc0); // precedence "internetwork control", as keepalived
    const parsed = parseIpv4Packet(Buffer.concat([header, Buffer.alloc(20)]));
    expect(parsed).toMatchObject({ ok: true, packet: { ttl: 255, protocol: 112, source: '10.99.0.2', destination: '224.0.0.18' } });
  });

  it('reads the hop limit and the destination from IPv6 ancillary data', () => {
    const cmsg = (type: number, data: Buffer) => {
      const len = 16 + data.length;
      const buf = Buffer.alloc((len + 7) & ~7);
      buf.writeBigUInt64LE(BigInt(len), 0);
      buf.writeInt32LE(41, 8);
      buf.writeInt32LE(type, 12);
      data.copy(buf, 16);
      return buf;
    };
    const hop = Buffer.alloc(4);
    hop.writeInt32LE(255);
    const pktinfo = Buffer.alloc(20);
    Buffer.from('ff020000000000000000000000000012', 'hex').copy(pktinfo);
    pktinfo.writeInt32LE(4, 16);
    expect(parseIpv6Ancillary(Buffer.concat([cmsg(52, hop), cmsg(50, pktinfo)]))).toEqual({ hopLimit: 255, destination: 'ff02::12' });
    expect(parseIpv6Ancillary(Buffer.alloc(0))).toEqual({});
  });
});
