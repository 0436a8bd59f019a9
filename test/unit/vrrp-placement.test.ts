import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/ast.js';
import { loadConfigText } from '../../src/config/load.js';
import type { VrrpInstance } from '../../src/config/model.js';
import type { InterfaceAddress, Link } from '../../src/netlink/rtnetlink.js';
import { placeInstance } from '../../src/vrrp/placement.js';

function instance(lines: string, vips = '10.0.0.100/24'): VrrpInstance {
  const text = `vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  ${lines}\n  virtual_ipaddress {\n    ${vips}\n  }\n}\n`;
  const { config, diagnostics } = loadConfigText(text, 'k.conf', { configId: 'lb1' });
  if (!config) throw new Error(diagnostics.map(formatDiagnostic).join('\n'));
  return config.vrrpInstances[0]!;
}

const link = (name: string, index: number): [string, Link] => [name, { name, index, up: true, running: true, mtu: 1500, address: null, type: 1 }];
const address = (ifindex: number, a: string, flags = 0): InterfaceAddress => ({
  family: a.includes(':') ? 'inet6' : 'inet',
  ifindex,
  address: a,
  ...(a.includes(':') ? {} : { local: a }),
  prefixLength: 24,
  scope: 0,
  flags,
});

const links = new Map([link('eth0', 2), link('eth1', 3)]);

describe('placeInstance', () => {
  it('sends from the first primary IPv4 address of the interface, never a VIP or a secondary', () => {
    const addresses = [address(3, '10.0.1.2'), address(2, '10.0.0.100'), address(2, '10.0.0.9', 0x01), address(2, '10.0.0.2')];
    const p = placeInstance(instance(''), links, addresses);
    expect(p).toMatchObject({ ifindex: 2, primary: '10.0.0.2', problems: [] });
    expect(p.vips).toEqual([{ device: 'eth0', ifindex: 2, address: '10.0.0.100', prefixLength: 24, track: true }]);
  });

  it('sends IPv6 adverts from the link-local address', () => {
    const p = placeInstance(instance('', '2001:db8::100/64'), links, [address(2, '2001:db8::2'), address(2, 'fe80::1')]);
    expect(p).toMatchObject({ primary: 'fe80::1', problems: [] });
  });

  it('names each reason an instance cannot run', () => {
    expect(placeInstance(instance('interface eth9'), links, []).problems).toEqual(['interface eth9 does not exist']);
    expect(placeInstance(instance('', '10.0.0.100/24 dev eth7'), links, [address(2, '10.0.0.2')])).toMatchObject({ vips: [], problems: ['VIP interface eth7 does not exist'] });
    expect(placeInstance(instance(''), links, [address(3, '10.0.1.2')]).problems).toEqual(['eth0 has no IPv4 address to send adverts from']);
    expect(placeInstance(instance('mcast_src_ip 10.0.0.7'), links, [address(2, '10.0.0.2')]).problems).toEqual(['mcast_src_ip 10.0.0.7 is not configured on this host']);
  });

  it('accepts a unicast_src_ip configured on any interface of the host', () => {
    const p = placeInstance(instance('unicast_src_ip 10.0.1.2\n  unicast_peer {\n    10.0.0.3\n  }'), links, [address(3, '10.0.1.2')]);
    expect(p).toMatchObject({ primary: '10.0.1.2', problems: [] });
  });
});
