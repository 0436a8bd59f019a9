// Issue 6: the daemon's disruptive operations under client load, in the real kernel. A client
// in its namespace opens a new connection through the VIP every 50 ms all along (one-armed
// LVS-NAT, HTTP real servers) and every failed request is counted. A reload with added, removed
// and changed services and real servers, a drain and enable, a restart with -I, and a kill -9
// with the VIP held by an owner VRRP instance must each cost the client nothing, keep the
// kernel's counters of what stays (nothing re-created) and the health state of what stays. A
// non-owner started after a crash removes the VIP until it is MASTER: that gap is measured.
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { main as ipvsctl } from '../../src/cli/ipvsctl.js';
import { AddressEvents } from '../lab/address-events.js';
import { HeldConnections } from '../lab/held-connections.js';
import { connections, counters, countersListing, decreases } from '../lab/ipvs-counters.js';
import { ipvsadm, savedRules } from '../lab/ipvsadm.js';
import { cli, IpvsdProcess, sleep, tableBecomes, until, type LogLine } from '../lab/ipvsd-process.js';
import { buildLvsNat, ClientLoop, healthChecksReach, realServerAddress, startRealServer, vip, type OutputLines } from '../lab/lvs-topology.js';
import { assertInGuest, cleanup, run } from '../lab/netns.js';
import { WeightWatch } from '../lab/weight-watch.js';

const tcp = `TCP ${vip}:80`;
const rs = (n: number) => `${realServerAddress(n)}:80`;
const dest = (n: number) => `${tcp} -> ${rs(n)}`;

/** VIP:80 keeps rs1 and rs2 across the reload; everything else around it changes. */
interface Layout {
  scheduler: string;
  weights: Array<[number, number]>;
  /** A service on another VIP port with rs4 and no checker (added or removed by the reload). */
  otherPort: number;
  /** A vrrp_instance on lvs0 holding the VIP, with this priority. */
  vrrpPriority?: number;
}

const before: Layout = { scheduler: 'wrr', weights: [[1, 1], [2, 1], [3, 1]], otherPort: 82 };
const after: Layout = { scheduler: 'wlc', weights: [[1, 2], [2, 1], [4, 1]], otherPort: 81 };

function conf(l: Layout): string {
  const realServer = ([n, weight]: [number, number]) => `
    real_server ${realServerAddress(n)} 80 {
        weight ${weight}
        HTTP_GET {
            url {
                path /health
                status_code 200
            }
            connect_timeout 1
            retry 2
            delay_before_retry 1
        }
    }`;
  const vrrp = l.vrrpPriority === undefined ? '' : `
vrrp_instance VI_1 {
    state MASTER
    interface lvs0
    virtual_router_id 51
    priority ${l.vrrpPriority}
    advert_int 1
    virtual_ipaddress {
        ${vip}/24
    }
}
`;
  return `global_defs {
    router_id lab_dir1
}
${vrrp}
virtual_server ${vip} 80 {
    delay_loop 1
    lb_algo ${l.scheduler}
    lb_kind NAT
    protocol TCP
${l.weights.map(realServer).join('\n')}
}

virtual_server ${vip} ${l.otherPort} {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server ${realServerAddress(4)} 80 {
        weight 1
    }
}
`;
}

/** The table `l` asks for with every real server up, as `ipvsadm -Sn` prints it. */
function plan(l: Layout, override: Map<number, number> = new Map()): string[] {
  return [
    `-A -t ${vip}:80 -s ${l.scheduler}`,
    ...l.weights.map(([n, w]) => `-a -t ${vip}:80 -r ${rs(n)} -m -w ${override.get(n) ?? w}`),
    `-A -t ${vip}:${l.otherPort} -s rr`,
    `-a -t ${vip}:${l.otherPort} -r ${rs(4)} -m -w 1`,
  ].sort();
}

/** IPVS's rate estimator refreshes the counters ipvsadm reads every 2 s (plus a margin). */
const estimatorTickMs = 2100;
const figures: string[] = [];
const realServers = new Map<number, OutputLines>();
let scratch: string;
let socket: string;
let client: ClientLoop;
let addresses: AddressEvents;
let daemon: IpvsdProcess | undefined;
/** The log lines of the daemons replaced by a restart, for the failure report. */
const earlierLogs: LogLine[] = [];
let watch: WeightWatch;

function configFile(name: string, l: Layout): string {
  const path = join(scratch, `${name}.conf`);
  writeFileSync(path, conf(l));
  return path;
}

function spawnDaemon(path: string): IpvsdProcess {
  if (daemon) earlierLogs.push(...daemon.logs);
  // -I: a stop leaves the table to the next start, which must adopt it.
  return new IpvsdProcess(['-f', path, '-I', '--socket', socket, '--metrics-listen', 'none']);
}

