// The daemon's state as ipvsctl and the metrics read it: one snapshot built from the pools (health),
// the desired table, the overrides, the last kernel read, VRRP, and the events recorded here
// (check results, transitions, reconcile passes, reloads). Nothing else keeps its own copy.
import type { RealServer } from '../config/model.js';
import type { ObservedEntry } from '../ipvs/client.js';
import { destinationKey, hostPort, serviceKey, type DestinationState, type ServiceEntry, type Stats } from '../ipvs/model.js';
import type { ReconcileReport } from '../ipvs/reconciler.js';
import type { ProbeResult } from '../health/probe.js';
import type { CheckerState } from '../health/checker-state.js';
import type { RealServerState } from '../health/real-server-state.js';
import type { VirtualRouterStatus } from '../vrrp/instance.js';
import type { Override, OverrideEntry, Overrides } from './overrides.js';
import { realServerName, type Pool, type Pools } from './pools.js';

/** Counters and the kernel's per-second rate estimates, as numbers (exact below 2^53). */
export interface KernelCounters {
  connections: number;
  inPackets: number;
  outPackets: number;
  inBytes: number;
  outBytes: number;
  rates: { connections: number; inPackets: number; outPackets: number; inBytes: number; outBytes: number };
}

export interface DestinationCounters extends KernelCounters {
  activeConnections: number;
  inactiveConnections: number;
  /** The weight the kernel holds (may lag the desired one until the next pass). */
  weight: number;
}

export interface CheckResultStatus {
  ok: boolean;
  reason: string;
  durationMs: number;
  /** Epoch milliseconds. */
  at: number;
}

export interface CheckerStatus {
  id: string;
  type: string;
  up: boolean;
  consecutiveFailures: number;
  last: CheckResultStatus | undefined;
}

/** up: in the table with its weight; down: failed its checks; drained/disabled: an override. */
export type RealServerHealth = 'up' | 'down' | 'drained' | 'disabled';

export interface RealServerStatus {
  name: string;
  address: string;
  port: number;
  state: RealServerHealth;
  alive: boolean;
  configuredWeight: number;
  /** The weight the desired table gives it; undefined when it is not in the table. */
  effectiveWeight: number | undefined;
  override: (Override & { since: number }) | undefined;
  /** Epoch milliseconds of its last transition (or of when it was configured). */
  since: number;
  checkers: CheckerStatus[];
  kernel: DestinationCounters | undefined;
}

export interface VirtualServerStatus {
  name: string;
  /** What ipvsadm shows: `TCP 10.0.0.1:80`, `FWM 5`; groups list their services. */
  services: string[];
  scheduler: string;
  forwarding: string;
  quorum: { up: boolean; liveWeight: number; quorum: number; hysteresis: number };
  sorryServer: { name: string; active: boolean } | undefined;
  /** Summed over the virtual server's kernel services; undefined before the first kernel read. */
  kernel: KernelCounters | undefined;
  realServers: RealServerStatus[];
}

export interface HistogramData {
  /** Upper bounds in seconds, ascending (+Inf implied). */
  buckets: readonly number[];
  /** Observations per bucket, not cumulative; one more entry than `buckets` for +Inf. */
  counts: number[];
  sum: number;
  count: number;
}

export interface ReloadStatus {
  at: number;
  ok: boolean;
  errors: string[];
}

export interface StatusSnapshot {
  version: string;
  pid: number;
  startedAt: number;
  now: number;
  logLevel: string;
  config: { path: string; loadedAt: number; reloads: { success: number; failure: number }; lastReload: ReloadStatus | undefined };
  /** Epoch milliseconds of the kernel read the counters come from. */
  kernelReadAt: number | undefined;
  reconcile: {
    runs: Record<'start' | 'update' | 'sync' | 'reload', number>;
    operations: Record<string, number>;
    errors: number;
    lastDurationMs: number | undefined;
    lastAt: number | undefined;
    durations: HistogramData;
  };
  checks: { results: Record<string, { success: number; failure: number }>; durations: Record<string, HistogramData> };
  virtualServers: VirtualServerStatus[];
  vrrp: { instances: VirtualRouterStatus[]; syncGroups: Array<{ name: string; state: string; members: string[] }> };
  overrides: OverrideEntry[];
}

/** What the daemon holds now; read at each snapshot, never copied. */
export interface StatusSources {
  pools(): Pools;
  desired(): ReadonlyMap<string, ServiceEntry>;
  overrides(): Overrides;
  vrrpInstances(): VirtualRouterStatus[];
  vrrpSyncGroups(): Array<{ name: string; state: string; members: string[] }>;
  logLevel(): string;
}

const durationBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

