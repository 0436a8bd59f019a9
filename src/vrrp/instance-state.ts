// One VRRP instance's protocol state machine (RFC 9568 §6.4, RFC 3768 §6.4) with keepalived
// 2.2.7's choices where the RFCs leave room. No sockets, no clock: every event carries the
// monotonic time in ms, and timers come back as absolute due times for the caller to arm.
import { compareAddresses, type VrrpAdvertisement, type VrrpVersion } from './packet.js';
import { DEFAULT_DOWN_TIMER_ADVERTS, masterDownIntervalMs, skewTimeMs } from './timers.js';

export type VrrpState = 'init' | 'backup' | 'master' | 'fault';
export type VrrpTimerName = 'advert' | 'master-down' | 'preempt-delay';

export const OWNER_PRIORITY = 255;

export interface VrrpInstanceConfig {
  version: VrrpVersion;
  /** Configured priority 1..255; 255 is the address owner, whose priority trackers never change. */
  priority: number;
  /** advert_int: v2 whole seconds, v3 multiples of 10 ms. */
  advertIntervalMs: number;
  /** Our primary address (the advert source): breaks ties between equal priorities. */
  primaryAddress: string;
  /** `state MASTER|BACKUP`. Absent: master for priority 255, else backup (keepalived's default). */
  initialState?: 'master' | 'backup';
  /** false for `nopreempt`; ignored for the owner (keepalived resets nopreempt at priority 255). */
  preempt?: boolean;
  /** preempt_delay in ms; 0 = none. */
  preemptDelayMs?: number;
  /** lower_prio_no_advert: as master, do not answer a lower-priority advert. */
  lowerPriorityNoAdvert?: boolean;
  /** higher_prio_send_advert: as master, send one more advert before yielding. */
  higherPrioritySendAdvert?: boolean;
  /** down_timer_adverts, 1..100, default 3. */
  downTimerAdverts?: number;
  /**
   * Member of a vrrp_sync_group: when master-down expires the instance only *wants* master
   * ('want-master' action) and waits for 'sync-master', which the group sends once every member wants it.
   */
  syncGroup?: boolean;
}

export type VrrpEvent =
  | { type: 'start'; now: number }
  | { type: 'advert-received'; now: number; advert: VrrpAdvertisement; source: string }
  | { type: 'timer'; now: number; timer: VrrpTimerName }
  | { type: 'shutdown'; now: number }
  | { type: 'fault-changed'; now: number; fault: boolean }
  | { type: 'priority-changed'; now: number; priority: number }
  /** Sync group: every member wants master, go. */
  | { type: 'sync-master'; now: number }
  /** Sync group: another member yielded to a higher-priority master; yield too. */
  | { type: 'sync-backup'; now: number }
  /** Reload: new settings for the same version and owner-ness; state and running timers are kept. */
  | { type: 'reconfigure'; now: number; config: VrrpInstanceConfig };

export type VrrpAction =
  | { type: 'send-advert'; priority: number }
  | { type: 'set-timer'; timer: VrrpTimerName; due: number }
  | { type: 'cancel-timer'; timer: VrrpTimerName }
  /** Add the VIPs, then gratuitous ARP / unsolicited NA. */
  | { type: 'become-master' }
  /** Remove the VIPs (also at start: clears any a crashed run left behind). */
  | { type: 'become-backup' }
  | { type: 'become-fault' }
  /** Remove the VIPs; the instance is back in init. */
  | { type: 'stopped' }
  | { type: 'notify'; from: VrrpState; to: Exclude<VrrpState, 'init'> | 'stopped'; priority: number }
  /** Sync group member: master-down expired, waiting for the other members. */
  | { type: 'want-master' };

export interface VrrpStatus {
  state: VrrpState;
  effectivePriority: number;
  fault: boolean;
  /** The interval a backup times the master with: the master's own in v3, ours in v2. */
  masterAdverIntervalMs: number;
  masterAddress: string | undefined;
  masterPriority: number | undefined;
  /** Sync group member whose master-down expired, held in backup until the whole group can go. */
  wantsMaster: boolean;
  timers: Partial<Record<VrrpTimerName, number>>;
}

export class VrrpInstanceConfigError extends Error {
  readonly code = 'EVRRPCONFIG';
}

type PreemptDelay = 'idle' | 'running' | 'elapsed';

export class VrrpStateMachine {
  private config: Required<Omit<VrrpInstanceConfig, 'initialState'>>;
  private wantsMaster = false;
  private readonly startsAsMaster: boolean;
  private currentState: VrrpState = 'init';
  private priority: number;
  private fault = false;
  private masterAdverIntervalMs: number;
  private masterAddress: string | undefined;
  private masterPriority: number | undefined;
  private preemptDelay: PreemptDelay = 'idle';
  private readonly timers = new Map<VrrpTimerName, number>();

