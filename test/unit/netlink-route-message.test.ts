// Route and rule payloads against the bytes `ip route` / `ip rule` (iproute2 6.1) sent for the same
// request, recorded with `strace -e write=all` in a scratch network namespace (d0 is ifindex 3).
import { describe, expect, it } from 'vitest';
import { NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL } from '../../src/netlink/constants.js';
import { NetlinkError } from '../../src/netlink/errors.js';
import {
  FR_ACT_BLACKHOLE,
  FR_ACT_GOTO,
  FR_ACT_NOP,
  FR_ACT_PROHIBIT,
  FR_ACT_TO_TBL,
  FR_ACT_UNREACHABLE,
  RTN_BLACKHOLE,
  RTN_LOCAL,
  RTN_PROHIBIT,
  RTN_THROW,
  RTN_UNICAST,
  RTN_UNREACHABLE,
  RTNH_F_ONLINK,
} from '../../src/netlink/route-constants.js';
import { deleteRoutePayload, newRoutePayload, routeAddFlags, type RouteSpec } from '../../src/netlink/route-message.js';
import { deleteRulePayload, newRulePayload, type RuleSpec } from '../../src/netlink/rule-message.js';

const hex = (parts: Buffer[]): string => Buffer.concat(parts).toString('hex');

const viaGateway: RouteSpec = {
  family: 'inet', destination: '198.51.100.0', prefixLength: 24, table: 100, protocol: 18, scope: 0, type: RTN_UNICAST,
  gateway: '10.0.0.254', metric: 5, preferredSource: '10.0.0.1', ifindex: 3,
};

