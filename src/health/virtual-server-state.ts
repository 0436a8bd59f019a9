import { HealthSettingsError } from './errors.js';
import { clampWeight, type PoolMember } from './real-server-state.js';

export interface SorryServerSettings {
  address: string;
  port: number;
  weight: number;
  /** sorry_server_inhibit: always in the table, with weight 0 while unused. */
  inhibit: boolean;
}

export interface VirtualServerSettings {
  /** Minimum sum of weights of alive real servers for the service to count as up. */
  quorum: number;
  hysteresis: number;
  sorryServer?: SorryServerSettings | undefined;
}

export interface DesiredDestination {
  address: string;
  port: number;
  weight: number;
}

/** For quorum_up / quorum_down scripts, the FIFO and logs. */
export interface QuorumEvent {
  kind: 'quorum_up' | 'quorum_down';
  /** Sum of the weights of alive real servers. */
  weight: number;
  /** The threshold that was crossed. */
  threshold: number;
  /** Reported at start (quorum down from the beginning), not a change. */
  initial: boolean;
}

/**
 * keepalived clamps quorum to the sum of the configured weights and hysteresis to quorum - 1;
 * `corrected` says the configuration layer has a warning to report.
 */
export function clampQuorum(
  quorum: number,
  hysteresis: number,
  configuredWeights: readonly number[],
): { quorum: number; hysteresis: number; corrected: boolean } {
  const total = configuredWeights.reduce((sum, w) => sum + clampWeight(w), 0);
  const q = Math.max(1, Math.min(quorum, total));
  const h = Math.max(0, Math.min(hysteresis, q - 1));
  return { quorum: q, hysteresis: h, corrected: q !== quorum || h !== hysteresis };
}

function key(address: string, port: number): string {
  return `${address}|${port}`;
}

/** Quorum with hysteresis and the sorry server of one virtual server (keepalived ipwrapper.c). */
export class VirtualServerState {
  readonly settings: Readonly<VirtualServerSettings>;
  readonly #members: readonly PoolMember[];
  #quorumUp = true;
  #started = false;
  /** W as of the last start, update or memberChanged. */
  #live = 0;

  constructor(settings: VirtualServerSettings, members: readonly PoolMember[]) {
    for (const [name, v] of [['quorum', settings.quorum], ['hysteresis', settings.hysteresis]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new HealthSettingsError(`${name} must be an integer >= 0, got ${v}`);
    }
    this.settings = { ...settings };
    this.#members = members;
  }

  get quorumUp(): boolean {
    return this.#quorumUp;
  }

  /** The sorry server replaces the real servers while quorum is down. */
  get sorryActive(): boolean {
    return this.settings.sorryServer !== undefined && !this.#quorumUp;
  }

  /** W: the sum of the effective weights of alive real servers. */
  liveWeight(): number {
    let w = 0;
    for (const m of this.#members) if (m.alive) w += m.weight;
    return w;
  }

  /** Initial quorum, before any check: up only when W >= quorum + hysteresis. */
  start(): QuorumEvent | undefined {
    this.#started = true;
    const w = (this.#live = this.liveWeight());
    const threshold = this.settings.quorum + this.settings.hysteresis;
    this.#quorumUp = w >= threshold;
    return this.#quorumUp ? undefined : { kind: 'quorum_down', weight: w, threshold, initial: true };
  }

  /**
   * After a reload: the previous configuration's quorum state, then the usual hysteresis applied to
   * the new W, so a reload moves quorum only when W crosses a threshold (start() would demand
   * quorum + hysteresis again and flip a pool inside the band to down on every reload).
   */
  resume(wasUp: boolean): QuorumEvent | undefined {
    this.#started = true;
    this.#quorumUp = wasUp;
    this.#live = this.liveWeight();
    return this.#evaluate();
  }

  /** Re-evaluates quorum after real servers changed state or weight (re-reads every member). */
  update(): QuorumEvent | undefined {
    if (!this.#started) return this.start();
    this.#live = this.liveWeight();
    return this.#evaluate();
  }

  /**
   * Re-evaluates quorum after one member's share of W (its weight while alive, else 0) went from
   * `before` to `after`: constant time, for pools of thousands whose servers all change at start.
   */
  memberChanged(before: number, after: number): QuorumEvent | undefined {
    if (!this.#started) return this.start();
    this.#live += after - before;
    return this.#evaluate();
  }

  #evaluate(): QuorumEvent | undefined {
    const w = this.#live;
    const { quorum, hysteresis } = this.settings;
    if (!this.#quorumUp) {
      const threshold = quorum + hysteresis;
      if (w < threshold) return undefined;
      this.#quorumUp = true;
      return { kind: 'quorum_up', weight: w, threshold, initial: false };
    }
    const threshold = quorum - hysteresis;
    if (w !== 0 && w >= threshold) return undefined;
    this.#quorumUp = false;
    return { kind: 'quorum_down', weight: w, threshold, initial: false };
  }

  /** The service's destinations as the kernel should hold them now, real servers first. */
  destinations(): DesiredDestination[] {
    const out = new Map<string, DesiredDestination>();
    const sorry = this.settings.sorryServer;
    const displaced = this.sorryActive;
    for (const m of this.#members) {
      // While the sorry server stands in, alive servers are taken out like failed ones.
      const present = displaced ? m.inhibit : m.alive || m.inhibit;
      if (!present) continue;
      const weight = !displaced && m.alive ? m.weight : 0;
      out.set(key(m.address, m.port), { address: m.address, port: m.port, weight });
    }
    if (sorry !== undefined && (displaced || sorry.inhibit)) {
      const k = key(sorry.address, sorry.port);
      // A sorry server that is also a real server keeps the real server's entry while unused.
      if (displaced || !out.has(k)) {
        out.set(k, { address: sorry.address, port: sorry.port, weight: displaced ? clampWeight(sorry.weight) : 0 });
      }
    }
    return [...out.values()];
  }
}