  constructor(config: VrrpInstanceConfig) {
    checkConfig(config);
    const owner = config.priority === OWNER_PRIORITY;
    this.config = completed(config);
    // keepalived: only an owner that wants MASTER skips the wait; `state MASTER` alone does not.
    this.startsAsMaster = owner && (config.initialState ?? 'master') === 'master';
    this.priority = config.priority;
    this.masterAdverIntervalMs = config.advertIntervalMs;
  }

  get state(): VrrpState {
    return this.currentState;
  }

  status(): VrrpStatus {
    return {
      state: this.currentState,
      effectivePriority: this.priority,
      fault: this.fault,
      masterAdverIntervalMs: this.masterAdverIntervalMs,
      masterAddress: this.masterAddress,
      masterPriority: this.masterPriority,
      wantsMaster: this.wantsMaster,
      timers: Object.fromEntries(this.timers),
    };
  }

  handle(event: VrrpEvent): VrrpAction[] {
    const actions: VrrpAction[] = [];
    switch (event.type) {
      case 'start':
        this.start(event.now, actions);
        break;
      case 'advert-received':
        if (this.currentState === 'backup') this.backupReceived(event.now, event.advert, event.source, actions);
        else if (this.currentState === 'master') this.masterReceived(event.now, event.advert, event.source, actions);
        break;
      case 'timer':
        this.timerFired(event.now, event.timer, actions);
        break;
      case 'shutdown':
        this.shutdown(actions);
        break;
      case 'fault-changed':
        this.faultChanged(event.now, event.fault, actions);
        break;
      case 'priority-changed':
        this.priorityChanged(event.priority, actions);
        break;
      case 'sync-master':
        if (this.currentState === 'backup' && this.wantsMaster) this.becomeMaster(event.now, actions);
        break;
      case 'sync-backup':
        this.syncBackup(event.now, actions);
        break;
      case 'reconfigure':
        this.reconfigure(event.now, event.config, actions);
        break;
    }
    return actions;
  }

  private start(now: number, actions: VrrpAction[]): void {
    if (this.currentState !== 'init') return;
    this.masterAdverIntervalMs = this.config.advertIntervalMs;
    if (this.fault) {
      this.currentState = 'fault';
      actions.push({ type: 'become-fault' }, this.notify('init', 'fault'));
    } else if (this.startsAsMaster) {
      this.becomeMaster(now, actions);
    } else {
      this.becomeBackup(now + this.masterDownIntervalMs(), actions);
    }
  }

  // RFC 9568 §6.4.2, with keepalived's preempt_delay.
  private backupReceived(now: number, ad: VrrpAdvertisement, source: string, actions: VrrpAction[]): void {
    if (ad.priority === 0) {
      this.setTimer('master-down', now + this.skewTimeMs(), actions);
      return;
    }
    const delaying = this.config.preemptDelayMs > 0 && this.preemptDelay !== 'elapsed';
    if (this.config.preempt && ad.priority < this.priority && !delaying) return; // let master-down expire
    this.wantsMaster = false;
    if (this.config.version === 3) this.masterAdverIntervalMs = ad.advertIntervalMs;
    this.masterAddress = source;
    this.masterPriority = ad.priority;
    this.setTimer('master-down', now + this.masterDownIntervalMs(), actions);
    if (this.config.preemptDelayMs === 0) return;
    if (ad.priority >= this.priority) {
      this.preemptDelay = 'idle';
      this.cancelTimer('preempt-delay', actions);
    } else if (this.preemptDelay === 'idle') {
      this.preemptDelay = 'running';
      this.setTimer('preempt-delay', now + this.config.preemptDelayMs, actions);
    }
  }

  // RFC 9568 §6.4.3, with keepalived's answer to a lower priority ("forcing new election").
  private masterReceived(now: number, ad: VrrpAdvertisement, source: string, actions: VrrpAction[]): void {
    if (ad.priority === 0) {
      actions.push({ type: 'send-advert', priority: this.priority });
      this.setTimer('advert', now + this.config.advertIntervalMs, actions);
      return;
    }
    const order = compareAddresses(source, this.config.primaryAddress);
    if (ad.priority === this.priority && order === 0) return; // our own address: nothing to elect
    const higher = ad.priority > this.priority || (ad.priority === this.priority && order > 0);
    if (!higher) {
      if (!this.config.lowerPriorityNoAdvert) actions.push({ type: 'send-advert', priority: this.priority });
      return;
    }
    if (this.config.higherPrioritySendAdvert) actions.push({ type: 'send-advert', priority: this.priority });
    if (this.config.version === 3) this.masterAdverIntervalMs = ad.advertIntervalMs;
    this.masterAddress = source;
    this.masterPriority = ad.priority;
    this.masterToBackup(now, actions);
  }

