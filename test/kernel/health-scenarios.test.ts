// Health checks against real failures, in the real kernel: keepalived-figures.md scenario A
// (HTTP_GET, delay_loop 1, connect_timeout 1, retry 2, delay_before_retry 1) with three node
// HTTP real servers behind a one-armed LVS-NAT VIP and a client loop through the VIP. Each
// failure must leave the table, and come back, within keepalived's bounds for the same
// configuration; the client's failures during each event are printed next to keepalived's.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ipvsadm, savedRules } from '../lab/ipvsadm.js';
import { IpvsdProcess, sleep } from '../lab/ipvsd-process.js';
import {
  buildLvsNat, ClientLoop, destinations, healthChecksReach, realServerAddress, startRealServer, vip, waitForTable, type OutputLines,
} from '../lab/lvs-topology.js';
import { assertInGuest, cleanup, execIn } from '../lab/netns.js';

const service = `${vip}:80`;
const rsKey = (n: number) => `${realServerAddress(n)}:80`;
const servers = [1, 2, 3];
const blackHole = ['iptables-legacy', '-p', 'tcp', '--dport', '80', '--syn', '-j', 'DROP'];

interface Options {
  inhibit?: boolean;
  alpha?: boolean;
  fastFail?: boolean;
  quorum?: number;
  sorry?: number;
}

function conf(o: Options = {}): string {
  const realServer = (n: number) => `
    real_server ${realServerAddress(n)} 80 {
        weight 1${o.inhibit ? '\n        inhibit_on_failure' : ''}
        HTTP_GET {
            url {
                path /health
                status_code 200
            }
            connect_timeout 1
            retry 2
            delay_before_retry 1${o.fastFail ? '\n            fast_fail' : ''}
        }
    }`;
  return `global_defs {
    router_id lab_dir1
}

virtual_server ${vip} 80 {
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP${o.alpha ? '\n    alpha' : ''}${o.quorum ? `\n    quorum ${o.quorum}` : ''}${o.sorry ? `\n    sorry_server ${realServerAddress(o.sorry)} 80` : ''}
${servers.map(realServer).join('\n')}
}
`;
}

/** Rows of the report printed at the end: ours next to keepalived's figures (scenario A). */
const report: string[] = [];
const realServers = new Map<number, { output: OutputLines; pid: number }>();
let scratch: string;
let client: ClientLoop;
let daemon: IpvsdProcess | undefined;

async function serve(n: number): Promise<number> {
  const { output, listeningAt } = await startRealServer(n);
  realServers.set(n, { output, pid: output.child.pid! });
  return listeningAt;
}

async function startDaemon(o: Options): Promise<number> {
  const path = join(scratch, `${Object.keys(o).join('-') || 'plain'}.conf`);
  writeFileSync(path, conf(o));
  daemon = new IpvsdProcess(['-f', path]);
  await daemon.waitForEvent('started', 0, 20_000);
  return Date.now();
}

async function stopDaemon(): Promise<void> {
  await daemon?.stop();
  daemon = undefined;
  expect(savedRules()).toEqual([]);
}

const present = (n: number) => (d: Map<string, number> | undefined) => (d?.get(rsKey(n)) ?? 0) > 0;
const gone = (n: number, inhibit: boolean) => (d: Map<string, number> | undefined) =>
  inhibit ? d?.get(rsKey(n)) === 0 : d !== undefined && !d.has(rsKey(n));
const all = (d: Map<string, number> | undefined) => servers.every((n) => (d?.get(rsKey(n)) ?? 0) > 0);

function signal(n: number, name: NodeJS.Signals): void {
  process.kill(realServers.get(n)!.pid, name);
}

async function toggle(n: number, name: 'SIGUSR1' | 'SIGUSR2'): Promise<number> {
  const { output } = realServers.get(n)!;
  const mark = output.lines.length;
  signal(n, name);
  return output.waitFor(/^mode /, mark, 3000);
}

interface EventFigures {
  removalMs: number;
  backMs: number;
  failed: number;
  total: number;
}

/**
 * One failure event: inject it, wait until the real server leaves the table (or gets weight
 * 0), heal it, wait until it is back; the client's failures are counted from injection to back.
 */
