import pLimit from 'p-limit';
import { describe, expect, it } from 'vitest';
import { CheckerState, type CheckerSettings } from '../../src/health/checker-state.js';
import { SchedulerError } from '../../src/health/errors.js';
import type { ProbeResult } from '../../src/health/probe.js';
import { Scheduler, type CheckReport, type RunProbe, type SchedulerOptions } from '../../src/health/scheduler.js';

/** A fake clock with fake sleeps; `runUntil` plays the event loop: timers, then scheduler ticks. */
class Sim {
  t = 0;
  readonly #sleeps: Array<{ at: number; wake: () => void }> = [];
  readonly clock = { now: () => this.t };

  sleep(ms: number): Promise<void> {
    return new Promise((wake) => this.#sleeps.push({ at: this.t + ms, wake }));
  }

  async runUntil(end: number, scheduler: Scheduler): Promise<void> {
    for (;;) {
      await settle();
      let next = scheduler.nextDueAt();
      for (const s of this.#sleeps) if (next === undefined || s.at < next) next = s.at;
      if (next === undefined || next > end) break;
      this.t = Math.max(this.t, next);
      for (const s of this.#sleeps.filter((x) => x.at <= this.t)) {
        this.#sleeps.splice(this.#sleeps.indexOf(s), 1);
        s.wake();
      }
      await settle();
      scheduler.tick();
    }
    this.t = Math.max(this.t, end);
    await settle();
  }
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const figuresA: CheckerSettings = { delayLoopMs: 1000, connectTimeoutMs: 1000, retry: 2, delayBeforeRetryMs: 1000, alpha: false };

function harness(runProbe: (sim: Sim, key: string, deadline: number) => Promise<ProbeResult>, options: Partial<SchedulerOptions> = {}) {
  const sim = new Sim();
  const reports: Array<CheckReport & { at: number }> = [];
  const calls: Array<{ key: string; at: number; deadline: number }> = [];
  const probe: RunProbe = (key, deadline) => {
    calls.push({ key, at: sim.t, deadline });
    return runProbe(sim, key, deadline);
  };
  const scheduler = new Scheduler({
    clock: sim.clock,
    runProbe: probe,
    onResult: (r) => reports.push({ ...r, at: sim.t }),
    random: () => 0.5,
    ...options,
  });
  return { sim, scheduler, reports, calls };
}

/** A TCP server that refuses (1 ms) or swallows SYNs (until the deadline) from `from` on. */
function tcpServer(failure: 'refuse' | 'blackhole', from: number) {
  return async (sim: Sim, _key: string, deadline: number): Promise<ProbeResult> => {
    const start = sim.t;
    if (start >= from && failure === 'blackhole') {
      await sim.sleep(deadline - start);
      return { ok: false, reason: 'connect timeout', durationMs: sim.t - start };
    }
    await sim.sleep(1);
    if (start >= from) return { ok: false, reason: 'connection refused', durationMs: sim.t - start, hard: true };
    return { ok: true, reason: 'connected', durationMs: sim.t - start };
  };
}

describe('Scheduler: keepalived timing end to end', () => {
  for (const [failure, low, high] of [
    ['refuse', 2000, 3100],
    ['blackhole', 5000, 6100],
  ] as const) {
    it(`${failure} from t=10.3 s is marked down ${low / 1000}..${high / 1000} s later`, async () => {
      const { sim, scheduler, reports } = harness(tcpServer(failure, 10_300));
      scheduler.add('rs2/tcp', '10.99.0.12:80 tcp', new CheckerState(figuresA));
      await sim.runUntil(20_000, scheduler);
      const down = reports.filter((r) => r.step.transition === 'down');
      expect(down).toHaveLength(1);
      expect(down[0]!.at - 10_300).toBeGreaterThanOrEqual(low);
      expect(down[0]!.at - 10_300).toBeLessThan(high);
      expect(scheduler.stats().lateProbes).toBe(0);
    });
  }

  it('runs every delay_loop whatever the probe takes (keepalived: delay_loop + probe time)', async () => {
    const { sim, scheduler, calls } = harness(async (s) => {
      await s.sleep(300);
      return { ok: true, reason: 'connected', durationMs: 300 };
    });
    scheduler.add('a', 'k', new CheckerState({ ...figuresA, warmupMs: 0 }));
    await sim.runUntil(10_500, scheduler);
    expect(calls.map((c) => c.at)).toEqual([1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000]);
  });

  it('passes connect_timeout as the deadline from the probe start', async () => {
    const { sim, scheduler, calls } = harness(tcpServer('refuse', Infinity));
    scheduler.add('a', 'k', new CheckerState({ ...figuresA, connectTimeoutMs: 2500, warmupMs: 0 }));
    await sim.runUntil(1500, scheduler);
    expect(calls).toEqual([{ key: 'k', at: 1000, deadline: 3500 }]);
  });

  it('spreads first runs over 1 s + warmup', () => {
    let i = 0;
    const { scheduler } = harness(tcpServer('refuse', Infinity), { random: () => (i++ % 100) / 100 });
    const firsts = Array.from({ length: 100 }, (_, n) => scheduler.add(`c${n}`, `k${n}`, new CheckerState({ ...figuresA, delayLoopMs: 5000 })));
    expect(Math.min(...firsts)).toBe(1000);
    expect(Math.max(...firsts)).toBeLessThan(6000);
    expect(new Set(firsts).size).toBe(100);
    expect(scheduler.nextDueAt()).toBe(1000);
  });
});

describe('Scheduler: event-loop lag', () => {
  it('counts late checks, runs every one of them oldest first, and moves no one else', async () => {
    const { sim, scheduler, reports } = harness(tcpServer('refuse', Infinity));
    // first runs at 1000 + 5n: no two slots coincide
    for (let n = 0; n < 10; n++) {
      scheduler.add(`c${n}`, `k${n}`, new CheckerState({ ...figuresA, warmupMs: n * 10, delayLoopMs: 1000 + n * 1000 }));
    }
    await sim.runUntil(3500, scheduler);
    const before = reports.length;
    expect(scheduler.stats().lateProbes).toBe(0);
    const pending = Array.from({ length: 10 }, (_, n) => scheduler.dueAt(`c${n}`)!);
    // the loop is blocked from 3000 to 7500
    sim.t = 7500;
    const ranOrder: string[] = [];
    const origin = reports.length;
    scheduler.tick();
    await settle();
    await sim.runUntil(7501, scheduler);
    const late = reports.slice(origin);
    for (const r of late) ranOrder.push(r.checkerId);
    const overdue = pending.map((at, n) => ({ at, id: `c${n}` })).filter((p) => p.at <= 7500);
    expect(ranOrder).toEqual(overdue.sort((a, b) => a.at - b.at).map((p) => p.id));
    const stats = scheduler.stats();
    expect(stats.lateProbes).toBe(overdue.length);
    expect(stats.maxLatenessMs).toBe(7500 - Math.min(...overdue.map((p) => p.at)));
    for (const r of late) expect(r.latenessMs).toBe(7500 - pending[Number(r.checkerId.slice(1))]!);
    // checkers that were not yet due keep their time
    for (let n = 0; n < 10; n++) if (pending[n]! > 7500) expect(scheduler.dueAt(`c${n}`)).toBe(pending[n]);
    // and the overdue ones, each checked once, are back on their grid
    expect(scheduler.dueAt('c0')).toBe(8000);
    expect(scheduler.dueAt('c1')).toBe(9005);
    expect(scheduler.stats().skippedRuns).toBe(3 + 1 + 1); // c0: 5000, 6000, 7000; c1: 7005; c2: 7010
    expect(reports.length - before).toBe(overdue.length);
  });

  it('after a stall one late run stands for the slots it missed, then the grid goes on', async () => {
    const { sim, scheduler, reports } = harness(async (s) => {
      await s.sleep(10);
      return { ok: true, reason: 'exit 0', durationMs: 10 };
    });
    scheduler.add('misc', 'script', new CheckerState({ ...figuresA, warmupMs: 0, measureFromStart: true }));
    await sim.runUntil(3500, scheduler);
    expect(reports.map((r) => r.at)).toEqual([1010, 2010, 3010]);
    sim.t = 5200; // stalled past the slots 4000 and 5000
    scheduler.tick();
    await sim.runUntil(7100, scheduler);
    // slot 4000 runs late and stands for slot 5000 too, then back on the grid
    expect(reports.slice(3).map((r) => [r.at, r.latenessMs])).toEqual([
      [5210, 1200],
      [6010, 0],
      [7010, 0],
    ]);
    expect(scheduler.stats()).toMatchObject({ lateProbes: 1, skippedRuns: 1 });
  });

  it('stalled for many periods: one run, the slots it stood for counted as left out', async () => {
    const { sim, scheduler, reports } = harness(async (s) => {
      await s.sleep(10);
      return { ok: true, reason: 'exit 0', durationMs: 10 };
    });
    scheduler.add('misc', 'script', new CheckerState({ ...figuresA, warmupMs: 0, measureFromStart: true }));
    await sim.runUntil(1500, scheduler);
    sim.t = 65_000; // slots 2000..65000 all missed
    scheduler.tick();
    await sim.runUntil(66_500, scheduler);
    expect(reports.slice(1).map((r) => [r.at, r.latenessMs])).toEqual([
      [65_010, 63_000],
      [66_010, 0],
    ]);
    expect(scheduler.stats().skippedRuns).toBe(63);
  });

  it('time spent queued behind the concurrency cap is lateness too, and nothing is skipped', async () => {
    let running = 0;
    let peak = 0;
    const { sim, scheduler, reports } = harness(
      async (s) => {
        running++;
        peak = Math.max(peak, running);
        await s.sleep(100);
        running--;
        return { ok: true, reason: 'connected', durationMs: 100 };
      },
      { limit: pLimit(2), lateToleranceMs: 50 },
    );
    for (let n = 0; n < 6; n++) scheduler.add(`c${n}`, `k${n}`, new CheckerState({ ...figuresA, warmupMs: 0 }));
    await sim.runUntil(1350, scheduler);
    expect(peak).toBe(2);
    expect(reports.map((r) => [r.checkerId, r.at, r.latenessMs])).toEqual([
      ['c0', 1100, 0],
      ['c1', 1100, 0],
      ['c2', 1200, 100],
      ['c3', 1200, 100],
      ['c4', 1300, 200],
      ['c5', 1300, 200],
    ]);
    expect(scheduler.stats().lateProbes).toBe(4);
  });
});

describe('Scheduler: tick budget', () => {
  it('a tick starts at most `tickBudget` due checkers; the rest go next tick, oldest first, and are not lost', async () => {
    const { sim, scheduler, calls } = harness(tcpServer('refuse', Infinity), { tickBudget: 2 });
    for (let n = 0; n < 5; n++) scheduler.add(`c${n}`, `k${n}`, new CheckerState({ ...figuresA, warmupMs: 0 }));
    sim.t = 1000;
    scheduler.tick();
    expect(calls.map((c) => c.key)).toEqual(['k0', 'k1']);
    // what is left is already due: the daemon's timer fires again at once
    expect(scheduler.nextDueAt()).toBe(1000);
    sim.t = 1001;
    scheduler.tick();
    scheduler.tick();
    expect(calls.map((c) => [c.key, c.at])).toEqual([
      ['k0', 1000],
      ['k1', 1000],
      ['k2', 1001],
      ['k3', 1001],
      ['k4', 1001],
    ]);
    await sim.runUntil(1500, scheduler);
    expect(scheduler.stats().probesStarted).toBe(5);
  });
});

describe('Scheduler: shared probes', () => {
  it('identical checkers run one probe per due time and all receive its result', async () => {
    const { sim, scheduler, reports, calls } = harness(tcpServer('refuse', 4500));
    scheduler.add('vs1/rs1', '10.99.0.11:80 tcp', new CheckerState(figuresA));
    scheduler.add('vs2/rs1', '10.99.0.11:80 tcp', new CheckerState({ ...figuresA, warmupMs: 0 }));
    expect(scheduler.dueAt('vs2/rs1')).toBe(scheduler.dueAt('vs1/rs1'));
    await sim.runUntil(10_000, scheduler);
    const perCall = calls.length;
    expect(reports).toHaveLength(perCall * 2);
    for (const r of reports) expect(r.sharedBy).toBe(2);
    expect(scheduler.stats().sharedResults).toBe(perCall);
    const downs = reports.filter((r) => r.step.transition === 'down');
    expect(downs.map((r) => r.checkerId).sort()).toEqual(['vs1/rs1', 'vs2/rs1']);
    expect(downs[0]!.at).toBe(downs[1]!.at);
  });

  it('a checker due while its probe runs joins it instead of starting another', async () => {
    const { sim, scheduler, reports, calls } = harness(async (s) => {
      await s.sleep(300);
      return { ok: true, reason: 'connected', durationMs: 300 };
    });
    scheduler.add('a', 'same', new CheckerState({ ...figuresA, warmupMs: 0 }));
    await sim.runUntil(1100, scheduler); // a's probe runs 1000..1300
    scheduler.add('b', 'same', new CheckerState({ ...figuresA, warmupMs: 0 })); // due 2100, no pending peer
    expect(scheduler.dueAt('b')).toBe(2100);
    await sim.runUntil(2500, scheduler); // b due 2100 joins a's probe started 2000
    expect(calls.map((c) => c.at)).toEqual([1000, 2000]);
    expect(reports.map((r) => [r.checkerId, r.at, r.sharedBy])).toEqual([
      ['a', 1300, 1],
      ['a', 2300, 2],
      ['b', 2300, 2],
    ]);
  });

  it('checkers with different retry settings share probes but keep their own state', async () => {
    const { sim, scheduler, reports } = harness(tcpServer('refuse', 2500));
    scheduler.add('patient', 'k', new CheckerState({ ...figuresA, warmupMs: 0, retry: 3 }));
    scheduler.add('strict', 'k', new CheckerState({ ...figuresA, warmupMs: 0, retry: 0 }));
    await sim.runUntil(8000, scheduler);
    const down = (id: string) => reports.find((r) => r.checkerId === id && r.step.transition === 'down')!.at;
    expect(down('strict')).toBe(3001);
    expect(down('patient')).toBe(6004);
  });
});

describe('Scheduler: lifecycle', () => {
  it('ha_suspend: a suspended checker reschedules every delay_loop without probing', async () => {
    const { sim, scheduler, calls } = harness(tcpServer('refuse', Infinity));
    scheduler.add('a', 'k', new CheckerState({ ...figuresA, warmupMs: 0 }), { suspended: true });
    await sim.runUntil(3500, scheduler);
    expect(calls).toHaveLength(0);
    expect(scheduler.dueAt('a')).toBe(4000);
    scheduler.setSuspended('a', false);
    await sim.runUntil(4500, scheduler);
    expect(calls.map((c) => c.at)).toEqual([4000]);
  });

  it('a removed checker gets no result from its probe in flight', async () => {
    const { sim, scheduler, reports } = harness(tcpServer('refuse', Infinity));
    scheduler.add('a', 'k', new CheckerState({ ...figuresA, warmupMs: 0 }));
    sim.t = 1000;
    scheduler.tick();
    scheduler.remove('a');
    await sim.runUntil(5000, scheduler);
    expect(reports).toHaveLength(0);
    expect(scheduler.has('a')).toBe(false);
    expect(scheduler.stats().checkers).toBe(0);
  });

  it('a probe that throws is a failure with the error as its reason', async () => {
    const { sim, scheduler, reports } = harness(async () => {
      throw new Error('EMFILE: too many open files');
    });
    scheduler.add('a', 'k', new CheckerState({ ...figuresA, warmupMs: 0 }));
    await sim.runUntil(1000, scheduler);
    expect(reports[0]!.probe).toMatchObject({ ok: false, reason: 'probe error: EMFILE: too many open files' });
    expect(reports[0]!.step.transition).toBe('down');
  });

  it('a probe that never settles is failed at deadline + grace and the checker goes on', async () => {
    const { sim, scheduler, reports, calls } = harness(() => new Promise<ProbeResult>(() => undefined), { deadlineGraceMs: 500 });
    scheduler.add('a', 'k', new CheckerState({ ...figuresA, warmupMs: 0 }));
    await sim.runUntil(2600, scheduler);
    expect(reports.map((r) => [r.at, r.probe.reason])).toEqual([[2500, 'probe did not finish by its deadline']]);
    expect(scheduler.stats().abandonedProbes).toBe(1);
    // its slot 2000 passed while it hung: the next run starts at once
    expect(calls.map((c) => c.at)).toEqual([1000, 2500]);
  });

  it('a throwing listener reaches onError and does not stall other checkers', async () => {
    const errors: unknown[] = [];
    const seen: string[] = [];
    const { sim, scheduler } = harness(tcpServer('refuse', Infinity), {
      onResult: (r) => {
        seen.push(r.checkerId);
        if (r.checkerId === 'a') throw new Error('listener bug');
      },
      onError: (err) => errors.push(err),
    });
    scheduler.add('a', 'k', new CheckerState({ ...figuresA, warmupMs: 0 }));
    scheduler.add('b', 'k', new CheckerState({ ...figuresA, warmupMs: 0 }));
    await sim.runUntil(2500, scheduler);
    expect(errors).toHaveLength(2);
    expect(seen).toEqual(['a', 'b', 'a', 'b']);
    expect(scheduler.dueAt('b')).toBe(3000);
  });

  it('reports the earliest due time so the daemon can arm one timer', async () => {
    const dues: Array<number | undefined> = [];
    const { sim, scheduler } = harness(tcpServer('refuse', Infinity), { onNextDue: (at) => dues.push(at) });
    scheduler.add('a', 'k', new CheckerState({ ...figuresA, warmupMs: 0 }));
    expect(dues).toEqual([1000]);
    await sim.runUntil(1001, scheduler);
    expect(dues).toContain(2000);
  });

  it('rejects duplicate and unknown checker ids', () => {
    const { scheduler } = harness(tcpServer('refuse', Infinity));
    scheduler.add('a', 'k', new CheckerState(figuresA));
    expect(() => scheduler.add('a', 'k', new CheckerState(figuresA))).toThrow(SchedulerError);
    expect(() => scheduler.remove('zz')).toThrow(expect.objectContaining({ code: 'ENOCHECKER' }));
    expect(() => scheduler.add('a', 'k2', new CheckerState(figuresA))).toThrow(expect.objectContaining({ code: 'EDUPCHECKER' }));
  });
});
