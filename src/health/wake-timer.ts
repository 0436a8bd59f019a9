import type { Clock } from './scheduler.js';

/** What the wake timer drives: the scheduler's `tick` and `nextDueAt`. */
export interface Tickable {
  tick(): void;
  nextDueAt(): number | undefined;
}

/**
 * One real Node timer armed for the scheduler's earliest due time; the edge between the pure
 * schedule and the event loop. Pass `arm` as the scheduler's `onNextDue`, then `drive` it.
 */
export class WakeTimer {
  readonly #clock: Clock;
  readonly #slackMs: number;
  #target: Tickable | undefined;
  #handle: NodeJS.Timeout | undefined;
  #armedFor: number | undefined;

  /**
   * `slackMs` rounds each wake up to the next multiple of it, so checks due within one slack
   * window share one tick (one timer, one batch of probes) at the cost of up to that much
   * lateness: at thousands of checks a second that is most of the per-check cost.
   */
  constructor(clock: Clock, options: { slackMs?: number } = {}) {
    this.#clock = clock;
    this.#slackMs = options.slackMs ?? 0;
  }

  drive(target: Tickable): void {
    this.#target = target;
    this.arm(target.nextDueAt());
  }

  readonly arm = (at: number | undefined): void => {
    if (at === this.#armedFor && this.#handle !== undefined) return;
    this.#clear();
    if (at === undefined || this.#target === undefined) return;
    this.#armedFor = at;
    const slack = this.#slackMs;
    const wakeAt = slack > 0 ? Math.ceil(at / slack) * slack : at;
    this.#handle = setTimeout(this.#fire, Math.max(0, wakeAt - this.#clock.now()));
  };

  stop(): void {
    this.#clear();
    this.#target = undefined;
  }

  readonly #fire = (): void => {
    this.#handle = undefined;
    this.#armedFor = undefined;
    const target = this.#target;
    if (target === undefined) return;
    target.tick();
    // Re-arm from the queue itself: a timer that fired a little early leaves the same due time.
    this.arm(target.nextDueAt());
  };

  #clear(): void {
    if (this.#handle !== undefined) clearTimeout(this.#handle);
    this.#handle = undefined;
    this.#armedFor = undefined;
  }
}