  private timerFired(now: number, timer: VrrpTimerName, actions: VrrpAction[]): void {
    if (!this.timers.delete(timer)) return; // cancelled or already handled
    if (timer === 'advert' && this.currentState === 'master') {
      actions.push({ type: 'send-advert', priority: this.priority });
      this.setTimer('advert', now + this.config.advertIntervalMs, actions);
    } else if (timer === 'master-down' && this.currentState === 'backup') {
      if (!this.config.syncGroup) {
        this.becomeMaster(now, actions);
      } else if (!this.wantsMaster) {
        this.wantsMaster = true;
        actions.push({ type: 'want-master' });
      }
    } else if (timer === 'preempt-delay') {
      this.preemptDelay = 'elapsed';
    }
  }

  private shutdown(actions: VrrpAction[]): void {
    const from = this.currentState;
    if (from === 'init') return;
    this.cancelAllTimers(actions);
    // The priority-0 advert lets a backup take over after Skew_Time instead of Master_Down_Interval.
    if (from === 'master') actions.push({ type: 'send-advert', priority: 0 });
    this.currentState = 'init';
    this.wantsMaster = false;
    this.preemptDelay = 'idle';
    actions.push({ type: 'stopped' }, this.notify(from, 'stopped'));
  }

  // keepalived: one member yielding pulls the group's masters to backup; held members wait afresh.
  private syncBackup(now: number, actions: VrrpAction[]): void {
    if (this.currentState === 'backup' && this.wantsMaster) {
      this.wantsMaster = false;
      this.setTimer('master-down', now + this.masterDownIntervalMs(), actions);
      return;
    }
    if (this.currentState !== 'master') return;
    this.masterToBackup(now, actions);
  }

  private masterToBackup(now: number, actions: VrrpAction[]): void {
    this.cancelTimer('advert', actions);
    this.currentState = 'backup';
    this.preemptDelay = 'idle';
    actions.push({ type: 'become-backup' }, this.notify('master', 'backup'));
    this.setTimer('master-down', now + this.masterDownIntervalMs(), actions);
  }

  private faultChanged(now: number, fault: boolean, actions: VrrpAction[]): void {
    if (fault === this.fault) return;
    this.fault = fault;
    const from = this.currentState;
    if (from === 'init') return; // start() honours it
    if (fault) {
      this.cancelAllTimers(actions);
      if (from === 'master') actions.push({ type: 'send-advert', priority: 0 });
      this.currentState = 'fault';
      this.wantsMaster = false;
      this.preemptDelay = 'idle';
      actions.push({ type: 'become-fault' }, this.notify(from, 'fault'));
      return;
    }
    if (from !== 'fault') return;
    this.masterAdverIntervalMs = this.config.advertIntervalMs;
    // keepalived (try_up_instance): an owner waits one interval for a rival master, others the full interval.
    const wait = this.startsAsMaster
      ? this.config.advertIntervalMs + this.skewTimeMs()
      : this.masterDownIntervalMs();
    this.becomeBackup(now + wait, actions);
  }

  // keepalived's reload keeps an instance's state: a new priority reaches the wire with the next
  // advert (the caller re-runs the trackers), a new interval with the next timer.
  private reconfigure(now: number, config: VrrpInstanceConfig, actions: VrrpAction[]): void {
    checkConfig(config);
    if (config.version !== this.config.version || (config.priority === OWNER_PRIORITY) !== (this.config.priority === OWNER_PRIORITY)) {
      throw new VrrpInstanceConfigError('a new VRRP version or address-owner priority needs a restarted instance');
    }
    this.config = completed(config);
    if (this.config.version === 2 || this.currentState !== 'backup') this.masterAdverIntervalMs = this.config.advertIntervalMs;
    if (this.currentState === 'master') this.masterAddress = this.config.primaryAddress;
    // Left its sync group while held waiting for the others: nothing holds it any more.
    if (!this.config.syncGroup && this.wantsMaster && this.currentState === 'backup') this.becomeMaster(now, actions);
  }

  // keepalived vrrp_set_effective_priority: clamp, and move a running master-down timer by the skew change.
  private priorityChanged(requested: number, actions: VrrpAction[]): void {
    if (this.config.priority === OWNER_PRIORITY) return;
    const priority = Math.min(OWNER_PRIORITY - 1, Math.max(1, Math.round(requested)));
    if (priority === this.priority) return;
    const oldSkew = this.skewTimeMs();
    this.priority = priority;
    const due = this.timers.get('master-down');
    if (this.currentState === 'backup' && due !== undefined) {
      this.setTimer('master-down', due + this.skewTimeMs() - oldSkew, actions);
    }
  }

