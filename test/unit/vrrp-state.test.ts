import { describe, expect, it } from 'vitest';
import {
  VrrpInstanceConfigError,
  VrrpStateMachine,
  type VrrpAction,
  type VrrpEvent,
  type VrrpInstanceConfig,
  type VrrpTimerName,
} from '../../src/vrrp/instance-state.js';
import type { VrrpAdvertisement } from '../../src/vrrp/packet.js';
import { masterDownIntervalMs, skewTimeMs } from '../../src/vrrp/timers.js';

type EventWithoutTime = VrrpEvent extends infer E ? (E extends { now: number } ? Omit<E, 'now'> : never) : never;

/** Drives one machine with a fake clock, arming and firing the timers it asks for. */
class Harness {
  now = 0;
  readonly timers = new Map<VrrpTimerName, number>();
  readonly machine: VrrpStateMachine;

  constructor(config: VrrpInstanceConfig) {
    this.machine = new VrrpStateMachine(config);
  }

  send(event: EventWithoutTime): VrrpAction[] {
    const actions = this.machine.handle({ ...event, now: this.now } as VrrpEvent);
    for (const a of actions) {
      if (a.type === 'set-timer') this.timers.set(a.timer, a.due);
      if (a.type === 'cancel-timer') this.timers.delete(a.timer);
    }
    return actions;
  }

  /** Fires every timer due up to `t`, in order; returns the actions with the time they happened. */
  advanceTo(t: number): Array<{ at: number; actions: VrrpAction[] }> {
    const out: Array<{ at: number; actions: VrrpAction[] }> = [];
    for (;;) {
      const next = [...this.timers].filter(([, due]) => due <= t).sort((a, b) => a[1] - b[1])[0];
      if (!next) break;
      this.now = next[1];
      this.timers.delete(next[0]);
      out.push({ at: this.now, actions: this.send({ type: 'timer', timer: next[0] }) });
    }
    this.now = t;
    return out;
  }

  advert(priority: number, source: string, advertIntervalMs = 1000, version: 2 | 3 = 2): VrrpAction[] {
    return this.send({ type: 'advert-received', source, advert: ad(version, priority, advertIntervalMs) });
  }
}

function ad(version: 2 | 3, priority: number, advertIntervalMs: number): VrrpAdvertisement {
  return { version, vrid: 51, priority, advertIntervalMs, addresses: ['10.99.0.100'], authType: 0, authData: new Uint8Array(version === 2 ? 8 : 0) };
}

const base: VrrpInstanceConfig = { version: 2, priority: 100, advertIntervalMs: 1000, primaryAddress: '10.99.0.3' };

function startedBackup(config: Partial<VrrpInstanceConfig> = {}): Harness {
  const h = new Harness({ ...base, ...config });
  h.send({ type: 'start' });
  return h;
}

function startedMaster(config: Partial<VrrpInstanceConfig> = {}): Harness {
  const h = startedBackup(config);
  h.advanceTo(h.timers.get('master-down')!);
  expect(h.machine.state).toBe('master');
  return h;
}

describe('timer arithmetic', () => {
  it('matches keepalived: v2 advert 1 s priority 100 -> 3.609375 s, skew 0.609375 s', () => {
    expect(skewTimeMs(2, 100, 1000)).toBe(609.375);
    expect(masterDownIntervalMs(2, 100, 1000)).toBe(3609.375);
    expect(masterDownIntervalMs(2, 150, 1000)).toBe(3414.0625); // figures: 3.414 s
  });

  it('matches keepalived: v3 advert 0.1 s priority 100 -> 0.3609375 s, priority 150 -> 0.3414 s', () => {
    expect(skewTimeMs(3, 100, 100)).toBe(60.9375);
    expect(masterDownIntervalMs(3, 100, 100)).toBe(360.9375);
    expect(masterDownIntervalMs(3, 150, 100)).toBeCloseTo(341.40625, 9);
  });

  it('keeps the v2 skew in whole seconds whatever the interval (RFC 3768, keepalived), scales it in v3', () => {
    expect(skewTimeMs(2, 100, 5000)).toBe(609.375);
    expect(skewTimeMs(3, 100, 5000)).toBe(3046.875);
    expect(masterDownIntervalMs(2, 100, 1000, 5)).toBe(5609.375);
  });
});