class DurationHistogram {
  readonly #counts = new Array<number>(durationBuckets.length + 1).fill(0);
  #sum = 0;
  #count = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < durationBuckets.length && seconds > durationBuckets[i]!) i++;
    this.#counts[i]!++;
    this.#sum += seconds;
    this.#count++;
  }

  data(): HistogramData {
    return { buckets: durationBuckets, counts: [...this.#counts], sum: this.#sum, count: this.#count };
  }
}

/** One kernel service of the last read, its counters already numbers (converted once per read, not per snapshot). */
interface KernelService {
  counters: KernelCounters;
  destinations: Map<string, DestinationCounters> | undefined;
}

/**
 * A checker's last result, one object per checker updated in place, so a snapshot needs no
 * lookup. The result's fields are copied in, not the result kept: at 5000 checks/s, a new object
 * per check lived a second and died in the old generation.
 */
interface CheckRecord {
  failures: number;
  /** Epoch milliseconds of the last result; undefined before the first. */
  at: number | undefined;
  ok: boolean;
  reason: string;
  durationMs: number;
}

function lastResult(r: CheckRecord): CheckResultStatus | undefined {
  return r.at === undefined ? undefined : { ok: r.ok, reason: r.reason, durationMs: r.durationMs, at: r.at };
}

/** When a real server last changed state (epoch milliseconds), one object per server updated in place. */
interface Since {
  at: number;
}

/** A real server's parts that are fixed for one configuration, found once instead of at every snapshot. */
interface ServerLayout {
  rs: RealServer;
  name: string;
  state: RealServerState;
  since: Since | undefined;
  checkers: Array<{ id: string; type: string; state: CheckerState; record: CheckRecord }>;
}

const n = (v: bigint): number => Number(v);

function counters(s: Stats): KernelCounters {
  return {
    connections: n(s.connections),
    inPackets: n(s.inPackets),
    outPackets: n(s.outPackets),
    inBytes: n(s.inBytes),
    outBytes: n(s.outBytes),
    rates: { connections: n(s.connectionRate), inPackets: n(s.inPacketRate), outPackets: n(s.outPacketRate), inBytes: n(s.inByteRate), outBytes: n(s.outByteRate) },
  };
}

// Object.assign, not a spread of counters(): each spread copy got a hidden class of its own once
// optimized (1.3 MB at 5000 destinations); added properties share one transition.
function destinationCounters(d: DestinationState): DestinationCounters {
  return Object.assign(counters(d.stats), { activeConnections: d.activeConnections, inactiveConnections: d.inactiveConnections, weight: d.weight });
}

const counterNames = ['connections', 'inPackets', 'outPackets', 'inBytes', 'outBytes'] as const;

/** A new sum: the counters of a kernel read are shared by the snapshots and never changed. */
function addCounters<T extends KernelCounters>(a: T, b: T): T {
  const sum = { ...a, rates: { ...a.rates } };
  for (const k of counterNames) {
    sum[k] += b[k];
    sum.rates[k] += b.rates[k];
  }
  return sum;
}

function addDestinationCounters(a: DestinationCounters, b: DestinationCounters): DestinationCounters {
  const sum = addCounters(a, b);
  sum.activeConnections += b.activeConnections;
  sum.inactiveConnections += b.inactiveConnections;
  return sum;
}

function serviceLabel(entry: ServiceEntry): string {
  const s = entry.service;
  if (s.fwmark !== 0) return `FWM ${s.fwmark}${s.family === 'inet6' ? ' IPv6' : ''}`;
  return `${s.protocol.toUpperCase()} ${hostPort(s.address, s.port)}`;
}

const rsKey = (vs: string, rs: string): string => `${vs}|${rs}`;

export interface StatusModelOptions {
  version: string;
  configPath: string;
  /** Epoch milliseconds. */
  now?: () => number;
}

export class StatusModel {
  readonly #version: string;
  readonly #configPath: string;
  readonly #now: () => number;
  readonly #startedAt: number;
  #sources: StatusSources | undefined;
  #loadedAt: number;
  #reloads = { success: 0, failure: 0 };
  #lastReload: ReloadStatus | undefined;
  #kernel = new Map<string, KernelService>();
  #kernelReadAt: number | undefined;
  readonly #checks = new Map<string, CheckRecord>();
  readonly #since = new Map<string, Since>();
  readonly #checkResults: Record<string, { success: number; failure: number }> = {};
  readonly #checkDurations = new Map<string, DurationHistogram>();
  readonly #runs = { start: 0, update: 0, sync: 0, reload: 0 };
  readonly #operations: Record<string, number> = {};
  #reconcileErrors = 0;
  #lastReconcile: { at: number; durationMs: number } | undefined;
  readonly #reconcileDurations = new DurationHistogram();
  #layout: { pools: Pools; servers: Map<Pool, ServerLayout[]> } | undefined;
  /** The weights of a desired service by destination; the desired table replaces entries that change. */
  readonly #weights = new WeakMap<ServiceEntry, Map<string, number>>();

  constructor(options: StatusModelOptions) {
    this.#version = options.version;
    this.#configPath = options.configPath;
    this.#now = options.now ?? Date.now;
    this.#startedAt = this.#now();
    this.#loadedAt = this.#startedAt;
  }

  /** The daemon's state from now on (at start, once the pools exist). */
  attach(sources: StatusSources): void {
    this.#sources = sources;
    this.#configured(sources.pools());
  }

  /** A configuration was loaded: new servers start their time in state now, gone ones are forgotten. */
  #configured(pools: Pools): void {
    const now = this.#now();
    const keep = new Set<string>();
    for (const pool of pools.pools) {
      for (const rs of pool.virtualServer.realServers) {
        const key = rsKey(pool.name, realServerName(rs));
        keep.add(key);
        if (!this.#since.has(key)) this.#since.set(key, { at: now });
      }
    }
    for (const key of this.#since.keys()) if (!keep.has(key)) this.#since.delete(key);
    for (const id of this.#checks.keys()) if (!pools.checkers.has(id)) this.#checks.delete(id);
    this.#layout = undefined;
  }

  checkResult(checkerId: string, type: string, probe: ProbeResult, failures: number): void {
    const at = this.#now();
    const record = this.#checkRecord(checkerId);
    record.failures = failures;
    record.at = at;
    record.ok = probe.ok;
    record.reason = probe.reason;
    record.durationMs = probe.durationMs;
    const results = (this.#checkResults[type] ??= { success: 0, failure: 0 });
    if (probe.ok) results.success++;
    else results.failure++;
    let histogram = this.#checkDurations.get(type);
    if (!histogram) this.#checkDurations.set(type, (histogram = new DurationHistogram()));
    histogram.observe(probe.durationMs / 1000);
  }

  /** A real server went up or down, or an override changed what it is. */
  realServerChanged(virtualServer: string, realServer: string): void {
    const key = rsKey(virtualServer, realServer);
    const since = this.#since.get(key);
    if (since) since.at = this.#now();
    else {
      this.#since.set(key, { at: this.#now() });
      this.#layout = undefined;
    }
  }

  #checkRecord(checkerId: string): CheckRecord {
    let record = this.#checks.get(checkerId);
    if (!record) this.#checks.set(checkerId, (record = { failures: 0, at: undefined, ok: false, reason: '', durationMs: 0 }));
    return record;
  }

  reconciled(pass: 'start' | 'update' | 'sync' | 'reload', report: ReconcileReport): void {
    this.#runs[pass]++;
    for (const op of report.operations) this.#operations[op.kind] = (this.#operations[op.kind] ?? 0) + 1;
    this.#reconcileErrors += report.failures.length;
    this.#lastReconcile = { at: this.#now(), durationMs: report.durationMs };
    this.#reconcileDurations.observe(report.durationMs / 1000);
  }

  /** A pass that threw (the kernel could not be read or written at all). */
  reconcileFailed(pass: 'start' | 'update' | 'sync' | 'reload'): void {
    this.#runs[pass]++;
    this.#reconcileErrors++;
  }

  reloaded(ok: boolean, errors: string[] = []): void {
    const at = this.#now();
    this.#lastReload = { at, ok, errors };
    if (ok) {
      this.#reloads.success++;
      this.#loadedAt = at;
      if (this.#sources) this.#configured(this.#sources.pools());
    } else {
      this.#reloads.failure++;
    }
  }

  /** Every full read of the kernel table (the reconciler's), kept for the counters. */
  kernelRead(entries: readonly ObservedEntry[]): void {
    const table = new Map<string, KernelService>();
    for (const e of entries) {
      table.set(serviceKey(e.service), {
        counters: counters(e.service.stats),
        destinations: e.destinations && new Map(e.destinations.map((d) => [destinationKey(d), destinationCounters(d)])),
      });
    }
    this.#kernel = table;
    this.#kernelReadAt = this.#now();
  }

  /** Milliseconds since the kernel was last read (Infinity: never). */
  kernelAgeMs(): number {
    return this.#kernelReadAt === undefined ? Infinity : this.#now() - this.#kernelReadAt;
  }

  /** Read-only: its kernel counters are the last read's own objects, shared until the next read. */
  snapshot(): StatusSnapshot {
    const now = this.#now();
    const sources = this.#sources;
    const checkDurations: Record<string, HistogramData> = {};
    for (const [type, h] of this.#checkDurations) checkDurations[type] = h.data();
    const checkResults: StatusSnapshot['checks']['results'] = {};
    for (const [type, r] of Object.entries(this.#checkResults)) checkResults[type] = { ...r };
    return {
      version: this.#version,
      pid: process.pid,
      startedAt: this.#startedAt,
      now,
      logLevel: sources?.logLevel() ?? 'info',
      config: { path: this.#configPath, loadedAt: this.#loadedAt, reloads: { ...this.#reloads }, lastReload: this.#lastReload },
      kernelReadAt: this.#kernelReadAt,
      reconcile: {
        runs: { ...this.#runs },
        operations: { ...this.#operations },
        errors: this.#reconcileErrors,
        lastDurationMs: this.#lastReconcile?.durationMs,
        lastAt: this.#lastReconcile?.at,
        durations: this.#reconcileDurations.data(),
      },
      checks: { results: checkResults, durations: checkDurations },
      virtualServers: sources ? this.#virtualServers(sources) : [],
      vrrp: { instances: sources?.vrrpInstances() ?? [], syncGroups: sources?.vrrpSyncGroups() ?? [] },
      overrides: sources?.overrides().list() ?? [],
    };
  }

  /** Names, states, check records and times in state of every real server, by pool; rebuilt after a reload. */
  #serversOf(pools: Pools): Map<Pool, ServerLayout[]> {
    if (this.#layout?.pools === pools) return this.#layout.servers;
    const checkers = new Map<RealServer, ServerLayout['checkers']>();
    for (const entry of pools.checkers.values()) {
      const checker = { id: entry.id, type: entry.checker.type, state: entry.state, record: this.#checkRecord(entry.id) };
      const list = checkers.get(entry.realServer);
      if (list) list.push(checker);
      else checkers.set(entry.realServer, [checker]);
    }
    const servers = new Map<Pool, ServerLayout[]>();
    for (const pool of pools.pools) {
      servers.set(
        pool,
        pool.virtualServer.realServers.map((rs) => {
          const name = realServerName(rs);
          return { rs, name, state: pool.servers.get(rs)!, since: this.#since.get(rsKey(pool.name, name)), checkers: checkers.get(rs) ?? [] };
        }),
      );
    }
    this.#layout = { pools, servers };
    return servers;
  }

  #weightsOf(entry: ServiceEntry | undefined): Map<string, number> | undefined {
    if (!entry) return undefined;
    let weights = this.#weights.get(entry);
    if (!weights) this.#weights.set(entry, (weights = new Map(entry.destinations.map((d) => [destinationKey(d), d.weight]))));
    return weights;
  }

  #virtualServers(sources: StatusSources): VirtualServerStatus[] {
    const pools = sources.pools();
    const desired = sources.desired();
    const overrides = sources.overrides();
    const layout = this.#serversOf(pools);
    return pools.pools.map((pool) => {
      const vs = pool.virtualServer;
      const entries = pool.serviceKeys.map((k) => desired.get(k)).filter((e) => e !== undefined);
      // The first service's destinations carry the weights (every service of a group holds the same ones).
      const weights = this.#weightsOf(entries[0]);
      const kernelServices = pool.serviceKeys.map((k) => this.#kernel.get(k)).filter((k) => k !== undefined);
      let vsCounters: KernelCounters | undefined;
      for (const k of kernelServices) vsCounters = vsCounters ? addCounters(vsCounters, k.counters) : k.counters;
      const poolOverrides = overrides.of(pool.name);
      const realServers = layout.get(pool)!.map(({ rs, name, state, since, checkers }): RealServerStatus => {
        let kernel: DestinationCounters | undefined;
        for (const k of kernelServices) {
          const d = k.destinations?.get(name);
          if (d) kernel = kernel ? addDestinationCounters(kernel, d) : d;
        }
        const o = poolOverrides?.get(name);
        const alive = state.alive;
        const health: RealServerHealth = o?.override.kind === 'disable' ? 'disabled' : o?.override.kind === 'drain' ? 'drained' : alive ? 'up' : 'down';
        return {
          name,
          address: rs.address,
          port: rs.port,
          state: health,
          alive,
          configuredWeight: state.configuredWeight,
          effectiveWeight: weights?.get(name),
          override: o && { ...o.override, since: o.since },
          since: since?.at ?? this.#loadedAt,
          checkers: checkers.map((c) => ({ id: c.id, type: c.type, up: c.state.up, consecutiveFailures: c.record.failures, last: lastResult(c.record) })),
          kernel,
        };
      });
      const sorry = vs.sorryServer;
      return {
        name: pool.name,
        services: entries.map(serviceLabel),
        scheduler: vs.scheduler,
        forwarding: vs.forwarding.method,
        quorum: { up: pool.state.quorumUp, liveWeight: pool.state.liveWeight(), quorum: pool.state.settings.quorum, hysteresis: pool.state.settings.hysteresis },
        sorryServer: sorry && { name: hostPort(sorry.address, sorry.port), active: pool.state.sorryActive },
        kernel: vsCounters,
        realServers,
      };
    });
  }
}

