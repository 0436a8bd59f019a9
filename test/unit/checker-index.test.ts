import dgram from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ProbeSetupError, createProbe } from '../../checkers/index.js';
import type { Probe } from '../../checkers/probe.js';
import type { Checker } from '../../src/config/model.js';
import { closeServer, closedPort, listen, track } from '../fixtures/checkers/servers.js';
import { dnsSpec, httpSpec, miscSpec, pingSpec, smtpSpec, tcpSpec, udpSpec, url } from '../fixtures/checkers/specs.js';

let web: http.Server;
let webPort: number;
let silent: net.Server;
let silentPort: number;
let silentSockets: Set<net.Socket>;
let udp: dgram.Socket;
let udpPort: number;
let dir: string;

beforeAll(async () => {
  web = http.createServer((_req, res) => res.end('ok'));
  webPort = await listen(web);
  // Reads (so it sees the probe close) but never answers.
  silent = net.createServer((s) => s.resume());
  silentSockets = track(silent);
  silentPort = await listen(silent);
  udp = dgram.createSocket('udp4');
  udp.on('message', (m, r) => {
    m[2] |= 0x80;
    udp.send(m, r.port, r.address);
  });
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  udpPort = udp.address().port;
  dir = mkdtempSync(join(tmpdir(), 'ipvsd-index-'));
  writeFileSync(join(dir, 'tf'), '1');
});

afterAll(async () => {
  await Promise.all([closeServer(web), closeServer(silent, silentSockets)]);
  udp.close();
  rmSync(dir, { recursive: true, force: true });
});

const server = { address: '127.0.0.1', family: 'inet' as const, port: 0, weight: 4 };

/** Handles that would show a probe left something behind (the servers' side of a connection counts too). */
async function held(): Promise<Record<string, number>> {
  await new Promise((r) => setTimeout(r, 100));
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) {
    if (['TCPSocketWrap', 'TCPWRAP', 'UDPWrap', 'UDPWRAP', 'Timeout', 'ProcessWrap', 'PipeWrap'].includes(kind)) counts[kind] = (counts[kind] ?? 0) + 1;
  }
  return counts;
}

describe('createProbe', () => {
  it('makes the probe for every checker type', async () => {
    const trackFilePath = (name: string): string | undefined => (name === 'tf' ? join(dir, 'tf') : undefined);
    const checkers: Checker[] = [
      tcpSpec('127.0.0.1', webPort),
      httpSpec('127.0.0.1', webPort, [url('/')]),
      pingSpec('127.0.0.1'),
      udpSpec('127.0.0.1', udpPort, { requireReply: 'XX' }),
      dnsSpec('127.0.0.1', udpPort),
      smtpSpec('127.0.0.1', silentPort, { connectTimeoutMs: 100 }),
      miscSpec(['/bin/sh', '-c', 'exit 5'], { dynamic: true }),
      { type: 'FILE_CHECK', pos: { file: 'x', line: 1, column: 1 }, trackFile: 'tf', weight: 3, reverse: false },
    ];
    const probes: Probe[] = checkers.map((c) => createProbe(c, server, { trackFilePath }));
    expect(probes.map((p) => p.describe().split(' ')[0])).toEqual(['TCP', 'HTTP', 'ICMP', 'UDP', 'DNS', 'SMTP', 'script', 'track']);
    const results = await Promise.all(probes.map((p) => p.run(performance.now() + 2000)));
    expect(results.map((r) => r.ok)).toEqual([true, true, true, true, true, false, true, true]);
    expect(results[6]!.weightAdjust).toBe(5 - 2 - 4);
    expect(results[7]!.weightAdjust).toBe(3);
    expect(new Set(probes.map((p) => p.key)).size).toBe(probes.length);
    for (const p of probes) p.close?.();
  });

  it('makes a half-open TCP probe when asked, with the same key and verdict as a connect', async () => {
    const connect = createProbe(tcpSpec('127.0.0.1', webPort), server);
    const halfOpen = createProbe(tcpSpec('127.0.0.1', webPort), server, { tcpHalfOpen: true });
    expect(halfOpen.key).toBe(connect.key);
    const result = await halfOpen.run(performance.now() + 2000);
    expect(result).toMatchObject({ ok: true, reason: expect.stringContaining('SYN-ACK received (half-open)') });
    halfOpen.close?.();
  });

  it('refuses a FILE_CHECK whose track file has no known path', () => {
    const file: Checker = { type: 'FILE_CHECK', pos: { file: 'x', line: 1, column: 1 }, trackFile: 'nope', weight: 0, reverse: false };
    expect(() => createProbe(file, server)).toThrow(ProbeSetupError);
  });

  it('leaves no socket, timer or child behind after success, refusal and timeout', async () => {
    const refused = await closedPort();
    const checkers: Checker[] = [
      tcpSpec('127.0.0.1', webPort),
      tcpSpec('127.0.0.1', refused),
      httpSpec('127.0.0.1', webPort, [url('/')]),
      httpSpec('127.0.0.1', silentPort, [url('/')], { connectTimeoutMs: 100 }),
      httpSpec('127.0.0.1', refused, [url('/')]),
      udpSpec('127.0.0.1', udpPort, { connectTimeoutMs: 50 }),
      udpSpec('127.0.0.1', refused),
      dnsSpec('127.0.0.1', udpPort),
      smtpSpec('127.0.0.1', silentPort, { connectTimeoutMs: 100 }),
      miscSpec(['/bin/true']),
      pingSpec('127.0.0.1'),
    ];
    const before = await held();
    const probes = checkers.map((c) => createProbe(c, server));
    await Promise.all(probes.map((p) => p.run(performance.now() + 2000)));
    for (const p of probes) p.close?.();
    expect(await held()).toEqual(before);
  });
});