describe('start', () => {
  it('init -> backup, waiting Master_Down_Interval', () => {
    const h = new Harness(base);
    expect(h.send({ type: 'start' })).toEqual([
      { type: 'become-backup' },
      { type: 'notify', from: 'init', to: 'backup', priority: 100 },
      { type: 'set-timer', timer: 'master-down', due: 3609.375 },
    ]);
    expect(h.machine.state).toBe('backup');
  });

  it('init -> master at once for the address owner (priority 255)', () => {
    const h = new Harness({ ...base, priority: 255 });
    h.now = 50;
    expect(h.send({ type: 'start' })).toEqual([
      { type: 'send-advert', priority: 255 },
      { type: 'become-master' },
      { type: 'notify', from: 'init', to: 'master', priority: 255 },
      { type: 'set-timer', timer: 'advert', due: 1050 },
    ]);
  });

  it('an owner configured `state BACKUP` waits like anyone else (keepalived)', () => {
    const h = new Harness({ ...base, priority: 255, initialState: 'backup' });
    expect(h.send({ type: 'start' })).toContainEqual({ type: 'set-timer', timer: 'master-down', due: 3000 + 1000 / 256 });
  });

  it('`state MASTER` on a non-owner does not shorten the wait (keepalived 2.2.7)', () => {
    const h = new Harness({ ...base, priority: 150, initialState: 'master' });
    expect(h.send({ type: 'start' })).toContainEqual({ type: 'set-timer', timer: 'master-down', due: 3414.0625 });
    expect(h.machine.state).toBe('backup');
  });

  it('a second start is ignored', () => {
    const h = startedBackup();
    expect(h.send({ type: 'start' })).toEqual([]);
  });

  it('refuses configurations the protocol cannot run, with a coded error', () => {
    for (const bad of [
      { priority: 0 },
      { priority: 256 },
      { advertIntervalMs: 1500 },
      { version: 3 as const, advertIntervalMs: 5 },
      { version: 3 as const, advertIntervalMs: 40_960 },
      { downTimerAdverts: 0 },
      { preemptDelayMs: -1 },
      { primaryAddress: 'eth0' },
    ]) {
      expect(() => new VrrpStateMachine({ ...base, ...bad }), JSON.stringify(bad)).toThrow(VrrpInstanceConfigError);
    }
    expect(() => new VrrpStateMachine({ ...base, version: 3, advertIntervalMs: 70.00000000000001 })).not.toThrow();
  });
});

