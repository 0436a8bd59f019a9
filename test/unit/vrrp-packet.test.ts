import { describe, expect, it } from 'vitest';
import {
  AUTH_AH,
  AUTH_NONE,
  AUTH_PASS,
  compareAddresses,
  decodeAdvertisement,
  encodeAdvertisement,
  formatAddress,
  addressBytes,
  parseIpv4Packet,
  passwordBytes,
  peekVrid,
  validateAdvertisement,
  VrrpPacketError,
  type ReceiveContext,
  type VrrpAdvertisement,
  type VrrpExpectations,
} from '../../src/vrrp/packet.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// An RFC 1071 checksum written here, independently of src/vrrp/checksum.ts.
function csum(...parts: Buffer[]): number {
  const b = Buffer.concat(parts);
  let sum = 0;
  for (let i = 0; i < b.length; i += 2) sum += (b[i]! << 8) + (b[i + 1] ?? 0);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}
const withChecksum = (b: Buffer, value: number) => {
  const c = Buffer.from(b);
  c.writeUInt16BE(value, 6);
  return c;
};

// Captured from Debian keepalived 2.2.7 in a network namespace (AF_PACKET on the peer veth):
// instance V2 (vrid 51, priority 150, advert_int 1, auth PASS "secret12345", VIPs .100 .101),
// V3 (version 3, vrid 52, priority 100, advert_int 0.1, VIP .102), V6 (version 3, vrid 53,
// priority 200, advert_int 0.5, VIP fd00::100); the priority-0 ones were sent on SIGTERM.
const KA_V2_IP = hex('45c0002c00010000ff70d0290a630002e0000012 2133960201 01c4bb 0a630064 0a630065 7365637265743132');
const KA_V2_STOP = hex('2133000201015abc0a6300640a6300657365637265743132');
const KA_V3_IP = hex('45c00020003b0000ff70cffb0a630002e0000012 31346401000a7503 0a630066');
const KA_V3_STOP = hex('31340001000ad9030a630066');
const KA_V6_LINK_LOCAL = 'fe80::404b:1ff:feb3:8f1a';
const KA_V6 = hex('3135c80100323a5f fd000000000000000000000000000100');
const KA_V6_STOP = hex('3135000100320260 fd000000000000000000000000000100');

const MCAST4 = { source: '10.99.0.2', destination: '224.0.0.18' };
const MCAST6 = { source: KA_V6_LINK_LOCAL, destination: 'ff02::12' };

const v2Advert: VrrpAdvertisement = {
  version: 2,
  vrid: 51,
  priority: 150,
  advertIntervalMs: 1000,
  addresses: ['10.99.0.100', '10.99.0.101'],
  authType: AUTH_PASS,
  authData: passwordBytes('secret12345'),
};
const v3Advert: VrrpAdvertisement = {
  version: 3,
  vrid: 52,
  priority: 100,
  advertIntervalMs: 100,
  addresses: ['10.99.0.102'],
  authType: AUTH_NONE,
  authData: new Uint8Array(0),
};
const v6Advert: VrrpAdvertisement = { ...v3Advert, vrid: 53, priority: 200, advertIntervalMs: 500, addresses: ['fd00::100'] };