async function event(label: string, n: number, inject: () => Promise<number>, heal: () => Promise<number>, removalLimitMs: number, inhibit: boolean, keepalived: string): Promise<EventFigures> {
  expect(destinations(service)?.get(rsKey(n)) ?? 0, `${label}: not in service before the event`).toBeGreaterThan(0);
  const injectedAt = await inject();
  const removedAt = await waitForTable(service, gone(n, inhibit), removalLimitMs, `${label}: removal`);
  // Confirmed with the reference client, not only /proc.
  const rule = (weight: number) => `-a -t ${service} -r ${rsKey(n)} -m -w ${weight}`;
  expect(savedRules().filter((r) => r.includes(rsKey(n)))).toEqual(inhibit ? [rule(0)] : []);
  const healedAt = await heal();
  const backAt = await waitForTable(service, present(n), 6000, `${label}: back`);
  expect(savedRules().filter((r) => r.includes(rsKey(n)))).toEqual([rule(1)]);
  const tally = client.tally(injectedAt, backAt);
  const down = daemon!.events('real-server-down').filter((e) => e.realServer === rsKey(n)).at(-1);
  const figures = { removalMs: removedAt - injectedAt, backMs: backAt - healedAt, failed: tally.failed, total: tally.total };
  report.push(`${label}: removed ${(figures.removalMs / 1000).toFixed(2)} s, back ${(figures.backMs / 1000).toFixed(2)} s, client ${tally.failed}/${tally.total} failed${tally.reasons.length ? ` (${tally.reasons.join(', ')})` : ''} | keepalived ${keepalived}`);
  report.push(`  (ipvsd's reason: ${String(down?.reason)})`);
  // Give the checkers one quiet period before the next event.
  await sleep(1200);
  return figures;
}

/**
 * Waits until every checker has run twice: a checker that never ran goes down on its first
 * failure (keepalived's exhausted retry counter), which would cut the retries of an event short.
 */
async function settle(): Promise<void> {
  await healthChecksReach(servers, (n) => realServers.get(n)!.output, 2);
  await waitForTable(service, all, 3000, 'settled');
  // A real server that went down before any event is reported, not hidden.
  const early = daemon!.events('real-server-down');
  if (early.length > 0) report.push(`  (down before any event: ${early.map((e) => `${String(e.realServer)}: ${String(e.reason)}`).join('; ')})`);
}

const kill = (n: number) => async () => {
  signal(n, 'SIGKILL');
  return Date.now();
};
const restart = (n: number) => () => serve(n);
const block = (n: number) => async () => {
  execIn(`rs${n}`, [blackHole[0]!, '-I', 'INPUT', ...blackHole.slice(1)]);
  return Date.now();
};
const unblock = (n: number) => async () => {
  execIn(`rs${n}`, [blackHole[0]!, '-D', 'INPUT', ...blackHole.slice(1)]);
  return Date.now();
};

beforeAll(async () => {
  assertInGuest();
  ipvsadm('-C');
  scratch = mkdtempSync(join(tmpdir(), 'ipvsd-health-'));
  buildLvsNat(4);
  for (const n of [...servers, 4]) await serve(n);
  client = new ClientLoop();
}, 120_000);

afterEach(async () => {
  if (daemon?.alive) await daemon.stop();
  daemon = undefined;
});

afterAll(async () => {
  await cleanup();
  ipvsadm('-C');
  rmSync(scratch, { recursive: true, force: true });
  console.log(`health scenarios (ipvsd | keepalived 2.2.7, keepalived-figures.md A):\n  ${report.join('\n  ')}`);
});

