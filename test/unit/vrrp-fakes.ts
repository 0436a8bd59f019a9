// Fakes for driving VirtualRouter without sockets or a real clock: every side effect is appended
// to one shared log, so tests can assert on the order things happened in.
import type { Clock, TimerHandle } from '../../src/vrrp/clock.js';
import type { Announcer } from '../../src/vrrp/garp.js';
import type { VipActions, VirtualRouterSettings } from '../../src/vrrp/instance.js';
import { EventEmitter } from 'node:events';
import { decodeAdvertisement, encodeAdvertisement, type VrrpAdvertisement } from '../../src/vrrp/packet.js';
import type { VrrpNetwork, VrrpSystem } from '../../src/vrrp/runtime.js';
import type { AdvertSender, PacketListener, RouterLink } from '../../src/vrrp/transport.js';
import type { VipFailure, VirtualAddress } from '../../src/vrrp/vips.js';
import type { AddressFamily } from '../../src/netlink/address.js';
import { NetlinkError } from '../../src/netlink/errors.js';
import type { AddressEvent, AddressSpec, InterfaceAddress, Link, LinkEvent, RouteSpec, RuleSpec } from '../../src/netlink/rtnetlink.js';

export class FakeClock implements Clock {
  private time = 0;
  private seq = 0;
  private readonly timers = new Map<number, { due: number; callback: () => void }>();

  now(): number {
    return this.time;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const id = ++this.seq;
    this.timers.set(id, { due: this.time + Math.max(0, delayMs), callback });
    return id as unknown as TimerHandle;
  }

  clearTimer(handle: TimerHandle): void {
    this.timers.delete(handle as unknown as number);
  }

  /** Fires every timer due up to now + ms, in due order, letting promise chains run between them. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await flush();
      const next = [...this.timers].filter(([, t]) => t.due <= end).sort((a, b) => a[1].due - b[1].due || a[0] - b[0])[0];
      if (!next) break;
      this.timers.delete(next[0]);
      this.time = next[1].due;
      next[1].callback();
    }
    this.time = end;
    await flush();
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

export interface SentAdvert {
  at: number;
  destination: string;
  ttl: number;
  advert: VrrpAdvertisement;
}

export class Recorder implements AdvertSender, Announcer, VipActions {
  readonly log: string[] = [];
  readonly sent: SentAdvert[] = [];
  onVip: boolean[] = [];
  held = false;
  failAdd = false;

  constructor(
    private readonly clock: FakeClock,
    private readonly vipList: string[] = ['10.99.0.100'],
  ) {}

  send(payload: Buffer, source: string, destination: string, ttl: number): void {
    const decoded = decodeAdvertisement(payload, { source, destination });
    if (!decoded.ok) throw new Error(`sent an undecodable advert: ${decoded.detail}`);
    this.sent.push({ at: this.clock.now(), destination, ttl, advert: decoded.advert });
    this.log.push(`advert ${decoded.advert.priority}`);
  }

  announce(addresses: readonly string[], repeat: number): void {
    this.log.push(`garp ${addresses.join(',')} x${repeat}`);
  }

  async add(): Promise<VipFailure[]> {
    await Promise.resolve();
    this.held = true;
    this.log.push('vip add');
    return this.failAdd ? [{ address: '10.99.0.100/24', device: 'eth0', operation: 'add', message: 'Operation not permitted (EPERM)' }] : [];
  }

  async remove(): Promise<VipFailure[]> {
    await Promise.resolve();
    this.held = false;
    this.log.push('vip remove');
    return [];
  }

  addresses(): string[] {
    return this.vipList;
  }

  lostBy(event: AddressEvent): VirtualAddress | undefined {
    if (!this.held || event.action !== 'remove' || !this.vipList.includes(event.address.address)) return undefined;
    return { device: 'eth0', ifindex: event.address.ifindex, address: event.address.address, prefixLength: event.address.prefixLength, track: true };
  }

  async restore(entry: VirtualAddress): Promise<VipFailure | undefined> {
    await Promise.resolve();
    this.log.push(`vip restore ${entry.address}`);
    return undefined;
  }

  notify(state: string, priority: number): void {
    this.log.push(`notify ${state} ${priority}`);
  }
}

export function routerSettings(overrides: Partial<VirtualRouterSettings> = {}, machine: Partial<VirtualRouterSettings['machine']> = {}): VirtualRouterSettings {
  return {
    name: 'VI_1',
    interfaceName: 'eth0',
    vrid: 51,
    machine: { version: 2, priority: 150, advertIntervalMs: 1000, primaryAddress: '10.99.0.2', initialState: 'master', ...machine },
    advertised: ['10.99.0.100'],
    authType: 0,
    authData: new Uint8Array(8),
    destinations: ['224.0.0.18'],
    unicastPeers: [],
    checkUnicastSource: false,
    skipCheckAdvAddr: false,
    ttl: 255,
    garp: { repeat: 5, delayMs: 5000, refreshMs: 0, refreshRepeat: 1, lowerPriorityRepeat: 0, lowerPriorityDelayMs: 0 },
    ...overrides,
  };
}

/**
 * A host for VrrpRuntime without sockets: interfaces and addresses tests create and delete (with
 * the rtnetlink events the kernel would send), VRRP links that record adverts and deliver them to
 * attached instances, and announcers that record GARP bursts.
 */
export class FakeHost extends EventEmitter implements VrrpNetwork, VrrpSystem {
  readonly linkTable = new Map<string, Link>();
  addressTable: InterfaceAddress[] = [];
  readonly opened: FakeLink[] = [];
  readonly garps: string[] = [];
  private nextIndex = 2;