async function ctl(...argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await ipvsctl(['--socket', socket, ...argv], { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) }, {});
  return { code, stdout, stderr };
}

/** Resolves when the instance's log says it entered MASTER, with the time of that line. */
async function master(d: IpvsdProcess, timeoutMs: number): Promise<number> {
  return at(await d.waitForLog((l) => l.instance === 'VI_1' && l.to === 'master', 0, timeoutMs, 'VI_1 MASTER'));
}

/** Waits until every listed real server answered `rounds` more health checks. */
function checked(servers: readonly number[], rounds = 2): Promise<void> {
  return healthChecksReach(servers, (n) => realServers.get(n)!, rounds);
}

/** Waits (up to 1 s) for the VIP that MASTER adds right after its log line. */
async function vipHeld(): Promise<void> {
  await until(() => vipLines().length > 0, 1000);
}

const vipLines = () => run(['ip', '-o', '-4', 'addr', 'show', 'dev', 'lvs0']).split('\n').filter((l) => l.includes(` ${vip}/`));

/** The client's failures in [from, to] as `failed/total (reasons)`, for the printed figures. */
function load(from: number, to: number): { failed: number; text: string } {
  const t = client.tally(from, to);
  return { failed: t.failed, text: `client ${t.failed}/${t.total} failed${t.reasons.length ? ` (${t.reasons.join(', ')})` : ''}` };
}

/** On failure, prints what the daemons logged and how VIP:80's table changed since `from`. */
function explainFailure(from: number): void {
  onTestFailed(() => {
    const logs = [...earlierLogs, ...(daemon?.logs ?? [])].filter((l) => Number(l.time) >= from && l.event !== 'check-failed');
    console.log(`VIP:80 changes: ${JSON.stringify(watch.changes(from))}\nipvsd logs: ${logs.map((l) => JSON.stringify(l)).join('\n')}`);
  });
}

/** The epoch ms a log line was written (pino's `time`). */
const at = (l: LogLine) => Number(l.time);

async function kill9(d: IpvsdProcess): Promise<void> {
  const exited = once(d.child, 'exit');
  d.child.kill('SIGKILL');
  await exited;
}

beforeAll(async () => {
  const setupFrom = performance.now();
  assertInGuest();
  expect(existsSync(cli), `${cli} is missing: run \`npm run build:ts\` first`).toBe(true);
  ipvsadm('-C');
  scratch = mkdtempSync(join(tmpdir(), 'ipvsd-load-'));
  socket = join(scratch, 'ipvsd.sock');
  buildLvsNat(4);
  watch = new WeightWatch(`${vip}:80`);
  addresses = new AddressEvents();
  await Promise.all([1, 2, 3, 4].map(async (n) => realServers.set(n, (await startRealServer(n)).output)));
  client = new ClientLoop();
  daemon = spawnDaemon(configFile('keepalived', before));
  await daemon.waitForEvent('started', 0, 20_000);
  await tableBecomes(plan(before), 3000);
  const startedAt = performance.now();
  // Health state to keep: every checker has run before the reload.
  await checked([1, 2, 3]);
  figures.push(`setup: lab and first start ${Math.round(startedAt - setupFrom)} ms, first checks ${Math.round(performance.now() - startedAt)} ms`);
}, 60_000);

afterAll(async () => {
  watch?.stop();
  await daemon?.stop();
  await cleanup();
  ipvsadm('-C');
  rmSync(scratch, { recursive: true, force: true });
  console.log(`daemon under load:\n  ${figures.join('\n  ')}`);
});

