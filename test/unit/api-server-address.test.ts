// VS and RS as operators type them (ipvsadm's forms), and which configured virtual server they name.
import { describe, expect, it } from 'vitest';
import { findVirtualServer, parseEndpoint, parseVirtualServer } from '../../src/api/server-address.js';

const candidates = [
  { name: 'tcp 10.0.0.1:80', target: { kind: 'address' as const, address: '10.0.0.1', port: 80 }, protocol: 'tcp' },
  { name: 'tcp 10.0.0.1:53', target: { kind: 'address' as const, address: '10.0.0.1', port: 53 }, protocol: 'tcp' },
  { name: 'udp 10.0.0.1:53', target: { kind: 'address' as const, address: '10.0.0.1', port: 53 }, protocol: 'udp' },
  { name: 'tcp [2001:db8::1]:80', target: { kind: 'address' as const, address: '2001:db8::1', port: 80 }, protocol: 'tcp' },
  { name: 'fwmark 5', target: { kind: 'fwmark' as const, fwmark: 5 }, protocol: undefined },
  { name: 'group web tcp', target: { kind: 'group' as const, name: 'web' }, protocol: 'tcp' },
];

describe('server addresses', () => {
  it('parses real servers in ipvsadm form, IPv6 canonicalised', () => {
    expect(parseEndpoint('10.0.1.1:80')).toEqual({ address: '10.0.1.1', port: 80 });
    expect(parseEndpoint('[2001:DB8:0::1]:8080')).toEqual({ address: '2001:db8::1', port: 8080 });
  });

  it.each(['10.0.1.1', '10.0.1.1:99999', '2001:db8::1:80', 'web:80', '[10.0.0.1:80'])('rejects %s with a sentence', (text) => {
    expect(() => parseEndpoint(text)).toThrow(/is not a real server/);
  });

  it('parses virtual servers: address, protocol prefix, fwmark, group', () => {
    expect(parseVirtualServer('10.0.0.1:80')).toEqual({ kind: 'address', protocol: undefined, address: '10.0.0.1', port: 80 });
    expect(parseVirtualServer('udp:10.0.0.1:53')).toEqual({ kind: 'address', protocol: 'udp', address: '10.0.0.1', port: 53 });
    expect(parseVirtualServer('fwmark:5')).toEqual({ kind: 'fwmark', fwmark: 5 });
    expect(parseVirtualServer('group:web')).toEqual({ kind: 'group', protocol: undefined, name: 'web' });
    expect(() => parseVirtualServer('fwmark:0')).toThrow(/firewall mark/);
  });

  it('finds the one configured virtual server', () => {
    expect(findVirtualServer(candidates, '10.0.0.1:80').name).toBe('tcp 10.0.0.1:80');
    expect(findVirtualServer(candidates, '[2001:db8:0:0::1]:80').name).toBe('tcp [2001:db8::1]:80');
    expect(findVirtualServer(candidates, 'fwmark:5').name).toBe('fwmark 5');
    expect(findVirtualServer(candidates, 'udp:10.0.0.1:53').name).toBe('udp 10.0.0.1:53');
    expect(findVirtualServer(candidates, 'group:web').name).toBe('group web tcp');
  });

  it('says when none or several match', () => {
    expect(() => findVirtualServer(candidates, '10.0.0.2:80')).toThrow('no virtual server 10.0.0.2:80 in the running configuration');
    expect(() => findVirtualServer(candidates, '10.0.0.1:53')).toThrow('10.0.0.1:53 matches tcp 10.0.0.1:53 and udp 10.0.0.1:53: prefix it with the protocol, e.g. udp:10.0.0.1:53');
    expect(() => findVirtualServer(candidates, 'fwmark:6')).toThrow(/no virtual server fwmark:6/);
  });
});
