// virtual_routes and virtual_rules as `ip route` / `ip rule` lines: values, keepalived's defaults,
// and a FILE:LINE:COL diagnostic at the word that is wrong.
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/ast.js';
import { loadConfigText } from '../../src/config/load.js';

function load(routes: string, rules = '', more = '') {
  const text = `vrrp_instance VI_1 {
  interface eth0
  virtual_router_id 51
  virtual_ipaddress {
    10.0.0.100/24
  }
  virtual_routes {
${routes}
  }
  virtual_rules {
${rules}
  }
}
${more}`;
  const { config, diagnostics } = loadConfigText(text, 'k.conf', { configId: 'lb1' });
  return { config, messages: diagnostics.map(formatDiagnostic) };
}

// Routes start on line 8 and rules on line 11 (with no routes); a line's words start at column 5.
const routesOf = (routes: string) => load(routes).config!.vrrpInstances[0]!.virtualRoutes;

describe('virtual_routes', () => {
  it('reads keepalived\'s sample lines with its defaults: main table, global scope, proto keepalived, prepend', () => {
    const [viaSrc, viaOnly, devOnly, blackhole, gwTable] = routesOf(`    src 192.168.100.1 192.168.109.0/24 via 192.168.200.254 dev eth1
    192.168.110.0/24 via 192.168.200.254
    192.168.111.0/24 dev eth2 no_track
    blackhole 192.168.113.1/32
    0.0.0.0/0 gw 192.168.0.1 table 100  # To set a default gateway into table 100.`);
    expect(viaSrc).toMatchObject({
      destination: '192.168.109.0/24', family: 'inet', address: '192.168.109.0', prefixLength: 24, type: 'unicast', gateway: '192.168.200.254',
      device: 'eth1', source: '192.168.100.1', table: 254, scope: 0, protocol: 18, metric: undefined, onlink: false, mode: 'prepend', pos: { line: 8, column: 5 },
    });
    expect(viaOnly).toMatchObject({ gateway: '192.168.200.254', device: undefined });
    expect(devOnly).toMatchObject({ device: 'eth2', gateway: undefined, scope: 0 });
    expect(blackhole).toMatchObject({ type: 'blackhole', address: '192.168.113.1', prefixLength: 32 });
    expect(gwTable).toMatchObject({ address: '0.0.0.0', prefixLength: 0, gateway: '192.168.0.1', table: 100 });
  });

  it('reads every option, names and numbers', () => {
    const [full, local, v6default, hexTos] = routesOf(`    to 198.51.100.0/24 via inet 10.0.0.254 dev eth0 table main metric 5 scope link protocol static tos 0x10 onlink append
    local 192.0.2.7 dev lo
    default inet6 via 2001:db8::1 metric 1024 add
    2001:DB8:1::/64 dev eth0 table 4000 proto 99 dsfield 8 preference 7`);
    expect(full).toMatchObject({ table: 254, metric: 5, scope: 253, protocol: 4, tos: 16, onlink: true, mode: 'append' });
    expect(local).toMatchObject({ type: 'local', table: 255, scope: 254, prefixLength: 32 });
    expect(v6default).toMatchObject({ family: 'inet6', address: '::', prefixLength: 0, gateway: '2001:db8::1', metric: 1024, mode: 'add' });
    expect(hexTos).toMatchObject({ family: 'inet6', address: '2001:db8:1::', table: 4000, protocol: 99, tos: 8, metric: 7 });
  });

  it('reads multipath routes: `nexthop` paths, and the deprecated `via A or B` with a warning', () => {
    const { config, messages } = load(`    198.51.100.0/24 table 100 nexthop via 10.0.0.252 dev eth0 weight 1 nexthop via inet 10.0.0.253 dev eth1 weight 256 onlink metric 7
    192.168.113.0/24 via 192.168.100.252 or 192.168.100.253 or 192.168.100.254 dev eth1 onlink
    2001:db8:5::/64 nexthop via 2001:db8::1 nexthop dev eth0`);
    const [paths, or, v6] = config!.vrrpInstances[0]!.virtualRoutes;
    expect(paths).toMatchObject({
      gateway: undefined, device: undefined, table: 100, metric: 7,
      nexthops: [{ gateway: '10.0.0.252', device: 'eth0', weight: 1, onlink: false }, { gateway: '10.0.0.253', device: 'eth1', weight: 256, onlink: true }],
    });
    expect(or).toMatchObject({
      gateway: undefined, device: undefined, onlink: false,
      nexthops: ['192.168.100.252', '192.168.100.253', '192.168.100.254'].map((gateway) => ({ gateway, device: 'eth1', weight: 1, onlink: true })),
    });
    expect(v6).toMatchObject({ family: 'inet6', nexthops: [{ gateway: '2001:db8::1', device: undefined }, { gateway: undefined, device: 'eth0' }] });
    expect(paths!.nexthops).toHaveLength(2);
    expect(messages).toEqual(['k.conf:9:42: warning: `or` is deprecated; keepalived reads `via A or B` as `nexthop via A nexthop via B`, so does ipvsd (write `nexthop`)']);
  });

  it.each([
    ['    198.51.100.0/24 via 10.0.0.254 bogus 5', 'k.conf:8:36: error: unknown route option `bogus` (via, gw, src,'],
    ['    198.51.100.0/24 via 2001:db8::1', 'k.conf:8:25: error: cannot mix IPv4 and IPv6 addresses in a route'],
    ['    blackhole 192.0.2.0/24 table nosuchtable', 'k.conf:8:34: error: unknown routing table `nosuchtable` (default, main, local, or a number)'],
    ['    198.51.100.1/24 dev eth0', 'k.conf:8:5: error: `198.51.100.1/24` has host bits set; the network is 198.51.100.0/24'],
    ['    2001:db8::1/32 dev eth0', 'k.conf:8:5: error: `2001:db8::1/32` has host bits set; the network is 2001:db8::/32'],
    ['    198.51.100.0/33 dev eth0', 'k.conf:8:5: error: `198.51.100.0/33` has a bad prefix length (0..32)'],
    ['    via 10.0.0.254 dev eth0', 'k.conf:8:5: error: a route needs a destination (ADDRESS/LEN or `default`)'],
    ['    198.51.100.0/24 metric', 'k.conf:8:21: error: `metric` needs a value'],
    ['    198.51.100.0/24 dev eth0 metric -1', 'k.conf:8:37: error: the metric must be a number from 0 to 4294967295, not `-1`'],
    ['    198.51.100.0/24 dev eth0 scope galaxy', 'k.conf:8:36: error: unknown scope `galaxy`'],
    ['    default inet6 via 10.0.0.254', 'k.conf:8:23: error: cannot mix IPv6 and IPv4 addresses in a route'],
    ['    198.51.100.0/24 to 198.51.101.0/24', 'k.conf:8:24: error: the route already has the destination `198.51.100.0/24`'],
    ['    198.51.100.0/24 or 10.0.0.253', 'k.conf:8:21: error: `or` gives another gateway, so it needs a `via` before it'],
    ['    198.51.100.0/24 via 10.0.0.252 nexthop via 10.0.0.253', 'k.conf:8:36: error: a route with `nexthop` takes its `via` and `dev` inside each `nexthop`'],
    ['    198.51.100.0/24 nexthop via 10.0.0.252 weight 0', 'k.conf:8:51: error: the weight must be from 1 to 256'],
    ['    198.51.100.0/24 nexthop via 2001:db8::1', 'k.conf:8:33: error: cannot mix IPv4 and IPv6 addresses in a route'],
    ['    198.51.100.0/24 via 10.0.0.1 or 2001:db8::1', 'k.conf:8:37: error: cannot mix IPv4 and IPv6 addresses in a route'],
    ['    198.51.100.0/24 198.51.101.0/24', 'k.conf:8:21: error: the route already has the destination `198.51.100.0/24`'],
  ])('%s', (line, message) => {
    const { config, messages } = load(line);
    expect(config).toBeUndefined();
    expect(messages.find((m) => m.includes('error'))).toContain(message);
  });
});

