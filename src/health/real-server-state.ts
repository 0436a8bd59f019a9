import type { CheckerStep } from './checker-state.js';
import { HealthSettingsError } from './errors.js';

/** IPVS weights are signed 32-bit in the kernel; keepalived clamps to [0, INT32_MAX]. */
export const maxWeight = 2_147_483_647;

export function clampWeight(weight: number): number {
  return Math.min(maxWeight, Math.max(0, weight));
}

/** MISC_CHECK misc_dynamic: exit status 2..255 sets the effective weight to `status - 2`. */
export function miscDynamicWeightAdjust(exitStatus: number, configuredWeight: number): number {
  return exitStatus - 2 - configuredWeight;
}

/** FILE_CHECK: the file's value times the checker's weight, negated with `reverse`. */
export function fileCheckWeightAdjust(value: number, weight: number, reverse: boolean): number {
  return reverse ? -value * weight : value * weight;
}

/** What the virtual server needs to know about one of its real servers. */
export interface PoolMember {
  readonly address: string;
  readonly port: number;
  readonly alive: boolean;
  /** Effective weight, already clamped. */
  readonly weight: number;
  /** inhibit_on_failure: kept with weight 0 instead of removed. */
  readonly inhibit: boolean;
}

export interface RealServerSettings {
  address: string;
  port: number;
  weight: number;
  inhibitOnFailure: boolean;
  /** Every checker of this server with its state before any check (alpha checkers start down). */
  checkers: ReadonlyArray<{ id: string; up: boolean }>;
}

/** For notify_up / notify_down and logs. */
export interface RealServerEvent {
  kind: 'up' | 'down';
  address: string;
  port: number;
  /** The checker whose result caused it. */
  checker: string;
  reason: string;
  /** The first report of a server that started down (alpha), not a change. */
  initial: boolean;
}

/** A real server is alive when every checker is up (no checkers: always alive). */
export class RealServerState implements PoolMember {
  readonly address: string;
  readonly port: number;
  readonly configuredWeight: number;
  readonly inhibit: boolean;
  // Arrays by checker, not Maps: a server has one to a few checkers, and two Maps per server came
  // to 4 MB of hash tables at 5000 servers.
  readonly #checkerIds: string[] = [];
  readonly #checkerUp: boolean[] = [];
  /** Dynamic weight adjustments by checker, made at the first one. */
  #adjust: number[] | undefined;
  #failed = 0;
  /** The effective weight, recomputed when an adjustment changes (read on every quorum check). */
  #weight: number;

  constructor(settings: RealServerSettings) {
    if (!Number.isInteger(settings.weight) || settings.weight < 0 || settings.weight > maxWeight) {
      throw new HealthSettingsError(`weight must be an integer in 0..${maxWeight}, got ${settings.weight}`);
    }
    this.address = settings.address;
    this.port = settings.port;
    this.configuredWeight = settings.weight;
    this.#weight = settings.weight;
    this.inhibit = settings.inhibitOnFailure;
    for (const c of settings.checkers) {
      if (this.#checkerIds.includes(c.id)) throw new HealthSettingsError(`checker ${c.id} listed twice`);
      this.#checkerIds.push(c.id);
      this.#checkerUp.push(c.up);
      if (!c.up) this.#failed++;
    }
  }

  #indexOf(id: string): number {
    const i = this.#checkerIds.indexOf(id);
    if (i < 0) throw new HealthSettingsError(`checker ${id} does not belong to ${this.address}:${this.port}`);
    return i;
  }

  get alive(): boolean {
    return this.#failed === 0;
  }

  get weight(): number {
    return this.#weight;
  }

  /** Checkers that are down now, in configuration order. */
  failedCheckers(): string[] {
    return this.#checkerIds.filter((_, i) => !this.#checkerUp[i]);
  }

  /** Applies a checker's step; returns an event when the server's liveness changed. */
  applyChecker(id: string, step: Pick<CheckerStep, 'up' | 'firstRun' | 'reason'>): RealServerEvent | undefined {
    const i = this.#indexOf(id);
    const was = this.#checkerUp[i]!;
    const wasAlive = this.alive;
    if (was !== step.up) {
      this.#checkerUp[i] = step.up;
      this.#failed += step.up ? -1 : 1;
    }
    const event = (kind: 'up' | 'down', initial: boolean): RealServerEvent => ({
      kind,
      address: this.address,
      port: this.port,
      checker: id,
      reason: step.reason,
      initial,
    });
    if (wasAlive !== this.alive) return event(this.alive ? 'up' : 'down', false);
    // keepalived notifies once for a server that starts down and whose first check fails.
    if (step.firstRun && !step.up && !was) return event('down', true);
    return undefined;
  }

  /** Records a checker's dynamic weight adjustment; true when the effective weight changed. */
  setWeightAdjust(id: string, adjust: number): boolean {
    const i = this.#indexOf(id);
    if (!Number.isFinite(adjust)) throw new HealthSettingsError(`weight adjustment must be finite, got ${adjust}`);
    const before = this.#weight;
    this.#adjust ??= this.#checkerIds.map(() => 0);
    this.#adjust[i] = adjust;
    let sum = this.configuredWeight;
    for (const a of this.#adjust) sum += a;
    this.#weight = clampWeight(sum);
    return this.#weight !== before;
  }

  /** Whether the destination belongs in the table on its own account, and with what weight. */
  desired(): { present: boolean; weight: number } {
    if (this.alive) return { present: true, weight: this.weight };
    return { present: this.inhibit, weight: 0 };
  }
}