describe('encodeAdvertisement', () => {
  it('writes VRRPv2 with PASS authentication byte for byte as keepalived 2.2.7 does', () => {
    expect(encodeAdvertisement(v2Advert, MCAST4)).toEqual(KA_V2_IP.subarray(20));
    expect(encodeAdvertisement({ ...v2Advert, priority: 0 }, MCAST4)).toEqual(KA_V2_STOP);
  });

  it('writes VRRPv3 over IPv4 with the pseudo-header checksum as keepalived does', () => {
    expect(encodeAdvertisement(v3Advert, MCAST4)).toEqual(KA_V3_IP.subarray(20));
    expect(encodeAdvertisement({ ...v3Advert, priority: 0 }, MCAST4)).toEqual(KA_V3_STOP);
  });

  it('writes VRRPv3 over IPv6 with the IPv6 pseudo-header checksum the kernel computed', () => {
    expect(encodeAdvertisement(v6Advert, MCAST6)).toEqual(KA_V6);
    expect(encodeAdvertisement({ ...v6Advert, priority: 0 }, MCAST6)).toEqual(KA_V6_STOP);
  });

  it('follows the RFC 3768 §5.1 layout, checksum over the VRRP message only', () => {
    const ad: VrrpAdvertisement = { ...v2Advert, vrid: 7, priority: 254, advertIntervalMs: 3000, addresses: ['192.0.2.1'], authType: AUTH_NONE, authData: new Uint8Array(8) };
    const body = hex('21 07 fe 01 00 03 0000 c0000201 0000000000000000');
    // The pseudo-header addresses must not matter for v2.
    expect(encodeAdvertisement(ad, { source: '198.51.100.9', destination: '192.0.2.200' })).toEqual(withChecksum(body, csum(body)));
  });

  it('follows the RFC 9568 §5.1 layout: 4 reserved bits, 12-bit centisecond interval, IPv4 pseudo-header', () => {
    const ad: VrrpAdvertisement = { ...v3Advert, vrid: 200, priority: 1, advertIntervalMs: 40950, addresses: ['192.0.2.1', '192.0.2.2', '192.0.2.3'] };
    const body = hex('31 c8 01 03 0fff 0000 c0000201 c0000202 c0000203');
    const pseudo = hex('c6336409 c00002c8 00 70 0014');
    expect(encodeAdvertisement(ad, { source: '198.51.100.9', destination: '192.0.2.200' })).toEqual(withChecksum(body, csum(pseudo, body)));
  });

  it('follows the RFC 9568 layout for IPv6 with the RFC 8200 pseudo-header', () => {
    const ad: VrrpAdvertisement = { ...v3Advert, vrid: 1, priority: 255, advertIntervalMs: 10, addresses: ['2001:db8::1', '2001:db8::ffff:0:2'] };
    const body = hex('31 01 ff 02 0001 0000 20010db8000000000000000000000001 20010db8000000000000ffff00000002');
    const pseudo = hex('fe800000000000000000000000000001 ff020000000000000000000000000012 00000028 000000 70');
    expect(encodeAdvertisement(ad, { source: 'fe80::1', destination: 'ff02::12' })).toEqual(withChecksum(body, csum(pseudo, body)));
  });

  it('refuses what the wire cannot carry, with a coded error', () => {
    const cases: Array<[VrrpAdvertisement, typeof MCAST4]> = [
      [{ ...v2Advert, advertIntervalMs: 1500 }, MCAST4],
      [{ ...v2Advert, advertIntervalMs: 256_000 }, MCAST4],
      [{ ...v3Advert, advertIntervalMs: 105 }, MCAST4],
      [{ ...v3Advert, advertIntervalMs: 40_960 }, MCAST4],
      [{ ...v3Advert, vrid: 0 }, MCAST4],
      [{ ...v3Advert, priority: 256 }, MCAST4],
      [{ ...v3Advert, addresses: ['fd00::1'] }, MCAST4],
      [{ ...v3Advert, addresses: ['10.0.0.300'] }, MCAST4],
      [v2Advert, MCAST6],
      [{ ...v2Advert, authData: new Uint8Array(9) }, MCAST4],
    ];
    for (const [ad, ctx] of cases) {
      expect(() => encodeAdvertisement(ad, ctx)).toThrow(VrrpPacketError);
    }
    const error = (() => {
      try {
        encodeAdvertisement({ ...v2Advert, advertIntervalMs: 1500 }, MCAST4);
      } catch (e) {
        return e as VrrpPacketError;
      }
      return undefined;
    })();
    expect(error?.code).toBe('EVRRPPACKET');
    expect(error?.message).toContain('1500 ms');
  });
});

