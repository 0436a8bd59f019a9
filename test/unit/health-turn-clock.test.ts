import { describe, expect, it } from 'vitest';
import { freshTurnNow, turnEpochNow, turnNow } from '../../src/health/turn-clock.js';

const busy = (ms: number) => {
  const end = performance.now() + ms;
  while (performance.now() < end);
};

describe('turnNow', () => {
  it('reads the clock once per event-loop turn', async () => {
    const first = turnNow();
    busy(5);
    expect(turnNow()).toBe(first);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(turnNow()).toBeGreaterThanOrEqual(first + 5);
  });

  it('gives epoch time from the same reading', () => {
    expect(Math.abs(turnEpochNow() - Date.now())).toBeLessThan(1000);
    expect(turnEpochNow()).toBe(performance.timeOrigin + turnNow());
  });

  it('freshTurnNow reads again, and the rest of the turn shares the new reading', () => {
    const first = turnNow();
    busy(5);
    const fresh = freshTurnNow();
    expect(fresh).toBeGreaterThanOrEqual(first + 5);
    expect(turnNow()).toBe(fresh);
  });
});
