import type { CheckerState, CheckerStep } from './checker-state.js';
import { DueQueue, type DueEntry } from './due-queue.js';
import { SchedulerError } from './errors.js';
import type { ProbeResult } from './probe.js';

export interface Clock {
  now(): number;
}

/** Caps concurrent probes; p-limit's `limit(fn)` has this shape. */
export type Limiter = <T>(fn: () => Promise<T>) => Promise<T>;

/** Runs the probe the caller registered under `probeKey`; it must settle by `deadline`. */
export type RunProbe = (probeKey: string, deadline: number) => Promise<ProbeResult>;

/** One checker's share of one probe. */
export interface CheckReport {
  checkerId: string;
  probeKey: string;
  step: CheckerStep;
  probe: ProbeResult;
  /** How long after this checker's due time the probe started (0 when it joined an earlier one). */
  latenessMs: number;
  /** How many checkers received this same probe result. */
  sharedBy: number;
}

export interface SchedulerOptions {
  clock: Clock;
  runProbe: RunProbe;
  onResult: (report: CheckReport) => void;
  limit?: Limiter;
  random?: () => number;
  /** A probe starting later than this after its due time counts as late. */
  lateToleranceMs?: number;
  /** A probe still unsettled this long after its deadline is failed so its checkers go on. */
  deadlineGraceMs?: number;
  /** Told the earliest due time whenever it may have changed, to arm one real timer. */
  onNextDue?: (at: number | undefined) => void;
  /** Receives what `onResult` threw; by default it is re-thrown outside the scheduler. */
  onError?: (err: unknown) => void;
  /**
   * Due checkers one `tick` handles at most; the rest wait for the next tick (the due time it
   * reports is then already past). Bounds how long one tick holds the event loop, so replies
   * are read between waves and a per-turn clock stays fresh for the probes' deadlines.
   */
  tickBudget?: number;
}

export interface SchedulerStats {
  checkers: number;
  probesInFlight: number;
  probesStarted: number;
  /** Results delivered to a checker from a probe another checker started. */
  sharedResults: number;
  lateProbes: number;
  lastLatenessMs: number;
  maxLatenessMs: number;
  totalLatenessMs: number;
  /** Probes that never settled and were failed at deadline + grace. */
  abandonedProbes: number;
  /** Slots left out because their checker's run started after them (see CheckerState.result). */
  skippedRuns: number;
}

interface Scheduled {
  id: string;
  probeKey: string;
  state: CheckerState;
  suspended: boolean;
  /** Pending due time; undefined while a probe for it runs. */
  dueAt: number | undefined;
  /** The nominal time of the pending run, from which lateness is measured. */
  slotAt: number;
  /** Its one place in the queue, moved at each re-schedule. */
  due: DueEntry<Scheduled | Flight>;
}

interface Waiter {
  checker: Scheduled;
  dueAt: number;
}

interface Flight {
  key: string;
  dueAt: number;
  waiters: Waiter[];
  startedAt: number | undefined;
  settled: boolean;
  /** Fails the probe at deadline + grace if it has not settled; taken out when it settles. */
  guard: DueEntry<Scheduled | Flight> | undefined;
}

function isFlight(item: Scheduled | Flight): item is Flight {
  return 'waiters' in item;
}

const runDirectly: Limiter = (fn) => fn();

/**
 * Drives many checkers from one queue of absolute due times, fed by `tick()`.
 *
 * No drift: due times are absolute, so a late tick makes the checks that were due late (each
 * one still runs, oldest first, and is counted with its lateness) but never moves anyone
 * else's schedule. A checker's next regular run is due one delay_loop after its slot, not after
 * its result as in keepalived (whose period stretches by the probe's duration and the loop's
 * lag): a slot that passed while the probe ran is run at once, and a run that started after
 * later slots stands for them (counted in `skippedRuns`), so a stall is caught up by one run per
 * checker and the checker is back on its grid, without a burst. Retries wait delay_before_retry
 * from the failure (see CheckerState.result).
 *
 * Shared probes: checkers with the same probe key keep their own state and settings. A checker
 * added to a key that already has one adopts that key's pending due time instead of its own
 * warmup, so identical checkers stay in step and run one probe per due time. A checker that
 * becomes due while its key's probe is queued or running joins that probe and gets its result
 * (a result at most one probe duration older than its due time) instead of starting a second.
 */