describe('decodeAdvertisement and parseIpv4Packet', () => {
  it('splits keepalived IPv4 packets and decodes them back to the adverts that were sent', () => {
    const ip = parseIpv4Packet(KA_V2_IP);
    expect(ip.ok).toBe(true);
    if (!ip.ok) return;
    expect(ip.packet).toMatchObject({ ttl: 255, protocol: 112, source: '10.99.0.2', destination: '224.0.0.18' });
    expect(decodeAdvertisement(ip.packet.payload, ip.packet)).toEqual({ ok: true, advert: v2Advert });

    const ip3 = parseIpv4Packet(KA_V3_IP);
    expect(ip3.ok && decodeAdvertisement(ip3.packet.payload, ip3.packet)).toEqual({ ok: true, advert: v3Advert });
  });

  it('decodes the keepalived IPv6 advert', () => {
    expect(decodeAdvertisement(KA_V6, MCAST6)).toEqual({ ok: true, advert: v6Advert });
  });

  it('masks the reserved bits of the v3 interval field', () => {
    const body = hex('31 34 64 01 f00a 0000 0a630066');
    const packet = withChecksum(body, csum(hex('0a630002 e0000012 00 70 000c'), body));
    const r = decodeAdvertisement(packet, MCAST4);
    expect(r.ok && r.advert.advertIntervalMs).toBe(100);
  });

  it('trims link-layer padding after the IP total length', () => {
    const padded = Buffer.concat([KA_V3_IP, Buffer.alloc(14)]);
    const ip = parseIpv4Packet(padded);
    expect(ip.ok && ip.packet.payload.length).toBe(12);
  });

  it('names what is wrong with an IPv4 carrier', () => {
    const mutate = (f: (b: Buffer) => void) => {
      const b = Buffer.from(KA_V3_IP);
      f(b);
      return parseIpv4Packet(b);
    };
    expect(mutate((b) => (b[0] = 0x65))).toMatchObject({ ok: false, reason: 'not-ipv4' });
    expect(mutate((b) => (b[0] = 0x44))).toMatchObject({ ok: false, reason: 'header-length' });
    expect(mutate((b) => (b[9] = 51))).toMatchObject({ ok: false, reason: 'protocol' });
    expect(mutate((b) => b.writeUInt16BE(0x40, 2))).toMatchObject({ ok: false, reason: 'total-length' });
    expect(mutate((b) => b.writeUInt16BE(10, 2))).toMatchObject({ ok: false, reason: 'total-length' });
    expect(mutate((b) => (b[0] = 0x4f))).toMatchObject({ ok: false, reason: 'truncated' });
  });

  it('never throws on an IPv4 packet cut at any length', () => {
    for (let n = 0; n < KA_V2_IP.length; n++) {
      const r = parseIpv4Packet(KA_V2_IP.subarray(0, n));
      expect(r.ok, `length ${n}`).toBe(false);
      if (!r.ok) expect(['truncated', 'total-length']).toContain(r.reason);
    }
  });

  it('reads the VRID for dispatch before anything else', () => {
    expect(peekVrid(KA_V6)).toBe(53);
    expect(peekVrid(new Uint8Array(1))).toBeUndefined();
  });
});