describe('HTTP_GET checks against real failures behind the VIP', () => {
  it('removes and restores a killed, black-holed, 503 and slow real server within keepalived bounds', async () => {
    await startDaemon({});
    await waitForTable(service, all, 3000, 'start');
    report.push(`start -> all 3 in the table: ${((performance.now() - daemon!.spawnedAt) / 1000).toFixed(2)} s from spawn (node start included) | keepalived 0.46 s`);
    await settle();
    const quietFrom = Date.now();
    expect(client.tally(quietFrom - 1000).failed).toBe(0);

    const killed = await event('kill rs2', 2, kill(2), restart(2), 4500, false, 'removed 2.18-3.01 s, back 1.57-1.62 s, client 14-20 of 104-121');
    expect(killed.removalMs).toBeGreaterThan(1500);
    expect(killed.backMs).toBeLessThan(3000);
    expect(killed.failed).toBeGreaterThan(0);

    const holed = await event('black-hole rs3', 3, block(3), unblock(3), 8000, false, 'removed 5.72-5.89 s, back 2.90-2.91 s, client 6 of 86-91');
    expect(holed.removalMs).toBeGreaterThan(4000);
    expect(holed.backMs).toBeLessThan(4500);

    const unhealthy = await event('rs1 /health 503', 1, () => toggle(1, 'SIGUSR1'), () => toggle(1, 'SIGUSR1'), 4500, false, 'removed 2.39-3.03 s, back 2.02-2.05 s, client 0');
    expect(unhealthy.removalMs).toBeGreaterThan(1500);
    expect(unhealthy.failed).toBe(0);

    const slow = await event('rs1 slow (2 s answers)', 1, () => toggle(1, 'SIGUSR2'), () => toggle(1, 'SIGUSR2'), 8000, false, 'no figure (same arithmetic as the black-hole: 5-6 s)');
    expect(slow.removalMs).toBeGreaterThan(3500);

    await stopDaemon();
  }, 90_000);

  it('with inhibit_on_failure sets weight 0 instead of removing', async () => {
    await startDaemon({ inhibit: true });
    await waitForTable(service, all, 3000, 'start');
    await settle();
    const killed = await event('inhibit: kill rs2', 2, kill(2), restart(2), 4500, true, 'weight 0 after 2.02-3.01 s, back 1.53-1.60 s, client 13-20 of 100-121');
    expect(killed.removalMs).toBeGreaterThan(1500);
    const holed = await event('inhibit: black-hole rs3', 3, block(3), unblock(3), 8000, true, 'weight 0 after 5.82-5.95 s, back 2.90-2.92 s, client 6 of 86-91');
    expect(holed.removalMs).toBeGreaterThan(4000);
    await stopDaemon();
  }, 60_000);

  it('with alpha adds real servers only after a passed check', async () => {
    // rs3 is dead at start: with alpha it must stay out while the live ones come in.
    signal(3, 'SIGKILL');
    const startedAt = await startDaemon({ alpha: true });
    // An alpha checker's first run goes at once (keepalived waits 1 s plus a share of warmup),
    // so the live servers may be in by the time the daemon reports it started.
    const liveAt = await waitForTable(service, (d) => present(1)(d) && present(2)(d), 5000, 'alpha start');
    const ms = liveAt - startedAt;
    report.push(`alpha: start -> the 2 live servers in the table ${(ms / 1000).toFixed(2)} s | keepalived (1000 TCP) 2.34-4.18 s`);
    expect(ms).toBeLessThan(2500);
    await sleep(1500);
    expect(destinations(service)?.has(rsKey(3))).toBe(false);
    await serve(3);
    await waitForTable(service, all, 5000, 'alpha: rs3 back');
    await stopDaemon();
  }, 30_000);

  it('with quorum and a sorry_server serves from the sorry server while quorum is lost', async () => {
    await startDaemon({ quorum: 2, sorry: 4 });
    await waitForTable(service, all, 3000, 'start');
    await settle();
    const killedAt = Date.now();
    signal(2, 'SIGKILL');
    signal(3, 'SIGKILL');
    const sorry = `${realServerAddress(4)}:80`;
    const onlySorry = (d: Map<string, number> | undefined) => d !== undefined && d.size === 1 && (d.get(sorry) ?? 0) > 0;
    const sorryAt = await waitForTable(service, onlySorry, 5000, 'quorum lost');
    expect(savedRules()).toEqual([`-A -t ${service} -s wrr`, `-a -t ${service} -r ${sorry} -m -w 1`].sort());
    await sleep(1000);
    const whileSorry = client.tally(sorryAt + 200, Date.now());
    expect(whileSorry.failed).toBe(0);
    await serve(2);
    const healedAt = await serve(3);
    const backAt = await waitForTable(service, (d) => all(d) && !d!.has(sorry), 5000, 'quorum back');
    const tally = client.tally(killedAt, backAt);
    const downs = daemon!.events('real-server-down').filter((e) => e.realServer !== rsKey(1)).map((e) => `${String(e.realServer)}: ${String(e.reason)}`);
    report.push(`quorum 2 + sorry_server: 2 of 3 killed -> sorry server alone ${((sorryAt - killedAt) / 1000).toFixed(2)} s, back ${((backAt - healedAt) / 1000).toFixed(2)} s, client ${tally.failed}/${tally.total} failed (0 while the sorry server served); downs: ${downs.join('; ')}`);
    await stopDaemon();
    await sleep(1000);
  }, 40_000);

  it('with fast_fail removes a killed real server at its next check, with far fewer client failures', async () => {
    await startDaemon({ fastFail: true });
    await waitForTable(service, all, 3000, 'start');
    await settle();
    const killed = await event('fast_fail: kill rs2', 2, kill(2), restart(2), 2500, false, 'removed 2.18-3.01 s, client 14-20 of 104-121');
    // The next check slot is at most delay_loop (1 s) away and a refused connect needs no retry:
    // below keepalived's fastest removal (2.18 s) with room for a slow CI guest.
    expect(killed.removalMs).toBeLessThan(2000);
    expect(killed.failed).toBeLessThan(14);
    await stopDaemon();
  }, 30_000);
});
