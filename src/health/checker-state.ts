import { HealthSettingsError } from './errors.js';
import type { ProbeResult } from './probe.js';

/**
 * Timing and retry settings of one checker, in milliseconds.
 *
 * Default mode is keepalived's arithmetic: a checker that is up goes down after `retry + 1`
 * consecutive failures, the retries spaced by `delayBeforeRetryMs`; one success brings it up.
 *
 * Setting `rise` or `fall` (the other defaults to 1) switches to HAProxy-style counting and
 * `retry` is then ignored:
 * - up: a failure counts towards `fall`; below it the next check comes after
 *   `delayBeforeRetryMs`; the `fall`-th consecutive failure marks it down;
 * - down: a success counts towards `rise`; below it the next check comes after
 *   `delayBeforeRetryMs`; the `rise`-th consecutive success marks it up (alpha included);
 * - any opposite result resets the count; a settled checker is checked every `delayLoopMs`.
 * In both modes a checker that has never run and starts up (no alpha) goes down on its first
 * failure, as keepalived's "retry counter starts exhausted" does.
 */
export interface CheckerSettings {
  delayLoopMs: number;
  /** Budget for one probe operation; the scheduler turns it into the probe's deadline. */
  connectTimeoutMs: number;
  retry: number;
  delayBeforeRetryMs: number;
  /** Upper bound of the random spread of the first run; undefined = delayLoopMs, 0 = no spread. */
  warmupMs?: number | undefined;
  /** Start down: the real server is not used before this checker's first success. */
  alpha: boolean;
  /** MISC_CHECK: a retry, too, is measured from the failed run's slot, not from its end. */
  measureFromStart?: boolean;
  rise?: number | undefined;
  fall?: number | undefined;
  /** A `hard` failure (refused, reset) marks an up checker down at once; timeouts still retry. */
  fastFail?: boolean;
}

/** keepalived delays every checker's first run by one second before the random warmup. */
const firstRunDelayMs = 1000;

export type CheckerHealth = 'up' | 'down';

/** What one probe result did to the checker. */
export interface CheckerStep {
  /** When the next probe is due (never before now). */
  dueAt: number;
  /**
   * The nominal time that next run stands for; earlier than `dueAt` only when that slot passed
   * while this probe ran, so the period stays on the grid of the slots.
   */
  slotAt: number;
  /** Slots left out because this run started after them (it fell more than a period behind). */
  skipped: number;
  up: boolean;
  /** Set when this result changed the checker's state. */
  transition: CheckerHealth | undefined;
  /** This was the checker's first result (keepalived reports an alpha checker's first failure). */
  firstRun: boolean;
  /** Consecutive failures so far, for "failed, retry 1 of 2" logs; 0 after a success. */
  failures: number;
  reason: string;
}

function requireNonNegative(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) throw new HealthSettingsError(`${name} must be a finite number >= 0, got ${value}`);
}

function requireCount(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new HealthSettingsError(`${name} must be an integer >= ${min}, got ${value}`);
}

function validateCheckerSettings(s: CheckerSettings): void {
  requireNonNegative('delay_loop', s.delayLoopMs);
  // A zero period would re-run a checker within the same scheduler tick forever.
  if (s.delayLoopMs === 0) throw new HealthSettingsError('delay_loop must be > 0');
  requireNonNegative('connect_timeout', s.connectTimeoutMs);
  requireCount('retry', s.retry, 0);
  requireNonNegative('delay_before_retry', s.delayBeforeRetryMs);
  if (s.warmupMs !== undefined) requireNonNegative('warmup', s.warmupMs);
  if (s.rise !== undefined) requireCount('rise', s.rise, 1);
  if (s.fall !== undefined) requireCount('fall', s.fall, 1);
}

/** The next run: one delay_loop after this run's slot, or a retry delay_before_retry later. */
type NextRun = 'loop' | 'retry';

/** The up/down state of one checker and when it runs next; no clock of its own. */
export class CheckerState {
  readonly settings: Readonly<CheckerSettings>;
  #up: boolean;
  #hasRun = false;
  /** keepalived's retry_it: failures already retried while up. */
  #retried: number;
  #failures = 0;
  #successes = 0;
  #reason = 'not checked yet';
  readonly #counting: boolean;
  /** The warmup share an alpha checker's early first run postponed to its next slot. */
  #firstRunShift = 0;

  constructor(settings: CheckerSettings) {
    validateCheckerSettings(settings);
    this.settings = { ...settings };
    this.#up = !settings.alpha;
    // Starting exhausted makes the first failure of a never-run checker final.
    this.#retried = settings.retry;
    this.#counting = settings.rise !== undefined || settings.fall !== undefined;
  }

  get up(): boolean {
    return this.#up;
  }