describe('validateAdvertisement', () => {
  const v2Want: VrrpExpectations = {
    version: 2,
    vrid: 51,
    advertIntervalMs: 1000,
    addresses: ['10.99.0.100', '10.99.0.101'],
    authType: AUTH_PASS,
    authData: passwordBytes('secret12345'),
  };
  const v3Want: VrrpExpectations = { version: 3, vrid: 52, advertIntervalMs: 100, addresses: ['10.99.0.102'] };
  const v2Payload = KA_V2_IP.subarray(20);
  const v3Payload = KA_V3_IP.subarray(20);
  const rx4: ReceiveContext = { ...MCAST4, ttl: 255 };
  const rx6: ReceiveContext = { ...MCAST6, ttl: 255 };

  const reason = (r: ReturnType<typeof validateAdvertisement>) => (r.ok ? 'ok' : r.reason);

  it('accepts keepalived adverts for the matching instance', () => {
    expect(validateAdvertisement(v2Payload, rx4, v2Want)).toEqual({ ok: true, advert: v2Advert });
    expect(validateAdvertisement(v3Payload, rx4, v3Want)).toEqual({ ok: true, advert: v3Advert });
    expect(validateAdvertisement(KA_V6, rx6, { version: 3, vrid: 53, advertIntervalMs: 1000, addresses: ['fd00:0::100'] })).toEqual({
      ok: true,
      advert: v6Advert,
    });
  });

  it('drops a multicast advert whose TTL or hop limit is not 255, but skips the check when unknown', () => {
    expect(reason(validateAdvertisement(v3Payload, { ...rx4, ttl: 254 }, v3Want))).toBe('ttl');
    expect(reason(validateAdvertisement(KA_V6, { ...rx6, ttl: 1 }, { ...v3Want, vrid: 53, addresses: ['fd00::100'] }))).toBe('ttl');
    expect(reason(validateAdvertisement(v3Payload, { ...rx4, ttl: undefined }, v3Want))).toBe('ok');
  });

  it('in unicast mode skips the TTL rule unless the peer limits it, and checks the source only when configured', () => {
    const unicastPayload = encodeAdvertisement(v3Advert, { source: '10.99.0.2', destination: '10.99.0.3' });
    const rx: ReceiveContext = { source: '10.99.0.2', destination: '10.99.0.3', ttl: 64 };
    const want = { ...v3Want, unicastPeers: [{ address: '10.99.0.2' }] };
    expect(reason(validateAdvertisement(unicastPayload, rx, want))).toBe('ok');
    expect(reason(validateAdvertisement(unicastPayload, rx, { ...want, unicastPeers: [{ address: '10.99.0.9' }] }))).toBe('ok');
    expect(reason(validateAdvertisement(unicastPayload, rx, { ...want, unicastPeers: [{ address: '10.99.0.9' }], checkUnicastSource: true }))).toBe('source');
    expect(reason(validateAdvertisement(unicastPayload, rx, { ...want, unicastPeers: [{ address: '10.99.0.2', minTtl: 250 }] }))).toBe('ttl');
    expect(reason(validateAdvertisement(unicastPayload, rx, { ...want, unicastPeers: [{ address: '10.99.0.2', minTtl: 60, maxTtl: 64 }] }))).toBe('ok');
  });

  it('drops a destination of the wrong kind (multicast advert to a unicast instance, and back)', () => {
    expect(reason(validateAdvertisement(v3Payload, rx4, { ...v3Want, unicastPeers: [{ address: '10.99.0.2' }] }))).toBe('destination');
    const unicastPayload = encodeAdvertisement(v3Advert, { source: '10.99.0.2', destination: '10.99.0.3' });
    expect(reason(validateAdvertisement(unicastPayload, { source: '10.99.0.2', destination: '10.99.0.3', ttl: 255 }, v3Want))).toBe('destination');
  });

  it('drops a wrong checksum, including a v3 checksum made for another pseudo-header', () => {
    const bad = Buffer.from(v2Payload);
    bad[7]! ^= 0x01;
    expect(reason(validateAdvertisement(bad, rx4, v2Want))).toBe('checksum');
    expect(reason(validateAdvertisement(v3Payload, { ...rx4, source: '10.99.0.9' }, v3Want))).toBe('checksum');
    // Any single-byte corruption past the VRID/version is caught by some check, never accepted.
    for (let i = 2; i < v2Payload.length; i++) {
      const c = Buffer.from(v2Payload);
      c[i]! ^= 0x40;
      expect(reason(validateAdvertisement(c, rx4, v2Want)), `byte ${i}`).not.toBe('ok');
    }
  });

  it('drops every truncation with "length" and never throws', () => {
    for (const [payload, want] of [
      [v2Payload, v2Want],
      [v3Payload, v3Want],
    ] as const) {
      for (let n = 0; n < payload.length; n++) {
        const r = validateAdvertisement(payload.subarray(0, n), rx4, want);
        expect(reason(r), `length ${n}`).toBe('length');
      }
    }
    for (let n = 0; n < KA_V6.length; n++) {
      expect(reason(validateAdvertisement(KA_V6.subarray(0, n), rx6, { ...v3Want, vrid: 53 }))).toBe('length');
    }
  });

  it('drops a count that disagrees with the length', () => {
    const more = Buffer.from(v3Payload);
    more[3] = 2; // says two addresses, carries one
    expect(reason(validateAdvertisement(more, rx4, v3Want))).toBe('length');
    const extra = Buffer.concat([v3Payload, hex('0a630067')]); // carries two, says one
    expect(reason(validateAdvertisement(extra, rx4, v3Want))).toBe('length');
  });

  it('drops an unknown or unconfigured version and a non-advertisement type', () => {
    const v4 = Buffer.from(v3Payload);
    v4[0] = 0x41;
    expect(reason(validateAdvertisement(v4, rx4, v3Want))).toBe('version');
    expect(reason(validateAdvertisement(v3Payload, rx4, { ...v3Want, version: 2 }))).toBe('version');
    expect(reason(decodeAdvertisement(v4, MCAST4))).toBe('version');
    const body = hex('32 34 64 01 000a 0000 0a630066');
    const type2 = withChecksum(body, csum(hex('0a630002 e0000012 00 70 000c'), body));
    expect(reason(validateAdvertisement(type2, rx4, v3Want))).toBe('type');
  });

  it('reports a VRID that is not ours apart from errors, with the VRID for the dispatcher', () => {
    const r = validateAdvertisement(v3Payload, rx4, { ...v3Want, vrid: 9 });
    expect(r).toMatchObject({ ok: false, reason: 'vrid-mismatch' });
    if (!r.ok) expect(r.detail).toContain('VRID 52');
  });

  it('drops v2 authentication failures: type and password', () => {
    expect(reason(validateAdvertisement(v2Payload, rx4, { ...v2Want, authType: AUTH_NONE }))).toBe('auth-type');
    expect(reason(validateAdvertisement(v2Payload, rx4, { ...v2Want, authData: passwordBytes('secret13') }))).toBe('auth-mismatch');
    const ah = encodeAdvertisement({ ...v2Advert, authType: AUTH_AH }, MCAST4);
    expect(reason(validateAdvertisement(ah, rx4, v2Want))).toBe('auth-type');
    // Only the first 8 bytes of a PASS password exist on the wire.
    expect(reason(validateAdvertisement(v2Payload, rx4, { ...v2Want, authData: passwordBytes('secret12') }))).toBe('ok');
  });

  it('drops a v2 interval mismatch but accepts a v3 one (the backup adopts it)', () => {
    expect(reason(validateAdvertisement(v2Payload, rx4, { ...v2Want, advertIntervalMs: 2000 }))).toBe('interval');
    expect(reason(validateAdvertisement(v3Payload, rx4, { ...v3Want, advertIntervalMs: 1000 }))).toBe('ok');
  });

  it('drops an advert whose VIP list differs, as keepalived 2.2.7 does, unless the check is skipped', () => {
    expect(reason(validateAdvertisement(v2Payload, rx4, { ...v2Want, addresses: ['10.99.0.100'] }))).toBe('address-list');
    expect(reason(validateAdvertisement(v2Payload, rx4, { ...v2Want, addresses: ['10.99.0.100', '10.99.0.109'] }))).toBe('address-list');
    expect(reason(validateAdvertisement(v2Payload, rx4, { ...v2Want, addresses: ['10.99.0.101', '10.99.0.100'] }))).toBe('ok');
    expect(reason(validateAdvertisement(v2Payload, rx4, { ...v2Want, addresses: ['10.99.0.109'], checkAddresses: false }))).toBe('ok');
  });

  it('never throws on random bytes', () => {
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.alloc(random() % 64, 0).map(() => random());
      if (b.length > 1) b[1] = 52;
      if (b.length > 0 && i % 2 === 0) b[0] = 0x31;
      expect(() => validateAdvertisement(b, rx4, v3Want)).not.toThrow();
      expect(() => parseIpv4Packet(b)).not.toThrow();
    }
  });
});

