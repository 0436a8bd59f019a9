// The daemon in the foreground: start, then SIGHUP reloads and SIGTERM/SIGINT stop it.
import { pino, type Logger } from 'pino';
import { Daemon, type DaemonOptions } from './daemon.js';
import { DaemonStartError } from './errors.js';
import type { LogLevel } from './log-level.js';

/** pino JSON lines on stdout, written synchronously so nothing is lost when the process exits. */
export function createLogger(level: LogLevel): Logger {
  return pino({ level, base: { pid: process.pid } }, pino.destination({ dest: 1, sync: true }));
}

const stopTimeoutMs = 3000;

export interface RunOptions extends DaemonOptions {
  /** Where the reasons a start failed go (the CLI's stderr). */
  stderr: (text: string) => void;
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

  let daemon: Daemon;
  try {
    daemon = await Daemon.start(options);
  } catch (err) {
    uninstall();
    if (!(err instanceof DaemonStartError)) throw err;
    for (const line of err.details) options.stderr(`${line}\n`);
    options.stderr(`ipvsd: ${err.message}\n`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    requestReload = () => void daemon.reload();
    let stopping = false;
    requestStop = () => {
      if (stopping) return;
      stopping = true;
      // A kernel that stopped answering must not keep the process from exiting.
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<number>((r) => {
        timer = setTimeout(() => {
          options.log.error({ event: 'stop-timeout', timeoutMs: stopTimeoutMs }, 'the IPVS cleanup did not finish; exiting anyway');
          r(1);
        }, stopTimeoutMs);
      });
      void Promise.race([daemon.stop().then(() => 0), stuck]).then((code) => {
        clearTimeout(timer);
        uninstall();
        resolve(code);
      });
    };
    if (stopRequested) requestStop();
    else if (reloadRequested) requestReload();
  });
}