describe('backup', () => {
  it('becomes master when Master_Down_Interval passes without adverts: advert first, then VIPs', () => {
    const h = startedBackup();
    expect(h.advanceTo(10_000).slice(0, 2)).toEqual([
      {
        at: 3609.375,
        actions: [
          { type: 'send-advert', priority: 100 },
          { type: 'become-master' },
          { type: 'notify', from: 'backup', to: 'master', priority: 100 },
          { type: 'set-timer', timer: 'advert', due: 4609.375 },
        ],
      },
      { at: 4609.375, actions: [{ type: 'send-advert', priority: 100 }, { type: 'set-timer', timer: 'advert', due: 5609.375 }] },
    ]);
  });

  it('v3 at 0.1 s takes over 0.3609375 s after the last advert', () => {
    const h = startedBackup({ version: 3, advertIntervalMs: 100 });
    h.now = 200;
    h.advert(150, '10.99.0.2', 100, 3);
    expect(h.timers.get('master-down')).toBe(560.9375);
    const [first] = h.advanceTo(1000);
    expect(first!.at).toBe(560.9375);
    expect(first!.actions[1]).toEqual({ type: 'become-master' });
  });

  it('accepts a higher or equal priority master and restarts Master_Down_Interval', () => {
    const h = startedBackup();
    h.now = 2000;
    expect(h.advert(150, '10.99.0.2')).toEqual([{ type: 'set-timer', timer: 'master-down', due: 5609.375 }]);
    h.now = 3000;
    expect(h.advert(100, '10.99.0.1')).toEqual([{ type: 'set-timer', timer: 'master-down', due: 6609.375 }]);
    expect(h.machine.status()).toMatchObject({ masterAddress: '10.99.0.1', masterPriority: 100 });
  });

  it('v3: adopts the master\'s advertised interval for Master_Down_Interval (RFC 9568 §6.4.2)', () => {
    const h = startedBackup({ version: 3, advertIntervalMs: 100 });
    expect(h.timers.get('master-down')).toBe(360.9375);
    h.now = 100;
    expect(h.advert(200, '10.99.0.2', 1000, 3)).toEqual([{ type: 'set-timer', timer: 'master-down', due: 100 + 3609.375 }]);
    expect(h.machine.status().masterAdverIntervalMs).toBe(1000);
    // Once master, it advertises at its own configured interval again.
    const [takeover, next] = h.advanceTo(10_000);
    expect(takeover!.actions).toContainEqual({ type: 'set-timer', timer: 'advert', due: 3709.375 + 100 });
    expect(next!.at).toBe(3809.375);
    expect(h.machine.status().masterAdverIntervalMs).toBe(100);
  });

  it('v2 does not adopt another interval (the validator already drops a mismatch)', () => {
    const h = startedBackup();
    h.advert(200, '10.99.0.2', 3000);
    expect(h.timers.get('master-down')).toBe(3609.375);
  });

  it('priority 0 from the master: take over after Skew_Time (v2 0.609375 s)', () => {
    const h = startedBackup();
    h.now = 1000;
    h.advert(150, '10.99.0.2');
    h.now = 1500;
    expect(h.advert(0, '10.99.0.2')).toEqual([{ type: 'set-timer', timer: 'master-down', due: 2109.375 }]);
    expect(h.advanceTo(3000)[0]!.at).toBe(2109.375);
    expect(h.machine.state).toBe('master');
  });

  it('priority 0 in v3 uses the master\'s interval for Skew_Time (0.0609375 s at 0.1 s)', () => {
    const h = startedBackup({ version: 3, advertIntervalMs: 100 });
    h.now = 10;
    h.advert(150, '10.99.0.2', 100, 3);
    h.now = 50;
    expect(h.advert(0, '10.99.0.2', 100, 3)).toEqual([{ type: 'set-timer', timer: 'master-down', due: 110.9375 }]);
  });

  it('with preempt, ignores a lower-priority master and lets the timer run out', () => {
    const h = startedBackup({ priority: 150 });
    for (const t of [500, 1500, 2500, 3400]) {
      h.advanceTo(t);
      expect(h.advert(100, '10.99.0.2')).toEqual([]);
    }
    expect(h.advanceTo(4000)[0]!.at).toBe(3414.0625);
    expect(h.machine.state).toBe('master');
  });

  it('with nopreempt, accepts a lower-priority master and resets the timer', () => {
    const h = startedBackup({ priority: 150, preempt: false });
    for (const t of [500, 1500, 2500, 3400, 4400, 5400]) {
      h.advanceTo(t);
      expect(h.advert(100, '10.99.0.2')).toEqual([{ type: 'set-timer', timer: 'master-down', due: t + 3414.0625 }]);
    }
    expect(h.machine.state).toBe('backup');
  });

  it('the owner cannot be nopreempt (keepalived resets it)', () => {
    const h = new Harness({ ...base, priority: 255, preempt: false, initialState: 'backup' });
    h.send({ type: 'start' });
    expect(h.advert(100, '10.99.0.2')).toEqual([]);
  });

  it('preempt_delay: accepts a lower master until the delay elapses, then preempts', () => {
    const h = startedBackup({ priority: 150, preemptDelayMs: 10_000 });
    h.now = 1000;
    expect(h.advert(100, '10.99.0.2')).toEqual([
      { type: 'set-timer', timer: 'master-down', due: 4414.0625 },
      { type: 'set-timer', timer: 'preempt-delay', due: 11_000 },
    ]);
    let t = 2000;
    for (; t <= 11_000; t += 1000) {
      expect(h.advanceTo(t)).toEqual(t === 11_000 ? [{ at: 11_000, actions: [] }] : []);
      const actions = h.advert(100, '10.99.0.2');
      expect(actions, `advert at ${t}`).toEqual(t < 11_000 ? [{ type: 'set-timer', timer: 'master-down', due: t + 3414.0625 }] : []);
    }
    // The last accepted advert was at 10 s; later lower adverts are discarded.
    for (; t < 13_500; t += 1000) {
      h.advanceTo(t);
      expect(h.advert(100, '10.99.0.2')).toEqual([]);
    }
    const [takeover] = h.advanceTo(20_000);
    expect(takeover!.at).toBe(10_000 + 3414.0625);
    expect(h.machine.state).toBe('master');
  });

  it('preempt_delay: a higher or equal master stops the delay', () => {
    const h = startedBackup({ priority: 150, preemptDelayMs: 10_000 });
    h.now = 1000;
    h.advert(100, '10.99.0.2');
    h.now = 2000;
    expect(h.advert(200, '10.99.0.9')).toEqual([
      { type: 'set-timer', timer: 'master-down', due: 5414.0625 },
      { type: 'cancel-timer', timer: 'preempt-delay' },
    ]);
    // A new lower master starts a fresh delay.
    h.now = 3000;
    expect(h.advert(100, '10.99.0.2')).toContainEqual({ type: 'set-timer', timer: 'preempt-delay', due: 13_000 });
  });
});

