// One running VRRP instance (RFC 5798's "virtual router"): drives the pure VrrpStateMachine with a
// clock, turns its actions into adverts, VIP changes, gratuitous ARPs and notify scripts, checks
// what arrives, and keeps the counters ipvsctl and the metrics read.
import type { Announcer } from './garp.js';
import type { Clock, TimerHandle } from './clock.js';
import {
  VrrpStateMachine,
  type VrrpAction,
  type VrrpEvent,
  type VrrpInstanceConfig,
  type VrrpState,
  type VrrpTimerName,
} from './instance-state.js';
import type { NotifyState } from './notify.js';
import { encodeAdvertisement, validateAdvertisement, type AdvertDropReason, type UnicastPeer, type VrrpExpectations } from './packet.js';
import type { AdvertSender, ReceivedPacket } from './transport.js';
import type { AddressEvent } from '../netlink/rtnetlink.js';
import type { VipFailure, VirtualAddress } from './vips.js';
import type { RouteActions, RouteFailure } from './routes.js';

export interface GarpSettings {
  /** Gratuitous ARPs / NAs per VIP on becoming master (garp_master_repeat). */
  repeat: number;
  /** The second burst after this long; 0 = none (garp_master_delay). */
  delayMs: number;
  /** Periodic refresh while master; 0 = off (garp_master_refresh). */
  refreshMs: number;
  refreshRepeat: number;
  /** As master, on a lower-priority advert (a split brain healing): a burst now, another after the delay. 0 = off. */
  lowerPriorityRepeat: number;
  lowerPriorityDelayMs: number;
}

export interface VirtualRouterSettings {
  name: string;
  interfaceName: string;
  vrid: number;
  machine: VrrpInstanceConfig;
  /** virtual_ipaddress: carried in adverts and checked in received ones. */
  advertised: readonly string[];
  authType: number;
  authData: Uint8Array;
  /** The multicast group, or every unicast peer. */
  destinations: readonly string[];
  unicastPeers: readonly UnicastPeer[];
  checkUnicastSource: boolean;
  /** skip_check_adv_addr: do not compare the VIP list of adverts from the known master. */
  skipCheckAdvAddr: boolean;
  /** 255 for multicast, unicast_ttl for unicast. */
  ttl: number;
  garp: GarpSettings;
}

/** The VIP side: add/remove all, and notice one taken away while master. */
export interface VipActions {
  add(): Promise<VipFailure[]>;
  remove(): Promise<VipFailure[]>;
  addresses(): string[];
  lostBy(event: AddressEvent): VirtualAddress | undefined;
  restore(entry: VirtualAddress): Promise<VipFailure | undefined>;
}

export interface RouterLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/** What a vrrp_sync_group needs to hear from its members. */
export interface SyncListener {
  wantsMaster(router: VirtualRouter): void;
  transitioned(router: VirtualRouter, from: VrrpState, to: VrrpState | 'stopped'): void;
}

export interface VirtualRouterDeps {
  clock: Clock;
  sender: AdvertSender;
  vips: VipActions;
  /** virtual_routes and virtual_rules: added after the VIPs, removed before them. */
  routes?: RouteActions;
  announcer: Announcer;
  notify: (state: NotifyState, priority: number) => void;
  log?: RouterLog;
}

export interface VirtualRouterCounters {
  advertsSent: number;
  advertsReceived: number;
  priorityZeroSent: number;
  priorityZeroReceived: number;
  becameMaster: number;
  releasedMaster: number;
  transitions: number;
  /** Adverts for this VRID dropped by the receive checks, by reason. */
  drops: Partial<Record<AdvertDropReason | 'not-listening', number>>;
  sendErrors: number;
  vipErrors: number;
  garpBursts: number;
}

export interface VirtualRouterStatus {
  name: string;
  interface: string;
  vrid: number;
  version: 2 | 3;
  state: VrrpState;
  basePriority: number;
  priority: number;
  fault: boolean;
  faultReasons: string[];
  master: { address: string; priority: number } | undefined;
  advertIntervalMs: number;
  lastTransition: { from: VrrpState; to: VrrpState | 'stopped'; at: number } | undefined;
  counters: VirtualRouterCounters;
}

/** A VIP add or remove that takes longer than this is given up on (counted, logged). */
const VIP_CHANGE_DEADLINE_MS = 5000;

export class VipTimeoutError extends Error {
  readonly code = 'EVIPTIMEOUT';
}

