import { describe, expect, it } from 'vitest';
import { CheckerState, type CheckerSettings, type CheckerStep } from '../../src/health/checker-state.js';
import { HealthSettingsError } from '../../src/health/errors.js';
import type { ProbeResult } from '../../src/health/probe.js';

const figuresA: CheckerSettings = {
  delayLoopMs: 1000,
  connectTimeoutMs: 1000,
  retry: 2,
  delayBeforeRetryMs: 1000,
  alpha: false,
};

// Instant answers: a run's slot is the time its result is applied.
const ok: ProbeResult = { ok: true, reason: 'connected', durationMs: 0 };
const refused: ProbeResult = { ok: false, reason: 'connection refused', durationMs: 0, hard: true };
const timedOut: ProbeResult = { ok: false, reason: 'connect timeout', durationMs: 1000 };

interface Run {
  at: number;
  step: CheckerStep;
}

/** Runs a checker from t=0 against `server(t)` (the probe started at t) until `until`. */
function drive(state: CheckerState, server: (t: number) => ProbeResult, until: number, random = 0): Run[] {
  const runs: Run[] = [];
  let due = state.start(0, () => random);
  while (due < until) {
    const probe = server(due);
    const finished = due + probe.durationMs;
    const step = state.result(finished, probe, due);
    runs.push({ at: finished, step });
    due = step.dueAt;
  }
  return runs;
}

function transitions(runs: Run[]): Array<[number, string]> {
  return runs.filter((r) => r.step.transition !== undefined).map((r) => [r.at, r.step.transition!]);
}

