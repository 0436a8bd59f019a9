// Runs inside the UML guest (a throwaway kernel): routes and policy rules added and removed through
// RouteNetlink, checked with `ip`, and the kernel's answers the VRRP side relies on to be idempotent
// (EEXIST on a second add, ESRCH / ENOENT on a second remove, a delete that spares another protocol's route).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NetlinkError } from '../../src/netlink/errors.js';
import { FR_ACT_BLACKHOLE, FR_ACT_TO_TBL, RTN_BLACKHOLE, RTN_UNICAST } from '../../src/netlink/route-constants.js';
import { RouteNetlink, type RouteSpec, type RuleSpec } from '../../src/netlink/rtnetlink.js';
import { assertInGuest, run } from '../lab/netns.js';

const LINK = 'ipvsdrt0';
let rtnl: RouteNetlink;
let ifindex: number;

const code = (p: Promise<unknown>) => p.then(() => 'ok', (err: unknown) => (err instanceof NetlinkError ? err.code : String(err)));

beforeAll(async () => {
  assertInGuest();
  run(['ip', 'link', 'add', LINK, 'type', 'dummy']);
  run(['ip', 'link', 'set', LINK, 'up']);
  run(['ip', 'addr', 'add', '10.77.0.1/24', 'dev', LINK]);
  run(['ip', '-6', 'addr', 'add', '2001:db8:77::1/64', 'dev', LINK, 'nodad']);
  rtnl = RouteNetlink.open();
  ifindex = (await rtnl.link(LINK))!.index;
});

afterAll(() => {
  rtnl?.close();
  run(['ip', 'link', 'del', LINK]);
  run(['ip', 'route', 'flush', 'table', '177']);
  run(['ip', '-6', 'route', 'flush', 'table', '177']);
});

describe('routes and rules through RouteNetlink in a real kernel', () => {
  it('adds IPv4 and IPv6 routes that ip shows as keepalived\'s, and removes them once', async () => {
    const via: RouteSpec = { family: 'inet', destination: '198.51.100.0', prefixLength: 24, table: 177, protocol: 18, scope: 0, type: RTN_UNICAST, gateway: '10.77.0.254', ifindex, metric: 5 };
    const hole: RouteSpec = { family: 'inet', destination: '192.0.2.0', prefixLength: 24, table: 177, protocol: 18, scope: 0, type: RTN_BLACKHOLE };
    const v6: RouteSpec = { family: 'inet6', destination: '2001:db8:1::', prefixLength: 64, table: 177, protocol: 18, scope: 0, type: RTN_UNICAST, gateway: '2001:db8:77::fe', ifindex };
    for (const spec of [via, hole, v6]) await rtnl.addRoute(spec);
    expect(run(['ip', 'route', 'show', 'table', '177'])).toBe(
      'blackhole 192.0.2.0/24 proto keepalived \n198.51.100.0/24 via 10.77.0.254 dev ipvsdrt0 proto keepalived metric 5 \n',
    );
    expect(run(['ip', '-6', 'route', 'show', 'table', '177'])).toBe('2001:db8:1::/64 via 2001:db8:77::fe dev ipvsdrt0 proto keepalived metric 1024 pref medium\n');
    expect(await code(rtnl.addRoute(via, 'add'))).toBe('EEXIST');
    expect(await code(rtnl.addRoute(v6))).toBe('EEXIST');
    // A route another program installed the same way (here: protocol boot) is not ours to delete.
    expect(await code(rtnl.removeRoute({ ...via, protocol: 3 }))).toBe('ESRCH');
    for (const spec of [via, hole, v6]) {
      expect(await code(rtnl.removeRoute(spec))).toBe('ok');
      expect(await code(rtnl.removeRoute(spec))).toBe('ESRCH');
    }
    expect(run(['ip', 'route', 'show', 'table', 'all', 'proto', 'keepalived'])).toBe('');
  });

  it('adds rules that ip rule shows, and removes them once', async () => {
    const lookup: RuleSpec = { family: 'inet', from: { address: '10.1.0.0', prefixLength: 16 }, action: FR_ACT_TO_TBL, table: 1177, preference: 177, fwmark: 5, fwmask: 0xff, iif: LINK, protocol: 18 };
    const hole: RuleSpec = { family: 'inet6', to: { address: '2001:db8:9::', prefixLength: 48 }, invert: true, action: FR_ACT_BLACKHOLE, preference: 178 };
    await rtnl.addRule(lookup);
    await rtnl.addRule(hole);
    expect(run(['ip', 'rule', 'show', 'pref', '177'])).toBe('177:\tfrom 10.1.0.0/16 fwmark 0x5/0xff iif ipvsdrt0 lookup 1177 proto keepalived\n');
    expect(run(['ip', '-6', 'rule', 'show', 'pref', '178'])).toBe('178:\tnot from all to 2001:db8:9::/48 blackhole\n');
    expect(await code(rtnl.addRule(lookup))).toBe('EEXIST');
    for (const spec of [lookup, hole]) {
      expect(await code(rtnl.removeRule(spec))).toBe('ok');
      expect(await code(rtnl.removeRule(spec))).toBe('ENOENT');
    }
    expect(run(['ip', 'rule', 'show', 'pref', '177'])).toBe('');
  });
});
