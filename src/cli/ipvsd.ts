#!/usr/bin/env node
// ipvsd's command line: run the daemon in the foreground, or validate (-t), print the planned IPVS
// table (--plan) or the normalized model (--dump-config). Exit 0 valid / stopped cleanly,
// 1 invalid / could not start, 2 usage; never a stack trace for user errors.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatDiagnostic } from '../config/ast.js';
import { loadRunnableConfig } from '../daemon/script-security.js';
import { planTable } from '../config/plan.js';
import { formatRules } from '../ipvs/ipvsadm-rules.js';
import { isLogLevel, logLevels } from '../daemon/log-level.js';
import { defaultSocketPath } from '../api/control-protocol.js';
import { defaultMetricsListen, parseListen } from '../api/metrics-listen.js';
import { ownershipPathFor } from '../daemon/ownership-file.js';
import { packageVersion } from '../api/build-info.js';
import { defaultConfigId, readError } from './config-file.js';
import { invokedDirectly } from './invoked-directly.js';
import { processOutput, type Output } from './output.js';

const usage = `usage: ipvsd [-f FILE] [-i ID] [--log-level LEVEL] [-I] [--socket PATH]
             [--metrics-listen HOST:PORT|none] [--no-destination-metrics] [--tcp-half-open]
       ipvsd [-f FILE] [-i ID] (-t | --plan | --dump-config)

  -f, --config FILE     keepalived.conf to read (default /etc/keepalived/keepalived.conf)
  -i, --config-id ID    the id that \`@ID\` lines match (default: the short host name)
      --log-level LEVEL fatal, error, warn, info (default), debug, trace or silent
  -I, --dont-release-ipvs
                        leave the IPVS services in the kernel when stopping
      --socket PATH     control socket for ipvsctl (default $IPVSD_SOCKET or /run/ipvsd/ipvsd.sock);
                        the services ipvsd owns are listed next to it (ipvsd.owned.json), so a
                        restart removes those the configuration no longer has
      --metrics-listen HOST:PORT
                        serve Prometheus metrics at http://HOST:PORT/metrics
                        (default 127.0.0.1:9477; PORT alone means 127.0.0.1; none: off)
      --no-destination-metrics
                        no per-real-server or per-checker series (very large pools)
      --tcp-half-open   TCP_CHECK as half-open SYN probes over one raw socket: the same
                        verdicts with far fewer syscalls, for thousands of real servers
  -t, --check-config    validate the configuration and exit (0 valid, 1 invalid)
      --plan            print the IPVS table the configuration asks for, in ipvsadm -Sn syntax
      --dump-config     print the normalized configuration as JSON
  -v, --version         print the version and exit
  -h, --help            show this help
`;

/** Offline modes answer at once; the daemon mode resolves when it stops. */
export function main(argv: string[], out: Output = processOutput): number | Promise<number> {
  const fail = (message: string, code: number): number => {
    out.stderr(`ipvsd: ${message}\n`);
    return code;
  };
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'f', default: '/etc/keepalived/keepalived.conf' },
        'config-id': { type: 'string', short: 'i' },
        'check-config': { type: 'boolean', short: 't', default: false },
        plan: { type: 'boolean', default: false },
        'dump-config': { type: 'boolean', default: false },
        'log-level': { type: 'string', default: 'info' },
        'dont-release-ipvs': { type: 'boolean', short: 'I', default: false },
        socket: { type: 'string' },
        'metrics-listen': { type: 'string', default: `${defaultMetricsListen.host}:${defaultMetricsListen.port}` },
        'no-destination-metrics': { type: 'boolean', default: false },
        'tcp-half-open': { type: 'boolean', default: false },
        version: { type: 'boolean', short: 'v', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    out.stderr(`ipvsd: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help) {
    out.stdout(usage);
    return 0;
  }
  if (values.version) {
    out.stdout(`ipvsd ${packageVersion()}\n`);
    return 0;
  }
  const modes = [values['check-config'], values.plan, values['dump-config']].filter(Boolean).length;
  if (modes > 1) return fail('use only one of -t, --plan and --dump-config', 2);
  const level = values['log-level'];
  if (!isLogLevel(level)) return fail(`unknown log level \`${level}\`; use one of ${logLevels.join(', ')}`, 2);

  let metricsListen: { host: string; port: number } | undefined;
  try {
    metricsListen = parseListen(values['metrics-listen']);
  } catch (err) {
    return fail((err as Error).message, 2);
  }
  const socketPath = values.socket ?? process.env.IPVSD_SOCKET ?? defaultSocketPath;

  const path = values.config;
  let mainText: string;
  try {
    mainText = readFileSync(path, 'utf8');
  } catch (err) {
    return fail(readError(path, err), 1);
  }
  const configId = values['config-id'] ?? defaultConfigId();
  if (modes === 0) {
    // Loaded only here: the checkers and their clients are not needed by -t, --plan or --dump-config.
    return import('../daemon/run.js')
      .then(({ createLogger, runDaemon }) =>
        runDaemon({
          configPath: path,
          configId,
          releaseOnStop: !values['dont-release-ipvs'],
          log: createLogger(level),
          stderr: out.stderr,
          socketPath,
          ownershipPath: ownershipPathFor(socketPath),
          metricsListen,
          destinationMetrics: !values['no-destination-metrics'],
          tcpHalfOpen: values['tcp-half-open'],
        }),
      )
      .catch((err: unknown) => fail(`internal error: ${err instanceof Error ? err.message : String(err)}`, 1));
  }
  const { config, diagnostics } = loadRunnableConfig(path, {
    configId,
    readFile: (p) => (p === path ? mainText : readFileSync(p, 'utf8')),
  });
  for (const d of diagnostics) out.stderr(`${formatDiagnostic(d)}\n`);
  if (!config) return 1;
  if (values.plan) {
    const lines = formatRules(planTable(config));
    if (lines.length) out.stdout(`${lines.join('\n')}\n`);
  } else if (values['dump-config']) {
    // Absent settings print as null so every field of the model is visible; secrets (VRRP auth_pass,
    // the SSL key's password) are hidden, since the dump is made to be read and pasted.
    const shown = (key: string, value: unknown): unknown => (value === undefined ? null : key === 'password' && typeof value === 'string' ? '(hidden)' : value);
    out.stdout(`${JSON.stringify(config, shown, 2)}\n`);
  }
  return 0;
}

if (invokedDirectly(import.meta.url)) {
  const code = main(process.argv.slice(2));
  // The daemon exits as soon as it has stopped, without waiting for checks still in flight.
  if (typeof code === 'number') process.exitCode = code;
  else void code.then((c) => process.exit(c));
}
