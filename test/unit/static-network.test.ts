// StaticNetwork against a fake rtnetlink: what it asks the kernel at start, reload and stop, in
// which order, what counts as done, what it puts back, and that failures are logged, never thrown.
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { formatDiagnostic } from '../../src/config/ast.js';
import { loadConfigText } from '../../src/config/load.js';
import { staticEntriesOf, type StaticEntries } from '../../src/daemon/static-network-plan.js';
import { StaticNetwork, type RemovalEvents, type StaticNetworkLink } from '../../src/daemon/static-network.js';
import { NetlinkError } from '../../src/netlink/errors.js';
import type { AddressSpec, InterfaceAddress, Link, RouteAddMode, RouteSpec, RuleSpec } from '../../src/netlink/rtnetlink.js';

const EPERM = 1;
const ENOENT = 2;
const ESRCH = 3;
const EEXIST = 17;
const EADDRNOTAVAIL = 99;
const ENETDOWN = 100;

const link = (index: number, name: string, up = true): Link => ({ index, name, up, running: up, mtu: 1500, address: null, type: 1 });

/** Keeps what is "in the kernel" by a short text, and answers as the kernel does when it is already so. */
class FakeNetwork extends EventEmitter implements StaticNetworkLink {
  readonly calls: string[] = [];
  readonly present = new Set<string>();
  readonly refuse = new Set<string>();
  /** Keys whose link is down: adding them fails as the kernel does. */
  readonly down = new Set<string>();
  linkList: Link[] = [link(1, 'lo'), link(2, 'eth0'), link(3, 'eth1')];
  closed = false;

  async links(): Promise<Link[]> {
    return this.linkList;
  }
  async addAddress(spec: AddressSpec): Promise<void> {
    this.change('add', `address ${spec.address}/${spec.prefixLength} #${spec.ifindex}${spec.flags ? ` flags ${spec.flags}` : ''}${spec.label ? ` label ${spec.label}` : ''}`, `address ${spec.address}/${spec.prefixLength} #${spec.ifindex}`, EEXIST);
  }
  async removeAddress(spec: { ifindex: number; address: string; prefixLength: number }): Promise<void> {
    const key = `address ${spec.address}/${spec.prefixLength} #${spec.ifindex}`;
    this.change('remove', key, key, EADDRNOTAVAIL);
  }
  async addRoute(spec: RouteSpec, mode: RouteAddMode): Promise<void> {
    this.change('add', `route ${spec.destination}/${spec.prefixLength} ${mode}`, `route ${spec.destination}/${spec.prefixLength}`, EEXIST);
  }
  async removeRoute(spec: RouteSpec): Promise<void> {
    const key = `route ${spec.destination}/${spec.prefixLength}`;
    this.change('remove', key, key, ESRCH);
  }
  async addRule(spec: RuleSpec): Promise<void> {
    this.change('add', `rule ${spec.preference}`, `rule ${spec.preference}`, EEXIST);
  }
  async removeRule(spec: RuleSpec): Promise<void> {
    this.change('remove', `rule ${spec.preference}`, `rule ${spec.preference}`, ENOENT);
  }
  close(): void {
    this.closed = true;
  }
  private change(operation: 'add' | 'remove', call: string, key: string, already: number): void {
    this.calls.push(`${operation} ${call}`);
    if (this.refuse.has(key)) throw new NetlinkError(EPERM);
    if (operation === 'add' && this.down.has(key)) throw new NetlinkError(ENETDOWN);
    if (operation === 'add' ? this.present.has(key) : !this.present.has(key)) throw new NetlinkError(already);
    if (operation === 'add') this.present.add(key);
    else this.present.delete(key);
  }
  take(): string[] {
    return this.calls.splice(0);
  }
}

class FakeRemovals extends EventEmitter implements RemovalEvents {
  opened = 0;
  closed = false;
  close(): void {
    this.closed = true;
  }
}

class FakeLog {
  readonly lines: Array<{ level: string; event: string; fields: Record<string, unknown> }> = [];
  info(fields: Record<string, unknown>): void {
    this.lines.push({ level: 'info', event: String(fields['event']), fields });
  }
  warn(fields: Record<string, unknown>): void {
    this.lines.push({ level: 'warn', event: String(fields['event']), fields });
  }
  events(): string[] {
    return this.lines.splice(0).map((l) => l.event);
  }
}

function entries(addresses: string, routes = '', rules = ''): StaticEntries {
  const text = `static_ipaddress {\n${addresses}\n}\nstatic_routes {\n${routes}\n}\nstatic_rules {\n${rules}\n}\n`;
  const { config, diagnostics } = loadConfigText(text, 's.conf', { configId: 'lb1' });
  if (!config) throw new Error(diagnostics.map(formatDiagnostic).join('\n'));
  return staticEntriesOf(config);
}

