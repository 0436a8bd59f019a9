// Run-time overrides set with ipvsctl (drain, disable, fixed weight), kept by virtual server and
// real server name so they survive a reload for servers that still exist. They change only what
// goes into the kernel table: health checks go on and quorum is still computed from health.
import type { PoolDecision } from '../config/plan.js';
import { hostPort } from '../ipvs/model.js';

export type Override = { kind: 'drain' } | { kind: 'disable' } | { kind: 'weight'; weight: number };

export interface OverrideEntry {
  /** The virtual server's log name (`tcp 10.0.0.1:80`). */
  virtualServer: string;
  /** The real server as `10.0.1.1:80`. */
  realServer: string;
  override: Override;
  /** Epoch milliseconds. */
  since: number;
}

export function describeOverride(o: Override): string {
  return o.kind === 'weight' ? `weight ${o.weight}` : o.kind === 'drain' ? 'drained' : 'disabled';
}

export class Overrides {
  readonly #byVirtualServer = new Map<string, Map<string, OverrideEntry>>();

  /** Sets (or with `undefined` clears) one override; returns the entry it replaced. */
  set(virtualServer: string, realServer: string, override: Override | undefined, now: number): OverrideEntry | undefined {
    let servers = this.#byVirtualServer.get(virtualServer);
    const previous = servers?.get(realServer);
    if (override === undefined) {
      servers?.delete(realServer);
      if (servers?.size === 0) this.#byVirtualServer.delete(virtualServer);
      return previous;
    }
    if (!servers) this.#byVirtualServer.set(virtualServer, (servers = new Map()));
    servers.set(realServer, { virtualServer, realServer, override, since: now });
    return previous;
  }

  get(virtualServer: string, realServer: string): OverrideEntry | undefined {
    return this.#byVirtualServer.get(virtualServer)?.get(realServer);
  }

  /** The overrides of one virtual server, keyed by real server name. */
  of(virtualServer: string): ReadonlyMap<string, OverrideEntry> | undefined {
    return this.#byVirtualServer.get(virtualServer);
  }

  list(): OverrideEntry[] {
    return [...this.#byVirtualServer.values()].flatMap((m) => [...m.values()]);
  }

  /** After a reload: drops the overrides whose server is gone and returns them. */
  retain(exists: (virtualServer: string, realServer: string) => boolean): OverrideEntry[] {
    const dropped: OverrideEntry[] = [];
    for (const entry of this.list()) {
      if (exists(entry.virtualServer, entry.realServer)) continue;
      this.set(entry.virtualServer, entry.realServer, undefined, 0);
      dropped.push(entry);
    }
    return dropped;
  }
}

/**
 * The pool decision with one virtual server's overrides applied: drain keeps a present server at
 * weight 0, disable takes it out, a fixed weight replaces a non-zero (healthy) weight. The sorry
 * server, while it stands in, is not a real server and is left alone.
 */
export function applyOverrides(
  decision: PoolDecision,
  overrides: ReadonlyMap<string, OverrideEntry> | undefined,
  sorry: { address: string; port: number } | undefined,
): PoolDecision {
  if (!overrides || overrides.size === 0) return decision;
  const destinations = [];
  for (const d of decision.destinations) {
    const isSorry = decision.sorryActive && sorry !== undefined && sorry.address === d.address && sorry.port === d.port;
    const o = isSorry ? undefined : overrides.get(hostPort(d.address, d.port))?.override;
    if (o === undefined) destinations.push(d);
    else if (o.kind === 'drain') destinations.push({ ...d, weight: 0 });
    else if (o.kind === 'weight') destinations.push({ ...d, weight: d.weight > 0 ? o.weight : 0 });
  }
  return { destinations, sorryActive: decision.sorryActive };
}
