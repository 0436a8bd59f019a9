import { execFileSync } from 'node:child_process';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Probe } from '../../checkers/probe.js';
import { acquireSynProber, releaseSynProber } from '../../checkers/syn-prober.js';
import { tcpProbe } from '../../checkers/tcp.js';
import { tcpSynProbe } from '../../checkers/tcp-syn.js';
import { closeServer, closedPort, listen } from '../fixtures/checkers/servers.js';
import { tcpSpec } from '../fixtures/checkers/specs.js';
import type { TcpCheck } from '../../src/config/model.js';

// Every connection a listener accepts: a half-open probe must never complete one.
const accepted: string[] = [];
const servers: net.Server[] = [];

async function listener(host: string): Promise<number> {
  const server = net.createServer((s) => {
    accepted.push(`${s.remoteAddress}:${s.remotePort}`);
    s.destroy();
  });
  servers.push(server);
  return listen(server, host);
}

let port: number;
let port6: number;

beforeAll(async () => {
  port = await listener('127.0.0.1');
  port6 = await listener('::1');
});
afterAll(() => Promise.all(servers.map((s) => closeServer(s))));

const probes: Probe[] = [];
const make = (spec: TcpCheck): Probe => {
  const probe = tcpSynProbe(spec);
  probes.push(probe);
  return probe;
};
afterEach(() => {
  for (const p of probes.splice(0)) p.close?.();
});

/** Embryonic connections a listener still holds: our kernel's RST must have freed every one. */
const synReceived = (listenPort: number): string =>
  execFileSync('ss', ['-Htn', 'state', 'syn-recv', `( sport = :${listenPort} )`], { encoding: 'utf8' }).trim();

const soon = (ms = 2000): number => performance.now() + ms;
const settle = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('half-open TCP_CHECK on loopback (raw socket, needs root)', () => {
  it('is up on a SYN-ACK and completes no connection', async () => {
    const probe = make(tcpSpec('127.0.0.1', port));
    expect(probe.describe()).toBe(`TCP connect to 127.0.0.1:${port}`);
    const result = await probe.run(soon());
    expect(result).toMatchObject({ ok: true, reason: `TCP connect to 127.0.0.1:${port}: SYN-ACK received (half-open)` });
    expect(result.durationMs).toBeLessThan(500);
    await settle(100);
    expect(accepted).toEqual([]);
    expect(synReceived(port)).toBe('');
  });

  it('works over IPv6', async () => {
    expect(await make(tcpSpec('::1', port6)).run(soon())).toMatchObject({ ok: true, reason: `TCP connect to [::1]:${port6}: SYN-ACK received (half-open)` });
    await settle(100);
    expect(accepted).toEqual([]);
  });

  it('fails hard on a RST from a closed port, in both families', async () => {
    const closed = await closedPort();
    expect(await make(tcpSpec('127.0.0.1', closed)).run(soon())).toMatchObject({
      ok: false,
      hard: true,
      reason: `TCP connect to 127.0.0.1:${closed}: connection refused`,
    });
    const closed6 = await closedPort('::1');
    expect(await make(tcpSpec('::1', closed6)).run(soon())).toMatchObject({ ok: false, hard: true });
  });

  it('shares its key with the connect probe for the same target', () => {
    const spec = tcpSpec('127.0.0.1', port, { bindTo: { address: '127.0.0.2', family: 'inet' } });
    expect(make(spec).key).toBe(tcpProbe(spec).key);
    expect(make(tcpSpec('127.0.0.1', port)).key).not.toBe(tcpProbe(spec).key);
  });

  it('sends from bindto', async () => {
    const probe = make(tcpSpec('127.0.0.1', port, { bindTo: { address: '127.0.0.2', family: 'inet' } }));
    expect(probe.describe()).toBe(`TCP connect to 127.0.0.1:${port} from 127.0.0.2:0`);
    expect(await probe.run(soon())).toMatchObject({ ok: true });
  });

  it('matches many concurrent probes to open and closed ports on one process', async () => {
    const open: number[] = [];
    for (let i = 0; i < 60; i++) open.push(await listener('127.0.0.1'));
    const closed: number[] = [];
    for (let i = 0; i < 60; i++) closed.push(await closedPort());
    // Each port probed twice at once: both runs must be answered, from different source ports.
    const specs = [...open, ...closed, ...open, ...closed].map((p) => tcpSpec('127.0.0.1', p));
    const results = await Promise.all(specs.map((spec) => make(spec).run(soon(3000))));
    const verdicts = results.map((r, i) => [specs[i]!.connectPort, r.ok, r.hard ?? false]);
    const expected = specs.map((spec) => [spec.connectPort, open.includes(spec.connectPort), !open.includes(spec.connectPort)]);
    expect(verdicts).toEqual(expected);
    await settle(200);
    expect(accepted).toEqual([]);
    expect(open.map(synReceived).join('')).toBe('');
  }, 30_000);

  it('keeps one raw socket per source and frees it with the last probe', () => {
    const source = { family: 'inet' as const, bindTo: undefined, bindInterface: undefined, fwmark: 0 };
    const a = make(tcpSpec('127.0.0.1', port));
    const prober = acquireSynProber(source);
    expect(prober.users).toBe(2);
    a.close?.();
    a.close?.();
    expect(prober.users).toBe(1);
    releaseSynProber(source, prober);
    expect(prober.users).toBe(0);
    const fresh = acquireSynProber(source);
    expect(fresh).not.toBe(prober);
    releaseSynProber(source, fresh);
  });

  it('reports a closed probe without sending', async () => {
    const probe = make(tcpSpec('127.0.0.1', port));
    probe.close?.();
    expect(await probe.run(soon())).toMatchObject({ ok: false, reason: `TCP connect to 127.0.0.1:${port}: probe is closed` });
  });
});