describe('CheckerState: keepalived arithmetic', () => {
  it('first run at 1 s + random share of warmup (default = delay_loop)', () => {
    const s = new CheckerState({ ...figuresA, delayLoopMs: 5000 });
    expect(s.start(100, () => 0)).toBe(1100);
    expect(s.start(100, () => 0.5)).toBe(3600);
    expect(s.start(100, () => 0.999999)).toBeLessThanOrEqual(6100);
  });

  it('warmup 0 disables the spread; an explicit warmup bounds it', () => {
    expect(new CheckerState({ ...figuresA, warmupMs: 0 }).start(0, () => 0.9)).toBe(1000);
    const s = new CheckerState({ ...figuresA, delayLoopMs: 60_000, warmupMs: 2000 });
    const firsts = Array.from({ length: 100 }, (_, i) => s.start(0, () => i / 100));
    expect(Math.min(...firsts)).toBe(1000);
    expect(Math.max(...firsts)).toBeLessThan(3000);
    expect(Math.max(...firsts)).toBeGreaterThan(2900);
  });

  it('alpha: the first run goes at once; its warmup share shifts the runs after it', () => {
    const s = new CheckerState({ ...figuresA, alpha: true });
    expect(s.start(100, () => 0.5)).toBe(100);
    expect(s.result(101, { ...ok, durationMs: 1 }, 100)).toMatchObject({ transition: 'up', dueAt: 1600, slotAt: 1600 });
    expect(s.result(1601, { ...ok, durationMs: 1 }, 1600).dueAt).toBe(2600);
    // after a reload the adopted checker has run: keepalived's start delay again
    const next = new CheckerState({ ...figuresA, alpha: true });
    next.adopt(s);
    expect(next.start(5000, () => 0.5)).toBe(6500);
  });

  it('refused from t=10.3 s: down 2..3 s later (figures A: 2.18..3.01 s)', () => {
    for (let phase = 0; phase < 1; phase += 0.1) {
      const s = new CheckerState(figuresA);
      const runs = drive(s, (t) => (t < 10_300 ? ok : refused), 20_000, phase);
      const down = transitions(runs);
      expect(down).toHaveLength(1);
      const [at, kind] = down[0]!;
      expect(kind).toBe('down');
      expect(at).toBeGreaterThanOrEqual(12_300);
      expect(at).toBeLessThan(13_400);
      // retry + 1 consecutive failures, the retries delay_before_retry apart
      const failed = runs.filter((r) => !r.step.up || r.step.failures > 0);
      expect(failed.slice(0, 3).map((r) => r.step.failures)).toEqual([1, 2, 3]);
      expect(failed[1]!.at - failed[0]!.at).toBe(1000);
    }
  });

  it('black-holed with connect_timeout 1 s: down 5..6 s later (figures A: 5.72..5.89 s)', () => {
    for (let phase = 0; phase < 1; phase += 0.1) {
      const s = new CheckerState(figuresA);
      const down = transitions(drive(s, (t) => (t < 10_300 ? ok : timedOut), 20_000, phase));
      expect(down).toHaveLength(1);
      expect(down[0]![0] - 10_300).toBeGreaterThanOrEqual(5000);
      expect(down[0]![0] - 10_300).toBeLessThan(6100);
    }
  });

  it('a failure followed by a success resets the retry count', () => {
    const s = new CheckerState(figuresA);
    s.result(1000, ok);
    expect(s.result(2000, refused).dueAt).toBe(3000); // delay_before_retry
    expect(s.result(3000, ok).dueAt).toBe(4000);
    expect(s.result(4000, refused).transition).toBeUndefined();
    expect(s.result(5000, refused).transition).toBeUndefined();
    expect(s.result(6000, refused).transition).toBe('down');
  });

  it('one success marks a down checker up; a down checker is re-checked every delay_loop', () => {
    const s = new CheckerState({ ...figuresA, delayLoopMs: 5000, delayBeforeRetryMs: 1000 });
    s.result(1000, ok);
    s.result(2000, refused);
    s.result(3000, refused);
    const down = s.result(4000, refused);
    expect(down).toMatchObject({ transition: 'down', up: false, dueAt: 9000 });
    expect(s.result(9000, refused)).toMatchObject({ transition: undefined, dueAt: 14_000 });
    expect(s.result(14_000, ok)).toMatchObject({ transition: 'up', up: true, failures: 0, dueAt: 19_000 });
  });

  it('startup without alpha: up before any check, the first failure removes at once', () => {
    const s = new CheckerState(figuresA);
    expect(s.up).toBe(true);
    expect(s.hasRun).toBe(false);
    const first = s.result(1500, refused);
    expect(first).toMatchObject({ transition: 'down', firstRun: true, dueAt: 2500 });
  });

  it('startup without alpha: a first success is no transition', () => {
    const s = new CheckerState(figuresA);
    expect(s.result(1500, ok)).toMatchObject({ transition: undefined, firstRun: true, up: true });
  });

  it('alpha starts down and comes up on the first success', () => {
    const s = new CheckerState({ ...figuresA, alpha: true });
    expect(s.up).toBe(false);
    expect(s.result(1500, refused)).toMatchObject({ transition: undefined, up: false, firstRun: true, dueAt: 2500 });
    expect(s.result(2500, ok)).toMatchObject({ transition: 'up', up: true, firstRun: false });
  });

  it('retry 0 fails on the first failure', () => {
    const s = new CheckerState({ ...figuresA, retry: 0 });
    s.result(1000, ok);
    expect(s.result(2000, refused).transition).toBe('down');
  });

  it('delay_loop runs keep a fixed cadence from their slots; retries wait from the failure', () => {
    const s = new CheckerState({ ...figuresA, delayLoopMs: 5000 });
    // neither the probe's 300 ms nor its 50 ms late start moves the next slot
    expect(s.result(1350, { ...ok, durationMs: 300 }, 1000)).toMatchObject({ dueAt: 6000, slotAt: 6000, skipped: 0 });
    // a run late by less than a period keeps the grid
    expect(s.result(8000, { ...ok, durationMs: 100 }, 6000)).toMatchObject({ dueAt: 11_000, slotAt: 11_000, skipped: 0 });
    // a slot that passed while the probe ran is run at once, and the grid is kept
    expect(s.result(16_500, { ...ok, durationMs: 5500 }, 11_000)).toMatchObject({ dueAt: 16_500, slotAt: 16_000, skipped: 0 });
    // a run that started after several slots stands for them: they are left out and counted
    expect(s.result(30_000, { ...ok, durationMs: 7000 }, 6000)).toMatchObject({ dueAt: 30_000, slotAt: 26_000, skipped: 3 });
    expect(s.result(40_100, { ...ok, durationMs: 100 }, 26_000)).toMatchObject({ dueAt: 41_000, slotAt: 41_000, skipped: 2 });
    // a retry comes delay_before_retry after the failure, not after its slot
    expect(s.result(31_400, { ...refused, durationMs: 400 }, 31_000)).toMatchObject({ dueAt: 32_400, slotAt: 32_400, failures: 1 });
    // and the cadence goes on from the retry's slot
    expect(s.result(32_500, { ...ok, durationMs: 100 }, 32_400)).toMatchObject({ dueAt: 37_400, slotAt: 37_400 });
  });

  it('MISC_CHECK measures retries from the failed run\'s slot too', () => {
    const misc = new CheckerState({ ...figuresA, delayLoopMs: 5000, measureFromStart: true });
    misc.result(1300, { ...ok, durationMs: 300 }, 1000);
    expect(misc.result(6400, { ...refused, durationMs: 400 }, 6000)).toMatchObject({ dueAt: 7000, slotAt: 7000 });
    expect(misc.result(7200, { ...ok, durationMs: 200 }, 7000)).toMatchObject({ dueAt: 12_000 });
  });

  it('idle (ha_suspend) keeps the delay_loop rhythm', () => {
    expect(new CheckerState(figuresA).idle(4200)).toBe(5200);
  });

  it('rejects settings it cannot run', () => {
    expect(() => new CheckerState({ ...figuresA, delayLoopMs: 0 })).toThrow(HealthSettingsError);
    expect(() => new CheckerState({ ...figuresA, retry: -1 })).toThrow(/retry/);
    expect(() => new CheckerState({ ...figuresA, rise: 0 })).toThrow(/rise/);
    expect(() => new CheckerState({ ...figuresA, delayBeforeRetryMs: Number.NaN })).toThrow(/delay_before_retry/);
    let caught: unknown;
    try {
      new CheckerState({ ...figuresA, fall: 1.5 });
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(HealthSettingsError);
    expect((caught as HealthSettingsError).code).toBe('EHEALTHSETTINGS');
  });
});

describe('CheckerState: fast fail', () => {
  it('a hard failure marks an up checker down at once', () => {
    const s = new CheckerState({ ...figuresA, fastFail: true });
    s.result(1000, ok);
    expect(s.result(2000, refused)).toMatchObject({ transition: 'down', dueAt: 3000 });
  });

  it('timeouts still go through the retries', () => {
    const s = new CheckerState({ ...figuresA, fastFail: true });
    s.result(1000, ok);
    expect(s.result(3000, timedOut).transition).toBeUndefined();
    expect(s.result(5000, timedOut).transition).toBeUndefined();
    expect(s.result(7000, timedOut).transition).toBe('down');
  });

  it('a hard failure after a timeout retry still ends it at once', () => {
    const s = new CheckerState({ ...figuresA, fastFail: true });
    s.result(1000, ok);
    s.result(3000, timedOut);
    expect(s.result(4000, refused).transition).toBe('down');
  });

  it('without fastFail a hard failure retries like any other', () => {
    const s = new CheckerState(figuresA);
    s.result(1000, ok);
    expect(s.result(2000, refused).transition).toBeUndefined();
  });
});

describe('CheckerState: rise/fall', () => {
  const counting: CheckerSettings = { ...figuresA, retry: 7, rise: 3, fall: 2, delayLoopMs: 5000, delayBeforeRetryMs: 1000 };

  it('goes down after `fall` consecutive failures, ignoring retry', () => {
    const s = new CheckerState(counting);
    s.result(1000, ok);
    expect(s.result(2000, refused)).toMatchObject({ transition: undefined, dueAt: 3000 });
    expect(s.result(3000, refused)).toMatchObject({ transition: 'down', dueAt: 8000 });
  });

  it('comes up after `rise` consecutive successes, checked delay_before_retry apart', () => {
    const s = new CheckerState(counting);
    s.result(1000, ok);
    s.result(2000, refused);
    s.result(3000, refused);
    expect(s.result(8000, ok)).toMatchObject({ transition: undefined, up: false, dueAt: 9000 });
    expect(s.result(9000, ok)).toMatchObject({ transition: undefined, dueAt: 10_000 });
    expect(s.result(10_000, ok)).toMatchObject({ transition: 'up', up: true, dueAt: 15_000 });
  });

  it('an opposite result resets the count', () => {
    const s = new CheckerState(counting);
    s.result(1000, ok);
    s.result(2000, refused);
    s.result(3000, ok);
    expect(s.result(8000, refused).transition).toBeUndefined();
    s.result(9000, refused);
    expect(s.up).toBe(false);
    s.result(14_000, ok);
    s.result(15_000, ok);
    expect(s.result(16_000, refused)).toMatchObject({ up: false, dueAt: 21_000 });
    s.result(21_000, ok);
    s.result(22_000, ok);
    expect(s.up).toBe(false);
    expect(s.result(23_000, ok).transition).toBe('up');
  });

  it('alpha needs `rise` successes to come up', () => {
    const s = new CheckerState({ ...counting, alpha: true });
    expect(s.result(1000, ok).up).toBe(false);
    expect(s.result(2000, ok).up).toBe(false);
    expect(s.result(3000, ok).transition).toBe('up');
  });

  it('startup without alpha: the first failure is final here too', () => {
    const s = new CheckerState(counting);
    expect(s.result(1000, timedOut).transition).toBe('down');
  });

  it('fall alone leaves rise at 1; fast fail overrides fall', () => {
    const s = new CheckerState({ ...figuresA, fall: 3, fastFail: true });
    s.result(1000, ok);
    expect(s.result(2000, timedOut).transition).toBeUndefined();
    expect(s.result(3000, refused).transition).toBe('down');
    expect(s.result(4000, ok).transition).toBe('up');
  });
});

describe('CheckerState: reload', () => {
  it('adopts up/down and spent retries from the checker it replaces', () => {
    const old = new CheckerState(figuresA);
    old.result(1000, ok);
    old.result(2000, refused); // one retry spent
    const same = new CheckerState(figuresA);
    same.adopt(old);
    expect(same.hasRun).toBe(true);
    expect(same.result(3000, refused).transition).toBeUndefined();
    expect(same.result(4000, refused).transition).toBe('down');
  });

  it('under a smaller retry one more failure is still needed', () => {
    const old = new CheckerState({ ...figuresA, retry: 5 });
    old.result(1000, ok);
    for (let t = 2000; t <= 5000; t += 1000) old.result(t, refused); // four retries spent
    const fewer = new CheckerState({ ...figuresA, retry: 2 });
    fewer.adopt(old);
    expect(fewer.result(6000, refused).transition).toBeUndefined();
    expect(fewer.result(7000, refused).transition).toBe('down');
  });

  it('a down checker stays down; one that never ran leaves the new one fresh', () => {
    const down = new CheckerState({ ...figuresA, retry: 0 });
    down.result(1000, refused);
    const next = new CheckerState({ ...figuresA, alpha: false });
    next.adopt(down);
    expect(next.up).toBe(false);
    expect(next.result(2000, ok).transition).toBe('up');
    const fresh = new CheckerState(figuresA);
    fresh.adopt(new CheckerState({ ...figuresA, alpha: true }));
    expect(fresh.up).toBe(true);
    expect(fresh.hasRun).toBe(false);
    expect(fresh.result(1000, refused).transition).toBe('down');
  });
});
