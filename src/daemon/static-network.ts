// static_ipaddress, static_routes and static_rules over rtnetlink, as keepalived applies them:
// added at start whatever the VRRP state (addresses, then routes, then rules), a reload removes the
// lines the new file dropped and adds the rest, a stop removes them all (rules, routes, addresses),
// and an address deleted behind ipvsd's back, or the addresses and routes of an interface that comes
// back up, are put back unless `no_track`. A failure is logged, never fatal.
import type { Logger } from 'pino';
import type { IpAddressEntry, RouteEntry, RuleEntry } from '../config/model.js';
import { parseAddress } from '../netlink/address.js';
import { NetlinkError } from '../netlink/errors.js';
import { RouteRemovals, type RouteRemoval, type RuleRemoval } from '../netlink/route-removals.js';
import { RouteNetlink, type AddressEvent, type Link, type LinkEvent } from '../netlink/rtnetlink.js';
import { routeSpec, ruleSpec, VirtualRoutes, type RouteFailure } from '../vrrp/routes.js';
import type { VrrpNetwork } from '../vrrp/runtime.js';
import { virtualAddress, type AddressTable, type VirtualAddress } from '../vrrp/vips.js';
import {
  addressLine,
  entriesOnDevice,
  hasStaticEntries,
  noStaticEntries,
  staticChange,
  type StaticEntries,
} from './static-network-plan.js';

const IFA_F_NODAD = 0x02;

/** The rtnetlink side: RouteNetlink, or a fake in tests; VRRP's, less the address dump. */
export type StaticNetworkLink = Omit<VrrpNetwork, 'addresses'>;

/** Route and rule deletions: RouteRemovals, or a fake in tests. */
export interface RemovalEvents {
  on(event: 'route', listener: (removal: RouteRemoval) => void): unknown;
  on(event: 'rule', listener: (removal: RuleRemoval) => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  close(): void;
}

export type StaticNetworkLog = Pick<Logger, 'info' | 'warn'>;

/** One failed add or remove. */
export interface StaticFailure {
  kind: 'address' | 'route' | 'rule';
  /** The configuration line. */
  line: string;
  operation: 'add' | 'remove';
  message: string;
}

export class StaticDeviceError extends Error {
  readonly code = 'ESTATICDEVICE';
}

export interface StaticNetworkOptions {
  log: StaticNetworkLog;
  openNetwork?: () => StaticNetworkLink;
  openRemovals?: () => RemovalEvents;
}

const openRouteNetlink = (): StaticNetworkLink => RouteNetlink.open({ events: ['link', 'ipv4-address', 'ipv6-address'] });

export class StaticNetwork {
  private entries: StaticEntries = noStaticEntries;
  private network: StaticNetworkLink | undefined;
  /** Opened once there is a route or rule to watch. */
  private removals: RemovalEvents | undefined;
  private readonly interfaces = new Map<string, Link>();
  /** Between the first apply() and stop(): the entries should be in the kernel. */
  private running = false;
  // One change at a time: an event's restore must not interleave with a reload or the stop.
  private queue: Promise<unknown> = Promise.resolve();
  /** How many entries deleted behind ipvsd's back were put back. */
  restored = 0;

  constructor(private readonly options: StaticNetworkOptions) {}

  /**
   * At start and on every reload: removes what the previous call had and `entries` has not, then adds
   * every entry (one already there counts as added, so a reload also puts back what went missing).
   * Opens rtnetlink on the first call with any entry; when it cannot, says so in the log and changes nothing.
   */
  apply(entries: StaticEntries, phase: 'start' | 'reload'): Promise<StaticFailure[]> {
    return this.serially(async () => {
      if (!this.network && !hasStaticEntries(entries) && !hasStaticEntries(this.entries)) return [];
      let network: StaticNetworkLink;
      try {
        network = await this.open();
      } catch (err) {
        return this.unavailable(err);
      }
      const { removed, added } = staticChange(this.entries, entries);
      // The new entries first, so the remove events of the lines dropped here match nothing to restore.
      this.entries = entries;
      this.running = true;
      if (entries.routes.length + entries.rules.length > 0) this.watchRemovals();
      const failed = [...(await this.remove(network, removed)), ...(await this.add(network, entries))];
      this.options.log.info(
        {
          event: 'static-network-applied',
          phase,
          addresses: entries.addresses.length,
          routes: entries.routes.length,
          rules: entries.rules.length,
          removed: removed.addresses.length + removed.routes.length + removed.rules.length,
          added: added.addresses.length + added.routes.length + added.rules.length,
          failed: failed.length,
        },
        `static addresses, routes and rules ${phase === 'start' ? 'added' : 'reloaded'}`,
      );
      return failed;
    });
  }

