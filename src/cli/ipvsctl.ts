#!/usr/bin/env node
// ipvsctl: run-time control of a running ipvsd through its control socket. The daemon and its
// socket are not part of this build yet, so every command says so instead of pretending.
import { parseArgs } from 'node:util';

const usage = `usage: ipvsctl [--socket PATH] COMMAND

commands (they talk to a running ipvsd over its control socket,
default /run/ipvsd/ipvsd.sock or $IPVSD_SOCKET):
  status [--json]          pools, real servers, health and VRRP state
  drain VS RS              set RS weight to 0, existing connections continue
  enable VS RS             clear a drain/disable/weight override
  disable VS RS            take RS out of the table
  weight VS RS N           override RS weight
  reload                   reload the configuration
  vrrp                     VRRP instances and their state
  check-config FILE        validate a configuration file`;

function main(argv: string[]): number {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { socket: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    process.stderr.write(`ipvsctl: ${(err as Error).message}\n${usage}\n`);
    return 2;
  }
  if (parsed.values.help || parsed.positionals.length === 0) {
    process.stdout.write(`${usage}\n`);
    return parsed.values.help ? 0 : 2;
  }
  process.stderr.write(
    `ipvsctl: "${parsed.positionals[0]}" needs the ipvsd control socket, which this build of ipvsd does not provide yet\n`,
  );
  return 2;
}

process.exitCode = main(process.argv.slice(2));