  private becomeMaster(now: number, actions: VrrpAction[]): void {
    const from = this.currentState;
    this.wantsMaster = false;
    this.cancelAllTimers(actions);
    this.currentState = 'master';
    this.masterAdverIntervalMs = this.config.advertIntervalMs;
    this.masterAddress = this.config.primaryAddress;
    this.masterPriority = this.priority;
    this.preemptDelay = 'idle';
    // Advert first, so the old master drops the VIPs before our gratuitous ARPs (as keepalived).
    actions.push({ type: 'send-advert', priority: this.priority }, { type: 'become-master' }, this.notify(from, 'master'));
    this.setTimer('advert', now + this.config.advertIntervalMs, actions);
  }

  private becomeBackup(due: number, actions: VrrpAction[]): void {
    const from = this.currentState;
    this.wantsMaster = false;
    this.currentState = 'backup';
    this.preemptDelay = 'idle';
    this.masterAddress = undefined;
    this.masterPriority = undefined;
    actions.push({ type: 'become-backup' }, this.notify(from, 'backup'));
    this.setTimer('master-down', due, actions);
  }

  private skewTimeMs(): number {
    return skewTimeMs(this.config.version, this.priority, this.masterAdverIntervalMs);
  }

  private masterDownIntervalMs(): number {
    return masterDownIntervalMs(this.config.version, this.priority, this.masterAdverIntervalMs, this.config.downTimerAdverts);
  }

  private setTimer(timer: VrrpTimerName, due: number, actions: VrrpAction[]): void {
    this.timers.set(timer, due);
    actions.push({ type: 'set-timer', timer, due });
  }

  private cancelTimer(timer: VrrpTimerName, actions: VrrpAction[]): void {
    if (this.timers.delete(timer)) actions.push({ type: 'cancel-timer', timer });
  }

  private cancelAllTimers(actions: VrrpAction[]): void {
    for (const timer of [...this.timers.keys()]) this.cancelTimer(timer, actions);
  }

  private notify(from: VrrpState, to: Exclude<VrrpState, 'init'> | 'stopped'): VrrpAction {
    return { type: 'notify', from, to, priority: this.priority };
  }
}

function completed(config: VrrpInstanceConfig): Required<Omit<VrrpInstanceConfig, 'initialState'>> {
  return {
    version: config.version,
    priority: config.priority,
    advertIntervalMs: config.advertIntervalMs,
    primaryAddress: config.primaryAddress,
    preempt: config.priority === OWNER_PRIORITY || (config.preempt ?? true),
    preemptDelayMs: config.preemptDelayMs ?? 0,
    lowerPriorityNoAdvert: config.lowerPriorityNoAdvert ?? false,
    higherPrioritySendAdvert: config.higherPrioritySendAdvert ?? false,
    downTimerAdverts: config.downTimerAdverts ?? DEFAULT_DOWN_TIMER_ADVERTS,
    syncGroup: config.syncGroup ?? false,
  };
}

function checkConfig(c: VrrpInstanceConfig): void {
  const fail = (message: string) => {
    throw new VrrpInstanceConfigError(message);
  };
  if (c.version !== 2 && c.version !== 3) fail(`VRRP version ${String(c.version)} is not 2 or 3`);
  if (!Number.isInteger(c.priority) || c.priority < 1 || c.priority > 255) fail(`priority ${c.priority} is outside 1..255`);
  const unit = c.version === 2 ? 1000 : 10;
  const max = c.version === 2 ? 255_000 : 40_950;
  if (!(c.advertIntervalMs >= unit && c.advertIntervalMs <= max) || Math.abs(Math.round(c.advertIntervalMs / unit) * unit - c.advertIntervalMs) > 1e-6) {
    fail(`advert interval ${c.advertIntervalMs} ms is not a multiple of ${unit} ms in ${unit}..${max} (VRRPv${c.version})`);
  }
  if (c.preemptDelayMs !== undefined && !(c.preemptDelayMs >= 0 && c.preemptDelayMs <= 1_000_000)) {
    fail(`preempt delay ${c.preemptDelayMs} ms is outside 0..1000 s`);
  }
  const adverts = c.downTimerAdverts ?? DEFAULT_DOWN_TIMER_ADVERTS;
  if (!Number.isInteger(adverts) || adverts < 1 || adverts > 100) fail(`down_timer_adverts ${adverts} is outside 1..100`);
  try {
    compareAddresses(c.primaryAddress, c.primaryAddress);
  } catch {
    fail(`primary address "${c.primaryAddress}" is not an IP address`);
  }
}