describe('addresses', () => {
  it('formats IPv6 per RFC 5952 and parses the usual spellings', () => {
    expect(formatAddress(addressBytes('2001:0db8:0000:0000:0000:0000:0000:0001'))).toBe('2001:db8::1');
    expect(formatAddress(addressBytes('2001:db8:0:1:0:0:0:1'))).toBe('2001:db8:0:1::1');
    expect(formatAddress(addressBytes('2001:0:0:1:0:0:1:1'))).toBe('2001::1:0:0:1:1');
    expect(formatAddress(addressBytes('::'))).toBe('::');
    expect(formatAddress(addressBytes('::ffff:192.0.2.1'))).toBe('::ffff:c000:201');
    expect(formatAddress(addressBytes('fe80::1%eth0'))).toBe('fe80::1');
    expect(formatAddress(addressBytes('1:2:3:4:5:6:7:8'))).toBe('1:2:3:4:5:6:7:8');
    for (const bad of ['1::2::3', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '::1::', '01.2.3.4', '1.2.3', 'g::1', '1:2:3:4:5:6:7::8', '']) {
      expect(() => addressBytes(bad), bad).toThrow(VrrpPacketError);
    }
  });

  it('orders addresses numerically, as the primary-address tie-break needs', () => {
    expect(compareAddresses('10.0.0.9', '10.0.0.10')).toBeLessThan(0);
    expect(compareAddresses('10.0.1.0', '10.0.0.255')).toBeGreaterThan(0);
    expect(compareAddresses('fe80::2', 'fe80::10')).toBeLessThan(0);
    expect(compareAddresses('fe80::a', 'fe80:0::a')).toBe(0);
  });
});