describe('master', () => {
  it('yields to a higher priority: stop adverts, drop VIPs, time the new master', () => {
    const h = startedMaster();
    h.now = 5000;
    expect(h.advert(150, '10.99.0.2')).toEqual([
      { type: 'cancel-timer', timer: 'advert' },
      { type: 'become-backup' },
      { type: 'notify', from: 'master', to: 'backup', priority: 100 },
      { type: 'set-timer', timer: 'master-down', due: 8609.375 },
    ]);
    expect(h.machine.state).toBe('backup');
    expect(h.machine.status()).toMatchObject({ masterAddress: '10.99.0.2', masterPriority: 150 });
  });

  it('v3: yielding adopts the new master\'s interval', () => {
    const h = startedMaster({ version: 3, advertIntervalMs: 100 });
    h.now = 1000;
    expect(h.advert(150, '10.99.0.2', 200, 3)).toContainEqual({ type: 'set-timer', timer: 'master-down', due: 1000 + 600 + 121.875 });
  });

  it('equal priority: the higher primary address wins', () => {
    const h = startedMaster(); // primary 10.99.0.3
    h.now = 4000;
    expect(h.advert(100, '10.99.0.2')).toEqual([{ type: 'send-advert', priority: 100 }]);
    expect(h.machine.state).toBe('master');
    expect(h.advert(100, '10.99.0.4')).toContainEqual({ type: 'become-backup' });
  });

  it('equal priority from our own address changes nothing', () => {
    const h = startedMaster();
    expect(h.advert(100, '10.99.0.3')).toEqual([]);
  });

  it('answers a lower priority at once ("forcing new election"), unless lower_prio_no_advert', () => {
    const h = startedMaster();
    expect(h.advert(50, '10.99.0.9')).toEqual([{ type: 'send-advert', priority: 100 }]);
    const quiet = startedMaster({ lowerPriorityNoAdvert: true });
    expect(quiet.advert(50, '10.99.0.9')).toEqual([]);
    expect(quiet.machine.state).toBe('master');
  });

  it('answers priority 0 with an advert and restarts the advert timer', () => {
    const h = startedMaster();
    h.now = 4000;
    expect(h.advert(0, '10.99.0.2')).toEqual([
      { type: 'send-advert', priority: 100 },
      { type: 'set-timer', timer: 'advert', due: 5000 },
    ]);
  });

  it('higher_prio_send_advert sends one more advert before yielding', () => {
    const h = startedMaster({ higherPrioritySendAdvert: true });
    const actions = h.advert(200, '10.99.0.2');
    expect(actions[0]).toEqual({ type: 'send-advert', priority: 100 });
    expect(actions).toContainEqual({ type: 'become-backup' });
  });
});

