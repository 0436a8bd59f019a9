// Health state built from the configuration: one CheckerState per checker, one RealServerState
// per real server, one VirtualServerState per virtual server. A reload builds new state and
// takes over the state of every checker whose real server and spec are unchanged, with the
// weight its last check set (misc_dynamic, FILE_CHECK).
import type { Checker, KeepalivedConfig, RealServer, VirtualServer } from '../config/model.js';
import { CheckerState, type CheckerSettings } from '../health/checker-state.js';
import { applyCheckResult, type PoolUpdate } from '../health/pool-update.js';
import { RealServerState } from '../health/real-server-state.js';
import type { CheckReport } from '../health/scheduler.js';
import { clampQuorum, VirtualServerState, type QuorumEvent } from '../health/virtual-server-state.js';
import { hostPort, serviceKey } from '../ipvs/model.js';
import { virtualServerEntries } from './desired-table.js';

export interface Pool {
  /** How logs name the virtual server: `tcp 10.0.0.1:80`, `fwmark 5`, `group web tcp`. */
  name: string;
  virtualServer: VirtualServer;
  state: VirtualServerState;
  servers: Map<RealServer, RealServerState>;
  /** The kernel services this virtual server is laid out as (fixed for one configuration). */
  serviceKeys: string[];
}

export interface CheckerEntry {
  /** Unique in one configuration; what RealServerState and the scheduler know the checker by. */
  id: string;
  checker: Checker;
  realServer: RealServer;
  pool: Pool;
  state: CheckerState;
  /** The weight adjustment the last successful check reported (misc_dynamic, FILE_CHECK), kept for a reload. */
  weightAdjust: number | undefined;
}

export interface Pools {
  config: KeepalivedConfig;
  pools: Pool[];
  byVirtualServer: Map<VirtualServer, Pool>;
  checkers: Map<string, CheckerEntry>;
  /** Quorum already down when the pools were built (reported once, as keepalived does at start). */
  initialQuorum: Array<{ pool: Pool; event: QuorumEvent }>;
}

function virtualServerName(vs: VirtualServer): string {
  const t = vs.target;
  if (t.kind === 'address') return `${vs.protocol ?? 'tcp'} ${hostPort(t.address, t.port)}`;
  if (t.kind === 'fwmark') return `fwmark ${t.fwmark}`;
  return `group ${t.name} ${vs.protocol ?? 'tcp'}`;
}

export function realServerName(rs: RealServer): string {
  return hostPort(rs.address, rs.port);
}

/** The scheduler's settings for a checker: its resolved timing, with the type's own rules. */
export function checkerSettings(checker: Checker, vs: VirtualServer): CheckerSettings {
  if (checker.type === 'FILE_CHECK') {
    // No timing of its own: the file is watched, and polling it every delay_loop reads the latest value.
    return { delayLoopMs: vs.delayLoopMs, connectTimeoutMs: vs.connectTimeoutMs, retry: 0, delayBeforeRetryMs: vs.delayLoopMs, warmupMs: 0, alpha: false };
  }
  const timing: CheckerSettings = {
    delayLoopMs: checker.delayLoopMs,
    connectTimeoutMs: checker.connectTimeoutMs,
    retry: checker.retry,
    delayBeforeRetryMs: checker.delayBeforeRetryMs,
    warmupMs: checker.warmupMs,
    alpha: checker.alpha,
    rise: checker.rise,
    fall: checker.fall,
    fastFail: checker.fastFail ?? false,
  };
  if (checker.type === 'MISC_CHECK') return { ...timing, connectTimeoutMs: checker.timeoutMs, measureFromStart: true };
  return timing;
}

/** Settings that change when a checker runs, not what it checks: its state stays valid across them. */
const scheduleFields = new Set(['pos', 'delayLoopMs', 'retry', 'delayBeforeRetryMs', 'warmupMs', 'alpha', 'logAllFailures', 'rise', 'fall', 'fastFail']);

function specOf(checker: Checker): string {
  return JSON.stringify(checker, (key, value: unknown) => (scheduleFields.has(key) ? undefined : value));
}

function checkerId(poolName: string, rs: RealServer, checker: Checker): string {
  const sameType = rs.checkers.filter((c) => c.type === checker.type);
  return `${poolName} ${realServerName(rs)} ${checker.type}${sameType.length > 1 ? `#${sameType.indexOf(checker) + 1}` : ''}`;
}

/**
 * What a reload carries a checker's state over by, for each checker of `rs`: the same real
 * server and the same spec (timing aside), numbered among identical ones. Made only for a
 * reload, not kept: at 5000 servers they held 2.6 MB of strings.
 */
