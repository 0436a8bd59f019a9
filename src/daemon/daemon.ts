// The composition root: config -> health state -> desired table -> reconciler -> kernel, with the
// lifecycle around it (start, periodic repair, SIGHUP reload, stop). Checker and kernel errors are
// logged and retried, never fatal; only what stops the start (bad file, no IPVS, no permission) is.
import { hostname } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import { formatDiagnostic, type Diagnostic } from '../config/ast.js';
import type { KeepalivedConfig } from '../config/model.js';
import type { CheckReport } from '../health/scheduler.js';
import { AddonMissingError } from '../native/addon.js';
import { describe, IpvsClient } from '../ipvs/client.js';
import { IpvsPermissionError, IpvsUnavailableError } from '../ipvs/errors.js';
import { serviceKey, type Timeouts } from '../ipvs/model.js';
import type { IpvsOperation } from '../ipvs/operations.js';
import { Reconciler, type ReconcileReport } from '../ipvs/reconciler.js';
import { desiredTable, virtualServerEntries } from './desired-table.js';
import { DaemonStartError } from './errors.js';
import { HealthChecks } from './health-checks.js';
import { KernelTable } from './kernel-table.js';
import { applyReport, buildPools, realServerName, type CheckerEntry, type Pool, type Pools } from './pools.js';
import { OwnershipFile } from './ownership-file.js';
import {
  eventScript,
  LVS_STOP_SCRIPT_TIMEOUT_MS,
  LvsScripts,
  reloadEvents,
  startEvents,
  stopEvents,
  type LvsEvent,
  type LvsScriptCall,
  type LvsScriptCause,
  type LvsScriptOutcome,
} from './lvs-scripts.js';
import { LvsNotifications, type LvsNotifyOutcome } from './lvs-notify.js';
import { NotifyFifos } from '../vrrp/notify-fifo.js';
import { isMiscTimeout } from '../../checkers/misc.js';
import { loadRunnableConfig } from './script-security.js';
import { ProcessScriptRunner, scriptSucceeded } from '../vrrp/script-runner.js';
import type { VrrpRuntime } from '../vrrp/runtime.js';
import { shape } from '../vrrp/reload-plan.js';
import { turnEpochNow } from '../health/turn-clock.js';
import { AlertMailer, alertRecipients, SmtpAlert } from '../vrrp/smtp-alert.js';
import { ConnectionSync, connectionSyncSettings } from './lvs-sync.js';
import { packageVersion } from '../api/build-info.js';
import { ControlRequestError, type ControlTarget, type OverrideAnswer, type OverrideRequest, type ReloadAnswer } from '../api/control-protocol.js';
import { findVirtualServer, parseEndpoint } from '../api/server-address.js';
import { isLogLevel, logLevels } from './log-level.js';
import { describeOverride, Overrides, type Override } from './overrides.js';
import { StatusModel, type StatusSnapshot } from './status.js';
import { StaticNetwork } from './static-network.js';
import { staticEntriesOf } from './static-network-plan.js';

export interface DaemonOptions {
  configPath: string;
  configId: string;
  /** false with -I/--dont-release-ipvs: leave the services in the kernel on stop. */
  releaseOnStop: boolean;
  /** --tcp-half-open: TCP_CHECK as half-open SYN probes (scales to thousands of servers). */
  tcpHalfOpen?: boolean;
  /** Where the services ipvsd owns are kept across restarts; undefined: only in memory. */
  ownershipPath?: string;
  log: Logger;
}

/** How often the kernel is read in full and repaired (ipvsadm -C, edits behind ipvsd's back). */
const repairIntervalMs = 5000;
/** How long health changes are gathered before the changed pools are laid out and applied. */
const poolFlushDelayMs = 5;
/**
 * The gathering lasts at least this many times the last layout's cost, so laying out a large pool
 * (thousands of servers coming up in the first seconds) takes at most a fifth of the loop.
 */
const poolFlushCostFactor = 4;

/** How long a stop waits for the omega scripts (and any still running) before it goes on. */
const stopScriptsWaitMs = 2000;

/** ipvsctl status re-reads the kernel counters when they are older than this. */
const statusFreshMs = 1000;

const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));

function load(options: DaemonOptions): { config: KeepalivedConfig | undefined; diagnostics: Diagnostic[] } {
  return loadRunnableConfig(options.configPath, { configId: options.configId });
}