describe('routes, as ip route sends them', () => {
  it('add 198.51.100.0/24 via 10.0.0.254 dev d0 table 100 metric 5 src 10.0.0.1 proto 18', () => {
    expect(routeAddFlags('add')).toBe(NLM_F_CREATE | NLM_F_EXCL);
    expect(hex(newRoutePayload(viaGateway))).toBe(
      '02180000641200010000000008000100c6336400080005000a0000fe0800060005000000080007000a0000010800040003000000',
    );
  });

  it('del of the same route: scope nowhere, type unset, same attributes', () => {
    expect(hex(deleteRoutePayload(viaGateway))).toBe(
      '021800006412ff000000000008000100c6336400080005000a0000fe0800060005000000080007000a0000010800040003000000',
    );
  });

  it('append 198.51.101.0/24 dev d0 table 1000: a table above 255 goes in RTA_TABLE', () => {
    expect(routeAddFlags('append')).toBe(NLM_F_CREATE | NLM_F_APPEND);
    const spec: RouteSpec = { family: 'inet', destination: '198.51.101.0', prefixLength: 24, table: 1000, protocol: 3, scope: 253, type: RTN_UNICAST, ifindex: 3 };
    expect(hex(newRoutePayload(spec))).toBe('021800000003fd010000000008000100c633650008000f00e80300000800040003000000');
  });

  it('prepend 198.51.102.0/24 dev d0 (keepalived default)', () => {
    expect(routeAddFlags('prepend')).toBe(NLM_F_CREATE);
    const spec: RouteSpec = { family: 'inet', destination: '198.51.102.0', prefixLength: 24, table: 254, protocol: 3, scope: 253, type: RTN_UNICAST, ifindex: 3 };
    expect(hex(newRoutePayload(spec))).toBe('02180000fe03fd010000000008000100c63366000800040003000000');
  });

  it.each([
    ['blackhole 192.0.2.0/24 table 100 proto 18', { destination: '192.0.2.0', prefixLength: 24, protocol: 18, type: RTN_BLACKHOLE }, '02180000641200060000000008000100c0000200'],
    ['unreachable 192.0.2.128/25 table 100', { destination: '192.0.2.128', prefixLength: 25, protocol: 3, type: RTN_UNREACHABLE }, '02190000640300070000000008000100c0000280'],
    ['prohibit 192.0.2.64/26 table 100', { destination: '192.0.2.64', prefixLength: 26, protocol: 3, type: RTN_PROHIBIT }, '021a0000640300080000000008000100c0000240'],
    ['throw 192.0.3.0/24 table 100', { destination: '192.0.3.0', prefixLength: 24, protocol: 3, type: RTN_THROW }, '02180000640300090000000008000100c0000300'],
  ] as const)('%s', (_text, fields, expected) => {
    expect(hex(newRoutePayload({ family: 'inet', table: 100, scope: 0, ...fields }))).toBe(expected);
  });

  it('local 192.0.2.7 dev d0 table 100: scope host', () => {
    const spec: RouteSpec = { family: 'inet', destination: '192.0.2.7', prefixLength: 32, table: 100, protocol: 3, scope: 254, type: RTN_LOCAL, ifindex: 3 };
    expect(hex(newRoutePayload(spec))).toBe('022000006403fe020000000008000100c00002070800040003000000');
  });

  it('default via 10.0.0.254 table 101: no RTA_DST', () => {
    const spec: RouteSpec = { family: 'inet', destination: '0.0.0.0', prefixLength: 0, table: 101, protocol: 3, scope: 0, type: RTN_UNICAST, gateway: '10.0.0.254' };
    expect(hex(newRoutePayload(spec))).toBe('020000006503000100000000080005000a0000fe');
  });

  it('198.51.103.0/24 dev d0 scope host tos 0x10 onlink table 100', () => {
    const spec: RouteSpec = {
      family: 'inet', destination: '198.51.103.0', prefixLength: 24, table: 100, protocol: 3, scope: 254, type: RTN_UNICAST, tos: 0x10, flags: RTNH_F_ONLINK, ifindex: 3,
    };
    expect(hex(newRoutePayload(spec))).toBe('021800106403fe010400000008000100c63367000800040003000000');
  });

  it('-6 add 2001:db8:1::/64 via 2001:db8::1 dev d0 table 100 metric 1024', () => {
    const spec: RouteSpec = {
      family: 'inet6', destination: '2001:db8:1::', prefixLength: 64, table: 100, protocol: 3, scope: 0, type: RTN_UNICAST, gateway: '2001:db8::1', metric: 1024, ifindex: 3,
    };
    expect(hex(newRoutePayload(spec))).toBe(
      '0a40000064030001000000001400010020010db80001000000000000000000001400050020010db800000000000000000000000108000600000400000800040003000000',
    );
  });

  it('del blackhole 192.0.2.0/24 table 100 proto 18 keeps the type', () => {
    const spec: RouteSpec = { family: 'inet', destination: '192.0.2.0', prefixLength: 24, table: 100, protocol: 18, scope: 0, type: RTN_BLACKHOLE };
    expect(hex(deleteRoutePayload(spec))).toBe('021800006412ff060000000008000100c0000200');
  });

  it('add 198.51.130.0/24 table 100 nexthop via 10.0.0.252 dev d0 weight 1 nexthop via 10.0.0.253 dev d0 weight 2 onlink', () => {
    const spec: RouteSpec = {
      family: 'inet', destination: '198.51.130.0', prefixLength: 24, table: 100, protocol: 3, scope: 0, type: RTN_UNICAST,
      nexthops: [{ gateway: '10.0.0.252', ifindex: 3, weight: 1 }, { gateway: '10.0.0.253', ifindex: 3, weight: 2, flags: RTNH_F_ONLINK }],
    };
    expect(hex(newRoutePayload(spec))).toBe('02180000640300010000000008000100c6338200240009001000000003000000080005000a0000fc1000040103000000080005000a0000fd');
  });

  it('add 198.51.131.0/24 table 100 proto 18 metric 9 nexthop via 10.0.0.252 nexthop via 10.0.0.253', () => {
    const spec: RouteSpec = {
      family: 'inet', destination: '198.51.131.0', prefixLength: 24, table: 100, protocol: 18, scope: 0, type: RTN_UNICAST, metric: 9,
      nexthops: [{ gateway: '10.0.0.252' }, { gateway: '10.0.0.253' }],
    };
    expect(hex(newRoutePayload(spec))).toBe('02180000641200010000000008000100c63383000800060009000000240009001000000000000000080005000a0000fc1000000000000000080005000a0000fd');
  });

  it('-6 add 2001:db8:131::/64 table 100 nexthop via 2001:db8::252 dev d0 nexthop via 2001:db8::253 dev d0', () => {
    const spec: RouteSpec = {
      family: 'inet6', destination: '2001:db8:131::', prefixLength: 64, table: 100, protocol: 3, scope: 0, type: RTN_UNICAST,
      nexthops: [{ gateway: '2001:db8::252', ifindex: 3 }, { gateway: '2001:db8::253', ifindex: 3 }],
    };
    expect(hex(newRoutePayload(spec))).toBe(
      '0a40000064030001000000001400010020010db80131000000000000000000003c0009001c000000030000001400050020010db80000000000000000000002521c000000030000001400050020010db8000000000000000000000253',
    );
    expect(() => newRoutePayload({ ...spec, nexthops: [{ gateway: '2001:db8::252', weight: 257 }] })).toThrow(/outside 1..256/);
  });

  it('refuses a gateway of the other family and a prefix too long', () => {
    expect(() => newRoutePayload({ ...viaGateway, gateway: '2001:db8::1' })).toThrow(NetlinkError);
    expect(() => newRoutePayload({ ...viaGateway, prefixLength: 33 })).toThrow(/outside 0..32/);
  });
});

