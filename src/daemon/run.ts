// The daemon in the foreground: start, then SIGHUP reloads and SIGTERM/SIGINT stop it.
import { pino, type Logger } from 'pino';
import { assertSocketFree, ControlServer, ControlSocketError } from '../api/control-server.js';
import { MetricsListenError } from '../api/metrics-listen.js';
import { MetricsServer, type MetricsSource } from '../api/metrics-server.js';
import type { StatusMetrics } from '../api/metrics.js';
import { Daemon, type DaemonOptions } from './daemon.js';
import { DaemonStartError } from './errors.js';
import type { LogLevel } from './log-level.js';
import { SystemdNotifier, SystemdNotifyError } from './systemd.js';

/** pino JSON lines on stdout, written synchronously so nothing is lost when the process exits. */
export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 1, sync: true }));
}

const stopTimeoutMs = 3000;

export interface RunOptions extends DaemonOptions {
  /** Where the reasons a start failed go (the CLI's stderr). */
  stderr: (text: string) => void;
  /** The control socket for ipvsctl. */
  socketPath: string;
  /** Where /metrics is served; undefined: no metrics endpoint. */
  metricsListen: { host: string; port: number } | undefined;
  /** Per-real-server and per-checker series (off for very large pools). */
  destinationMetrics: boolean;
}

/** The listeners around the daemon; opened before the start where that needs no privilege. */
async function openListeners(options: RunOptions, daemonRef: () => Daemon | undefined): Promise<MetricsServer | undefined> {
  // A second ipvsd must stop before it touches the kernel the first one manages.
  await assertSocketFree(options.socketPath);
  const listen = options.metricsListen;
  if (!listen) return undefined;
  // prom-client and the metric families load at the first scrape: in the lab guest that is half
  // a second of a start that no check has to wait for.
  let loaded: Promise<StatusMetrics> | undefined;
  const metrics: MetricsSource = {
    render: async (write) => {
      loaded ??= import('../api/metrics.js').then(({ StatusMetrics }) =>
        new StatusMetrics(() => {
          const d = daemonRef();
          if (!d) throw new Error('ipvsd is starting');
          return d.snapshot();
        }, { destinations: options.destinationMetrics }),
      );
      return (await loaded).render(write);
    },
  };
  return MetricsServer.listen(listen.host, listen.port, metrics);
}

/** Runs until SIGTERM or SIGINT; resolves to the exit code (1 when it could not start). */
export async function runDaemon(options: RunOptions): Promise<number> {
  let stopRequested = false;
  let reloadRequested = false;
  let requestStop = (): void => {
    stopRequested = true;
  };
  let requestReload = (): void => {
    reloadRequested = true;
  };
  const onStop = (): void => requestStop();
  const onHup = (): void => requestReload();
  const onRejection = (reason: unknown): void => {
    options.log.error({ event: 'internal-error', error: reason instanceof Error ? reason.message : String(reason) }, 'unhandled rejection');
  };
  // Installed before the start so a signal during it is not the default (exit without cleanup).
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGHUP', onHup);
  process.on('unhandledRejection', onRejection);
  const uninstall = (): void => {
    process.off('SIGTERM', onStop);
    process.off('SIGINT', onStop);
    process.off('SIGHUP', onHup);
    process.off('unhandledRejection', onRejection);
  };

  let daemon: Daemon | undefined;
  let metricsServer: MetricsServer | undefined;
  let control: ControlServer;
  let systemd: SystemdNotifier | undefined;
  try {
    // Under systemd (Type=notify): readiness, reload and stop states, and watchdog pings.
    systemd = SystemdNotifier.fromEnvironment(process.env, {
      onError: (e) => options.log.warn({ event: 'systemd-notify-failed', error: e.message }, `sd_notify failed: ${e.message}`),
    });
    metricsServer = await openListeners(options, () => daemon);
    daemon = await Daemon.start(options);
    control = await ControlServer.listen(options.socketPath, daemon);
    options.log.info({ event: 'listening', socket: options.socketPath, metrics: options.metricsListen ?? null }, `control socket ${options.socketPath}`);
    systemd?.ready('running');
    // Pings only while the event loop keeps time, so a stuck loop lets systemd restart ipvsd.
    systemd?.startWatchdog({
      onSkip: (lagMs) =>
        options.log.error({ event: 'watchdog-ping-withheld', lagMs: Math.round(lagMs) }, `event loop blocked ${Math.round(lagMs)} ms: watchdog ping withheld`),
    });
  } catch (err) {
    systemd?.status(`failed to start: ${err instanceof Error ? err.message : String(err)}`);
    systemd?.close();
    uninstall();
    await metricsServer?.close();
    await daemon?.stop();
    const expected = [DaemonStartError, ControlSocketError, MetricsListenError, SystemdNotifyError].some((c) => err instanceof c);
    if (!expected || !(err instanceof Error)) throw err;
    if (err instanceof DaemonStartError) for (const line of err.details) options.stderr(`${line}\n`);
    options.stderr(`ipvsd: ${err.message}\n`);
    return 1;
  }
  const running = daemon;
  return new Promise<number>((resolve) => {
    requestReload = () => {
      systemd?.reloading();
      void running.reload().then((r) => systemd?.ready(r.ok ? 'running' : `reload rejected, running the previous configuration: ${r.errors[0] ?? ''}`));
    };
    let stopping = false;
    requestStop = () => {
      if (stopping) return;
      stopping = true;
      systemd?.stopping();
      // A kernel that stopped answering must not keep the process from exiting.
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<number>((r) => {
        timer = setTimeout(() => {
          options.log.error({ event: 'stop-timeout', timeoutMs: stopTimeoutMs }, 'the IPVS cleanup did not finish; exiting anyway');
          r(1);
        }, stopTimeoutMs);
      });
      const stopAll = async (): Promise<number> => {
        await control.close();
        await metricsServer?.close();
        await running.stop();
        return 0;
      };
      void Promise.race([stopAll(), stuck]).then((code) => {
        clearTimeout(timer);
        uninstall();
        systemd?.close();
        resolve(code);
      });
    };
    if (stopRequested) requestStop();
    else if (reloadRequested) requestReload();
  });
}
