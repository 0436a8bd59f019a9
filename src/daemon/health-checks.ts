// Runs the checkers of the current pools on one scheduler: probes by key from createProbe (identical
// probes shared), a concurrency cap, one real timer. A reload swaps the checkers and keeps the
// probes whose key survives.
import pLimit from 'p-limit';
import { createProbe, type Probe } from '../../checkers/index.js';
import { Scheduler, type CheckReport, type Clock } from '../health/scheduler.js';
import { LagReport, type CheckLag } from '../health/lag-report.js';
import { freshTurnNow, turnNow } from '../health/turn-clock.js';
import { WakeTimer } from '../health/wake-timer.js';
import type { CheckerEntry, Pools } from './pools.js';

export interface HealthChecksOptions {
  onResult: (entry: CheckerEntry, report: CheckReport) => void;
  /** A checker whose probe cannot be built (it then reports that reason as a failure). */
  onSetupError: (entry: CheckerEntry, message: string) => void;
  onError: (err: unknown) => void;
  /** Probes running at once (default 256, or 8192 with half-open TCP probes, which hold no descriptor). */
  concurrency?: number;
  /** TCP_CHECK as half-open SYN probes over one raw socket (checkers/tcp-syn.ts). */
  tcpHalfOpen?: boolean;
  /** At most every 10 s: checks started late (the event loop was busy) and slots left out. */
  onLag?: (lag: CheckLag) => void;
}

const clock: Clock = { now: turnNow };

/**
 * Due checkers started per scheduler tick: thousands due at once (the first wave) go out in
 * slices, so replies are read in between and each slice's deadlines come from a fresh turn clock.
 */
const tickBudget = 1000;

/** Checks due within this many milliseconds of each other run in one tick. */
const wakeSlackMs = 10;

/** A check starting later than this after its slot is late (the wake slack is not lateness). */
const lateToleranceMs = 20;

/** Stands in for a probe that could not be built, so the checker says why on every run. */
function failingProbe(key: string, message: string): Probe {
  return {
    key,
    describe: () => message,
    run: async () => ({ ok: false, reason: `cannot run this check: ${message}`, durationMs: 0 }),
  };
}

export class HealthChecks {
  readonly #options: HealthChecksOptions;
  readonly #scheduler: Scheduler;
  readonly #timer = new WakeTimer(clock, { slackMs: wakeSlackMs });
  #probes = new Map<string, Probe>();
  #pools: Pools | undefined;
  readonly #lag = new LagReport({ windowMs: 10_000, toleranceMs: lateToleranceMs });
  /** Each tick starts from a fresh reading: its probes' deadlines are measured from it. */
  readonly #tickable = {
    tick: (): void => {
      freshTurnNow();
      this.#scheduler.tick();
    },
    nextDueAt: (): number | undefined => this.#scheduler.nextDueAt(),
  };

  constructor(options: HealthChecksOptions) {
    this.#options = options;
    const limit = pLimit(options.concurrency ?? (options.tcpHalfOpen ? 8192 : 256));
    this.#scheduler = new Scheduler({
      clock,
      runProbe: (key, deadline) => {
        const probe = this.#probes.get(key);
        return probe ? probe.run(deadline) : Promise.resolve({ ok: false, reason: 'the check was removed', durationMs: 0 });
      },
      onResult: (report) => {
        const lag = this.#lag.note(clock.now(), report.latenessMs, report.step.skipped);
        if (lag) this.#options.onLag?.(lag);
        const entry = this.#pools?.checkers.get(report.checkerId);
        if (entry) this.#options.onResult(entry, report);
      },
      lateToleranceMs,
      limit: (fn) => limit(fn),
      onNextDue: this.#timer.arm,
      onError: options.onError,
      tickBudget,
    });
  }

  /** Checks `pools` from now on, replacing the checkers of the previous pools. */
  load(pools: Pools): void {
    const previous = this.#pools;
    for (const id of previous?.checkers.keys() ?? []) if (this.#scheduler.has(id)) this.#scheduler.remove(id);
    const old = this.#probes;
    const probes = new Map<string, Probe>();
    const keys = new Map<string, string>();
    const trackFiles = new Map(pools.config.trackFiles.map((t) => [t.name, t.file]));
    for (const entry of pools.checkers.values()) {
      let probe: Probe;
      try {
        probe = createProbe(entry.checker, entry.realServer, {
          trackFilePath: (name) => trackFiles.get(name),
          tcpHalfOpen: this.#options.tcpHalfOpen ?? false,
        });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        this.#options.onSetupError(entry, message);
        probe = failingProbe(`setup-error ${entry.id}`, message);
      }
      // An identical probe already exists (shared, or kept from before the reload): use that one.
      const kept = probes.get(probe.key) ?? old.get(probe.key);
      if (kept) probe.close?.();
      probes.set(probe.key, kept ?? probe);
      keys.set(entry.id, probe.key);
    }
    for (const [key, probe] of old) if (!probes.has(key)) probe.close?.();
    this.#probes = probes;
    this.#pools = pools;
    for (const entry of pools.checkers.values()) this.#scheduler.add(entry.id, keys.get(entry.id)!, entry.state);
    this.#timer.drive(this.#tickable);
  }

  /** Stops every checker and releases the probes; results still in flight are dropped. */
  stop(): void {
    this.#timer.stop();
    for (const id of this.#pools?.checkers.keys() ?? []) if (this.#scheduler.has(id)) this.#scheduler.remove(id);
    for (const probe of this.#probes.values()) probe.close?.();
    this.#probes.clear();
    this.#pools = undefined;
  }
}
