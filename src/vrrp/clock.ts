// The time source the VRRP runtime is driven by: monotonic milliseconds and one-shot timers.
// Tests pass a fake; the daemon passes monotonicClock.

export type TimerHandle = { readonly __timer: unique symbol };

export interface Clock {
  now(): number;
  setTimer(callback: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

export const monotonicClock: Clock = {
  now: () => performance.now(),
  setTimer: (callback, delayMs) => setTimeout(callback, Math.max(0, delayMs)) as unknown as TimerHandle,
  clearTimer: (handle) => clearTimeout(handle as unknown as NodeJS.Timeout),
};
