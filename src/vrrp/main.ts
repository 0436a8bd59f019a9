#!/usr/bin/env node
// VRRP alone: `node dist/src/vrrp/main.js -f keepalived.conf` runs every vrrp_instance of the file
// in the foreground (no IPVS, no checkers), logs JSON lines, and on SIGTERM/SIGINT sends priority 0,
// releases the VIPs and exits 0; SIGHUP reloads the file. The interop tests run this against keepalived; the daemon will
// compose VrrpRuntime itself.
import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { formatDiagnostic } from '../config/ast.js';
import { loadConfig } from '../config/load.js';
import { VrrpRuntime } from './runtime.js';

function fail(message: string): never {
  process.stderr.write(`ipvsd-vrrp: ${message}\n`);
  process.exit(1);
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { config: { type: 'string', short: 'f', default: '/etc/keepalived/keepalived.conf' }, 'config-id': { type: 'string', short: 'i' } },
  });
  const path = values.config!;
  const { config, diagnostics } = loadConfig(path, { configId: values['config-id'] ?? hostname().split('.')[0]! });
  for (const d of diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
  if (!config) fail(`${path} is not valid`);
  if (config.vrrpInstances.length === 0) fail(`${path} has no vrrp_instance`);

  const log = pino({ base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime });
  const runtime = await VrrpRuntime.start(config, {
    log,
    onNotify: (instance, o) => {
      if (o.result.exitCode !== 0 || o.result.timedOut) log.warn({ instance, argv: o.argv, ...o.result }, 'notify script failed');
    },
  });
  log.info({ instances: config.vrrpInstances.map((i) => i.name) }, 'VRRP started');

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    runtime.stop().then(
      () => {
        log.info({ status: runtime.status() }, 'stopped');
        process.exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // SIGHUP reloads as keepalived does; an invalid file or one the runtime refuses changes nothing.
  let reloads = Promise.resolve();
  process.on('SIGHUP', () => {
    reloads = reloads.then(async () => {
      if (stopping) return;
      const next = loadConfig(path, { configId: values['config-id'] ?? hostname().split('.')[0]! });
      for (const d of next.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
      if (!next.config) {
        log.error({ event: 'reload-rejected' }, `${path} is not valid; keeping the running configuration`);
        return;
      }
      try {
        await runtime.reload(next.config);
        log.info({ event: 'reloaded', instances: next.config.vrrpInstances.map((i) => i.name) }, 'VRRP reloaded');
      } catch (err) {
        log.error({ event: 'reload-failed', err: (err as Error).message }, `reload failed: ${(err as Error).message}`);
      }
    });
  });
  // SIGUSR2 prints the status, as keepalived's stats dump does (to the log here, not /tmp).
  process.on('SIGUSR2', () => log.info({ status: runtime.status(), syncGroups: runtime.syncGroupStatus(), links: runtime.linkStatus() }, 'status'));
}

main().catch((err: unknown) => fail((err as Error).message));