export class Scheduler {
  readonly #clock: Clock;
  readonly #runProbe: RunProbe;
  readonly #onResult: (report: CheckReport) => void;
  readonly #limit: Limiter;
  readonly #random: () => number;
  readonly #lateToleranceMs: number;
  readonly #deadlineGraceMs: number;
  readonly #onNextDue: ((at: number | undefined) => void) | undefined;
  readonly #onError: (err: unknown) => void;
  readonly #tickBudget: number;
  readonly #queue = new DueQueue<Scheduled | Flight>();
  readonly #checkers = new Map<string, Scheduled>();
  readonly #byKey = new Map<string, Set<Scheduled>>();
  readonly #flights = new Map<string, Flight>();
  #lastReportedDue: number | undefined;
  /** The counters; `stats()` adds the sizes it derives from the maps. */
  readonly #stats: Omit<SchedulerStats, 'checkers' | 'probesInFlight'> = {
    probesStarted: 0,
    sharedResults: 0,
    lateProbes: 0,
    lastLatenessMs: 0,
    maxLatenessMs: 0,
    totalLatenessMs: 0,
    abandonedProbes: 0,
    skippedRuns: 0,
  };

  constructor(options: SchedulerOptions) {
    this.#clock = options.clock;
    this.#runProbe = options.runProbe;
    this.#onResult = options.onResult;
    this.#limit = options.limit ?? runDirectly;
    this.#random = options.random ?? Math.random;
    this.#lateToleranceMs = options.lateToleranceMs ?? 20;
    this.#deadlineGraceMs = options.deadlineGraceMs ?? 1000;
    this.#onNextDue = options.onNextDue;
    this.#onError =
      options.onError ??
      ((err) =>
        queueMicrotask(() => {
          throw err;
        }));
    this.#tickBudget = options.tickBudget ?? Infinity;
  }

  /** Registers a checker and returns when it first runs. */
  add(id: string, probeKey: string, state: CheckerState, options: { suspended?: boolean } = {}): number {
    if (this.#checkers.has(id)) throw new SchedulerError('EDUPCHECKER', `checker ${id} is already scheduled`);
    // The queue entry points back at its checker, so it is made second.
    const c = { id, probeKey, state, suspended: options.suspended ?? false, dueAt: undefined, slotAt: 0 } as Scheduled;
    c.due = this.#queue.entry(c);
    let peers = this.#byKey.get(probeKey);
    if (peers === undefined) this.#byKey.set(probeKey, (peers = new Set()));
    let due: number | undefined;
    for (const p of peers) if (p.dueAt !== undefined && (due === undefined || p.dueAt < due)) due = p.dueAt;
    due ??= state.start(this.#clock.now(), this.#random);
    peers.add(c);
    this.#checkers.set(id, c);
    this.#schedule(c, due);
    this.#reportNextDue();
    return due;
  }

  /** Forgets a checker; a result still in flight for it is dropped. */
  remove(id: string): void {
    const c = this.#take(id);
    this.#checkers.delete(id);
    const peers = this.#byKey.get(c.probeKey)!;
    peers.delete(c);
    if (peers.size === 0) this.#byKey.delete(c.probeKey);
    this.#queue.remove(c.due);
  }

  /** ha_suspend: a suspended checker keeps rescheduling every delay_loop without probing. */
  setSuspended(id: string, suspended: boolean): void {
    this.#take(id).suspended = suspended;
  }

  has(id: string): boolean {
    return this.#checkers.has(id);
  }

  /** The checker's pending due time; undefined while its probe runs. */
  dueAt(id: string): number | undefined {
    return this.#take(id).dueAt;
  }

  nextDueAt(): number | undefined {
    return this.#queue.peekAt();
  }

  stats(): Readonly<SchedulerStats> {
    return { ...this.#stats, checkers: this.#checkers.size, probesInFlight: this.#flights.size };
  }

  /** Runs what is due at the clock's now, oldest first, up to the tick budget. */
  tick(): void {
    const now = this.#clock.now();
    for (let handled = 0; handled < this.#tickBudget; handled++) {
      const e = this.#queue.popDue(now);
      if (e === undefined) break;
      const c = e.value;
      if (isFlight(c)) {
        this.#abandon(c);
        continue;
      }
      c.dueAt = undefined;
      if (c.suspended) {
        this.#schedule(c, c.state.idle(now));
        continue;
      }
      const running = this.#flights.get(c.probeKey);
      if (running !== undefined) {
        running.waiters.push({ checker: c, dueAt: c.slotAt });
        continue;
      }
      const flight: Flight = { key: c.probeKey, dueAt: c.slotAt, waiters: [{ checker: c, dueAt: c.slotAt }], startedAt: undefined, settled: false, guard: undefined };
      this.#flights.set(flight.key, flight);
      void this.#limit(() => this.#fly(flight)).catch((err: unknown) => this.#settle(flight, failure(err, 0)));
    }
    this.#reportNextDue();
  }

  async #fly(flight: Flight): Promise<void> {
    const startedAt = this.#clock.now();
    flight.startedAt = startedAt;
    const lateness = Math.max(0, startedAt - flight.dueAt);
    const s = this.#stats;
    s.probesStarted++;
    s.lastLatenessMs = lateness;
    s.totalLatenessMs += lateness;
    if (lateness > s.maxLatenessMs) s.maxLatenessMs = lateness;
    if (lateness > this.#lateToleranceMs) s.lateProbes++;
    let timeout = 0;
    for (const w of flight.waiters) timeout = Math.max(timeout, w.checker.state.settings.connectTimeoutMs);
    const deadline = startedAt + timeout;
    flight.guard = this.#queue.push(deadline + this.#deadlineGraceMs, flight);
    this.#reportNextDue();
    let probe: ProbeResult;
    try {
      probe = await this.#runProbe(flight.key, deadline);
    } catch (err) {
      probe = failure(err, this.#clock.now() - startedAt);
    }
    this.#settle(flight, probe);
  }

  #abandon(flight: Flight): void {
    if (flight.settled) return;
    this.#stats.abandonedProbes++;
    const ran = flight.startedAt === undefined ? 0 : this.#clock.now() - flight.startedAt;
    this.#settle(flight, { ok: false, reason: 'probe did not finish by its deadline', durationMs: ran });
  }

  #settle(flight: Flight, probe: ProbeResult): void {
    if (flight.settled) return;
    flight.settled = true;
    if (flight.guard !== undefined) this.#queue.remove(flight.guard);
    if (this.#flights.get(flight.key) === flight) this.#flights.delete(flight.key);
    const finishedAt = this.#clock.now();
    const startedAt = flight.startedAt ?? finishedAt;
    const live = flight.waiters.filter((w) => this.#checkers.get(w.checker.id) === w.checker);
    if (live.length > 1) this.#stats.sharedResults += live.length - 1;
    // Every checker is rescheduled before anyone hears of the result, so a throwing listener
    // cannot leave a checker without a due time.
    const reports: CheckReport[] = live.map((w) => {
      const step = w.checker.state.result(finishedAt, probe, w.dueAt);
      this.#stats.skippedRuns += step.skipped;
      this.#schedule(w.checker, step.dueAt, step.slotAt);
      const latenessMs = Math.max(0, startedAt - w.dueAt);
      return { checkerId: w.checker.id, probeKey: flight.key, step, probe, latenessMs, sharedBy: live.length };
    });
    this.#reportNextDue();
    for (const r of reports) {
      try {
        this.#onResult(r);
      } catch (err) {
        this.#onError(err);
      }
    }
  }

  #schedule(c: Scheduled, at: number, slotAt: number = at): void {
    c.dueAt = at;
    c.slotAt = slotAt;
    this.#queue.set(c.due, at);
  }

  #take(id: string): Scheduled {
    const c = this.#checkers.get(id);
    if (c === undefined) throw new SchedulerError('ENOCHECKER', `checker ${id} is not scheduled`);
    return c;
  }

  #reportNextDue(): void {
    const at = this.#queue.peekAt();
    if (at === this.#lastReportedDue) return;
    this.#lastReportedDue = at;
    this.#onNextDue?.(at);
  }
}

function failure(err: unknown, durationMs: number): ProbeResult {
  const message = err instanceof Error ? err.message : String(err);
  return { ok: false, reason: `probe error: ${message}`, durationMs };
}