  /** Removes every entry (rules, routes, then addresses) and closes rtnetlink. */
  stop(): Promise<StaticFailure[]> {
    return this.serially(async () => {
      this.running = false;
      const network = this.network;
      if (!network) return [];
      const failed = await this.remove(network, this.entries);
      if (hasStaticEntries(this.entries)) {
        this.options.log.info({ event: 'static-network-removed', failed: failed.length }, 'static addresses, routes and rules removed');
      }
      network.close();
      this.network = undefined;
      this.removals?.close();
      this.removals = undefined;
      return failed;
    });
  }

  private async open(): Promise<StaticNetworkLink> {
    if (this.network) return this.network;
    const network = (this.options.openNetwork ?? openRouteNetlink)();
    try {
      this.readLinks(await network.links());
    } catch (err) {
      network.close();
      throw err;
    }
    network.on('address', (event) => this.inBackground(() => this.addressChanged(event)));
    network.on('link', (event) => this.inBackground(() => this.linkChanged(event)));
    // Events were lost (socket overrun): re-read the links and put back whatever is missing.
    network.on('error', () => this.inBackground(() => this.resync()));
    this.network = network;
    return network;
  }

  private watchRemovals(): void {
    if (this.removals) return;
    try {
      this.removals = (this.options.openRemovals ?? RouteRemovals.open)();
    } catch (err) {
      this.unavailable(err);
      return;
    }
    this.removals.on('route', (removal) => this.inBackground(() => this.routeRemoved(removal)));
    this.removals.on('rule', (removal) => this.inBackground(() => this.ruleRemoved(removal)));
    this.removals.on('error', () => this.inBackground(() => this.resync()));
  }

  private readLinks(links: readonly Link[]): void {
    this.interfaces.clear();
    for (const link of links) this.interfaces.set(link.name, link);
  }

  private readonly ifindexOf = (name: string): number | undefined => this.interfaces.get(name)?.index;

  private async add(network: StaticNetworkLink, entries: StaticEntries): Promise<StaticFailure[]> {
    const failed: StaticFailure[] = [];
    for (const entry of entries.addresses) {
      const failure = await this.addAddress(network, entry);
      if (failure !== undefined && failure !== 'present') failed.push(failure);
    }
    const routes = new VirtualRoutes(entries.routes, entries.rules, network, this.ifindexOf);
    failed.push(...(await routes.add()).map(routeFailure));
    this.report(failed);
    return failed;
  }

  private async remove(network: StaticNetworkLink, entries: StaticEntries): Promise<StaticFailure[]> {
    const routes = new VirtualRoutes(entries.routes, entries.rules, network, this.ifindexOf);
    const failed = (await routes.remove()).map(routeFailure);
    for (const entry of [...entries.addresses].reverse()) {
      const ifindex = entry.device === undefined ? undefined : this.ifindexOf(entry.device);
      if (ifindex === undefined) continue; // the interface is gone, and its addresses with it
      try {
        await network.removeAddress({ ifindex, address: entry.address, prefixLength: entry.prefixLength });
      } catch (err) {
        if (err instanceof NetlinkError && err.code === 'EADDRNOTAVAIL') continue;
        failed.push({ kind: 'address', line: addressLine(entry), operation: 'remove', message: (err as Error).message });
      }
    }
    this.report(failed);
    return failed;
  }

  /** undefined: added; 'present': it was already there. */
  private async addAddress(network: AddressTable, entry: IpAddressEntry): Promise<StaticFailure | 'present' | undefined> {
    try {
      const { device: _device, track: _track, ...spec } = this.resolve(entry);
      // keepalived adds its IPv6 addresses without duplicate address detection, so they are usable at once.
      if (entry.family === 'inet6') spec.flags = (spec.flags ?? 0) | IFA_F_NODAD;
      await network.addAddress(spec);
      return undefined;
    } catch (err) {
      if (err instanceof NetlinkError && err.code === 'EEXIST') return 'present';
      return { kind: 'address', line: addressLine(entry), operation: 'add', message: (err as Error).message };
    }
  }

  private resolve(entry: IpAddressEntry): VirtualAddress {
    const device = entry.device ?? '';
    return virtualAddress(entry, device, (name) => {
      const ifindex = this.ifindexOf(name);
      if (ifindex === undefined) throw new StaticDeviceError(`interface ${name} does not exist`);
      return ifindex;
    });
  }

  private report(failures: readonly StaticFailure[]): void {
    for (const f of failures) {
      this.options.log.warn({ event: `static-${f.kind}-failed`, operation: f.operation, line: f.line, error: f.message }, `could not ${f.operation} static ${f.kind} "${f.line}": ${f.message}`);
    }
  }

