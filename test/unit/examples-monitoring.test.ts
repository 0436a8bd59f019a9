// The monitoring examples: Prometheus accepts the scrape config and the alert rules, and every
// metric they and the Grafana dashboard query is one ipvsd really exports.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { StatusMetrics } from '../../src/api/metrics.js';
import { fakeDaemon, webConfig } from './api-status-source.js';

const example = (path: string) => fileURLToPath(new URL(`../../examples/${path}`, import.meta.url));

async function exportedNames(): Promise<Set<string>> {
  const fake = fakeDaemon(webConfig(3));
  fake.status.checkResult('tcp 10.99.0.100:80 10.1.0.1:8080 TCP_CHECK', 'TCP_CHECK', { ok: true, reason: 'connected', durationMs: 3 }, 0);
  fake.status.reconciled('update', { read: false, operations: [{ kind: 'add-destination' } as never], failures: [], unknown: [], durationMs: 1 });
  const text = await new StatusMetrics(() => fake.status.snapshot(), { destinations: true }).scrape();
  return new Set(text.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/[{ ]/)[0]!));
}

const queried = (text: string) => new Set([...text.matchAll(/\bipvsd_[a-z0-9_]+/g)].map((m) => m[0]));

describe('monitoring examples', () => {
  it('pass promtool', () => {
    execFileSync('promtool', ['check', 'config', example('prometheus/prometheus.yml')], { stdio: 'pipe' });
    execFileSync('promtool', ['check', 'rules', example('prometheus/ipvsd-alerts.yml')], { stdio: 'pipe' });
  });

  it('query only metrics ipvsd exports', async () => {
    const names = await exportedNames();
    const used = new Set([
      ...queried(readFileSync(example('prometheus/ipvsd-alerts.yml'), 'utf8')),
      ...queried(readFileSync(example('grafana/ipvsd-dashboard.json'), 'utf8')),
    ]);
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((n) => !names.has(n))).toEqual([]);
  });
});