function identities(poolName: string, rs: RealServer): string[] {
  const seen = new Map<string, number>();
  return rs.checkers.map((checker) => {
    const spec = specOf(checker);
    const n = (seen.get(spec) ?? 0) + 1;
    seen.set(spec, n);
    return `${poolName}|${realServerName(rs)}|${spec}|${n}`;
  });
}

/** The entries of `pools` by identity. */
function entriesByIdentity(pools: Pools): Map<string, CheckerEntry> {
  const byIdentity = new Map<string, CheckerEntry>();
  for (const pool of pools.pools) {
    for (const rs of pool.virtualServer.realServers) {
      const ids = identities(pool.name, rs);
      rs.checkers.forEach((checker, i) => {
        const entry = pools.checkers.get(checkerId(pool.name, rs, checker));
        if (entry !== undefined) byIdentity.set(ids[i]!, entry);
      });
    }
  }
  return byIdentity;
}

/** Builds the health state of a configuration; `previous` gives checker state to carry over. */
export function buildPools(config: KeepalivedConfig, previous?: Pools): Pools {
  const carried = previous === undefined ? undefined : entriesByIdentity(previous);
  const previousPools = new Map((previous?.pools ?? []).map((p) => [p.name, p]));

  const pools: Pool[] = [];
  const byVirtualServer = new Map<VirtualServer, Pool>();
  const checkers = new Map<string, CheckerEntry>();
  const initialQuorum: Pools['initialQuorum'] = [];
  for (const vs of config.virtualServers) {
    const name = virtualServerName(vs);
    const servers = new Map<RealServer, RealServerState>();
    const entries: Array<Omit<CheckerEntry, 'pool'>> = [];
    for (const rs of vs.realServers) {
      // On a reload, each checker's entry in the previous pools with the same identity.
      const previousEntries = carried && identities(name, rs).map((identity) => carried.get(identity));
      const ids: Array<{ id: string; up: boolean }> = [];
      const adjusts: Array<[string, number]> = [];
      for (const [i, checker] of rs.checkers.entries()) {
        const id = checkerId(name, rs, checker);
        const state = new CheckerState(checkerSettings(checker, vs));
        const old = previousEntries?.[i];
        if (old) state.adopt(old.state);
        // An adjustment is relative to the configured weight (misc_dynamic's is status - 2 - weight): valid only while that is unchanged.
        const weightAdjust = old?.realServer.weight === rs.weight ? old.weightAdjust : undefined;
        if (weightAdjust !== undefined) adjusts.push([id, weightAdjust]);
        ids.push({ id, up: state.up });
        entries.push({ id, checker, realServer: rs, state, weightAdjust });
      }
      const server = new RealServerState({ address: rs.address, port: rs.port, weight: rs.weight, inhibitOnFailure: rs.inhibitOnFailure, checkers: ids });
      for (const [id, adjust] of adjusts) server.setWeightAdjust(id, adjust);
      servers.set(rs, server);
    }
    const { quorum, hysteresis } = clampQuorum(vs.quorum, vs.hysteresis, vs.realServers.map((rs) => rs.weight));
    const sorry = vs.sorryServer;
    const state = new VirtualServerState(
      { quorum, hysteresis, sorryServer: sorry && { address: sorry.address, port: sorry.port, weight: 1, inhibit: sorry.inhibit } },
      [...servers.values()],
    );
    const pool: Pool = { name, virtualServer: vs, state, servers, serviceKeys: [] };
    const before = previousPools.get(name);
    const event = before ? state.resume(before.state.quorumUp) : state.start();
    if (event && !before) initialQuorum.push({ pool, event });
    pool.serviceKeys = virtualServerEntries(config, vs, state).map((e) => serviceKey(e.service));
    // A literal, not a spread: each spread copy got a hidden class of its own (1.3 MB at 5000).
    for (const e of entries) {
      checkers.set(e.id, { id: e.id, checker: e.checker, realServer: e.realServer, state: e.state, weightAdjust: e.weightAdjust, pool });
    }
    pools.push(pool);
    byVirtualServer.set(vs, pool);
  }
  return { config, pools, byVirtualServer, checkers, initialQuorum };
}

/** Carries one check result through its real server and virtual server, and remembers the weight it set. */
export function applyReport(entry: CheckerEntry, report: CheckReport): PoolUpdate {
  const server = entry.pool.servers.get(entry.realServer)!;
  const update = applyCheckResult(server, entry.pool.state, entry.id, report.step, report.probe);
  if (report.probe.ok && report.probe.weightAdjust !== undefined) entry.weightAdjust = report.probe.weightAdjust;
  return update;
}