  constructor(private readonly clock: FakeClock) {
    super();
  }

  openNetwork(): VrrpNetwork {
    return this;
  }

  openLink(interfaceName: string, family: AddressFamily): RouterLink {
    const link = this.linkTable.get(interfaceName);
    if (!link) throw new Error(`no interface ${interfaceName}`);
    const opened = new FakeLink(interfaceName, link.index, family, this.clock);
    this.opened.push(opened);
    return opened;
  }

  openAnnouncer(device: string): Announcer & { close(): void } {
    return {
      announce: (addresses, repeat) => this.garps.push(`${device} ${addresses.join(',')} x${repeat}`),
      close: () => {},
    };
  }

  /** The open link for an interface (the newest if it was re-created). */
  link(name: string): FakeLink {
    const found = this.opened.filter((l) => l.interfaceName === name && !l.closed).at(-1);
    if (!found) throw new Error(`no open link on ${name}`);
    return found;
  }

  createInterface(name: string, address?: string): Link {
    const link: Link = { index: this.nextIndex++, name, up: true, running: true, mtu: 1500, address: Buffer.alloc(6), type: 1 };
    this.linkTable.set(name, link);
    this.emit('link', { action: 'add', link } satisfies LinkEvent);
    if (address) void this.addAddress({ ifindex: link.index, address: address.split('/')[0]!, prefixLength: Number(address.split('/')[1] ?? 24) });
    return link;
  }

  deleteInterface(name: string): void {
    const link = this.linkTable.get(name)!;
    this.linkTable.delete(name);
    this.addressTable = this.addressTable.filter((a) => a.ifindex !== link.index);
    this.emit('link', { action: 'remove', link } satisfies LinkEvent);
  }

  /** Addresses on one interface, as `ip -o addr` would list them. */
  addressesOn(name: string): string[] {
    const index = this.linkTable.get(name)?.index;
    return this.addressTable.filter((a) => a.ifindex === index).map((a) => `${a.address}/${a.prefixLength}`);
  }

  async addresses(): Promise<InterfaceAddress[]> {
    return [...this.addressTable];
  }

  async links(): Promise<Link[]> {
    return [...this.linkTable.values()];
  }

