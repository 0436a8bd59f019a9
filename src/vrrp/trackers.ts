// What an instance tracks (track_interface, track_script, track_file, track_process) and how the
// readings become an effective priority and a fault, keepalived's way: weight 0 means FAULT while
// failed; a positive weight is added while OK, a negative one while failed; `reverse` flips the
// sign; a file's value is multiplied by its weight. The machine clamps the result to 1..254.
import { watch, readFileSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { VrrpScript } from '../config/model.js';
import type { Clock, TimerHandle } from './clock.js';
import { scriptSucceeded, type ScriptResult, type ScriptRunner } from './script-runner.js';

export interface UpDownReading {
  kind: 'interface' | 'script' | 'process';
  name: string;
  ok: boolean;
  weight: number;
  reverse: boolean;
}

export interface FileReading {
  kind: 'file';
  name: string;
  value: number;
  weight: number;
  reverse: boolean;
}

export type TrackerReading = UpDownReading | FileReading;

export interface TrackedPriority {
  priority: number;
  fault: boolean;
  /** The trackers holding the instance in FAULT, as `kind name`. */
  faults: string[];
}

/** keepalived: a track_file adjustment this low puts the instance in FAULT. */
const FILE_FAULT_THRESHOLD = -254;

export function trackedPriority(base: number, readings: readonly TrackerReading[]): TrackedPriority {
  let priority = base;
  const faults: string[] = [];
  for (const r of readings) {
    const sign = r.reverse ? -1 : 1;
    if (r.kind === 'file') {
      const adjustment = r.value * r.weight * sign;
      if ((r.weight === 0 && r.value !== 0) || (r.weight !== 0 && adjustment <= FILE_FAULT_THRESHOLD)) faults.push(`file ${r.name}`);
      else priority += adjustment;
    } else if (r.weight === 0) {
      if (r.ok === r.reverse) faults.push(`${r.kind} ${r.name}`);
    } else if ((r.ok && r.weight > 0) || (!r.ok && r.weight < 0)) {
      priority += r.weight * sign;
    }
  }
  return { priority, fault: faults.length > 0, faults };
}

/**
 * One vrrp_script, run every `interval` (never two at once), killed after `timeout`; OK after `rise`
 * consecutive successes, failed after `fall` consecutive failures; `init_fail` starts it failed.
 */
export class ScriptTracker {
  private ok: boolean;
  private streak = 0;
  private timer: TimerHandle | undefined;
  private stopped = true;
  runs = 0;
  lastResult: ScriptResult | undefined;

  constructor(
    readonly script: VrrpScript,
    private readonly runner: ScriptRunner,
    private readonly clock: Clock,
    private readonly onChange: (ok: boolean) => void,
  ) {
    this.ok = !script.initFail;
  }

  get healthy(): boolean {
    return this.ok;
  }

  /** Reload: the same vrrp_script keeps its verdict and counters instead of starting again from init_fail. */
  carryOver(previous: ScriptTracker): void {
    this.ok = previous.ok;
    this.streak = previous.streak;
    this.runs = previous.runs;
    this.lastResult = previous.lastResult;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== undefined) this.clock.clearTimer(this.timer);
    this.timer = undefined;
  }

  /** Feeds one result; exposed so the rise/fall logic is testable without processes. */
  record(success: boolean): void {
    if (success === this.ok) {
      this.streak = 0;
      return;
    }
    this.streak++;
    if (this.streak >= (success ? this.script.rise : this.script.fall)) {
      this.ok = success;
      this.streak = 0;
      this.onChange(success);
    }
  }

  private schedule(delayMs: number): void {
    this.timer = this.clock.setTimer(() => void this.runOnce(), delayMs);
  }

  private async runOnce(): Promise<void> {
    this.timer = undefined;
    const started = this.clock.now();
    const result = await this.runner.run(this.script.script, [], this.script.timeoutMs);
    this.runs++;
    this.lastResult = result;
    if (this.stopped) return;
    this.record(scriptSucceeded(result));
    // keepalived keeps the interval from start to start; a slow run delays the next one, never overlaps it.
    this.schedule(Math.max(0, this.script.intervalMs - (this.clock.now() - started)));
  }
}

/** The integer in a track_file (strtol-like: leading number, else 0; a missing file reads 0). */
export function readTrackFileValue(path: string): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return 0;
  }
  const match = /^\s*([+-]?\d+)/.exec(text);
  return match ? Number(match[1]) : 0;
}

/** Watches one track_file's directory (the file may come and go) and reports its value on change. */
export class FileTracker {
  private watcher: FSWatcher | undefined;
  value: number;

  constructor(
    readonly path: string,
    private readonly onChange: (value: number) => void,
  ) {
    this.value = readTrackFileValue(path);
  }

  start(): void {
    if (this.watcher) return;
    const name = basename(this.path);
    this.watcher = watch(dirname(this.path), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== name) return;
      this.refresh();
    });
    this.watcher.on('error', () => this.stop());
    this.refresh();
  }

  stop(): void {
    this.watcher?.close();
    this.watcher = undefined;
  }

  refresh(): void {
    const value = readTrackFileValue(this.path);
    if (value === this.value) return;
    this.value = value;
    this.onChange(value);
  }
}
