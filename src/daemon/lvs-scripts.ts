// The transitions keepalived reports for LVS (to scripts, FIFOs and mails alike), and the scripts
// they run: a real server's notify_up / notify_down on its transitions, a virtual server's
// quorum_up / quorum_down on quorum changes, with no arguments appended. Each runs in the
// background through the script runner (no shell, a hung one killed), in order per real server or
// virtual server, and its result goes to a callback for the log.
import type { RealServer, Script, VirtualServer } from '../config/model.js';
import type { ScriptResult, ScriptRunner } from '../vrrp/script-runner.js';
import { realServerName, type Pool, type Pools } from './pools.js';

export type LvsScriptKind = 'notify_up' | 'notify_down' | 'quorum_up' | 'quorum_down';

/** Why a script runs: a health transition, the start (rs_init_notifies, quorum down with a sorry server), a reload (removals, quorum moved), or the stop (omega). */
export type LvsScriptCause = 'transition' | 'start' | 'reload' | 'stop';

/** One script to run, for one real server (notify_*) or virtual server (quorum_*). */
export interface LvsScriptCall {
  kind: LvsScriptKind;
  virtualServer: string;
  /** `address:port`, for notify_up / notify_down. */
  realServer?: string;
  script: Script;
}

export interface LvsScriptOutcome extends Omit<LvsScriptCall, 'script'> {
  cause: LvsScriptCause;
  argv: string[];
  result: ScriptResult;
}

/** A script still running after this long is killed (keepalived sets no limit while running). */
export const LVS_SCRIPT_TIMEOUT_MS = 30_000;
/** At stop keepalived gives each script one second. */
export const LVS_STOP_SCRIPT_TIMEOUT_MS = 1_000;

export function realServerScript(pool: Pool, rs: RealServer, up: boolean): LvsScriptCall | undefined {
  const script = up ? rs.notifyUp : rs.notifyDown;
  return script && { kind: up ? 'notify_up' : 'notify_down', virtualServer: pool.name, realServer: realServerName(rs), script };
}

function quorumScript(pool: Pool, up: boolean): LvsScriptCall | undefined {
  const vs: VirtualServer = pool.virtualServer;
  const script = up ? vs.quorumUp : vs.quorumDown;
  return script && { kind: up ? 'quorum_up' : 'quorum_down', virtualServer: pool.name, script };
}

/**
 * A transition keepalived reports to the scripts, the FIFOs and the mails alike: a real server
 * up or down, or a virtual server's quorum. `removed` marks a real server taken out by a reload
 * or the stop rather than by its checks.
 */
export type LvsEvent =
  | { kind: 'real-server'; pool: Pool; realServer: RealServer; up: boolean; removed: boolean }
  | { kind: 'quorum'; pool: Pool; up: boolean };

const present = (call: LvsScriptCall | undefined): call is LvsScriptCall => call !== undefined;

/** The script an event runs, if one is configured. */
export function eventScript(event: LvsEvent): LvsScriptCall | undefined {
  return event.kind === 'real-server' ? realServerScript(event.pool, event.realServer, event.up) : quorumScript(event.pool, event.up);
}

const serverEvent = (pool: Pool, realServer: RealServer, up: boolean, removed = false): LvsEvent => ({ kind: 'real-server', pool, realServer, up, removed });

/**
 * At start: with rs_init_notifies, notify_up for every server already up; and quorum_down where
 * quorum starts down and a sorry server stands in (keepalived's init_service_vs).
 */
export function startEvents(pools: Pools): LvsEvent[] {
  const init = pools.config.globalDefs.rsInitNotifies;
  return pools.pools.flatMap((pool): LvsEvent[] => [
    ...(init ? [...pool.servers].filter(([, s]) => s.alive).map(([rs]) => serverEvent(pool, rs, true)) : []),
    ...(pool.virtualServer.sorryServer && !pool.state.quorumUp ? [{ kind: 'quorum' as const, pool, up: false }] : []),
  ]);
}