const fullRule: RuleSpec = {
  family: 'inet', from: { address: '10.1.0.0', prefixLength: 16 }, to: { address: '10.2.0.0', prefixLength: 16 }, action: FR_ACT_TO_TBL, table: 100,
  preference: 100, fwmark: 5, fwmask: 0xff, iif: 'd0', oif: 'd1', protocol: 18,
};

describe('rules, as ip rule sends them', () => {
  it('add from 10.1.0.0/16 to 10.2.0.0/16 table 100 priority 100 fwmark 5/0xff iif d0 oif d1 protocol 18', () => {
    expect(hex(newRulePayload(fullRule))).toBe(
      '021010006400000100000000080002000a010000080001000a020000080006006400000008000a000500000008001000ff000000070003006430000007001100643100000500150012000000',
    );
  });

  it('del of the same rule: the lookup action is left unset', () => {
    expect(hex(deleteRulePayload(fullRule))).toBe(
      '021010006400000000000000080002000a010000080001000a020000080006006400000008000a000500000008001000ff000000070003006430000007001100643100000500150012000000',
    );
  });

  it.each([
    ['blackhole from 10.3.0.0/16 priority 101', { from: { address: '10.3.0.0', prefixLength: 16 }, action: FR_ACT_BLACKHOLE, preference: 101 }, '020010000000000600000000080002000a0300000800060065000000'],
    ['unreachable to 10.6.0.0/16 pref 105', { to: { address: '10.6.0.0', prefixLength: 16 }, action: FR_ACT_UNREACHABLE, preference: 105 }, '021000000000000700000000080001000a0600000800060069000000'],
    ['prohibit pref 106 iif d0', { action: FR_ACT_PROHIBIT, preference: 106, iif: 'd0' }, '020000000000000800000000080006006a0000000700030064300000'],
    ['lookup main pref 103 fwmark 7', { action: FR_ACT_TO_TBL, table: 254, preference: 103, fwmark: 7 }, '02000000fe00000100000000080006006700000008000a0007000000'],
    ['pref 104 goto 32766', { action: FR_ACT_GOTO, preference: 104, goto: 32766 }, '020000000000000200000000080006006800000008000400fe7f0000'],
    ['lookup main pref 108 suppress_prefixlength 0', { action: FR_ACT_TO_TBL, table: 254, preference: 108, suppressPrefixLength: 0 }, '02000000fe00000100000000080006006c00000008000e0000000000'],
    ['nop pref 109', { action: FR_ACT_NOP, preference: 109 }, '020000000000000300000000080006006d000000'],
    ['not to 10.4.0.0/16 table 1000 pref 102 tos 0x10', { invert: true, to: { address: '10.4.0.0', prefixLength: 16 }, action: FR_ACT_TO_TBL, table: 1000, preference: 102, tos: 0x10 }, '021000100000000102000000080001000a04000008000f00e80300000800060066000000'],
  ] as const)('add %s', (_text, fields, expected) => {
    expect(hex(newRulePayload({ family: 'inet', ...fields }))).toBe(expected);
  });

  it('-6 add to 2001:db8:7::/48 table 2000 pref 110 protocol 18', () => {
    const spec: RuleSpec = { family: 'inet6', to: { address: '2001:db8:7::', prefixLength: 48 }, action: FR_ACT_TO_TBL, table: 2000, preference: 110, protocol: 18 };
    expect(hex(newRulePayload(spec))).toBe('0a30000000000001000000001400010020010db800070000000000000000000008000f00d0070000080006006e0000000500150012000000');
  });

  it('del blackhole from 10.3.0.0/16 priority 101 keeps the action', () => {
    const spec: RuleSpec = { family: 'inet', from: { address: '10.3.0.0', prefixLength: 16 }, action: FR_ACT_BLACKHOLE, preference: 101 };
    expect(hex(deleteRulePayload(spec))).toBe('020010000000000600000000080002000a0300000800060065000000');
  });

  it('refuses a selector of the other family', () => {
    expect(() => newRulePayload({ ...fullRule, to: { address: '2001:db8::', prefixLength: 32 } })).toThrow(/not an IPv4 address/);
  });
});
