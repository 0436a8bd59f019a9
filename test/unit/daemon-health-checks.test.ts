// HealthChecks on the host: real TCP probes against loopback listeners, shared between checkers
// with the same target, swapped on reload, silenced on stop.
import { createServer, type AddressInfo, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { HealthChecks } from '../../src/daemon/health-checks.js';
import { buildPools, type CheckerEntry } from '../../src/daemon/pools.js';
import type { CheckReport } from '../../src/health/scheduler.js';

let server: Server;
let port: number;
beforeAll(async () => {
  server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

function pools(vsPorts: number[], rsPort: () => number) {
  const text = vsPorts
    .map((p) => `virtual_server 10.99.0.100 ${p} {\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  real_server 127.0.0.1 ${rsPort()} {\n    TCP_CHECK {\n      warmup 0\n      connect_timeout 1\n    }\n  }\n}\n`)
    .join('');
  const { config } = loadConfigText(text, 'test.conf', { configId: 'lb1' });
  return buildPools(config!);
}

function collect() {
  const results: Array<{ entry: CheckerEntry; report: CheckReport }> = [];
  const setupErrors: string[] = [];
  const errors: unknown[] = [];
  const checks = new HealthChecks({
    onResult: (entry, report) => results.push({ entry, report }),
    onSetupError: (entry, message) => setupErrors.push(`${entry.id}: ${message}`),
    onError: (err) => errors.push(err),
  });
  return { checks, results, setupErrors, errors };
}

const until = async (what: () => boolean, ms: number) => {
  const deadline = Date.now() + ms;
  while (!what() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
};

describe('HealthChecks', () => {
  it('runs one probe for checkers with the same target and reports to each', async () => {
    const { checks, results, setupErrors, errors } = collect();
    const p = pools([80, 81], () => port);
    checks.load(p);
    await until(() => results.length >= 2, 3000);
    checks.stop();
    expect(setupErrors).toEqual([]);
    expect(errors).toEqual([]);
    expect(results.map((r) => r.entry.id).sort()).toEqual([`tcp 10.99.0.100:80 127.0.0.1:${port} TCP_CHECK`, `tcp 10.99.0.100:81 127.0.0.1:${port} TCP_CHECK`]);
    expect(results.every((r) => r.report.probe.ok && r.report.sharedBy === 2)).toBe(true);
    expect(results[0]!.report.probe.reason).toMatch(new RegExp(`^TCP connect to 127\\.0\\.0\\.1:${port}`));
  });

  it('after a reload reports only for the new checkers, and nothing after stop', async () => {
    const { checks, results } = collect();
    const closedPort = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    const before = pools([80], () => port);
    checks.load(before);
    const after = pools([82], () => closedPort);
    checks.load(after);
    await until(() => results.length >= 1, 3000);
    expect(results.map((r) => r.entry.id)).toEqual([`tcp 10.99.0.100:82 127.0.0.1:${closedPort} TCP_CHECK`]);
    expect(results[0]!.report.probe).toMatchObject({ ok: false, hard: true });
    expect(results[0]!.report.probe.reason).toContain('connection refused');
    checks.stop();
    const count = results.length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(results).toHaveLength(count);
  });
});
