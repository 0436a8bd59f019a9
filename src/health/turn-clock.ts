// The time, read once per event-loop turn. Reading a clock is a system call where the vDSO is not
// available (44 µs in the UML guest); at thousands of check results a second, reading it for each
// one saturated a CPU. Everything handled in one turn shares its reading, which is exact enough for
// check scheduling and status timestamps (milliseconds).
import { performance } from 'node:perf_hooks';

let reading: number | undefined;
const forget = (): void => {
  reading = undefined;
};

/** performance.now(), as read at the start of this turn's work. */
export function turnNow(): number {
  return reading ?? freshTurnNow();
}

/**
 * Reads the clock again for the rest of this turn: for work that must not inherit a reading
 * taken before a long stretch of the same turn (a scheduler tick computing probe deadlines).
 */
export function freshTurnNow(): number {
  if (reading === undefined) setImmediate(forget);
  reading = performance.now();
  return reading;
}

/** Epoch milliseconds (like Date.now()), from the same reading. */
export function turnEpochNow(): number {
  return performance.timeOrigin + turnNow();
}