  get hasRun(): boolean {
    return this.#hasRun;
  }

  /** The last probe's reason, or why the checker has not run. */
  get reason(): string {
    return this.#reason;
  }

  /**
   * Reload: takes over the state of the old checker it replaces when type, target and check
   * parameters are unchanged (keepalived migrate_checkers). Retries already spent carry over,
   * capped so that one more failure is still needed under a smaller `retry`.
   */
  adopt(previous: CheckerState): void {
    if (!previous.#hasRun) return;
    this.#up = previous.#up;
    this.#hasRun = true;
    this.#reason = previous.#reason;
    this.#failures = previous.#failures;
    this.#successes = previous.#successes;
    const retry = this.settings.retry;
    this.#retried = previous.#retried > 0 && retry > 0 ? Math.min(previous.#retried, retry - 1) : 0;
  }

  /**
   * When the first probe is due: a uniform random share of warmup after keepalived's 1 s start
   * delay. An alpha checker that has never run goes at once instead (keepalived waits there
   * too, but its server is out of the table until it passes, so waiting only keeps capacity
   * out); its share of warmup then shifts the runs after the first, which keeps the checkers'
   * later runs spread over the period as keepalived's are.
   */
  start(now: number, random: () => number): number {
    const spread = Math.floor(random() * (this.settings.warmupMs ?? this.settings.delayLoopMs));
    if (this.settings.alpha && !this.#hasRun) {
      this.#firstRunShift = spread;
      return now;
    }
    return now + firstRunDelayMs + spread;
  }

  /** A suspended checker (ha_suspend) keeps its rhythm without probing. */
  idle(now: number): number {
    return now + this.settings.delayLoopMs;
  }

  /**
   * Applies one probe result that finished at `now`. `scheduledAt` is the run's slot (default:
   * its start). The next delay_loop run is due one period after that slot, so neither the probe's
   * duration nor a late start moves later runs: a slot that passed while the probe ran is run at
   * once, and slots that passed before it started are left out (counted in `skipped`), since
   * this run already checked after them. A retry comes delay_before_retry after the failure
   * (MISC_CHECK: after the failed run's slot).
   */
  result(now: number, probe: ProbeResult, scheduledAt: number = now - probe.durationMs): CheckerStep {
    const wasUp = this.#up;
    const firstRun = !this.#hasRun;
    const next = this.#counting ? this.#countResult(probe, firstRun) : this.#retryResult(probe);
    this.#hasRun = true;
    this.#reason = probe.reason;
    this.#failures = probe.ok ? 0 : this.#failures + 1;
    const s = this.settings;
    const delay = next === 'loop' ? s.delayLoopMs : s.delayBeforeRetryMs;
    let slotAt = (next === 'loop' || s.measureFromStart ? scheduledAt : now) + delay + this.#firstRunShift;
    this.#firstRunShift = 0;
    // A run that started after later slots of its grid stands for them: no burst of catch-up runs.
    const startedAt = now - probe.durationMs;
    let skipped = 0;
    if (delay > 0 && slotAt <= startedAt) {
      skipped = Math.floor((startedAt - slotAt) / delay) + 1;
      slotAt += skipped * delay;
    }
    return {
      dueAt: Math.max(now, slotAt),
      slotAt,
      skipped,
      up: this.#up,
      transition: wasUp === this.#up ? undefined : this.#up ? 'up' : 'down',
      firstRun,
      failures: this.#failures,
      reason: probe.reason,
    };
  }

  #hardFailure(probe: ProbeResult): boolean {
    return !probe.ok && this.settings.fastFail === true && probe.hard === true;
  }

  /** keepalived: whether the next run is the regular one or a retry. */
  #retryResult(probe: ProbeResult): NextRun {
    const s = this.settings;
    if (probe.ok || this.#retried >= s.retry || this.#hardFailure(probe)) {
      this.#retried = 0;
      this.#up = probe.ok;
      return 'loop';
    }
    // Retries only count down an up checker; a down one is simply re-checked every delay_loop.
    if (!this.#up) return 'loop';
    this.#retried++;
    return 'retry';
  }

  /** rise/fall counting: whether the next run is the regular one or a retry. */
  #countResult(probe: ProbeResult, firstRun: boolean): NextRun {
    const s = this.settings;
    if (probe.ok) {
      if (this.#up) return 'loop';
      this.#successes++;
      if (this.#successes < (s.rise ?? 1)) return 'retry';
      this.#successes = 0;
      this.#up = true;
      return 'loop';
    }
    this.#successes = 0;
    if (!this.#up) return 'loop';
    if (firstRun || this.#hardFailure(probe) || this.#failures + 1 >= (s.fall ?? 1)) {
      this.#up = false;
      return 'loop';
    }
    return 'retry';
  }
}