/** A valid file's warnings, logged at start and at each reload. */
function logWarnings(log: Logger, diagnostics: readonly Diagnostic[]): void {
  for (const d of diagnostics) {
    const line = formatDiagnostic(d);
    log.warn({ event: 'config-warning', diagnostic: line }, line);
  }
}

/** The host name up to its first dot: what smtp_alert falls back on for router_id, HELO and sender. */
const shortHostname = (): string => hostname().split('.')[0]!;

function timeoutsOf(config: KeepalivedConfig): Timeouts | undefined {
  const t = config.globalDefs.lvsTimeouts;
  return t.tcp || t.tcpFin || t.udp ? { tcp: t.tcp, tcpFin: t.tcpFin, udp: t.udp } : undefined;
}

/** The VRRP part of a configuration, without source positions (they move when other lines do). */
function vrrpShape(config: KeepalivedConfig): string {
  const { vrrpInstances, vrrpSyncGroups, vrrpScripts, trackFiles } = config;
  const fifos = [config.globalDefs.notifyFifo, config.globalDefs.vrrpNotifyFifo];
  return shape({ vrrpInstances, vrrpSyncGroups, vrrpScripts, trackFiles, fifos, vrrp: config.globalDefs.vrrp });
}

function openError(err: unknown): DaemonStartError {
  if (err instanceof IpvsUnavailableError) return new DaemonStartError('EIPVSUNAVAILABLE', err.message);
  if (err instanceof IpvsPermissionError) return new DaemonStartError('EPERM', err.message);
  if (err instanceof AddonMissingError) return new DaemonStartError('EIPVS', `cannot talk to the kernel: the native addon is missing (${err.message}); run "npm run build:native"`);
  return new DaemonStartError('EIPVS', `cannot open the IPVS netlink socket: ${errorText(err)}`);
}

export class Daemon implements ControlTarget {
  readonly #options: DaemonOptions;
  readonly #log: Logger;
  readonly #client: IpvsClient;
  readonly #reconciler: Reconciler;
  readonly #table: KernelTable;
  readonly #health: HealthChecks;
  readonly #overrides = new Overrides();
  readonly #status: StatusModel;
  readonly #ownership: OwnershipFile | undefined;
  readonly #scripts: LvsScripts;
  #config: KeepalivedConfig;
  #pools: Pools;
  #vrrp: VrrpRuntime | undefined;
  #connectionSync: ConnectionSync | undefined;
  #smtpAlert: SmtpAlert | undefined;
  /** static_ipaddress, static_routes, static_rules: applied at start and reload whatever the VRRP state, removed at stop. */
  readonly #staticNetwork: StaticNetwork;
  /** notify_fifo is opened once for VRRP and LVS lines together. */
  readonly #fifos = new NotifyFifos();
  #lvsNotify: LvsNotifications | undefined;
  /** The kernel's timeouts before lvs_timeouts changed them, restored on stop. */
  #savedTimeouts: Timeouts | undefined;
  #repairTimer: NodeJS.Timeout | undefined;
  #repairQueued = false;
  #dirtyPools = new Set<Pool>();
  #poolFlush: NodeJS.Timeout | undefined;
  #lastLayoutMs = 0;
  #reloads: Promise<void> = Promise.resolve();
  #stopping: Promise<void> | undefined;

