import { describe, expect, it } from 'vitest';
import {
  daemonAttr,
  decodeDaemon,
  decodeDestination,
  decodeService,
  destinationAttr,
  serviceAttr,
} from '../../src/ipvs/codec.js';
import { destination, service } from '../../src/ipvs/model.js';
import { attr, nestedAttr, u32Attr, u64Attr } from '../../src/netlink/attributes.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// Layouts from <linux/ip_vs.h>: nlattr {u16 len, u16 type}, 4-byte alignment, ports big-endian,
// addresses as a 16-byte union nf_inet_addr, IPv4 netmask in network byte order.
describe('IPVS codec', () => {
  it('encodes a service exactly as the kernel expects it', () => {
    const s = service({ address: '10.0.0.1', port: 80, scheduler: 'wrr', flags: { persistent: true }, timeout: 300 });
    expect(serviceAttr(s)).toEqual(
      hex(`
        54000100
        06000100 02000000
        06000200 06000000
        14000300 0a000001 00000000 00000000 00000000
        06000400 00500000
        08000600 77727200
        0c000700 01000000 fdffffff
        08000800 2c010000
        08000900 ffffffff`),
    );
  });

  it('encodes a tunnel destination with its type, port and checksum flags', () => {
    const d = destination({ address: '10.0.0.4', port: 80, forward: 'tunnel', tunnelType: 'gue', tunnelPort: 6080, tunnelChecksum: 'remcsum', weight: 2 });
    expect(destinationAttr(d)).toEqual(
      hex(`
        60000200
        14000100 0a000004 00000000 00000000 00000000
        06000200 00500000
        06000b00 02000000
        08000300 02000000
        08000400 02000000
        08000500 00000000
        08000600 00000000
        05000d00 01000000
        06000e00 17c00000
        06000f00 02000000`),
    );
  });

  it('decodes what it encodes, with 64-bit statistics and netmasks of both families', () => {
    const v4 = service({ address: '192.0.2.1', port: 443, scheduler: 'sh', flags: { persistent: true, sched1: true }, timeout: 60, netmask: 24 });
    const stats = nestedAttr(12, [u64Attr(1, 7n), u64Attr(4, 2n ** 40n)]);
    // STATS64 sits inside the service nest in a kernel dump.
    const payload = (a: Buffer) => nestedAttr(1, [a.subarray(4), stats]);
    const got = decodeService(payload(serviceAttr(v4)));
    expect(got).toMatchObject({ ...v4, stats: { connections: 7n, inBytes: 2n ** 40n } });

    const v6 = service({ family: 'inet6', fwmark: 9, scheduler: 'rr', flags: { persistent: true }, timeout: 100, netmask: 64 });
    expect(decodeService(payload(serviceAttr(v6)))).toMatchObject(v6);
  });

  it('decodes a destination with its connection counters', () => {
    const d = destination({ family: 'inet6', address: '2001:db8::2', port: 8443, weight: 7, upperThreshold: 9 });
    const inner = destinationAttr(d).subarray(4);
    const payload = nestedAttr(2, [inner, u32Attr(7, 3), u32Attr(8, 4)]);
    expect(decodeDestination(payload, 'inet6')).toMatchObject({ ...d, activeConnections: 3, inactiveConnections: 4 });
  });

  it('round-trips a sync daemon', () => {
    const d = { state: 'backup' as const, interface: 'eth0', syncId: 51, maxLength: 1400, group: '224.0.0.82', port: 8849, ttl: 3 };
    expect(decodeDaemon(daemonAttr(d))).toEqual(d);
  });

  it('refuses a reply that lacks required attributes, with a sentence', () => {
    expect(() => decodeService(nestedAttr(1, [attr(99, Buffer.alloc(4))]))).toThrow(/lacks the address family/);
  });
});