const silentLog: RouterLog = { info: () => {}, warn: () => {} };
/** The word notify scripts and FIFOs use for each state. */
export const notifyState = { master: 'MASTER', backup: 'BACKUP', fault: 'FAULT', stopped: 'STOP' } as const;

export class VirtualRouter {
  private readonly machine: VrrpStateMachine;
  private readonly timers = new Map<VrrpTimerName, TimerHandle>();
  private readonly garpTimers = new Set<TimerHandle>();
  private vipQueue: Promise<void> = Promise.resolve();
  private readonly log: RouterLog;
  private lastTransition: VirtualRouterStatus['lastTransition'];
  private faultReasons: string[] = [];
  private sync: SyncListener | undefined;
  readonly counters: VirtualRouterCounters = {
    advertsSent: 0,
    advertsReceived: 0,
    priorityZeroSent: 0,
    priorityZeroReceived: 0,
    becameMaster: 0,
    releasedMaster: 0,
    transitions: 0,
    drops: {},
    sendErrors: 0,
    vipErrors: 0,
    garpBursts: 0,
  };

  constructor(
    private current: VirtualRouterSettings,
    private deps: VirtualRouterDeps,
  ) {
    this.machine = new VrrpStateMachine(current.machine);
    this.log = deps.log ?? silentLog;
  }

  get settings(): VirtualRouterSettings {
    return this.current;
  }

  get state(): VrrpState {
    return this.machine.state;
  }

  /** A sync group member whose master-down expired and who waits for the rest of the group. */
  get wantsMaster(): boolean {
    return this.machine.status().wantsMaster;
  }

  /** Joins a sync group (the instance must have been built with machine.syncGroup); undefined leaves it. */
  joinSyncGroup(listener: SyncListener | undefined): void {
    this.sync = listener;
  }

  syncMaster(): void {
    this.dispatch({ type: 'sync-master', now: this.deps.clock.now() });
  }

  syncBackup(): void {
    this.dispatch({ type: 'sync-backup', now: this.deps.clock.now() });
  }

  start(): void {
    this.dispatch({ type: 'start', now: this.deps.clock.now() });
  }

  /** Priority-0 advert if master, then the VIPs released; resolves when they are gone. */
  async stop(): Promise<void> {
    this.dispatch({ type: 'shutdown', now: this.deps.clock.now() });
    await this.vipQueue;
  }

  /** Resolves when every queued VIP change has been applied (tests and shutdown). */
  settled(): Promise<void> {
    return this.vipQueue;
  }

  /**
   * Reload (keepalived keeps an instance's state): new settings and VIPs in place, same VRID,
   * interface and version. As master with a new VIP set, `dropped` (VIPs no longer configured) are
   * removed and the new set added; only the addresses it did not hold before are announced.
   */
  reconfigure(settings: VirtualRouterSettings, change: { vips: VipActions; announcer: Announcer; dropped: VipActions }): void {
    const previous = this.deps.vips;
    const before = new Set(previous.addresses());
    this.current = settings;
    this.deps = { ...this.deps, vips: change.vips, announcer: change.announcer };
    this.dispatch({ type: 'reconfigure', now: this.deps.clock.now(), config: settings.machine });
    if (this.machine.state !== 'master' || change.vips === previous) return;
    const added = change.vips.addresses().filter((a) => !before.has(a));
    this.queueVips(async () => {
      const failures = [...(await change.dropped.remove()), ...(await change.vips.add())];
      if (failures.length) this.vipFailed(failures);
      if (added.length > 0 && this.machine.state === 'master' && this.settings.garp.repeat > 0) {
        this.counters.garpBursts++;
        this.deps.announcer.announce(added, this.settings.garp.repeat);
      }
    });
  }

  /** From the trackers: effective priority before clamping, and whether any holds us in FAULT. */
  track(priority: number, fault: boolean, reasons: readonly string[] = []): void {
    this.faultReasons = [...reasons];
    const now = this.deps.clock.now();
    this.dispatch({ type: 'priority-changed', now, priority });
    this.dispatch({ type: 'fault-changed', now, fault });
  }