  private constructor(options: DaemonOptions, client: IpvsClient, config: KeepalivedConfig) {
    this.#options = options;
    this.#log = options.log;
    this.#client = client;
    this.#config = config;
    this.#status = new StatusModel({ version: packageVersion(), configPath: options.configPath, now: turnEpochNow });
    this.#ownership = options.ownershipPath === undefined ? undefined : new OwnershipFile(options.ownershipPath);
    this.#staticNetwork = new StaticNetwork({ log: options.log });
    const owned = this.#readOwnership();
    this.#scripts = new LvsScripts(new ProcessScriptRunner(), (o) => this.#onScript(o));
    // Every full read of the kernel (the periodic repair's) also refreshes the counters ipvsctl and the metrics show.
    this.#reconciler = new Reconciler({
      table: async () => {
        const entries = await client.table();
        this.#status.kernelRead(entries);
        return entries;
      },
      apply: (operations, o) => client.apply(operations, o),
    }, { owned, onOwnedChange: (services) => this.#saveOwnership(services) });
    this.#table = new KernelTable(this.#reconciler, (pass, err) => {
      this.#status.reconcileFailed(pass);
      this.#log.error({ event: 'kernel-error', pass, error: errorText(err) }, `IPVS ${pass} failed, retrying on the next pass: ${errorText(err)}`);
    });
    this.#health = new HealthChecks({
      onResult: (entry, report) => this.#onResult(entry, report),
      onSetupError: (entry, message) =>
        this.#log.error({ event: 'checker-error', checker: entry.id, error: message }, `checker ${entry.id} cannot run: ${message}`),
      onError: (err) => this.#log.error({ event: 'internal-error', error: errorText(err) }, `error while applying a check result: ${errorText(err)}`),
      onLag: (lag) =>
        this.#log.warn(
          { event: 'checks-late', ...lag },
          `${lag.late} check(s) started late in the last ${Math.round(lag.windowMs / 1000)} s (up to ${Math.round(lag.maxLatenessMs)} ms), ${lag.skipped} slot(s) left out: the event loop is busy`,
        ),
      tcpHalfOpen: options.tcpHalfOpen ?? false,
    });
    this.#pools = buildPools(config);
    this.#status.attach({
      pools: () => this.#pools,
      desired: () => this.#table.desired,
      overrides: () => this.#overrides,
      vrrpInstances: () => this.#vrrp?.status() ?? [],
      vrrpSyncGroups: () => this.#vrrp?.syncGroupStatus() ?? [],
      logLevel: () => this.#log.level,
    });
  }

  /**
   * Loads the configuration, opens IPVS, programs the start table (every real server in, unless
   * alpha keeps it out until its checks pass), then starts the checks and the periodic repair.
   */
  static async start(options: DaemonOptions): Promise<Daemon> {
    const startedAt = performance.now();
    const { config, diagnostics } = load(options);
    const lines = diagnostics.map(formatDiagnostic);
    if (!config) throw new DaemonStartError('ECONFIG', `${options.configPath} is not valid; ipvsd did not start`, lines);
    logWarnings(options.log, diagnostics);

    let client: IpvsClient;
    try {
      client = await IpvsClient.open();
    } catch (err) {
      throw openError(err);
    }
    let daemon: Daemon | undefined;
    try {
      const d = (daemon = new Daemon(options, client, config));
      await d.#prepareKernel();
      const report = await d.#firstSync();
      d.#lvsNotify = d.#openLvsNotify(config);
      d.#health.load(d.#pools);
      d.#runEvents(startEvents(d.#pools), 'start');
      for (const { pool, event } of d.#pools.initialQuorum) {
        options.log.warn({ event: 'quorum-down', virtualServer: pool.name, weight: event.weight, threshold: event.threshold, initial: true }, `${pool.name}: quorum down at start`);
      }
      d.#repairTimer = setInterval(() => d.#repair(), repairIntervalMs);
      d.#connectionSync = await d.#startConnectionSync(config);
      d.#smtpAlert = SmtpAlert.fromConfig(config, shortHostname(), (o) => d.#onSmtpAlert(o));
      await d.#staticNetwork.apply(staticEntriesOf(config), 'start');
      if (config.vrrpInstances.length > 0) d.#vrrp = await d.#startVrrp(config);
      options.log.info(
        {
          event: 'started',
          config: options.configPath,
          virtualServers: config.virtualServers.length,
          realServers: config.virtualServers.reduce((n, vs) => n + vs.realServers.length, 0),
          checkers: d.#pools.checkers.size,
          services: d.#table.desired.size,
          operations: report?.operations.length ?? 0,
          durationMs: Math.round(performance.now() - startedAt),
        },
        'ipvsd started',
      );
      return d;
    } catch (err) {
      if (daemon) {
        clearInterval(daemon.#repairTimer);
        daemon.#health.stop();
        await daemon.#connectionSync?.stop();
        await daemon.#staticNetwork.stop();
        daemon.#lvsNotify?.close();
      }
      client.close();
      throw err;
    }
  }

  /**
   * Failures to start VRRP (no raw sockets, no permission) stop the start: a director without its
   * VIP is not one. A missing interface does not: that instance waits in FAULT, as keepalived's does.
   */
  async #startVrrp(config: KeepalivedConfig): Promise<VrrpRuntime> {
    try {
      // Loaded with the first instance: a director without VRRP never loads the VRRP runtime.
      const { VrrpRuntime } = await import('../vrrp/runtime.js');
      return await VrrpRuntime.start(config, {
        log: this.#log,
        fifos: this.#fifos,
        onNotify: (instance, o) => {
          if (o.result.exitCode !== 0 || o.result.timedOut) {
            this.#log.warn({ event: 'notify-failed', instance, argv: o.argv, ...o.result }, `notify script for ${instance} failed`);
          }
        },
        onTransition: (source, name, state) => {
          if (source === 'INSTANCE') void this.#connectionSync?.transition(name, state);
          this.#smtpAlert?.transition(source, name, state);
        },
      });
    } catch (err) {
      throw new DaemonStartError('EVRRP', `cannot start VRRP: ${errorText(err)}`);
    }
  }

  /** keepalived's reload: kept instances keep their state; VRRP starts or stops with the file's first or last instance. */
  async #reloadVrrp(config: KeepalivedConfig): Promise<void> {
    if (config.vrrpInstances.length === 0) {
      const running = this.#vrrp;
      this.#vrrp = undefined;
      await running?.stop();
    } else if (this.#vrrp) {
      await this.#vrrp.reload(config);
    } else {
      this.#vrrp = await this.#startVrrp(config);
    }
  }

  /** lvs_sync_daemon: both kernel daemons now, or the backup one until the followed instance becomes MASTER. */
  async #startConnectionSync(config: KeepalivedConfig): Promise<ConnectionSync | undefined> {
    const settings = connectionSyncSettings(config);
    if (!settings) return undefined;
    const sync = new ConnectionSync(settings, this.#client, {
      onStarted: (d) => this.#log.info({ event: 'sync-daemon-started', state: d.state, interface: d.interface, syncId: d.syncId }, `started the IPVS ${d.state} sync daemon on ${d.interface} (id ${d.syncId})`),
      onStopped: (state) => this.#log.info({ event: 'sync-daemon-stopped', state }, `stopped the IPVS ${state} sync daemon`),
      onError: (err) => this.#log.error({ event: 'sync-daemon-error', error: errorText(err) }, `IPVS sync daemon: ${errorText(err)}`),
    });
    await sync.start();
    return sync;
  }

  /** VRRP's and LVS's mails alike. */
  #onSmtpAlert(o: LvsNotifyOutcome): void {
    if (o.error) this.#log.warn({ event: 'smtp-alert-failed', subject: o.subject, error: o.error.message }, `smtp_alert "${o.subject}" not sent: ${o.error.message}`);
    else this.#log.info({ event: 'smtp-alert-sent', subject: o.subject }, `smtp_alert sent: ${o.subject}`);
  }

  /** lvs_flush (start only) and lvs_timeouts; only a permission error stops the start. */
  async #prepareKernel(): Promise<void> {
    const globals = this.#config.globalDefs;
    try {
      if (globals.lvsFlush) {
        await this.#client.flush();
        this.#log.info({ event: 'kernel-flush' }, 'flushed the IPVS table (lvs_flush)');
      }
      await this.#applyTimeouts(this.#config);
    } catch (err) {
      if (err instanceof IpvsPermissionError) throw openError(err);
      this.#log.error({ event: 'kernel-error', pass: 'prepare', error: errorText(err) }, errorText(err));
    }
  }

  async #applyTimeouts(config: KeepalivedConfig): Promise<void> {
    const wanted = timeoutsOf(config);
    if (!wanted) return;
    this.#savedTimeouts ??= await this.#client.timeouts();
    await this.#client.setTimeouts(wanted);
  }

  async #firstSync(): Promise<ReconcileReport | undefined> {
    this.#table.replace(this.#desired(this.#pools));
    try {
      const report = await this.#reconciler.sync(this.#table.desired);
      this.#status.reconciled('start', report);
      this.#reportRefusals('start', report);
      return report;
    } catch (err) {
      if (err instanceof IpvsPermissionError) throw openError(err);
      this.#status.reconcileFailed('start');
      // The periodic repair retries; the checks start regardless.
      this.#log.error({ event: 'kernel-error', pass: 'start', error: errorText(err) }, `programming the start table failed, retrying: ${errorText(err)}`);
      return undefined;
    }
  }

  #desired(pools: Pools) {
    return desiredTable(
      pools.config,
      (vs) => pools.byVirtualServer.get(vs)!.state,
      (vs) => this.#overrides.of(pools.byVirtualServer.get(vs)!.name),
    );
  }

  /**
   * Health changes are gathered for a few milliseconds and each changed pool laid out once: at
   * start, thousands of servers change within the same second, and laying out a large pool per
   * change is quadratic.
   */
  #updatePool(pool: Pool): void {
    this.#dirtyPools.add(pool);
    this.#poolFlush ??= setTimeout(() => this.#flushPools(), Math.max(poolFlushDelayMs, this.#lastLayoutMs * poolFlushCostFactor));
  }

  #flushPools(): void {
    this.#poolFlush = undefined;
    const pools = [...this.#dirtyPools].filter((p) => this.#pools.byVirtualServer.get(p.virtualServer) === p);
    this.#dirtyPools.clear();
    if (pools.length === 0 || this.#stopping) return;
    const startedAt = performance.now();
    for (const pool of pools) {
      this.#table.set(virtualServerEntries(this.#pools.config, pool.virtualServer, pool.state, this.#overrides.of(pool.name)));
    }
    this.#lastLayoutMs = performance.now() - startedAt;
    void this.#table.update(pools.flatMap((p) => p.serviceKeys)).then((r) => {
      if (r) this.#status.reconciled('update', r);
      this.#reportRefusals('update', r);
    });
  }

  #onResult(entry: CheckerEntry, report: CheckReport): void {
    const pool = entry.pool;
    const server = pool.servers.get(entry.realServer)!;
    const update = applyReport(entry, report);
    this.#status.checkResult(entry.id, entry.checker.type, report.probe, report.step.failures);
    const fields = { virtualServer: pool.name, realServer: realServerName(entry.realServer), checker: entry.id, reason: report.probe.reason };
    if (update.server) {
      const { kind, initial } = update.server;
      this.#status.realServerChanged(pool.name, fields.realServer);
      const message = `${pool.name}: real server ${fields.realServer} ${kind}${initial ? ' (at start)' : ''}: ${fields.reason}`;
      this.#log.info({ event: `real-server-${kind}`, ...fields, initial, inhibit: server.inhibit }, message);
      this.#runEvents([{ kind: 'real-server', pool, realServer: entry.realServer, up: kind === 'up', removed: false }], 'transition');
    } else if (!report.probe.ok) {
      this.#log.debug({ event: 'check-failed', ...fields, failures: report.step.failures }, `${entry.id}: ${fields.reason}`);
    }
    if (update.quorum) {
      const kind = update.quorum.kind === 'quorum_up' ? 'quorum-up' : 'quorum-down';
      this.#log.warn(
        { event: kind, virtualServer: pool.name, weight: update.quorum.weight, threshold: update.quorum.threshold, sorryServer: pool.state.sorryActive },
        `${pool.name}: ${kind.replace('-', ' ')} (weight ${update.quorum.weight}, threshold ${update.quorum.threshold})`,
      );
      this.#runEvents([{ kind: 'quorum', pool, up: update.quorum.kind === 'quorum_up' }], 'transition', undefined, update.quorum);
    }
    // After the server's own line, as keepalived's checkers mail after update_svr_checker_state.
    if (report.step.transition) {
      this.#lvsNotify?.checker(pool.virtualServer, entry.realServer, entry.checker, {
        checkerUp: report.step.transition === 'up',
        serverAlive: server.alive,
        serverChanged: update.server !== undefined,
        timedOut: isMiscTimeout(report.probe.reason),
      });
    }
    if (update.changed) this.#updatePool(pool);
  }

  #repair(): void {
    if (this.#repairQueued || this.#stopping) return;
    this.#repairQueued = true;
    void this.#table.sync().then((report) => {
      this.#repairQueued = false;
      // A write that failed earlier is retried here; an unchanged set is not written.
      this.#saveOwnership(this.#reconciler.ownedServices);
      if (report) this.#status.reconciled('sync', report);
      if (!report || report.operations.length === 0) return;
      const done = this.#succeeded(report);
      if (done.length > 0) {
        this.#log.warn(
          { event: 'kernel-repair', operations: done.map(describe), durationMs: Math.round(report.durationMs) },
          `repaired the IPVS table (changed behind ipvsd's back): ${done.length} operation(s)`,
        );
      }
      this.#reportRefusals('repair', report);
    });
  }

  #succeeded(report: ReconcileReport): IpvsOperation[] {
    const failed = new Set(report.failures.map((f) => f.operation));
    return report.operations.filter((op) => !failed.has(op));
  }

  #reportRefusals(pass: string, report: ReconcileReport | undefined): void {
    for (const f of report?.failures ?? []) {
      this.#log.error({ event: 'kernel-refused', pass, operation: describe(f.operation), error: f.error.message }, f.error.message);
    }
  }

  /** SIGHUP or ipvsctl reload: an invalid file is reported and changes nothing; a valid one is applied in place. */
  reload(): Promise<ReloadAnswer> {
    const done = this.#reloads.then(() =>
      this.#reloadNow().catch((err: unknown): ReloadAnswer => {
        this.#log.error({ event: 'reload-failed', error: errorText(err) }, `reload failed, keeping the running configuration: ${errorText(err)}`);
        this.#status.reloaded(false, [errorText(err)]);
        return { ok: false, errors: [errorText(err)] };
      }),
    );
    this.#reloads = done.then(() => undefined);
    return done;
  }

  async #reloadNow(): Promise<ReloadAnswer> {
    if (this.#stopping) return { ok: false, errors: ['ipvsd is stopping'] };
    const startedAt = performance.now();
    const { config, diagnostics } = load(this.#options);
    if (!config) {
      const lines = diagnostics.map(formatDiagnostic);
      this.#log.error({ event: 'reload-rejected', config: this.#options.configPath, diagnostics: lines }, `reload rejected, keeping the running configuration: ${lines.join('; ')}`);
      this.#status.reloaded(false, lines);
      return { ok: false, errors: lines };
    }
    logWarnings(this.#log, diagnostics);
    if (vrrpShape(config) !== vrrpShape(this.#config)) await this.#reloadVrrp(config);
    await this.#staticNetwork.apply(staticEntriesOf(config), 'reload');
    const pools = buildPools(config, this.#pools);
    const names = new Map(pools.pools.map((p) => [p.name, new Set(p.virtualServer.realServers.map(realServerName))]));
    for (const gone of this.#overrides.retain((vs, rs) => names.get(vs)?.has(rs) === true)) {
      this.#log.info(
        { event: 'override-dropped', virtualServer: gone.virtualServer, realServer: gone.realServer, override: describeOverride(gone.override) },
        `${gone.virtualServer}: override on ${gone.realServer} dropped, the server is no longer configured`,
      );
    }
    let adopted = 0;
    for (const c of pools.checkers.values()) if (c.state.hasRun) adopted++;
    const desired = this.#desired(pools);
    const events = reloadEvents(this.#pools, pools);
    // The new FIFOs open before the old close, so a path in both stays open (its reader is not restarted).
    const lvsNotify = this.#openLvsNotify(config);
    this.#lvsNotify?.close();
    this.#lvsNotify = lvsNotify;
    this.#config = config;
    this.#pools = pools;
    this.#table.replace(desired);
    this.#health.load(pools);
    try {
      await this.#applyTimeouts(config);
    } catch (err) {
      this.#log.error({ event: 'kernel-error', pass: 'timeouts', error: errorText(err) }, errorText(err));
    }
    this.#status.reloaded(true);
    const report = await this.#table.sync();
    this.#runEvents(events, 'reload');
    if (report) this.#status.reconciled('reload', report);
    this.#reportRefusals('reload', report);
    this.#log.info(
      {
        event: 'reloaded',
        config: this.#options.configPath,
        virtualServers: config.virtualServers.length,
        checkers: pools.checkers.size,
        adoptedCheckers: adopted,
        operations: report ? this.#succeeded(report).map(describe) : [],
        durationMs: Math.round(performance.now() - startedAt),
      },
      'configuration reloaded',
    );
    return { ok: true, errors: [] };
  }

  /** For the metrics: never waits, the counters are those of the last kernel read. */
  snapshot(): StatusSnapshot {
    return this.#status.snapshot();
  }

  /** For ipvsctl: re-reads the kernel first when the last read is older than a second. */
  async status(): Promise<StatusSnapshot> {
    if (this.#status.kernelAgeMs() > statusFreshMs && !this.#stopping) {
      // In the reconcile queue: one dump at a time on the socket.
      await this.#table.after(async () => {
        try {
          this.#status.kernelRead(await this.#client.table());
        } catch (err) {
          this.#log.debug({ event: 'kernel-error', pass: 'status', error: errorText(err) }, `reading the IPVS counters failed: ${errorText(err)}`);
        }
      });
    }
    return this.#status.snapshot();
  }

  /** ipvsctl drain/disable/weight/enable: an override by name, applied to the table at once. */
  override(request: OverrideRequest): OverrideAnswer {
    const pool = findVirtualServer(
      this.#pools.pools.map((p) => ({ name: p.name, pool: p, target: p.virtualServer.target, protocol: p.virtualServer.protocol })),
      request.virtualServer,
    ).pool;
    const endpoint = parseEndpoint(request.realServer);
    const rs = pool.virtualServer.realServers.find((r) => r.port === endpoint.port && parseEndpoint(realServerName(r)).address === endpoint.address);
    if (!rs) throw new ControlRequestError('ENOREALSERVER', `${pool.name} has no real server ${request.realServer}`);
    const name = realServerName(rs);
    let override: Override | undefined;
    if (request.action === 'drain') override = { kind: 'drain' };
    else if (request.action === 'disable') override = { kind: 'disable' };
    else if (request.action === 'weight') {
      const w = request.weight;
      if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w > 2_147_483_647) {
        throw new ControlRequestError('EBADWEIGHT', `a weight is an integer from 0 to 2147483647, not ${String(w)}`);
      }
      override = { kind: 'weight', weight: w };
    } else if (request.action !== 'enable') {
      throw new ControlRequestError('EBADACTION', `unknown override ${String(request.action)}`);
    }
    const previous = this.#overrides.set(pool.name, name, override, Date.now());
    const now = override ? describeOverride(override) : 'no override';
    const was = previous ? describeOverride(previous.override) : 'no override';
    if (now !== was) this.#status.realServerChanged(pool.name, name);
    this.#log.info(
      { event: override ? 'override-set' : 'override-cleared', virtualServer: pool.name, realServer: name, override: now, previous: was },
      `${pool.name}: real server ${name} ${override ? now : 'back to its health-checked weight'} (ipvsctl)`,
    );
    this.#updatePool(pool);
    return { virtualServer: pool.name, realServer: name, now };
  }

  setLogLevel(level: string): void {
    if (!isLogLevel(level)) throw new ControlRequestError('EBADLEVEL', `unknown log level \`${level}\`; use one of ${logLevels.join(', ')}`);
    const from = this.#log.level;
    this.#log.level = level;
    this.#log.info({ event: 'log-level', from, to: level }, `log level ${from} -> ${level} (ipvsctl)`);
  }

  /** Stops the checks and removes the services ipvsd owns (unless -I), as lvs_flush_on_stop says. */
  stop(): Promise<void> {
    this.#stopping ??= this.#stopNow();
    return this.#stopping;
  }

  async #stopNow(): Promise<void> {
    const startedAt = performance.now();
    clearInterval(this.#repairTimer);
    clearTimeout(this.#poolFlush);
    this.#health.stop();
    // VRRP first: priority 0 so the backup takes over after skew time, VIPs released, then the services.
    if (this.#vrrp) {
      try {
        await this.#vrrp.stop();
      } catch (err) {
        this.#log.error({ event: 'vrrp-error', error: errorText(err) }, `stopping VRRP failed: ${errorText(err)}`);
      }
    }
    // After the VIPs are released, as keepalived: rules, routes, then addresses.
    await this.#staticNetwork.stop();
    // After VRRP's STOP transition; also stops the daemons that run without `inst`.
    await this.#connectionSync?.stop();
    await this.#smtpAlert?.idle(2000);
    const release = this.#options.releaseOnStop;
    const events = stopEvents(this.#pools, release);
    await this.#table.after(async () => {
      try {
        if (release) await this.#release();
        if (this.#savedTimeouts) await this.#client.setTimeouts(this.#savedTimeouts);
      } catch (err) {
        this.#log.error({ event: 'kernel-error', pass: 'stop', error: errorText(err) }, `releasing the IPVS table failed: ${errorText(err)}`);
      }
    });
    this.#client.close();
    this.#runEvents(events, 'stop', LVS_STOP_SCRIPT_TIMEOUT_MS);
    await Promise.all([this.#scripts.idle(stopScriptsWaitMs), this.#lvsNotify?.idle(stopScriptsWaitMs)]);
    this.#lvsNotify?.close();
    this.#log.info({ event: 'stopped', released: release, durationMs: Math.round(performance.now() - startedAt) }, 'ipvsd stopped');
  }

  async #release(): Promise<void> {
    const mode = this.#config.globalDefs.lvsFlushOnStop;
    if (mode === 'flush') {
      await this.#client.flush();
      this.#saveOwnership([]);
      return;
    }
    const desired = this.#table.desired;
    const operations: IpvsOperation[] = [];
    if (mode === 'default') {
      // keepalived removes each real server before its service.
      for (const e of desired.values()) for (const d of e.destinations) operations.push({ kind: 'remove-destination', service: e.service, destination: d });
    }
    for (const e of desired.values()) operations.push({ kind: 'remove-service', service: e.service });
    const failures = await this.#client.apply(operations);
    const gone = new Set(operations.filter((op) => op.kind === 'remove-service').map((op) => serviceKey(op.service)));
    for (const f of failures) if (f.operation.kind === 'remove-service') gone.delete(serviceKey(f.operation.service));
    // Owned services the table no longer lists (a removal that failed earlier) go too; that pass records what stays owned.
    if ([...this.#reconciler.ownedServices].some((k) => !gone.has(k))) await this.#reconciler.sync(new Map());
    else this.#saveOwnership([]);
  }

  /** The services a previous run owned; a missing or unreadable file means none, never a failed start. */
  #readOwnership(): Set<string> {
    if (!this.#ownership) return new Set();
    const { services, problem } = this.#ownership.read();
    const path = this.#ownership.path;
    if (problem === undefined) {
      this.#log.info({ event: 'ownership-read', path, services: services.size }, `${path}: a previous run owned ${services.size} service(s)`);
    } else {
      this.#log.warn({ event: 'ownership-unread', path, reason: problem }, `${path}: ${problem}; ipvsd owns no service until it adds one`);
    }
    return services;
  }

  #saveOwnership(services: Iterable<string>): void {
    try {
      this.#ownership?.save(services);
    } catch (err) {
      this.#log.error({ event: 'ownership-write-failed', path: this.#ownership?.path, error: errorText(err) }, `${errorText(err)}; retrying after the next repair pass`);
    }
  }

  /** Each transition's script, FIFO line and mail, in keepalived's order. */
  #runEvents(events: readonly LvsEvent[], cause: LvsScriptCause, timeoutMs?: number, quorum?: { weight: number; threshold: number }): void {
    for (const event of events) {
      const call: LvsScriptCall | undefined = eventScript(event);
      if (call) this.#scripts.run(call, cause, timeoutMs);
      this.#lvsNotify?.event(event, { initial: cause === 'start', stopping: cause === 'stop', ...quorum });
    }
  }

  /** A FIFO that cannot be opened is logged and left out: notifications never stop the director. */
  #openLvsNotify(config: KeepalivedConfig): LvsNotifications | undefined {
    const recipients = alertRecipients(config, shortHostname());
    try {
      return LvsNotifications.open(config, this.#fifos, recipients && new AlertMailer(recipients), (o) => this.#onSmtpAlert(o));
    } catch (err) {
      this.#log.error({ event: 'notify-fifo-error', error: errorText(err) }, `LVS notify FIFO not opened: ${errorText(err)}`);
      return undefined;
    }
  }

  #onScript(o: LvsScriptOutcome): void {
    const { result } = o;
    const fields = { event: 'notify-script', script: o.kind, cause: o.cause, virtualServer: o.virtualServer, realServer: o.realServer, argv: o.argv, ...result, durationMs: Math.round(result.durationMs) };
    const subject = o.realServer ? `${o.virtualServer}: ${o.kind} for ${o.realServer}` : `${o.virtualServer}: ${o.kind}`;
    if (scriptSucceeded(result)) this.#log.info(fields, `${subject} ran`);
    else {
      const why = result.error ?? (result.timedOut ? 'timed out, killed' : result.signal ? `killed by ${result.signal}` : `exit ${String(result.exitCode)}`);
      this.#log.warn(fields, `${subject} failed: ${why}`);
    }
  }
}
