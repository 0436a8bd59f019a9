// virtual_routes / virtual_rules on an instance: what rtnetlink is asked, in which order, what
// counts as done, and (through the runtime with a fake host) that they follow MASTER.
import { afterEach, describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/ast.js';
import { loadConfigText } from '../../src/config/load.js';
import type { KeepalivedConfig, VrrpInstance } from '../../src/config/model.js';
import { NetlinkError } from '../../src/netlink/errors.js';
import type { RouteAddMode, RouteSpec, RuleSpec } from '../../src/netlink/rtnetlink.js';
import { routeSpec, ruleSpec, VirtualRoutes, type RouteTable } from '../../src/vrrp/routes.js';
import type { VrrpAdvertisement } from '../../src/vrrp/packet.js';
import { VrrpRuntime } from '../../src/vrrp/runtime.js';
import { FakeClock, FakeHost } from './vrrp-fakes.js';

const EEXIST = 17;
const ESRCH = 3;
const ENOENT = 2;
const EPERM = 1;

function conf(routes: string, rules: string): KeepalivedConfig {
  const text = `vrrp_instance VI_1 {
  state BACKUP
  interface eth0
  virtual_router_id 51
  priority 100
  advert_int 1
  garp_master_delay 0
  virtual_ipaddress {
    10.99.0.100/24
  }
  virtual_routes {
${routes}
  }
  virtual_rules {
${rules}
  }
}
`;
  const { config, diagnostics } = loadConfigText(text, 'k.conf', { configId: 'lb1' });
  if (!config) throw new Error(diagnostics.map(formatDiagnostic).join('\n'));
  return config;
}

const instanceOf = (routes: string, rules = ''): VrrpInstance => conf(routes, rules).vrrpInstances[0]!;

/** Records every call; keeps routes and rules by their text with the kernel's "already so" errors. */
class FakeRouteTable implements RouteTable {
  readonly calls: string[] = [];
  readonly present = new Set<string>();
  deny = false;
  async addRoute(spec: RouteSpec, mode: RouteAddMode): Promise<void> {
    this.change(`add route ${spec.destination}/${spec.prefixLength} table ${spec.table} ${mode}`, `route ${spec.destination}/${spec.prefixLength}`, true, EEXIST);
  }
  async removeRoute(spec: RouteSpec): Promise<void> {
    this.change(`remove route ${spec.destination}/${spec.prefixLength} table ${spec.table}`, `route ${spec.destination}/${spec.prefixLength}`, false, ESRCH);
  }
  async addRule(spec: RuleSpec): Promise<void> {
    this.change(`add rule ${spec.preference}`, `rule ${spec.preference}`, true, EEXIST);
  }
  async removeRule(spec: RuleSpec): Promise<void> {
    this.change(`remove rule ${spec.preference}`, `rule ${spec.preference}`, false, ENOENT);
  }
  private change(call: string, key: string, add: boolean, already: number): void {
    this.calls.push(call);
    if (this.deny) throw new NetlinkError(EPERM);
    if (add ? this.present.has(key) : !this.present.has(key)) throw new NetlinkError(already);
    if (add) this.present.add(key);
    else this.present.delete(key);
  }
}

const indexes: Record<string, number> = { eth0: 2, eth1: 3 };
const ifindexOf = (name: string): number | undefined => indexes[name];

describe('routeSpec and ruleSpec', () => {
  it('turn configuration lines into rtnetlink specs', () => {
    const inst = instanceOf(
      `    src 10.99.0.2 198.51.100.0/24 via 10.99.0.254 dev eth1 table 100 metric 5 tos 0x10 onlink
    blackhole 192.0.2.0/24 table 100
    default inet6 via 2001:db8::1`,
      `    not from 10.1.0.0/16 to 10.2.0.0/16 table 100 preference 10 fwmark 5/0xff iif eth0 oif eth1 tos 8 suppress_prefixlength 0
    goto 32766 preference 11`,
    );
    const [via, blackhole, v6] = inst.virtualRoutes.map((r) => routeSpec(r, ifindexOf));
    expect(via).toEqual({
      family: 'inet', destination: '198.51.100.0', prefixLength: 24, table: 100, protocol: 18, scope: 0, type: 1, tos: 16, flags: 4,
      gateway: '10.99.0.254', metric: 5, preferredSource: '10.99.0.2', ifindex: 3,
    });
    expect(blackhole).toEqual({ family: 'inet', destination: '192.0.2.0', prefixLength: 24, table: 100, protocol: 18, scope: 0, type: 6 });
    expect(v6).toEqual({ family: 'inet6', destination: '::', prefixLength: 0, table: 254, protocol: 18, scope: 0, type: 1, gateway: '2001:db8::1' });
    const [lookup, jump] = inst.virtualRules.map(ruleSpec);
    expect(lookup).toEqual({
      family: 'inet', action: 1, preference: 10, protocol: 18, from: { address: '10.1.0.0', prefixLength: 16 }, to: { address: '10.2.0.0', prefixLength: 16 },
      invert: true, table: 100, fwmark: 5, fwmask: 255, iif: 'eth0', oif: 'eth1', tos: 8, suppressPrefixLength: 0,
    });
    expect(jump).toEqual({ family: 'inet', action: 2, preference: 11, protocol: 18, goto: 32766 });
  });

  it('gives each path of a multipath route its gateway, device, weight and onlink', () => {
    const [paths] = instanceOf('    198.51.102.0/24 table 100 nexthop via 10.99.0.252 dev eth1 weight 2 onlink nexthop via 10.99.0.253').virtualRoutes;
    expect(routeSpec(paths!, ifindexOf)).toEqual({
      family: 'inet', destination: '198.51.102.0', prefixLength: 24, table: 100, protocol: 18, scope: 0, type: 1,
      nexthops: [{ gateway: '10.99.0.252', ifindex: 3, weight: 2, flags: 4 }, { gateway: '10.99.0.253', weight: 1 }],
    });
  });

  it('a device that is not there now is an error naming it', () => {
    const [route, path] = instanceOf('    198.51.100.0/24 dev eth7\n    198.51.101.0/24 nexthop via 10.99.0.252 dev eth8').virtualRoutes;
    expect(() => routeSpec(route!, ifindexOf)).toThrow('interface eth7 does not exist');
    expect(() => routeSpec(path!, ifindexOf)).toThrow('interface eth8 does not exist');
  });
});

describe('VirtualRoutes', () => {
  const inst = () => instanceOf('    198.51.100.0/24 via 10.99.0.254 table 100 append\n    198.51.101.0/24 dev eth0 table 100', '    from 10.1.0.0/16 table 100 preference 10\n    fwmark 7 table 100 preference 11');

  it('adds routes then rules, removes rules then routes, each in reverse', async () => {
    const table = new FakeRouteTable();
    const i = inst();
    const routes = new VirtualRoutes(i.virtualRoutes, i.virtualRules, table, ifindexOf);
    expect(await routes.add()).toEqual([]);
    expect(await routes.remove()).toEqual([]);
    expect(table.calls).toEqual([
      'add route 198.51.100.0/24 table 100 append',
      'add route 198.51.101.0/24 table 100 prepend',
      'add rule 10',
      'add rule 11',
      'remove rule 11',
      'remove rule 10',
      'remove route 198.51.101.0/24 table 100',
      'remove route 198.51.100.0/24 table 100',
    ]);
    expect(table.present.size).toBe(0);
  });

  it('is idempotent: EEXIST on add and ESRCH / ENOENT on remove are success', async () => {
    const table = new FakeRouteTable();
    table.present.add('route 198.51.100.0/24').add('rule 10'); // left by a crashed run
    const i = inst();
    const routes = new VirtualRoutes(i.virtualRoutes, i.virtualRules, table, ifindexOf);
    expect(await routes.add()).toEqual([]);
    expect(await routes.add()).toEqual([]);
    expect(table.present.size).toBe(4);
    expect(await routes.remove()).toEqual([]);
    expect(await routes.remove()).toEqual([]);
    expect(routes.failures).toEqual([]);
  });

  it('reports other refusals and carries on with the rest', async () => {
    const table = new FakeRouteTable();
    table.deny = true;
    const i = inst();
    const routes = new VirtualRoutes(i.virtualRoutes, i.virtualRules, table, ifindexOf);
    const failed = await routes.add();
    expect(failed).toHaveLength(4);
    expect(failed[0]).toEqual({ kind: 'route', line: '198.51.100.0/24 via 10.99.0.254 table 100 append', operation: 'add', message: 'Operation not permitted (EPERM)' });
    expect(failed[2]).toMatchObject({ kind: 'rule', line: 'from 10.1.0.0/16 table 100 preference 10', operation: 'add' });
    expect(routes.failures).toEqual(failed);
  });

  it('replace() while holding removes what is no longer configured and adds what is new; otherwise only swaps the lines', async () => {
    const table = new FakeRouteTable();
    const before = inst();
    const after = instanceOf('    198.51.101.0/24 dev eth0 table 100\n    198.51.102.0/24 dev eth0 table 100', '    fwmark 7 table 100 preference 11\n    from 10.5.0.0/16 table 100 preference 12');
    const routes = new VirtualRoutes(before.virtualRoutes, before.virtualRules, table, ifindexOf);
    expect(await routes.replace(after.virtualRoutes, after.virtualRules)).toEqual([]);
    expect(table.calls).toEqual([]);
    expect(await routes.replace(before.virtualRoutes, before.virtualRules)).toEqual([]);
    await routes.add();
    table.calls.length = 0;
    expect(await routes.replace(after.virtualRoutes, after.virtualRules)).toEqual([]);
    expect(table.calls).toEqual(['remove rule 10', 'remove route 198.51.100.0/24 table 100', 'add route 198.51.102.0/24 table 100 prepend', 'add rule 12']);
    expect([...table.present].sort()).toEqual(['route 198.51.101.0/24', 'route 198.51.102.0/24', 'rule 11', 'rule 12']);
    await routes.remove();
    expect(table.present.size).toBe(0);
  });

  it('runs changes in the order they were asked, one at a time', async () => {
    const table = new FakeRouteTable();
    const before = inst();
    const after = instanceOf('    198.51.109.0/24 dev eth0 table 100');
    const routes = new VirtualRoutes(before.virtualRoutes, before.virtualRules, table, ifindexOf);
    await Promise.all([routes.add(), routes.replace(after.virtualRoutes, after.virtualRules), routes.remove()]);
    expect(table.present.size).toBe(0);
    expect(table.calls.slice(4)).toEqual([
      'remove rule 11', 'remove rule 10', 'remove route 198.51.101.0/24 table 100', 'remove route 198.51.100.0/24 table 100',
      'add route 198.51.109.0/24 table 100 prepend', 'remove route 198.51.109.0/24 table 100',
    ]);
  });

  it('a missing device fails the add, and its route counts as removed (the kernel dropped it with the device)', async () => {
    const table = new FakeRouteTable();
    const i = instanceOf('    198.51.100.0/24 dev eth7');
    const routes = new VirtualRoutes(i.virtualRoutes, i.virtualRules, table, ifindexOf);
    expect(await routes.add()).toEqual([{ kind: 'route', line: '198.51.100.0/24 dev eth7', operation: 'add', message: 'interface eth7 does not exist' }]);
    expect(await routes.remove()).toEqual([]);
    expect(table.calls).toEqual([]);
  });
});

describe('VrrpRuntime with virtual_routes and virtual_rules', () => {
  let runtime: VrrpRuntime | undefined;
  afterEach(async () => {
    await runtime?.stop();
    runtime = undefined;
  });

  it('adds them on becoming MASTER, removes them on going BACKUP and on stop', async () => {
    const clock = new FakeClock();
    const host = new FakeHost(clock);
    host.createInterface('eth0', '10.99.0.2/24');
    host.routeTable.add('100/198.51.100.0/24'); // a crashed run's route: removed at start
    const config = conf('    198.51.100.0/24 via 10.99.0.254 dev eth0 table 100', '    from 10.1.0.0/16 table 100 preference 10');
    runtime = await VrrpRuntime.start(config, { clock, system: host });
    await clock.advance(0);
    expect(host.routeTable.size).toBe(0);

    await clock.advance(3000 + (156 * 1000) / 256); // Master_Down_Interval at priority 100
    expect(runtime.status()[0]!.state).toBe('master');
    expect([...host.routeTable]).toEqual(['100/198.51.100.0/24']);
    expect([...host.ruleTable]).toEqual([10]);

    const master: VrrpAdvertisement = { version: 2, vrid: 51, priority: 200, advertIntervalMs: 1000, addresses: ['10.99.0.100'], authType: 0, authData: new Uint8Array(8) };
    host.link('eth0').deliver(master, '10.99.0.3');
    await clock.advance(0);
    expect(runtime.status()[0]!.state).toBe('backup');
    expect(host.routeTable.size).toBe(0);
    expect(host.ruleTable.size).toBe(0);

    await clock.advance(4000);
    expect(runtime.status()[0]!.state).toBe('master');
    expect(host.routeTable.size).toBe(1);
    await runtime.stop();
    runtime = undefined;
    expect(host.routeTable.size).toBe(0);
    expect(host.ruleTable.size).toBe(0);
  });

  it('a reload while MASTER swaps the routes and rules that changed', async () => {
    const clock = new FakeClock();
    const host = new FakeHost(clock);
    host.createInterface('eth0', '10.99.0.2/24');
    runtime = await VrrpRuntime.start(conf('    198.51.100.0/24 dev eth0 table 100', '    from 10.1.0.0/16 table 100 preference 10'), { clock, system: host });
    await clock.advance(4000);
    expect(runtime.status()[0]!.state).toBe('master');
    await runtime.reload(conf('    198.51.100.0/24 dev eth0 table 100\n    198.51.101.0/24 dev eth0 table 101', '    from 10.2.0.0/16 table 100 preference 20'));
    await clock.advance(0);
    expect(runtime.status()[0]!.state).toBe('master');
    expect([...host.routeTable].sort()).toEqual(['100/198.51.100.0/24', '101/198.51.101.0/24']);
    expect([...host.ruleTable]).toEqual([20]);
    await runtime.stop();
    runtime = undefined;
    expect(host.routeTable.size + host.ruleTable.size).toBe(0);
  });
});
