#!/usr/bin/env node
// ipvsctl: run-time control of a running ipvsd through its control socket. Exit 0 done, 1 the
// daemon is unreachable or refused (one sentence on stderr), 2 usage.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ControlAnswerError, ControlClient, ControlUnreachableError } from '../api/control-client.js';
import { defaultSocketPath, type OverrideAction } from '../api/control-protocol.js';
import { formatStatus, formatVrrp } from '../api/status-table.js';
import { formatDiagnostic } from '../config/ast.js';
import { loadRunnableConfig } from '../daemon/script-security.js';
import { defaultConfigId, readError } from './config-file.js';
import { invokedDirectly } from './invoked-directly.js';
import { processOutput, type Output } from './output.js';

const usage = `usage: ipvsctl [--socket PATH] COMMAND

commands (all but check-config talk to a running ipvsd over its control socket,
default /run/ipvsd/ipvsd.sock or $IPVSD_SOCKET):
  status [--json]          virtual servers, real servers, health, kernel counters, VRRP
  vrrp [--json]            VRRP instances and their state
  drain VS RS              set RS weight to 0, existing connections continue
  disable VS RS            take RS out of the table
  weight VS RS N           fixed weight N while RS is healthy
  enable VS RS             clear a drain/disable/weight override
  reload                   reload the configuration file
  log-level LEVEL          fatal, error, warn, info, debug, trace or silent
  check-config FILE        validate a configuration file (no daemon needed)

VS is written as ipvsadm prints it: 10.0.0.1:80, [2001:db8::1]:80, fwmark:5
(udp:10.0.0.1:53 when TCP and UDP share the address); RS as 10.0.1.1:80.
Overrides survive reloads until cleared with enable.
`;


const overrideActions = new Set(['drain', 'enable', 'disable', 'weight']);
/** How many words each command takes after its name. */
const arity: Record<string, number> = { status: 0, vrrp: 0, reload: 0, 'log-level': 1, 'check-config': 1, drain: 2, enable: 2, disable: 2, weight: 3 };

function checkConfig(path: string, out: Output): number {
  try {
    readFileSync(path);
  } catch (err) {
    out.stderr(`ipvsctl: ${readError(path, err)}\n`);
    return 1;
  }
  const { config, diagnostics } = loadRunnableConfig(path, { configId: defaultConfigId() });
  for (const d of diagnostics) out.stderr(`${formatDiagnostic(d)}\n`);
  if (!config) return 1;
  out.stdout(`${path}: valid\n`);
  return 0;
}

async function run(command: string, args: string[], json: boolean, client: ControlClient, out: Output): Promise<number> {
  if (command === 'status' || command === 'vrrp') {
    const snapshot = await client.status();
    if (json) out.stdout(`${JSON.stringify(command === 'status' ? snapshot : snapshot.vrrp, null, 2)}\n`);
    else out.stdout(command === 'status' ? formatStatus(snapshot) : formatVrrp(snapshot));
    return 0;
  }
  if (command === 'reload') {
    const answer = await client.reload();
    if (answer.ok) {
      out.stdout('configuration reloaded\n');
      return 0;
    }
    for (const e of answer.errors) out.stderr(`${e}\n`);
    out.stderr('ipvsctl: reload rejected; ipvsd keeps running the previous configuration\n');
    return 1;
  }
  if (command === 'log-level') {
    const answer = await client.setLogLevel(args[0]!);
    out.stdout(`log level ${answer.level}\n`);
    return 0;
  }
  const [vs, rs, weightText] = args as [string, string, string | undefined];
  let weight: number | undefined;
  if (command === 'weight') {
    weight = /^\d+$/.test(weightText!) ? Number(weightText) : NaN;
    if (!Number.isSafeInteger(weight)) {
      out.stderr(`ipvsctl: "${weightText}" is not a weight (an integer from 0 to 2147483647)\n`);
      return 2;
    }
  }
  const answer = await client.override({ action: command as OverrideAction, virtualServer: vs, realServer: rs, ...(weight === undefined ? {} : { weight }) });
  out.stdout(`${answer.virtualServer}: ${answer.realServer} ${answer.now}\n`);
  return 0;
}

export async function main(argv: string[], out: Output = processOutput, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { socket: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } },
    });
  } catch (err) {
    out.stderr(`ipvsctl: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  if (parsed.values.help) {
    out.stdout(usage);
    return 0;
  }
  const [command, ...args] = parsed.positionals;
  if (command === undefined) {
    out.stderr(usage);
    return 2;
  }
  if (!(command in arity) && !overrideActions.has(command)) {
    out.stderr(`ipvsctl: unknown command "${command}"\n${usage}`);
    return 2;
  }
  if (args.length !== arity[command]) {
    out.stderr(`ipvsctl: ${command} takes ${arity[command] === 0 ? 'no arguments' : `${arity[command]} argument(s)`}\n${usage}`);
    return 2;
  }
  if (command === 'check-config') return checkConfig(args[0]!, out);
  const client = new ControlClient(parsed.values.socket ?? env.IPVSD_SOCKET ?? defaultSocketPath);
  try {
    return await run(command, args, parsed.values.json, client, out);
  } catch (err) {
    if (err instanceof ControlUnreachableError || err instanceof ControlAnswerError) {
      out.stderr(`ipvsctl: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

if (invokedDirectly(import.meta.url)) {
  main(process.argv.slice(2)).then(
    (code) => (process.exitCode = code),
    (err: unknown) => {
      process.stderr.write(`ipvsctl: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