  receive(packet: ReceivedPacket): void {
    const state = this.machine.state;
    if (state !== 'backup' && state !== 'master') {
      this.countDrop('not-listening'); // keepalived ignores adverts in FAULT and INIT
      return;
    }
    const s = this.settings;
    const status = this.machine.status();
    const fromKnownMaster = status.masterAddress !== undefined && status.masterAddress === packet.source;
    const want: VrrpExpectations = {
      version: s.machine.version,
      vrid: s.vrid,
      advertIntervalMs: s.machine.advertIntervalMs,
      addresses: s.advertised,
      checkAddresses: !(s.skipCheckAdvAddr && fromKnownMaster),
      authType: s.authType,
      authData: s.authData,
      unicastPeers: s.unicastPeers,
      checkUnicastSource: s.checkUnicastSource,
    };
    const result = validateAdvertisement(packet.payload, packet, want);
    if (!result.ok) {
      this.countDrop(result.reason);
      this.log.warn({ event: 'vrrp-advert-dropped', instance: s.name, reason: result.reason, source: packet.source }, `advert dropped: ${result.detail}`);
      return;
    }
    this.counters.advertsReceived++;
    const priority = result.advert.priority;
    if (priority === 0) this.counters.priorityZeroReceived++;
    // keepalived (garp_lower_prio_repeat): the other side thought it was master, so its peers' ARP caches may point there.
    const lowerPriorityMaster = state === 'master' && priority > 0 && priority < status.effectivePriority;
    this.dispatch({ type: 'advert-received', now: this.deps.clock.now(), advert: result.advert, source: packet.source });
    if (lowerPriorityMaster) this.refreshPeers();
  }

  /** From the address monitor: a VIP removed behind our back while master is put back. */
  addressChanged(event: AddressEvent): void {
    const lost = this.deps.vips.lostBy(event);
    if (!lost) return;
    this.log.warn({ event: 'vip-restored', instance: this.settings.name, address: lost.address }, 'VIP removed by someone else; restoring it');
    this.queueVips(async () => {
      const failure = await this.deps.vips.restore(lost);
      if (failure) this.vipFailed([failure]);
      else this.deps.announcer.announce([lost.address], this.settings.garp.repeat);
    });
  }

  status(): VirtualRouterStatus {
    const m = this.machine.status();
    return {
      name: this.settings.name,
      interface: this.settings.interfaceName,
      vrid: this.settings.vrid,
      version: this.settings.machine.version,
      state: m.state,
      basePriority: this.settings.machine.priority,
      priority: m.effectivePriority,
      fault: m.fault,
      faultReasons: [...this.faultReasons],
      master: m.masterAddress !== undefined && m.masterPriority !== undefined ? { address: m.masterAddress, priority: m.masterPriority } : undefined,
      advertIntervalMs: m.masterAdverIntervalMs,
      lastTransition: this.lastTransition,
      counters: { ...this.counters, drops: { ...this.counters.drops } },
    };
  }

  private dispatch(event: VrrpEvent): void {
    for (const action of this.machine.handle(event)) this.perform(action);
  }

  private perform(action: VrrpAction): void {
    switch (action.type) {
      case 'send-advert':
        this.sendAdvert(action.priority);
        break;
      case 'set-timer':
        this.setTimer(action.timer, action.due);
        break;
      case 'cancel-timer':
        this.clearTimer(action.timer);
        break;
      case 'become-master':
        this.counters.becameMaster++;
        this.queueVips(async () => {
          const failures = await this.deps.vips.add();
          if (failures.length) this.vipFailed(failures);
          if (this.deps.routes) this.routesFailed(await this.deps.routes.add());
          this.announce(this.settings.garp.repeat);
        });
        this.scheduleGarp();
        break;
      case 'become-backup':
      case 'become-fault':
      case 'stopped':
        this.cancelGarp();
        this.queueVips(async () => {
          if (this.deps.routes) this.routesFailed(await this.deps.routes.remove());
          const failures = await this.deps.vips.remove();
          if (failures.length) this.vipFailed(failures);
        });
        break;
      case 'notify':
        if (action.from === 'master') this.counters.releasedMaster++;
        this.counters.transitions++;
        this.lastTransition = { from: action.from, to: action.to, at: Date.now() };
        this.log.info({ event: 'vrrp-transition', instance: this.settings.name, from: action.from, to: action.to, priority: action.priority }, `entering ${notifyState[action.to]} state`);
        this.deps.notify(notifyState[action.to], action.priority);
        this.sync?.transitioned(this, action.from, action.to === 'stopped' ? 'stopped' : action.to);
        break;
      case 'want-master':
        this.sync?.wantsMaster(this);
        break;
    }
  }

