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
  if (reading === undefined) {
    reading = performance.now();
    setImmediate(forget);
  }
  return reading;
}

/** Epoch milliseconds (like Date.now()), from the same reading. */
export function turnEpochNow(): number {
  return performance.timeOrigin + turnNow();
}