const rulesOf = (rules: string, more = '') => {
  const { config, messages } = load('', rules, more);
  return { rules: config!.vrrpInstances.flatMap((i) => i.virtualRules), messages };
};

describe('virtual_rules', () => {
  it('reads every option; a rule written without a preference gets keepalived\'s, 16384 down per family, with a warning', () => {
    const { rules, messages } = rulesOf(`    from 192.168.200.0/24 table 2
    to 192.168.200.0/24 table 2 no_track
    not from 10.1.0.0/16 to 10.2.0.0/16 lookup main preference 100 fwmark 0x10/0xff iif eth0 oif eth1 tos 16 protocol boot
    from 2001:db8:9::/48 table 100
    inet6 blackhole priority 5
    from all goto 32766 order 6
    fwmark 7 nop pref 8
    to 10.6.0.0/16 unreachable preference 9
    iif eth0 prohibit preference 10
    lookup main suppress_prefixlength 0 preference 11`);
    expect(rules[0]).toEqual({
      family: 'inet', from: { address: '192.168.200.0', prefixLength: 24 }, to: undefined, not: false, action: 'table', table: 2, goto: undefined, preference: 16384,
      fwmark: undefined, fwmask: undefined, iif: undefined, oif: undefined, tos: undefined, suppressPrefixLength: undefined, protocol: 18,
      words: ['from', '192.168.200.0/24', 'table', '2'], pos: { file: 'k.conf', line: 11, column: 5 },
    });
    expect(rules[1]).toMatchObject({ to: { address: '192.168.200.0', prefixLength: 24 }, preference: 16383 });
    expect(rules[2]).toMatchObject({ not: true, table: 254, preference: 100, fwmark: 16, fwmask: 255, iif: 'eth0', oif: 'eth1', tos: 16, protocol: 3 });
    expect(rules[3]).toMatchObject({ family: 'inet6', preference: 16384 });
    expect(rules.slice(4).map((r) => [r.family, r.action, r.preference, r.goto])).toEqual([
      ['inet6', 'blackhole', 5, undefined],
      ['inet', 'goto', 6, 32766],
      ['inet', 'nop', 8, undefined],
      ['inet', 'unreachable', 9, undefined],
      ['inet', 'prohibit', 10, undefined],
      ['inet', 'table', 11, undefined],
    ]);
    expect(rules[9]).toMatchObject({ suppressPrefixLength: 0, table: 254 });
    expect(messages).toEqual([
      'k.conf:11:5: warning: the rule has no `preference`; keepalived gives it 16384, so does ipvsd (rules are matched in preference order, so give one)',
      'k.conf:12:5: warning: the rule has no `preference`; keepalived gives it 16383, so does ipvsd (rules are matched in preference order, so give one)',
      'k.conf:14:5: warning: the rule has no `preference`; keepalived gives it 16384, so does ipvsd (rules are matched in preference order, so give one)',
    ]);
  });

  it('numbers preferences across instances', () => {
    const second = `vrrp_instance VI_2 {
  interface eth0
  virtual_router_id 52
  virtual_ipaddress {
    10.0.0.101/24
  }
  virtual_rules {
    from 10.9.0.0/16 table 9
  }
}`;
    const { rules } = rulesOf('    from 10.8.0.0/16 table 8', second);
    expect(rules.map((r) => r.preference)).toEqual([16384, 16383]);
  });

  it.each([
    ['    from 10.1.0.0/16', 'k.conf:11:5: error: a rule needs an action: `table ID`, `goto N`, `nop`, `blackhole`, `unreachable` or `prohibit`'],
    ['    from 10.3.0.0/16 priority 7 table 100 bogus', 'k.conf:11:43: error: unknown rule option `bogus`'],
    ['    from 10.3.0.0/16 to 2001:db8::/32 table 1 preference 1', 'k.conf:11:25: error: cannot mix IPv4 and IPv6 in a rule'],
    ['    inet6 from 10.3.0.0/16 table 1 preference 1', 'k.conf:11:5: error: cannot mix IPv4 and IPv6 in a rule'],
    ['    from 10.3.0.1/16 table 1 preference 1', 'k.conf:11:10: error: `10.3.0.1/16` has host bits set; the network is 10.3.0.0/16'],
    ['    from 10.3.0.0/16 table 1 blackhole preference 1', 'k.conf:11:30: error: the rule already has the action `table`'],
    ['    fwmark 5/zz table 1 preference 1', 'k.conf:11:12: error: the fwmark mask must be a number from 0 to 4294967295, not `zz`'],
    ['    from 10.3.0.0/16 table 1 preference', 'k.conf:11:30: error: `preference` needs a value'],
  ])('%s', (line, message) => {
    const { config, messages } = load('', line);
    expect(config).toBeUndefined();
    expect(messages.find((m) => m.includes('error'))).toContain(message);
  });

  it('rejects a `{ ... }` block as a line', () => {
    const { messages } = load('', '    from 10.3.0.0/16 {\n    }');
    expect(messages.some((m) => m.includes('error: a `virtual_rules` line does not take a `{ ... }` block'))).toBe(true);
  });
});