// A namespace of our own behind a veth: its address answers ARP and receives our SYNs, but has no
// route back, so no answer ever returns (a timeout); an unused address on the link yields an
// ICMP host unreachable from our own neighbour resolution.
const ns = `ipvsd-syn-${process.pid}`;
const hostSide = `isyn${process.pid % 100000}a`;
const nsSide = `isyn${process.pid % 100000}b`;
const net3 = `10.231.${process.pid % 250}`;
const ip = (...args: string[]): string => execFileSync('ip', args, { encoding: 'utf8' });

describe('half-open TCP_CHECK to a silent peer (network namespace, needs root)', () => {
  beforeAll(() => {
    ip('netns', 'add', ns);
    ip('link', 'add', hostSide, 'type', 'veth', 'peer', 'name', nsSide);
    ip('link', 'set', nsSide, 'netns', ns);
    ip('addr', 'add', `${net3}.1/29`, 'dev', hostSide);
    ip('link', 'set', hostSide, 'up');
    // A /32 adds no route: replies from the namespace have nowhere to go.
    ip('-n', ns, 'addr', 'add', `${net3}.2/32`, 'dev', nsSide);
    ip('-n', ns, 'link', 'set', nsSide, 'up');
  });
  afterAll(() => {
    execFileSync('ip', ['link', 'del', hostSide], { stdio: 'ignore' });
    ip('netns', 'del', ns);
  });

  const synsReceived = (): number => {
    const snmp = execFileSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp'], { encoding: 'utf8' }).split('\n');
    const [names, values] = snmp.filter((line) => line.startsWith('Tcp:')).map((line) => line.split(/\s+/));
    return Number(values![names!.indexOf('InSegs')]);
  };

  it('times out (not hard) and retransmits the SYN after 1 s like connect()', async () => {
    const before = synsReceived();
    const result = await make(tcpSpec(`${net3}.2`, 80, { connectTimeoutMs: 1500 })).run(soon(5000));
    expect(result).toMatchObject({ ok: false, reason: `TCP connect to ${net3}.2:80: no handshake within 1500 ms` });
    expect(result.hard).toBeUndefined();
    expect(result.durationMs).toBeGreaterThanOrEqual(1490);
    expect(result.durationMs).toBeLessThan(2000);
    expect(synsReceived() - before).toBe(2);
  });

  it('stops at the overall deadline when it comes before connect_timeout', async () => {
    // Open the shared socket first: reserving its ports takes a while in a slow guest.
    expect(await make(tcpSpec('127.0.0.1', port)).run(soon())).toMatchObject({ ok: true });
    const result = await make(tcpSpec(`${net3}.2`, 80, { connectTimeoutMs: 5000 })).run(soon(300));
    const window = Number(/: no handshake within ([0-9]+) ms$/.exec(result.reason)?.[1]);
    // The window starts at the send, so a slow machine shortens it; connect_timeout would give 5000.
    expect(window).toBeGreaterThan(0);
    expect(window).toBeLessThanOrEqual(300);
    expect(result.durationMs).toBeLessThan(1000);
  });

  it('fails a waiting run when its last probe closes', async () => {
    const probe = tcpSynProbe(tcpSpec(`${net3}.2`, 80, { connectTimeoutMs: 5000 }));
    const running = probe.run(soon(5000));
    await settle(50);
    probe.close?.();
    expect(await running).toMatchObject({ ok: false, reason: `TCP connect to ${net3}.2:80: closed while waiting for an answer` });
  });

  it('fails hard on an ICMP host unreachable', async () => {
    const result = await make(tcpSpec(`${net3}.3`, 80, { connectTimeoutMs: 6000 })).run(soon(7000));
    expect(result).toMatchObject({ ok: false, hard: true, reason: `TCP connect to ${net3}.3:80: ICMP host unreachable` });
  }, 10_000);
});