describe('fault', () => {
  it('backup -> fault -> backup: no timers while faulty, adverts ignored, full wait after', () => {
    const h = startedBackup();
    h.now = 1000;
    expect(h.send({ type: 'fault-changed', fault: true })).toEqual([
      { type: 'cancel-timer', timer: 'master-down' },
      { type: 'become-fault' },
      { type: 'notify', from: 'backup', to: 'fault', priority: 100 },
    ]);
    expect(h.advert(0, '10.99.0.2')).toEqual([]);
    expect(h.advanceTo(20_000)).toEqual([]);
    expect(h.send({ type: 'fault-changed', fault: true })).toEqual([]);
    expect(h.send({ type: 'fault-changed', fault: false })).toEqual([
      { type: 'become-backup' },
      { type: 'notify', from: 'fault', to: 'backup', priority: 100 },
      { type: 'set-timer', timer: 'master-down', due: 23_609.375 },
    ]);
  });

  it('master -> fault: priority-0 advert so the backup takes over fast, then VIPs removed', () => {
    const h = startedMaster();
    expect(h.send({ type: 'fault-changed', fault: true })).toEqual([
      { type: 'cancel-timer', timer: 'advert' },
      { type: 'send-advert', priority: 0 },
      { type: 'become-fault' },
      { type: 'notify', from: 'master', to: 'fault', priority: 100 },
    ]);
  });

  it('a fault before start starts in fault', () => {
    const h = new Harness(base);
    expect(h.send({ type: 'fault-changed', fault: true })).toEqual([]);
    expect(h.send({ type: 'start' })).toEqual([{ type: 'become-fault' }, { type: 'notify', from: 'init', to: 'fault', priority: 100 }]);
  });

  it('an owner leaving fault waits one interval plus skew for a rival, then is master (keepalived)', () => {
    const h = new Harness({ ...base, priority: 255 });
    h.send({ type: 'fault-changed', fault: true });
    h.send({ type: 'start' });
    h.now = 100;
    expect(h.send({ type: 'fault-changed', fault: false })).toContainEqual({ type: 'set-timer', timer: 'master-down', due: 100 + 1000 + 1000 / 256 });
    h.advanceTo(2000);
    expect(h.machine.state).toBe('master');
  });
});

describe('shutdown', () => {
  it('from master: priority-0 advert, then stopped', () => {
    const h = startedMaster();
    expect(h.send({ type: 'shutdown' })).toEqual([
      { type: 'cancel-timer', timer: 'advert' },
      { type: 'send-advert', priority: 0 },
      { type: 'stopped' },
      { type: 'notify', from: 'master', to: 'stopped', priority: 100 },
    ]);
    expect(h.machine.state).toBe('init');
    expect(h.timers.size).toBe(0);
  });

  it('from backup: no advert; from init: nothing', () => {
    const h = startedBackup();
    expect(h.send({ type: 'shutdown' })).toEqual([
      { type: 'cancel-timer', timer: 'master-down' },
      { type: 'stopped' },
      { type: 'notify', from: 'backup', to: 'stopped', priority: 100 },
    ]);
    expect(h.send({ type: 'shutdown' })).toEqual([]);
    expect(new VrrpStateMachine(base).handle({ type: 'shutdown', now: 0 })).toEqual([]);
  });

  it('can start again after stopping', () => {
    const h = startedMaster();
    h.send({ type: 'shutdown' });
    expect(h.send({ type: 'start' })).toContainEqual({ type: 'become-backup' });
  });
});

describe('priority changes (trackers)', () => {
  it('moves a running master-down timer by the change in skew (keepalived)', () => {
    const h = startedBackup();
    expect(h.send({ type: 'priority-changed', priority: 50 })).toEqual([{ type: 'set-timer', timer: 'master-down', due: 3609.375 + 195.3125 }]);
    expect(h.machine.status().effectivePriority).toBe(50);
  });

  it('clamps to 1..254 and leaves the owner alone', () => {
    const h = startedMaster();
    h.send({ type: 'priority-changed', priority: -20 });
    expect(h.machine.status().effectivePriority).toBe(1);
    h.send({ type: 'priority-changed', priority: 300 });
    expect(h.machine.status().effectivePriority).toBe(254);
    expect(h.advanceTo(h.timers.get('advert')!).at(-1)!.actions[0]).toEqual({ type: 'send-advert', priority: 254 });

    const owner = new Harness({ ...base, priority: 255 });
    owner.send({ type: 'start' });
    expect(owner.send({ type: 'priority-changed', priority: 10 })).toEqual([]);
    expect(owner.machine.status().effectivePriority).toBe(255);
  });

  it('a lowered priority makes the master lose to a backup it used to beat', () => {
    const h = startedMaster({ priority: 150 });
    h.send({ type: 'priority-changed', priority: 90 });
    expect(h.advert(100, '10.99.0.2')).toContainEqual({ type: 'become-backup' });
  });
});

