import { describe, expect, it } from 'vitest';
import { LagReport } from '../../src/health/lag-report.js';

describe('LagReport', () => {
  it('sums one window of late results and skipped slots, then starts over', () => {
    const lag = new LagReport({ windowMs: 10_000, toleranceMs: 20 });
    expect(lag.note(0, 5, 0)).toBeUndefined(); // within tolerance
    expect(lag.note(1000, 300, 0)).toBeUndefined();
    expect(lag.note(2000, 1200, 1)).toBeUndefined();
    expect(lag.note(10_000, 0, 0)).toEqual({ late: 2, maxLatenessMs: 1200, skipped: 1, windowMs: 10_000 });
    expect(lag.note(15_000, 40, 0)).toBeUndefined();
    expect(lag.note(20_500, 0, 0)).toEqual({ late: 1, maxLatenessMs: 40, skipped: 0, windowMs: 10_500 });
  });

  it('says nothing for a window without lag', () => {
    const lag = new LagReport({ windowMs: 1000, toleranceMs: 20 });
    expect(lag.note(0, 20, 0)).toBeUndefined();
    expect(lag.note(1000, 0, 0)).toBeUndefined();
    expect(lag.note(1500, 25, 0)).toBeUndefined();
    expect(lag.note(2000, 0, 0)).toEqual({ late: 1, maxLatenessMs: 25, skipped: 0, windowMs: 1000 });
  });
});
