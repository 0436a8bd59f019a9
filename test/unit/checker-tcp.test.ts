import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProbe, unappliedSettings } from '../../checkers/index.js';
import { tcpProbe } from '../../checkers/tcp.js';
import { closeServer, closedPort, listen, track } from '../fixtures/checkers/servers.js';
import { tcpSpec } from '../fixtures/checkers/specs.js';

let server: net.Server;
let sockets: Set<net.Socket>;
let port: number;
let server6: net.Server;
let port6: number;
const peers: string[] = [];

beforeAll(async () => {
  server = net.createServer((s) => peers.push(`${s.remoteAddress}:${s.remotePort}`));
  sockets = track(server);
  port = await listen(server);
  server6 = net.createServer();
  port6 = await listen(server6, '::1');
});
afterAll(() => Promise.all([closeServer(server, sockets), closeServer(server6)]));

const soon = (ms = 2000): number => performance.now() + ms;

describe('TCP_CHECK', () => {
  it('succeeds when the handshake completes, and closes the connection', async () => {
    const probe = tcpProbe(tcpSpec('127.0.0.1', port));
    expect(probe.describe()).toBe(`TCP connect to 127.0.0.1:${port}`);
    const result = await probe.run(soon());
    expect(result).toMatchObject({ ok: true, reason: `TCP connect to 127.0.0.1:${port}: connected` });
    await new Promise((r) => setTimeout(r, 50));
    expect(sockets.size).toBe(0);
  });

  it('connects over IPv6', async () => {
    expect(await tcpProbe(tcpSpec('::1', port6)).run(soon())).toMatchObject({ ok: true, reason: `TCP connect to [::1]:${port6}: connected` });
  });

  it('fails hard when refused', async () => {
    const closed = await closedPort();
    expect(await tcpProbe(tcpSpec('127.0.0.1', closed)).run(soon())).toMatchObject({
      ok: false,
      hard: true,
      reason: `TCP connect to 127.0.0.1:${closed}: connection refused`,
    });
  });

  it('connects from bindto and bind_port', async () => {
    const source = await closedPort();
    const spec = tcpSpec('127.0.0.1', port, { bindTo: { address: '127.0.0.2', family: 'inet' }, bindPort: source });
    const probe = tcpProbe(spec);
    expect(probe.describe()).toBe(`TCP connect to 127.0.0.1:${port} from 127.0.0.2:${source}`);
    expect((await probe.run(soon())).ok).toBe(true);
    expect(peers).toContain(`127.0.0.2:${source}`);
    expect(probe.key).not.toBe(tcpProbe(tcpSpec('127.0.0.1', port)).key);
  });

  it('reports an unusable source address', async () => {
    const spec = tcpSpec('127.0.0.1', port, { bindTo: { address: '192.0.2.1', family: 'inet' } });
    const result = await tcpProbe(spec).run(soon());
    expect(result).toMatchObject({ ok: false, reason: `TCP connect to 127.0.0.1:${port} from 192.0.2.1:0: local address not available` });
  });

  it('names the settings a TCP socket from node cannot apply', () => {
    expect(unappliedSettings(tcpSpec('127.0.0.1', port))).toEqual([]);
    expect(unappliedSettings(tcpSpec('127.0.0.1', port, { bindInterface: 'eth1', fwmark: 7 }))).toEqual(['bind_if eth1', 'fwmark 7']);
  });

  it('fails without connecting once the deadline has passed', async () => {
    expect((await tcpProbe(tcpSpec('127.0.0.1', port)).run(performance.now() - 1)).reason).toContain('deadline passed');
  });

  it('is what createProbe makes for TCP_CHECK, with timing left out of the key', () => {
    const a = createProbe(tcpSpec('127.0.0.1', port), { address: '127.0.0.1', family: 'inet', port });
    expect(a.describe()).toBe(`TCP connect to 127.0.0.1:${port}`);
    expect(a.key).toBe(tcpProbe(tcpSpec('127.0.0.1', port, { connectTimeoutMs: 1, delayLoopMs: 1, retry: 9 })).key);
  });
});

// A listener whose accept queue is full drops further SYNs, so the connect never completes.
// Node accepts every connection itself, so the listener is a Python process that never accepts.
const python = spawnSync('python3', ['-c', 'pass']).status === 0;

describe.skipIf(!python)('TCP_CHECK against a full accept queue (needs python3)', () => {
  let child: ChildProcess;
  let fullPort: number;
  const fillers: net.Socket[] = [];

  beforeAll(async () => {
    child = spawn('python3', ['-c', [
      'import socket, sys, time',
      's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
      'print(s.getsockname()[1], flush=True)',
      'sys.stdin.read()',
    ].join('\n')], { stdio: ['pipe', 'pipe', 'inherit'] });
    fullPort = await new Promise<number>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    // Fill the queue: these complete (backlog 0 still queues one), later SYNs are dropped.
    for (let i = 0; i < 2; i++) {
      const s = net.connect(fullPort, '127.0.0.1');
      s.on('error', () => {});
      fillers.push(s);
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  afterAll(() => {
    for (const s of fillers) s.destroy();
    child.stdin!.end();
    child.kill();
  });

  it('times out after connect_timeout, not hard', async () => {
    const result = await tcpProbe(tcpSpec('127.0.0.1', fullPort, { connectTimeoutMs: 300 })).run(soon());
    expect(result).toMatchObject({ ok: false, reason: `TCP connect to 127.0.0.1:${fullPort}: no handshake within 300 ms` });
    expect(result.hard).toBeUndefined();
    expect(result.durationMs).toBeGreaterThanOrEqual(290);
    expect(result.durationMs).toBeLessThan(3000);
  });

  it('stops at the deadline when it comes first', async () => {
    const result = await tcpProbe(tcpSpec('127.0.0.1', fullPort, { connectTimeoutMs: 5000 })).run(soon(150));
    expect(result.ok).toBe(false);
    expect(result.durationMs).toBeLessThan(3000);
  });
});