it('ignores a timer it did not ask for or already cancelled', () => {
  const h = startedMaster();
  h.send({ type: 'shutdown' });
  expect(h.machine.handle({ type: 'timer', timer: 'advert', now: 9999 })).toEqual([]);
  expect(h.machine.handle({ type: 'timer', timer: 'master-down', now: 9999 })).toEqual([]);
});

describe('two directors on a fake network (scenario B of keepalived-figures)', () => {
  // dir1 (priority 150, 10.99.0.2, `state MASTER`) and dir2 (priority 100, 10.99.0.3). Each
  // send-advert reaches the other director at the same instant; timers fire in time order.
  // A process start is a fresh machine; SIGKILL silences one and leaves its VIP in place.
  function lab(version: 2 | 3, intervalMs: number) {
    const configs = {
      dir1: { version, priority: 150, advertIntervalMs: intervalMs, primaryAddress: '10.99.0.2', initialState: 'master' as const },
      dir2: { version, priority: 100, advertIntervalMs: intervalMs, primaryAddress: '10.99.0.3', initialState: 'backup' as const },
    };
    type Name = keyof typeof configs;
    const nodes = new Map<Name, Harness>();
    const ownsVip = new Map<Name, boolean>([
      ['dir1', false],
      ['dir2', false],
    ]);
    const tookVipAt = new Map<Name, number>();
    let now = 0;

    const other = (name: Name): Name => (name === 'dir1' ? 'dir2' : 'dir1');
    const deliver = (name: Name, actions: VrrpAction[]) => {
      for (const a of actions) {
        if (a.type === 'become-master') {
          ownsVip.set(name, true);
          tookVipAt.set(name, now);
        }
        if (a.type === 'become-backup' || a.type === 'become-fault' || a.type === 'stopped') ownsVip.set(name, false);
      }
      for (const a of actions) {
        const peer = nodes.get(other(name));
        if (a.type !== 'send-advert' || !peer) continue;
        peer.now = now;
        deliver(other(name), peer.advert(a.priority, configs[name].primaryAddress, intervalMs, version));
      }
    };
    const run = (until: number) => {
      for (;;) {
        const next = [...nodes]
          .flatMap(([name, h]) => [...h.timers].map(([timer, due]) => ({ name, h, timer, due })))
          .filter((x) => x.due <= until)
          .sort((a, b) => a.due - b.due)[0];
        if (!next) break;
        now = next.h.now = next.due;
        next.h.timers.delete(next.timer);
        deliver(next.name, next.h.send({ type: 'timer', timer: next.timer }));
      }
      now = until;
      for (const h of nodes.values()) h.now = until;
    };
    return {
      ownsVip,
      tookVipAt,
      run,
      start(name: Name) {
        const h = new Harness(configs[name]);
        h.now = now;
        nodes.set(name, h);
        deliver(name, h.send({ type: 'start' }));
      },
      kill(name: Name) {
        nodes.delete(name);
      },
      terminate(name: Name) {
        deliver(name, nodes.get(name)!.send({ type: 'shutdown' }));
        nodes.delete(name);
      },
      nextAdvert: (name: Name) => nodes.get(name)!.timers.get('advert')!,
    };
  }

  it('v2 at 1 s: preemption 3.414 s, SIGKILL -> 3.609 s after the last advert, SIGTERM -> 0.609 s', () => {
    const b = lab(2, 1000);
    b.start('dir2');
    b.run(3000);
    b.start('dir1');
    expect(b.ownsVip.get('dir2')).toBe(false); // still waiting at 3 s
    b.run(20_000);
    expect(b.tookVipAt.get('dir2')).toBe(3609.375); // alone, it took the VIP
    expect(b.tookVipAt.get('dir1')).toBe(3000 + 3414.0625); // then dir1 preempted
    expect(b.ownsVip.get('dir2')).toBe(false);

    const last = b.nextAdvert('dir1');
    b.run(last);
    b.kill('dir1');
    b.run(last + 10_000);
    expect(b.tookVipAt.get('dir2')! - last).toBe(3609.375);

    // Restart: the fresh dir1 enters BACKUP(init) (dropping its stale VIP) and preempts after
    // its Master_Down_Interval, 3.414 s (figures: 3.417 s protocol part).
    const restart = last + 10_000;
    b.start('dir1');
    expect(b.ownsVip.get('dir1')).toBe(false);
    b.run(restart + 5000);
    expect(b.tookVipAt.get('dir1')! - restart).toBe(3414.0625);
    expect(b.ownsVip.get('dir2')).toBe(false);

    // SIGTERM: the priority-0 advert hands over after Skew_Time (figures: 0.624 s measured).
    b.terminate('dir1');
    b.run(restart + 10_000);
    expect(b.tookVipAt.get('dir2')! - (restart + 5000)).toBe(609.375);
  });

  it('v3 at 0.1 s: SIGKILL -> 0.3609 s after the last advert, SIGTERM -> 0.0609 s', () => {
    const b = lab(3, 100);
    b.start('dir1');
    b.start('dir2');
    b.run(1000);
    expect(b.tookVipAt.get('dir1')).toBe(341.40625);
    expect(b.ownsVip.get('dir2')).toBe(false);
    const last = b.nextAdvert('dir1');
    b.run(last);
    b.kill('dir1');
    b.run(last + 1000);
    expect(b.tookVipAt.get('dir2')! - last).toBe(360.9375);

    const c = lab(3, 100);
    c.start('dir1');
    c.start('dir2');
    c.run(1000);
    c.terminate('dir1');
    c.run(2000);
    expect(c.tookVipAt.get('dir2')! - 1000).toBe(60.9375);
  });
});