  private async addressChanged(event: AddressEvent): Promise<StaticFailure[]> {
    const network = this.network;
    if (!network || !this.running || event.action !== 'remove') return [];
    const removed = event.address.local ?? event.address.address;
    const entry = this.entries.addresses.find(
      (a) =>
        !a.options.includes('no_track') &&
        a.device !== undefined &&
        this.ifindexOf(a.device) === event.address.ifindex &&
        a.prefixLength === event.address.prefixLength &&
        sameAddress(a.address, removed),
    );
    if (!entry) return [];
    const failure = await this.addAddress(network, entry);
    if (failure === undefined) {
      this.restored++;
      this.options.log.info({ event: 'static-address-restored', line: addressLine(entry) }, `put back static address ${addressLine(entry)}, deleted behind ipvsd's back`);
      return [];
    }
    if (failure === 'present') return [];
    this.report([failure]);
    return [failure];
  }

  private async routeRemoved(removal: RouteRemoval): Promise<StaticFailure[]> {
    const network = this.network;
    if (!network || !this.running) return [];
    const entry = this.entries.routes.find(
      (r) =>
        !r.words.includes('no_track') &&
        r.family === removal.family &&
        r.prefixLength === removal.prefixLength &&
        r.table === removal.table &&
        r.protocol === removal.protocol &&
        sameAddress(r.address, removal.destination),
    );
    if (!entry) return [];
    return this.restore('route', entry, () => network.addRoute(routeSpec(entry, this.ifindexOf), entry.mode));
  }

  private async ruleRemoved(removal: RuleRemoval): Promise<StaticFailure[]> {
    const network = this.network;
    if (!network || !this.running) return [];
    // A rule the kernel does not mark with its protocol (before Linux 4.17) is matched on the rest.
    const entry = this.entries.rules.find(
      (r) => !r.words.includes('no_track') && r.family === removal.family && r.preference === removal.preference && (removal.protocol === 0 || r.protocol === removal.protocol),
    );
    if (!entry) return [];
    return this.restore('rule', entry, () => network.addRule(ruleSpec(entry)));
  }

  /** Adds one route or rule deleted behind ipvsd's back; one already back (EEXIST) is not news. */
  private async restore(kind: 'route' | 'rule', entry: RouteEntry | RuleEntry, add: () => Promise<void>): Promise<StaticFailure[]> {
    const line = entry.words.join(' ');
    try {
      await add();
    } catch (err) {
      // EEXIST: already back. ENETDOWN: the kernel took it with its link, and the link's return puts it back.
      if (err instanceof NetlinkError && (err.code === 'EEXIST' || err.code === 'ENETDOWN')) return [];
      const failure: StaticFailure = { kind, line, operation: 'add', message: (err as Error).message };
      this.report([failure]);
      return [failure];
    }
    this.restored++;
    this.options.log.info({ event: `static-${kind}-restored`, line }, `put back static ${kind} "${line}", deleted behind ipvsd's back`);
    return [];
  }

  private async linkChanged(event: LinkEvent): Promise<StaticFailure[]> {
    const { link } = event;
    const before = [...this.interfaces.values()].find((l) => l.index === link.index);
    if (before) this.interfaces.delete(before.name);
    if (event.action === 'remove') return [];
    this.interfaces.set(link.name, link);
    const cameUp = link.up && !(before?.up && before.name === link.name);
    if (!cameUp || !this.running || !this.network) return [];
    const back = entriesOnDevice(this.entries, link.name);
    if (!hasStaticEntries(back)) return [];
    this.options.log.info({ event: 'static-network-interface-up', interface: link.name }, `${link.name} is up: putting back its static addresses and routes`);
    return this.add(this.network, back);
  }

  private async resync(): Promise<StaticFailure[]> {
    const network = this.network;
    if (!network || !this.running) return [];
    this.readLinks(await network.links());
    return this.add(network, this.entries);
  }

  private inBackground(run: () => Promise<StaticFailure[]>): void {
    this.serially(run).catch((err: unknown) => this.unavailable(err));
  }

  private unavailable(err: unknown): StaticFailure[] {
    const message = err instanceof Error ? err.message : String(err);
    this.options.log.warn({ event: 'static-network-failed', error: message }, `static addresses, routes and rules: ${message}`);
    return [];
  }

  private serially(run: () => Promise<StaticFailure[]>): Promise<StaticFailure[]> {
    const next = this.queue.then(run);
    this.queue = next.catch(() => undefined);
    return next;
  }
}

function routeFailure(f: RouteFailure): StaticFailure {
  return { kind: f.kind, line: f.line, operation: f.operation, message: f.message };
}

function sameAddress(a: string, b: string): boolean {
  try {
    return parseAddress(a).bytes.equals(parseAddress(b).bytes);
  } catch {
    return false;
  }
}