/**
 * At stop, only for virtual servers with `omega`, and only when ipvsd releases the table (not with
 * -I): notify_down for each server still up (when the servers are removed one by one, the default
 * lvs_flush_on_stop), then quorum_down whatever the quorum was (keepalived's clear_services).
 */
export function stopEvents(pools: Pools, release: boolean): LvsEvent[] {
  if (!release) return [];
  const perServer = pools.config.globalDefs.lvsFlushOnStop === 'default';
  return pools.pools
    .filter((pool) => pool.virtualServer.omega)
    .flatMap((pool): LvsEvent[] => [
      ...(perServer ? [...pool.servers].filter(([, s]) => s.alive).map(([rs]) => serverEvent(pool, rs, false, true)) : []),
      { kind: 'quorum', pool, up: false },
    ]);
}

/**
 * After a reload, whatever `omega` says (keepalived's clear_diff_services): notify_down for each
 * server that was up and is no longer configured, quorum_down for a removed virtual server whose
 * quorum was up, and quorum_up / quorum_down where a kept virtual server's quorum changed with
 * the new configuration.
 */
export function reloadEvents(previous: Pools, next: Pools): LvsEvent[] {
  const kept = new Map(next.pools.map((p) => [p.name, p]));
  return previous.pools.flatMap((old): LvsEvent[] => {
    const now = kept.get(old.name);
    const configured = new Set(now?.virtualServer.realServers.map(realServerName));
    const gone = [...old.servers].filter(([rs, s]) => s.alive && !configured.has(realServerName(rs))).map(([rs]) => serverEvent(old, rs, false, true));
    if (!now) return [...gone, ...(old.state.quorumUp ? [{ kind: 'quorum' as const, pool: old, up: false }] : [])];
    return [...gone, ...(now.state.quorumUp !== old.state.quorumUp ? [{ kind: 'quorum' as const, pool: now, up: now.state.quorumUp }] : [])];
  });
}

export const startScripts = (pools: Pools): LvsScriptCall[] => startEvents(pools).map(eventScript).filter(present);
export const stopScripts = (pools: Pools, release: boolean): LvsScriptCall[] => stopEvents(pools, release).map(eventScript).filter(present);
export const reloadScripts = (previous: Pools, next: Pools): LvsScriptCall[] => reloadEvents(previous, next).map(eventScript).filter(present);

/** Runs the calls in the background, one at a time per real server or virtual server. */
export class LvsScripts {
  readonly #runner: ScriptRunner;
  readonly #onOutcome: (outcome: LvsScriptOutcome) => void;
  readonly #queues = new Map<string, Promise<void>>();

  constructor(runner: ScriptRunner, onOutcome: (outcome: LvsScriptOutcome) => void) {
    this.#runner = runner;
    this.#onOutcome = onOutcome;
  }

  run(call: LvsScriptCall, cause: LvsScriptCause, timeoutMs: number = LVS_SCRIPT_TIMEOUT_MS): void {
    const subject = `${call.virtualServer}|${call.realServer ?? ''}`;
    const queued = (this.#queues.get(subject) ?? Promise.resolve()).then(async () => {
      // run() never rejects; the callback is the caller's and must not break the queue.
      const result = await this.#runner.run(call.script, [], timeoutMs);
      const { script, ...names } = call;
      try {
        this.#onOutcome({ ...names, cause, argv: script.argv, result });
      } catch {
        // a failing log callback must not stop later scripts
      }
    });
    this.#queues.set(subject, queued);
    void queued.then(() => {
      if (this.#queues.get(subject) === queued) this.#queues.delete(subject);
    });
  }

  /** Resolves once every script queued so far has finished, or after `limitMs` (a stop does not wait for a hung one). */
  async idle(limitMs = Infinity): Promise<void> {
    const done = Promise.all([...this.#queues.values()]);
    if (!Number.isFinite(limitMs)) {
      await done;
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([done, new Promise<void>((r) => (timer = setTimeout(r, limitMs)))]);
    clearTimeout(timer);
  }
}
