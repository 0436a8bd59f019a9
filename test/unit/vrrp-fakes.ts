// Fakes for driving VirtualRouter without sockets or a real clock: every side effect is appended
// to one shared log, so tests can assert on the order things happened in.
import type { Clock, TimerHandle } from '../../src/vrrp/clock.js';
import type { Announcer } from '../../src/vrrp/garp.js';
import type { VipActions, VirtualRouterSettings } from '../../src/vrrp/instance.js';
import { decodeAdvertisement, type VrrpAdvertisement } from '../../src/vrrp/packet.js';
import type { AdvertSender } from '../../src/vrrp/transport.js';
import type { VipFailure, VirtualAddress } from '../../src/vrrp/vips.js';
import type { AddressEvent } from '../../src/netlink/rtnetlink.js';

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