describe('reconfigure (reload)', () => {
  it('keeps master and its advert timer; the new interval applies from the next advert', () => {
    const h = startedMaster();
    const due = h.timers.get('advert')!;
    expect(h.send({ type: 'reconfigure', config: { ...base, advertIntervalMs: 2000, priority: 120 } })).toEqual([]);
    expect(h.machine.state).toBe('master');
    expect(h.timers.get('advert')).toBe(due);
    const fired = h.advanceTo(due);
    expect(fired[0]!.actions).toEqual([
      { type: 'send-advert', priority: 100 }, // the effective priority moves with the trackers' priority-changed
      { type: 'set-timer', timer: 'advert', due: due + 2000 },
    ]);
  });

  it('a backup with nopreempt reconfigured to preempt stops accepting a lower master', () => {
    const h = startedBackup({ priority: 200, preempt: false });
    h.now = 1000;
    expect(h.advert(100, '10.99.0.2')).toContainEqual({ type: 'set-timer', timer: 'master-down', due: 1000 + 3000 + (56 * 1000) / 256 });
    h.send({ type: 'reconfigure', config: { ...base, priority: 200 } });
    h.now = 2000;
    expect(h.advert(100, '10.99.0.2')).toEqual([]);
    h.advanceTo(10_000);
    expect(h.machine.state).toBe('master');
  });

  it('refuses a new version or owner-ness: those need a restarted instance', () => {
    const h = startedBackup();
    expect(() => h.send({ type: 'reconfigure', config: { ...base, version: 3, advertIntervalMs: 100 } })).toThrow(VrrpInstanceConfigError);
    expect(() => h.send({ type: 'reconfigure', config: { ...base, priority: 255 } })).toThrow(VrrpInstanceConfigError);
  });

  it('a member held waiting for its sync group goes master when a reload takes it out of the group', () => {
    const h = startedBackup({ syncGroup: true });
    const [fired] = h.advanceTo(h.timers.get('master-down')!);
    expect(fired!.actions).toEqual([{ type: 'want-master' }]);
    const actions = h.send({ type: 'reconfigure', config: base });
    expect(actions).toContainEqual({ type: 'become-master' });
    expect(h.machine.state).toBe('master');
  });
});