function setup() {
  const network = new FakeNetwork();
  const log = new FakeLog();
  const removals = new FakeRemovals();
  let opened = 0;
  const statics = new StaticNetwork({
    log: log as never,
    openNetwork: () => {
      opened++;
      return network;
    },
    openRemovals: () => {
      removals.opened++;
      return removals;
    },
  });
  return { network, log, statics, removals, opened: () => opened };
}

const removed = (address: string, prefixLength: number, ifindex: number): { action: 'remove'; address: InterfaceAddress } => ({
  action: 'remove',
  address: { family: address.includes(':') ? 'inet6' : 'inet', ifindex, address, local: address, prefixLength } as InterfaceAddress,
});

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

const full = () =>
  entries(
    '  192.0.2.1/32 dev lo\n  2001:db8::1/64 dev eth1\n  192.0.2.2/24 dev eth1 label eth1:s',
    '  198.51.100.0/24 via 10.0.0.254 dev eth1 table 100\n  blackhole 192.0.2.0/24 append',
    '  from 10.1.0.0/16 table 100 preference 100\n  to 10.2.0.0/16 prohibit preference 101',
  );

describe('StaticNetwork', () => {
  it('adds addresses, then routes, then rules at start, and removes rules, routes, then addresses at stop', async () => {
    const { network, statics, log } = setup();
    expect(await statics.apply(full(), 'start')).toEqual([]);
    expect(network.take()).toEqual([
      'add address 192.0.2.1/32 #1',
      'add address 2001:db8::1/64 #3 flags 2', // IPv6 without DAD, as keepalived adds them
      'add address 192.0.2.2/24 #3 label eth1:s',
      'add route 198.51.100.0/24 prepend',
      'add route 192.0.2.0/24 append',
      'add rule 100',
      'add rule 101',
    ]);
    expect(log.lines).toMatchObject([{ event: 'static-network-applied', fields: { phase: 'start', addresses: 3, routes: 2, rules: 2, removed: 0, added: 7, failed: 0 } }]);
    expect(await statics.stop()).toEqual([]);
    expect(network.take()).toEqual([
      'remove rule 101',
      'remove rule 100',
      'remove route 192.0.2.0/24',
      'remove route 198.51.100.0/24',
      'remove address 192.0.2.2/24 #3',
      'remove address 2001:db8::1/64 #3',
      'remove address 192.0.2.1/32 #1',
    ]);
    expect(network.present.size).toBe(0);
    expect(network.closed).toBe(true);
  });

  it('counts what is already there as added and what is already gone as removed', async () => {
    const { network, statics, log } = setup();
    network.present.add('address 192.0.2.1/32 #1').add('route 192.0.2.0/24').add('rule 101');
    expect(await statics.apply(full(), 'start')).toEqual([]);
    network.present.delete('route 198.51.100.0/24');
    network.present.delete('address 192.0.2.2/24 #3');
    expect(await statics.stop()).toEqual([]);
    expect(network.present.size).toBe(0);
    expect(log.events()).toEqual(['static-network-applied', 'static-network-removed']);
  });

  it('on reload removes the dropped lines first, then adds every line, so one that went missing comes back too', async () => {
    const { network, statics, log } = setup();
    await statics.apply(full(), 'start');
    network.take();
    log.events();
    network.present.delete('rule 100'); // deleted behind ipvsd's back
    const next = entries(
      '  192.0.2.1/32 dev lo\n  192.0.2.3/32 dev lo',
      '  blackhole 192.0.2.0/24 append',
      '  from 10.1.0.0/16 table 100 preference 100\n  to 10.2.0.0/16 prohibit preference 101',
    );
    expect(await statics.apply(next, 'reload')).toEqual([]);
    expect(network.take()).toEqual([
      'remove route 198.51.100.0/24',
      'remove address 192.0.2.2/24 #3',
      'remove address 2001:db8::1/64 #3',
      'add address 192.0.2.1/32 #1',
      'add address 192.0.2.3/32 #1',
      'add route 192.0.2.0/24 append',
      'add rule 100',
      'add rule 101',
    ]);
    expect([...network.present].sort()).toEqual(['address 192.0.2.1/32 #1', 'address 192.0.2.3/32 #1', 'route 192.0.2.0/24', 'rule 100', 'rule 101']);
    expect(log.lines).toMatchObject([{ event: 'static-network-applied', fields: { phase: 'reload', removed: 3, added: 1 } }]);
  });

  it('logs each failure with its event name and goes on with the rest', async () => {
    const { network, statics, log } = setup();
    network.refuse.add('address 192.0.2.1/32 #1').add('route 198.51.100.0/24').add('rule 100');
    const failures = await statics.apply(full(), 'start');
    expect(failures).toEqual([
      { kind: 'address', line: '192.0.2.1/32 dev lo', operation: 'add', message: expect.stringContaining('EPERM') },
      { kind: 'route', line: '198.51.100.0/24 via 10.0.0.254 dev eth1 table 100', operation: 'add', message: expect.stringContaining('EPERM') },
      { kind: 'rule', line: 'from 10.1.0.0/16 table 100 preference 100', operation: 'add', message: expect.stringContaining('EPERM') },
    ]);
    expect(network.present.size).toBe(4);
    expect(log.lines.map((l) => [l.level, l.event])).toEqual([
      ['warn', 'static-address-failed'],
      ['warn', 'static-route-failed'],
      ['warn', 'static-rule-failed'],
      ['info', 'static-network-applied'],
    ]);
    expect(log.lines[0]!.fields).toMatchObject({ operation: 'add', line: '192.0.2.1/32 dev lo' });
  });

  it('reports a missing interface as a failure of that line only', async () => {
    const { network, statics } = setup();
    const failures = await statics.apply(entries('  192.0.2.1/32 dev eth9\n  192.0.2.2/32 dev lo', '  198.51.100.0/24 dev eth9'), 'start');
    expect(failures.map((f) => [f.kind, f.message])).toEqual([
      ['address', 'interface eth9 does not exist'],
      ['route', 'interface eth9 does not exist'],
    ]);
    expect([...network.present]).toEqual(['address 192.0.2.2/32 #1']);
    // At stop, what sat on an interface that is not there went with it: nothing to ask.
    expect(await statics.stop()).toEqual([]);
    expect(network.present.size).toBe(0);
  });

  it('puts back an address deleted behind its back, unless no_track, and not one a reload dropped', async () => {
    const { network, statics, log } = setup();
    await statics.apply(entries('  192.0.2.1/32 dev lo\n  192.0.2.2/32 dev lo no_track\n  2001:db8::1/64 dev eth1'), 'start');
    log.events();
    network.take();
    for (const [address, length, ifindex] of [['192.0.2.1', 32, 1], ['192.0.2.2', 32, 1], ['2001:db8:0::1', 64, 3]] as const) {
      network.present.delete(`address ${address.replace(':0:', ':')}/${length} #${ifindex}`);
      network.emit('address', removed(address, length, ifindex));
    }
    network.emit('address', removed('192.0.2.9', 32, 1)); // not ours
    await settle();
    expect(network.take()).toEqual(['add address 192.0.2.1/32 #1', 'add address 2001:db8::1/64 #3 flags 2']);
    expect(statics.restored).toBe(2);
    expect(log.events()).toEqual(['static-address-restored', 'static-address-restored']);

    await statics.apply(entries('  2001:db8::1/64 dev eth1'), 'reload');
    network.take();
    network.emit('address', removed('192.0.2.1', 32, 1));
    await settle();
    expect(network.take()).toEqual([]);
    await statics.stop();
    network.take();
    network.emit('address', removed('2001:db8::1', 64, 3));
    await settle();
    expect(network.take()).toEqual([]);
  });

  it('puts back a route or rule deleted behind its back, unless no_track', async () => {
    const { network, statics, log, removals } = setup();
    await statics.apply(
      entries('', '  198.51.100.0/24 via 10.0.0.254 dev eth1 table 100\n  2001:db8:1::/64 dev eth1\n  192.0.2.0/24 dev eth1 no_track', '  from 10.1.0.0/16 table 100 preference 100\n  to 10.2.0.0/16 prohibit preference 101 no_track'),
      'start',
    );
    expect(removals.opened).toBe(1);
    network.take();
    log.events();
    network.present.delete('route 198.51.100.0/24');
    network.present.delete('route 2001:db8:1::/64');
    network.present.delete('route 192.0.2.0/24');
    network.present.delete('rule 100');
    network.present.delete('rule 101');
    removals.emit('route', { family: 'inet', destination: '198.51.100.0', prefixLength: 24, table: 100, protocol: 18 });
    removals.emit('route', { family: 'inet6', destination: '2001:db8:1::', prefixLength: 64, table: 254, protocol: 18 });
    removals.emit('route', { family: 'inet', destination: '192.0.2.0', prefixLength: 24, table: 254, protocol: 18 }); // no_track
    removals.emit('route', { family: 'inet', destination: '198.51.100.0', prefixLength: 24, table: 100, protocol: 4 }); // someone else's
    removals.emit('rule', { family: 'inet', preference: 100, table: 100, protocol: 18 });
    removals.emit('rule', { family: 'inet', preference: 101, table: 0, protocol: 18 }); // no_track
    removals.emit('rule', { family: 'inet6', preference: 100, table: 100, protocol: 18 }); // other family
    await settle();
    expect(network.take()).toEqual(['add route 198.51.100.0/24 prepend', 'add route 2001:db8:1::/64 prepend', 'add rule 100']);
    expect(log.events()).toEqual(['static-route-restored', 'static-route-restored', 'static-rule-restored']);
    // The kernel dropped it with its link going down: the link's return puts it back, nothing to report now.
    network.present.delete('route 2001:db8:1::/64');
    network.down.add('route 2001:db8:1::/64');
    removals.emit('route', { family: 'inet6', destination: '2001:db8:1::', prefixLength: 64, table: 254, protocol: 18 });
    await settle();
    expect(network.take()).toEqual(['add route 2001:db8:1::/64 prepend']);
    expect(log.events()).toEqual([]);
    network.down.clear();
    network.present.add('route 2001:db8:1::/64');
    // A deletion whose entry is already back again (a reload that changed the line) is not news.
    removals.emit('route', { family: 'inet', destination: '198.51.100.0', prefixLength: 24, table: 100, protocol: 18 });
    await settle();
    expect(log.events()).toEqual([]);
    await statics.stop();
    expect(removals.closed).toBe(true);
    removals.emit('rule', { family: 'inet', preference: 100, table: 100, protocol: 18 });
    await settle();
    expect(network.present.size).toBe(0);
  });

  it('does not watch route and rule deletions when there are only addresses', async () => {
    const { statics, removals } = setup();
    await statics.apply(entries('  192.0.2.1/32 dev lo'), 'start');
    expect(removals.opened).toBe(0);
  });

  it('puts back the addresses and routes of an interface that comes back up', async () => {
    const { network, statics, log } = setup();
    await statics.apply(entries('  192.0.2.1/24 dev eth1\n  192.0.2.5/32 dev lo', '  198.51.100.0/24 via 192.0.2.254 dev eth1\n  198.51.101.0/24 dev lo', '  iif eth1 table 100 preference 7'), 'start');
    network.take();
    log.events();
    network.emit('link', { action: 'add', link: link(3, 'eth1', false) });
    await settle();
    expect(network.take()).toEqual([]);
    // The kernel dropped the route with the link; the interface was recreated and its address went too.
    network.present.delete('route 198.51.100.0/24');
    network.present.delete('address 192.0.2.1/24 #3');
    network.emit('link', { action: 'remove', link: link(3, 'eth1', false) });
    network.emit('link', { action: 'add', link: link(7, 'eth1', true) });
    await settle();
    expect(network.take()).toEqual(['add address 192.0.2.1/24 #7', 'add route 198.51.100.0/24 prepend']);
    expect(log.events()).toEqual(['static-network-interface-up']);
    network.emit('link', { action: 'add', link: link(7, 'eth1', true) }); // a change that is not "came up"
    await settle();
    expect(network.take()).toEqual([]);
  });

  it('re-reads the links and puts back what is missing when events were lost', async () => {
    const { network, statics } = setup();
    await statics.apply(entries('  192.0.2.1/32 dev eth2', '  198.51.100.0/24 dev eth2'), 'start');
    expect(network.present.size).toBe(0);
    network.take();
    network.linkList = [...network.linkList, link(4, 'eth2')];
    network.emit('error', new Error('overrun'));
    await settle();
    expect(network.take()).toEqual(['add address 192.0.2.1/32 #4', 'add route 198.51.100.0/24 prepend']);
  });

  it('opens rtnetlink only once there is something to apply, and a failure to open is logged, not thrown', async () => {
    const { statics, opened } = setup();
    expect(await statics.apply(entries(''), 'start')).toEqual([]);
    expect(opened()).toBe(0);
    expect(await statics.stop()).toEqual([]);

    const log = new FakeLog();
    const broken = new StaticNetwork({
      log: log as never,
      openNetwork: () => {
        throw new Error('Operation not permitted');
      },
    });
    expect(await broken.apply(entries('  192.0.2.1/32 dev lo'), 'start')).toEqual([]);
    expect(log.lines).toMatchObject([{ level: 'warn', event: 'static-network-failed', fields: { error: 'Operation not permitted' } }]);
  });

  it('removes everything a reload to an empty file dropped', async () => {
    const { network, statics, opened } = setup();
    await statics.apply(full(), 'start');
    await statics.apply(entries(''), 'reload');
    expect(network.present.size).toBe(0);
    expect(opened()).toBe(1);
  });
});