  private sendAdvert(priority: number): void {
    const s = this.settings;
    const source = s.machine.primaryAddress;
    for (const destination of s.destinations) {
      try {
        const payload = encodeAdvertisement(
          { version: s.machine.version, vrid: s.vrid, priority, advertIntervalMs: s.machine.advertIntervalMs, addresses: [...s.advertised], authType: s.authType, authData: s.authData },
          { source, destination },
        );
        this.deps.sender.send(payload, source, destination, s.ttl);
        this.counters.advertsSent++;
        if (priority === 0) this.counters.priorityZeroSent++;
      } catch (err) {
        this.counters.sendErrors++;
        this.log.warn({ event: 'vrrp-advert-not-sent', instance: s.name, destination, err: (err as Error).message }, 'advert not sent');
      }
    }
  }

  private setTimer(name: VrrpTimerName, due: number): void {
    this.clearTimer(name);
    const handle = this.deps.clock.setTimer(() => {
      if (this.timers.get(name) !== handle) return;
      this.timers.delete(name);
      this.dispatch({ type: 'timer', now: this.deps.clock.now(), timer: name });
    }, due - this.deps.clock.now());
    this.timers.set(name, handle);
  }

  private clearTimer(name: VrrpTimerName): void {
    const handle = this.timers.get(name);
    if (handle === undefined) return;
    this.deps.clock.clearTimer(handle);
    this.timers.delete(name);
  }

  // garp_master_delay: a second burst once the switches have settled; garp_master_refresh: keep caches warm.
  private scheduleGarp(): void {
    const { delayMs, refreshMs, repeat, refreshRepeat } = this.settings.garp;
    if (delayMs > 0) this.garpTimer(delayMs, () => this.announce(repeat));
    if (refreshMs > 0) {
      const refresh = () => {
        this.announce(refreshRepeat);
        this.garpTimer(refreshMs, refresh);
      };
      this.garpTimer(refreshMs, refresh);
    }
  }

  private refreshPeers(): void {
    const { lowerPriorityRepeat, lowerPriorityDelayMs } = this.settings.garp;
    if (lowerPriorityRepeat <= 0) return;
    this.announce(lowerPriorityRepeat);
    if (lowerPriorityDelayMs > 0) this.garpTimer(lowerPriorityDelayMs, () => this.announce(lowerPriorityRepeat));
  }

  private garpTimer(delayMs: number, run: () => void): void {
    const handle = this.deps.clock.setTimer(() => {
      this.garpTimers.delete(handle);
      // Queued behind the VIP add, so no GARP ever announces an address not yet on the interface.
      this.queueVips(async () => {
        if (this.machine.state === 'master') run();
      });
    }, delayMs);
    this.garpTimers.add(handle);
  }

  private cancelGarp(): void {
    for (const handle of this.garpTimers) this.deps.clock.clearTimer(handle);
    this.garpTimers.clear();
  }

  private announce(repeat: number): void {
    if (this.machine.state !== 'master' || repeat <= 0) return;
    this.counters.garpBursts++;
    this.deps.announcer.announce(this.deps.vips.addresses(), repeat);
  }

  // One change at a time, in order; a change the kernel never answers must not wedge the ones after it.
  private queueVips(run: () => Promise<void>): void {
    this.vipQueue = this.vipQueue
      .then(() => this.withDeadline(run()))
      .catch((err: unknown) => {
        this.counters.vipErrors++;
        this.log.warn({ event: 'vip-change-failed', instance: this.settings.name, err: (err as Error).message }, 'VIP change failed');
      });
  }

  private withDeadline(change: Promise<void>): Promise<void> {
    let handle: TimerHandle | undefined;
    const deadline = new Promise<never>((_, reject) => {
      handle = this.deps.clock.setTimer(() => reject(new VipTimeoutError(`no answer from the kernel within ${VIP_CHANGE_DEADLINE_MS} ms`)), VIP_CHANGE_DEADLINE_MS);
    });
    return Promise.race([change, deadline]).finally(() => this.deps.clock.clearTimer(handle!));
  }

  private vipFailed(failures: readonly VipFailure[]): void {
    this.counters.vipErrors += failures.length;
    for (const f of failures) this.log.warn({ event: 'vip-change-failed', instance: this.settings.name, ...f }, `could not ${f.operation} VIP ${f.address} on ${f.device}`);
  }

  private routesFailed(failures: readonly RouteFailure[]): void {
    for (const f of failures) this.log.warn({ event: 'route-change-failed', instance: this.settings.name, ...f }, `could not ${f.operation} ${f.kind} "${f.line}": ${f.message}`);
  }

  private countDrop(reason: AdvertDropReason | 'not-listening'): void {
    this.counters.drops[reason] = (this.counters.drops[reason] ?? 0) + 1;
  }
}
