import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CheckerState } from '../../src/health/checker-state.js';
import { Scheduler, type CheckReport } from '../../src/health/scheduler.js';
import { WakeTimer } from '../../src/health/wake-timer.js';

describe('WakeTimer', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('runs the scheduler on real (here: fake) timers, one timer at a time', async () => {
    const clock = { now: () => Date.now() };
    const timer = new WakeTimer(clock);
    const reports: Array<[number, string]> = [];
    const scheduler = new Scheduler({
      clock,
      runProbe: async () => ({ ok: true, reason: 'connected', durationMs: 0 }),
      onResult: (r: CheckReport) => reports.push([Date.now(), r.checkerId]),
      onNextDue: timer.arm,
      random: () => 0,
    });
    const settings = { delayLoopMs: 1000, connectTimeoutMs: 500, retry: 1, delayBeforeRetryMs: 1000, alpha: false };
    scheduler.add('a', 'ka', new CheckerState(settings));
    scheduler.add('b', 'kb', new CheckerState({ ...settings, delayLoopMs: 1500 }));
    timer.drive(scheduler);
    await vi.advanceTimersByTimeAsync(4100);
    expect(reports).toEqual([
      [1000, 'a'],
      [1000, 'b'],
      [2000, 'a'],
      [2500, 'b'],
      [3000, 'a'],
      [4000, 'b'], // scheduled at 2500, before a's 4000 (scheduled at 3000)
      [4000, 'a'],
    ]);
    expect(vi.getTimerCount()).toBe(1);
    timer.stop();
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(5000);
    expect(reports).toHaveLength(7);
  });

  it('re-arms when a timer fires before the due time it was set for', () => {
    let now = 0;
    let ticks = 0;
    const timer = new WakeTimer({ now: () => now });
    timer.drive({ tick: () => ticks++, nextDueAt: () => 1000 });
    now = 995; // the clock lags the timer: nothing was due yet
    vi.advanceTimersByTime(1000);
    expect(ticks).toBe(1);
    expect(vi.getTimerCount()).toBe(1);
  });

  it('with slack, checks due within one window share a tick at its end', () => {
    let ticks = 0;
    const dues = [1001, 1004, 1009, 1011];
    const timer = new WakeTimer({ now: () => Date.now() }, { slackMs: 10 });
    const ticksAt: number[] = [];
    timer.drive({
      tick: () => {
        ticks++;
        ticksAt.push(Date.now());
        while (dues.length > 0 && dues[0]! <= Date.now()) dues.shift();
      },
      nextDueAt: () => dues[0],
    });
    vi.advanceTimersByTime(1100);
    expect(ticksAt).toEqual([1010, 1020]);
    expect(ticks).toBe(2);
  });
});
