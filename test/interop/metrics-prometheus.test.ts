// The metrics endpoint read by the real tools: `promtool check metrics` on a scrape, and a real
// Prometheus (temp dir, loopback port, 1 s scrape interval, killed by pid) that scrapes it and
// answers a query through its HTTP API. The source is daemon-like (real pools, desired table and
// status model) with a fake kernel read, since the host has no IPVS. Also times a scrape at 5000
// real servers.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricsServer } from '../../src/api/metrics-server.js';
import { StatusMetrics } from '../../src/api/metrics.js';
import { fakeDaemon, webConfig } from '../unit/api-status-source.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let dir: string;
let server: MetricsServer;
let prometheus: ChildProcess | undefined;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const fake = fakeDaemon(webConfig(4));
fake.status.checkResult('tcp 10.99.0.100:80 10.1.0.1:8080 TCP_CHECK', 'TCP_CHECK', { ok: true, reason: 'connected', durationMs: 2 }, 0);
const metrics = new StatusMetrics(() => fake.status.snapshot(), { destinations: true });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ipvsd-metrics-'));
  server = await MetricsServer.listen('127.0.0.1', 0, metrics);
});

afterAll(async () => {
  if (prometheus?.pid !== undefined && prometheus.exitCode === null) process.kill(prometheus.pid, 'SIGKILL');
  await server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('metrics against the Prometheus tools', () => {
  it('promtool check metrics accepts a scrape', async () => {
    const text = await (await fetch(`http://127.0.0.1:${server.port}/metrics`)).text();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('a real Prometheus scrapes it and a query returns the expected series', async () => {
    const webPort = await freePort();
    writeFileSync(
      join(dir, 'prometheus.yml'),
      `global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: ipvsd\n    static_configs:\n      - targets: ['127.0.0.1:${server.port}']\n`,
    );
    prometheus = spawn('prometheus', [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${webPort}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let log = '';
    prometheus.stderr!.setEncoding('utf8').on('data', (c: string) => (log += c));
    const query = encodeURIComponent('ipvsd_real_server_connections_total{rs="10.1.0.2:8080"}');
    let result: Array<{ metric: Record<string, string>; value: [number, string] }> = [];
    const deadline = performance.now() + 30_000;
    while (performance.now() < deadline && result.length === 0) {
      await sleep(500);
      try {
        const body = (await (await fetch(`http://127.0.0.1:${webPort}/api/v1/query?query=${query}`)).json()) as { data: { result: typeof result } };
        result = body.data.result;
      } catch {
        // not up yet
      }
    }
    expect(result, log).toHaveLength(1);
    expect(result[0]!.metric).toMatchObject({ __name__: 'ipvsd_real_server_connections_total', job: 'ipvsd', vs: 'tcp 10.99.0.100:80', rs: '10.1.0.2:8080' });
    expect(result[0]!.value[1]).toBe('2');
    const up = (await (await fetch(`http://127.0.0.1:${webPort}/api/v1/query?query=up`)).json()) as { data: { result: Array<{ value: [number, string] }> } };
    expect(up.data.result[0]!.value[1]).toBe('1');
    process.kill(prometheus.pid!, 'SIGTERM');
    await new Promise((r) => prometheus!.once('exit', r));
  });

  it('a scrape at 5000 real servers is valid; its time is printed', async () => {
    const big = fakeDaemon(webConfig(5000));
    const bigMetrics = new StatusMetrics(() => big.status.snapshot(), { destinations: true });
    const smallMetrics = new StatusMetrics(() => big.status.snapshot(), { destinations: false });
    await bigMetrics.scrape();
    const times: number[] = [];
    const cpu: number[] = [];
    let text = '';
    for (let i = 0; i < 5; i++) {
      const t = performance.now();
      const c = process.cpuUsage();
      text = await bigMetrics.scrape();
      const used = process.cpuUsage(c);
      times.push(performance.now() - t);
      cpu.push((used.user + used.system) / 1000);
    }
    cpu.sort((a, b) => a - b);
    const t = performance.now();
    const snapshot = big.status.snapshot();
    const snapshotMs = performance.now() - t;
    const t2 = performance.now();
    await smallMetrics.scrape();
    const aggregateMs = performance.now() - t2;
    times.sort((a, b) => a - b);
    const lines = text.split('\n').filter((l) => l && !l.startsWith('#')).length;
    console.log(
      `metrics at 5000 real servers: scrape median ${times[2]!.toFixed(1)} ms wall (min ${times[0]!.toFixed(1)}, max ${times[4]!.toFixed(1)}), median ${cpu[2]!.toFixed(1)} ms CPU, ${lines} samples, ${(text.length / 1024).toFixed(0)} KiB; ` +
        `snapshot alone ${snapshotMs.toFixed(1)} ms; --no-destination-metrics scrape ${aggregateMs.toFixed(1)} ms`,
    );
    expect(snapshot.virtualServers[0]!.realServers).toHaveLength(5000);
    expect(text).toContain('ipvsd_real_server_connections_total{vs="tcp 10.99.0.100:80",rs="10.1.19.250:8080"} 5000');
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8', maxBuffer: 64 << 20 });
    expect(check.status, check.stdout + check.stderr).toBe(0);
  });
});