  /** Every address change asked of the kernel, as `add|remove ADDRESS/PREFIX`. */
  readonly requests: string[] = [];

  async addAddress(spec: AddressSpec): Promise<void> {
    this.requests.push(`add ${spec.address}/${spec.prefixLength}`);
    if (this.addressTable.some((a) => a.ifindex === spec.ifindex && a.address === spec.address)) throw new NetlinkError(17);
    const family = spec.address.includes(':') ? 'inet6' : 'inet';
    // A second address in a subnet is secondary, as the kernel makes it.
    const secondary = this.addressTable.some((a) => a.ifindex === spec.ifindex && a.family === family);
    const address: InterfaceAddress = { family, ifindex: spec.ifindex, address: spec.address, local: spec.address, prefixLength: spec.prefixLength, scope: 0, flags: secondary ? 1 : 0 };
    this.addressTable.push(address);
    this.emit('address', { action: 'add', address } satisfies AddressEvent);
  }

  async removeAddress(spec: { ifindex: number; address: string; prefixLength: number }): Promise<void> {
    this.requests.push(`remove ${spec.address}/${spec.prefixLength}`);
    const found = this.addressTable.find((a) => a.ifindex === spec.ifindex && a.address === spec.address);
    if (!found) throw new NetlinkError(99);
    this.addressTable = this.addressTable.filter((a) => a !== found);
    this.emit('address', { action: 'remove', address: found } satisfies AddressEvent);
  }

  /** Routes and rules as `table/destination/prefix` and `preference`, with the kernel's EEXIST / ESRCH / ENOENT. */
  readonly routeTable = new Set<string>();
  readonly ruleTable = new Set<number>();

  async addRoute(spec: RouteSpec): Promise<void> {
    const key = `${spec.table}/${spec.destination}/${spec.prefixLength}`;
    if (this.routeTable.has(key)) throw new NetlinkError(17);
    this.routeTable.add(key);
  }

  async removeRoute(spec: RouteSpec): Promise<void> {
    if (!this.routeTable.delete(`${spec.table}/${spec.destination}/${spec.prefixLength}`)) throw new NetlinkError(3);
  }

  async addRule(spec: RuleSpec): Promise<void> {
    if (this.ruleTable.has(spec.preference!)) throw new NetlinkError(17);
    this.ruleTable.add(spec.preference!);
  }

  async removeRule(spec: RuleSpec): Promise<void> {
    if (!this.ruleTable.delete(spec.preference!)) throw new NetlinkError(2);
  }

  close(): void {}
}

export class FakeLink implements RouterLink {
  readonly drops = {};
  readonly sent: SentAdvert[] = [];
  readonly groups: string[] = [];
  closed = false;
  private readonly listeners = new Map<number, PacketListener>();

  constructor(
    readonly interfaceName: string,
    readonly ifindex: number,
    readonly family: AddressFamily,
    private readonly clock: FakeClock,
  ) {}

  get attached(): number {
    return this.listeners.size;
  }

  join(group: string): void {
    if (!this.groups.includes(group)) this.groups.push(group);
  }

  attach(vrid: number, listener: PacketListener): () => void {
    this.listeners.set(vrid, listener);
    return () => this.listeners.delete(vrid);
  }

  send(payload: Buffer, source: string, destination: string, ttl: number): void {
    const decoded = decodeAdvertisement(payload, { source, destination });
    if (!decoded.ok) throw new Error(`sent an undecodable advert: ${decoded.detail}`);
    this.sent.push({ at: this.clock.now(), destination, ttl, advert: decoded.advert });
  }

  /** An advert from a peer, as the socket would deliver it. */
  deliver(advert: VrrpAdvertisement, source: string, destination = '224.0.0.18'): void {
    const payload = encodeAdvertisement(advert, { source, destination });
    this.listeners.get(advert.vrid)?.({ payload, source, destination, ttl: 255 });
  }

  close(): void {
    this.closed = true;
  }
}