describe('ipvsd under client load', () => {
  it('reloads added, removed and changed services and real servers: no failed request, counters continue, health kept', async () => {
    const staying = [tcp, dest(1), dest(2)];
    const was = counters();
    const mark = daemon!.logs.length;
    const sentAt = Date.now();
    explainFailure(sentAt);
    configFile('keepalived', after);
    daemon!.child.kill('SIGHUP');
    const reloaded = await daemon!.waitForEvent('reloaded', mark, 5000);
    expect([...(reloaded.operations as string[])].sort()).toEqual([
      `ipvsadm -A -t ${vip}:81 -s rr`,
      `ipvsadm -D -t ${vip}:82`,
      `ipvsadm -E -t ${vip}:80 -s wlc`,
      `ipvsadm -a -t ${vip}:80 -r ${rs(4)} -m -w 1`,
      `ipvsadm -a -t ${vip}:81 -r ${rs(4)} -m -w 1`,
      `ipvsadm -d -t ${vip}:80 -r ${rs(3)}`,
      `ipvsadm -e -t ${vip}:80 -r ${rs(1)} -m -w 2`,
    ].sort());
    // The checkers of rs1 and rs2 carry over; rs4's is new.
    expect(reloaded.adoptedCheckers).toBe(2);
    await tableBecomes(plan(after), 2000);
    // Checks go on under the new configuration, for the servers kept and the one added.
    await checked([1, 2, 4]);
    await until(() => counters().get(tcp)!.conns !== was.get(tcp)!.conns, 2 * estimatorTickMs, 100);
    const now = await countersListing(staying);
    expect(decreases(was, now, staying)).toEqual([]);
    expect(now.get(tcp)!.conns, 'the service counts on').toBeGreaterThan(was.get(tcp)!.conns);
    // Each weight moved once, straight to its new value.
    expect([1, 2, 3, 4].map((n) => watch.weights(rs(n), sentAt))).toEqual([[1, 2], [1], [1, undefined], [undefined, 1]]);
    const transitions = daemon!.logs.slice(mark).filter((l) => /^real-server-(up|down)$/.test(String(l.event)));
    expect(transitions.filter((l) => l.realServer === rs(1) || l.realServer === rs(2))).toEqual([]);
    const client = load(sentAt, Date.now());
    figures.push(`reload: SIGHUP -> reloaded ${at(reloaded) - sentAt} ms (logged apply ${String(reloaded.durationMs)} ms), ${(reloaded.operations as string[]).length} operations, ${client.text}`);
    expect(client.failed).toBe(0);
  });

  it('drains and enables a real server: weight 0 then back, held connections continue, no failed request', async () => {
    const held = new HeldConnections('client', vip, 80, 6);
    await held.ready(5000);

    const drainedAt = Date.now();
    explainFailure(drainedAt);
    expect(await ctl('drain', `${vip}:80`, rs(1))).toEqual({ code: 0, stdout: `tcp ${vip}:80: ${rs(1)} drained\n`, stderr: '' });
    await tableBecomes(plan(after, new Map([[1, 0]])), 2000);
    const zeroMs = Date.now() - drainedAt;
    // The kernel (6.1) publishes the Conns counters from its 2 s estimator tick: read after one
    // tick they include every connection scheduled before the drain, after another every one since.
    await sleep(estimatorTickMs);
    const connsAtDrain = counters().get(dest(1))!.conns;
    // Counted once drained: then no short request of the client loop can be on rs1 any more.
    const heldOnRs1 = connections().get(dest(1))!.active;
    expect(heldOnRs1, 'no held connection reached rs1').toBeGreaterThan(0);
    await sleep(estimatorTickMs);
    // While drained: nothing new for rs1, and what it held is still there.
    expect(counters().get(dest(1))!.conns).toBe(connsAtDrain);
    expect(connections().get(dest(1))).toMatchObject({ weight: 0, active: heldOnRs1 });

    // Each held connection still answers; rs1's active count falls by exactly the ones that ended.
    let left = heldOnRs1;
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      const answer = await held.release(3000);
      expect(answer.status).toBe('200');
      if (answer.body.startsWith(`${realServerAddress(1)} `)) left--;
      await until(() => connections().get(dest(1))!.active === left, 2000, 50);
      seen.push(connections().get(dest(1))!.active);
    }
    expect(left).toBe(0);
    expect(seen.at(-1)).toBe(0);
    expect(seen).toEqual([...seen].sort((a, b) => b - a));
    expect(held.broken()).toEqual([]);

    expect(await ctl('enable', `${vip}:80`, rs(1))).toMatchObject({ code: 0, stderr: '' });
    await tableBecomes(plan(after), 2000);
    const enabledAt = Date.now();
    // New connections show at once in the connection counts (ended ones stay inactive for a while).
    const open = (c = connections().get(dest(1))!) => c.active + c.inactive;
    const openAtEnable = open();
    await until(() => open() > openAtEnable, 2000, 50);
    const backMs = Date.now() - enabledAt;
    expect(open(), 'rs1 gets new connections again').toBeGreaterThan(openAtEnable);
    // Sampled every 20 ms: 0 for the whole drain, no flip in between, and nothing else moved.
    expect([1, 2, 4].map((n) => watch.weights(rs(n), drainedAt))).toEqual([[2, 0, 2], [1], [1]]);
    const client = load(drainedAt, Date.now());
    figures.push(`drain/enable: weight 0 in the kernel ${zeroMs} ms after \`ipvsctl drain\`; rs1 held ${heldOnRs1} connections, active after each release ${seen.join(' ')}; a new connection ${backMs} ms after enable; ${client.text}`);
    expect(client.failed).toBe(0);
  });

  it('restarts with -I (SIGTERM, start again): the start adopts the table, no failed request', async () => {
    const path = join(scratch, 'keepalived.conf');
    const was = counters();
    const stoppedFrom = Date.now();
    explainFailure(stoppedFrom);
    const stopMs = await daemon!.stop();
    expect(daemon!.child.exitCode).toBe(0);
    expect(savedRules()).toEqual(plan(after));
    const spawnedAt = Date.now();
    daemon = spawnDaemon(path);
    const started = await daemon.waitForEvent('started', 0, 20_000);
    expect(started.operations).toBe(0);
    expect(savedRules()).toEqual(plan(after));
    // Traffic after the start too, and its first checks: nothing went down, nothing was re-created.
    await checked([1, 2, 4], 1);
    expect(decreases(was, await countersListing(was.keys()), [...was.keys()])).toEqual([]);
    expect(watch.changes(stoppedFrom)).toEqual([]);
    expect(daemon.events('real-server-down')).toEqual([]);
    const client = load(stoppedFrom, Date.now());
    figures.push(`restart -I: stop ${Math.round(stopMs)} ms, spawn -> started ${at(started) - spawnedAt} ms (logged start ${String(started.durationMs)} ms), operations ${String(started.operations)}, ${client.text}`);
    expect(client.failed).toBe(0);
  });

  it('kill -9 with the VIP held by an owner VRRP instance: the start adopts table and VIP, VIP once, no failed request', async () => {
    // Hand the VIP to VRRP first: a restart into a configuration with an owner instance.
    const path = configFile('vrrp-owner', { ...after, vrrpPriority: 255 });
    const handOverFrom = Date.now();
    await daemon!.stop();
    daemon = spawnDaemon(path);
    await daemon.waitForEvent('started', 0, 20_000);
    await master(daemon, 5000);
    await vipHeld();
    expect(vipLines()).toHaveLength(1);
    figures.push(`restart -I into an owner VRRP instance on the static VIP: ${load(handOverFrom, Date.now()).text}`);

    const was = counters();
    const killedAt = Date.now();
    explainFailure(killedAt);
    await kill9(daemon);
    expect(savedRules()).toEqual(plan(after));
    expect(vipLines(), 'a crash leaves the VIP').toHaveLength(1);
    const spawnedAt = Date.now();
    daemon = spawnDaemon(path);
    const started = await daemon.waitForEvent('started', 0, 20_000);
    const masterAt = await master(daemon, 5000);
    await checked([1, 2, 4], 1);
    expect(started.operations).toBe(0);
    expect(savedRules()).toEqual(plan(after));
    expect(decreases(was, await countersListing(was.keys()), [...was.keys()])).toEqual([]);
    expect(watch.changes(killedAt)).toEqual([]);
    expect(vipLines()).toHaveLength(1);
    const vipEvents = addresses.of(vip, killedAt);
    // The owner goes straight to MASTER and finds its address there: nothing to remove or add.
    expect(vipEvents.map((e) => e.line)).toEqual([]);
    const client = load(killedAt, Date.now());
    figures.push(`kill -9, owner (priority 255): spawn -> started ${at(started) - spawnedAt} ms, -> MASTER ${masterAt - spawnedAt} ms, VIP address events ${vipEvents.length}, operations ${String(started.operations)}, ${client.text}`);
    expect(client.failed).toBe(0);
  });

  it('kill -9, then a start as a non-owner (priority 100): the VIP is gone until MASTER, then on the interface once; the table is adopted', async () => {
    const path = configFile('vrrp-100', { ...after, vrrpPriority: 100 });
    const killedAt = Date.now();
    explainFailure(killedAt);
    await kill9(daemon!);
    const spawnedAt = Date.now();
    daemon = spawnDaemon(path);
    const started = await daemon.waitForEvent('started', 0, 20_000);
    const masterAt = await master(daemon, 8000);
    await vipHeld();
    expect(started.operations).toBe(0);
    expect(watch.changes(killedAt)).toEqual([]);
    expect(vipLines()).toHaveLength(1);
    // As keepalived: an instance that cannot own the address removes it at start and waits master_down (3 x 1 s + skew).
    const vipEvents = await addresses.waitFor(vip, killedAt, 2, 1000);
    expect(vipEvents.map((e) => e.action)).toEqual(['deleted', 'added']);
    const gapMs = vipEvents[1]!.at - vipEvents[0]!.at;
    expect(gapMs).toBeGreaterThan(3000);
    const client = load(killedAt, Date.now());
    figures.push(`kill -9, then a non-owner start (priority 100): spawn -> started ${at(started) - spawnedAt} ms, VIP removed at ${vipEvents[0]!.at - spawnedAt} ms, MASTER at ${masterAt - spawnedAt} ms, VIP back at ${vipEvents[1]!.at - spawnedAt} ms: gap ${gapMs} ms, ${client.text}`);
  });
});
