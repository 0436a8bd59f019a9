// The Prometheus text built from one status snapshot: names, types, labels, values, the
// per-destination switch, and events recorded in the status model; what the destination series
// keep between scrapes, the slices a scrape is written in, and the endpoint that streams it.
import { request } from 'node:http';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { MetricsServer } from '../../src/api/metrics-server.js';
import { StatusMetrics } from '../../src/api/metrics.js';
import { parseListen } from '../../src/api/metrics-listen.js';
import type { StatusSnapshot } from '../../src/daemon/status.js';
import { fakeDaemon, kernelOf, webConfig, type FakeDaemon } from './api-status-source.js';

function scrape(destinations: boolean) {
  const fake = fakeDaemon(webConfig(3), () => 1_700_000_100_000);
  return { fake, metrics: new StatusMetrics(() => fake.status.snapshot(), { destinations }) };
}

const line = (text: string, start: string) => text.split('\n').find((l) => l.startsWith(start));

describe('metrics', () => {
  it('exports kernel counters as counters and kernel connection counts as gauges, by configured names', async () => {
    const text = await scrape(true).metrics.scrape();
    expect(text).toContain('# TYPE ipvsd_real_server_connections_total counter');
    expect(text).toContain('ipvsd_real_server_connections_total{vs="tcp 10.99.0.100:80",rs="10.1.0.2:8080"} 2');
    expect(text).toContain('ipvsd_real_server_bytes_total{vs="tcp 10.99.0.100:80",rs="10.1.0.2:8080",direction="out"} 1800');
    expect(text).toContain('# TYPE ipvsd_real_server_active_connections gauge');
    expect(text).toContain('ipvsd_real_server_inactive_connections{vs="tcp 10.99.0.100:80",rs="10.1.0.3:8080"} 2');
    expect(text).toContain('ipvsd_virtual_server_packets_total{vs="tcp 10.99.0.100:80",direction="in"} 10000');
    expect(text).toContain('ipvsd_real_server_up{vs="tcp 10.99.0.100:80",rs="10.1.0.1:8080"} 1');
    expect(text).toContain('ipvsd_real_server_weight{vs="tcp 10.99.0.100:80",rs="10.1.0.3:8080"} 3');
    expect(text).toContain('ipvsd_virtual_server_real_servers{vs="tcp 10.99.0.100:80",state="up"} 3');
    expect(text).toContain('ipvsd_vrrp_state{vrrp_instance="VI_1",vrid="51",interface="eth0"} 2');
    expect(text).toContain('ipvsd_vrrp_adverts_dropped_total{vrrp_instance="VI_1",reason="ttl"} 2');
    expect(text).toContain('ipvsd_kernel_read_timestamp_seconds 1700000100');
    expect(line(text, 'ipvsd_build_info')).toMatch(/^ipvsd_build_info\{version="0\.1\.0",nodejs="v\d+/);
  });

  it('records check results, durations and reconcile passes from the status model', async () => {
    const { fake, metrics } = scrape(true);
    fake.status.checkResult('tcp 10.99.0.100:80 10.1.0.1:8080 TCP_CHECK', 'TCP_CHECK', { ok: false, reason: 'connection refused', durationMs: 3 }, 1);
    fake.status.checkResult('tcp 10.99.0.100:80 10.1.0.2:8080 TCP_CHECK', 'TCP_CHECK', { ok: true, reason: 'connected', durationMs: 30 }, 0);
    fake.status.reconciled('update', { read: false, operations: [{ kind: 'remove-destination' } as never], failures: [], unknown: [], durationMs: 2 });
    const text = await metrics.scrape();
    expect(text).toContain('ipvsd_check_results_total{check_type="TCP_CHECK",result="failure"} 1');
    expect(text).toContain('ipvsd_check_duration_seconds_bucket{check_type="TCP_CHECK",le="0.005"} 1');
    expect(text).toContain('ipvsd_check_duration_seconds_bucket{check_type="TCP_CHECK",le="0.05"} 2');
    expect(text).toContain('ipvsd_check_duration_seconds_count{check_type="TCP_CHECK"} 2');
    expect(text).toContain('ipvsd_check_consecutive_failures{vs="tcp 10.99.0.100:80",rs="10.1.0.1:8080",check="TCP_CHECK"} 1');
    expect(text).toContain('ipvsd_reconcile_runs_total{pass="update"} 1');
    expect(text).toContain('ipvsd_reconcile_operations_total{op="remove-destination"} 1');
    expect(text).toContain('ipvsd_reconcile_duration_seconds_bucket{le="0.0025"} 1');
  });

  it('shows overrides and the state they put a server in', async () => {
    const { fake, metrics } = scrape(true);
    fake.overrides.set('tcp 10.99.0.100:80', '10.1.0.1:8080', { kind: 'drain' }, 1);
    fake.desired();
    const text = await metrics.scrape();
    expect(text).toContain('ipvsd_real_server_override{vs="tcp 10.99.0.100:80",rs="10.1.0.1:8080",kind="drain"} 1');
    expect(text).toContain('ipvsd_real_server_weight{vs="tcp 10.99.0.100:80",rs="10.1.0.1:8080"} 0');
    expect(text).toContain('ipvsd_virtual_server_real_servers{vs="tcp 10.99.0.100:80",state="drained"} 1');
  });

  it('without destination series keeps the per-virtual-server ones', async () => {
    const text = await scrape(false).metrics.scrape();
    expect(text).not.toMatch(/rs="/);
    expect(text).toContain('ipvsd_virtual_server_up{vs="tcp 10.99.0.100:80"} 1');
  });

  it('a failed reload is visible', async () => {
    const { fake, metrics } = scrape(true);
    fake.status.reloaded(false, ['x.conf:1:1: error: bad']);
    const text = await metrics.scrape();
    expect(text).toContain('ipvsd_config_last_reload_successful 0');
    expect(text).toContain('ipvsd_config_reloads_total{result="failure"} 1');
  });

  it('parses --metrics-listen', () => {
    expect(parseListen('127.0.0.1:9477')).toEqual({ host: '127.0.0.1', port: 9477 });
    expect(parseListen('9100')).toEqual({ host: '127.0.0.1', port: 9100 });
    expect(parseListen('[::1]:9477')).toEqual({ host: '::1', port: 9477 });
    expect(parseListen(':9477')).toEqual({ host: '127.0.0.1', port: 9477 });
    expect(parseListen('none')).toBeUndefined();
    expect(() => parseListen('localhost')).toThrow('"localhost" is not HOST:PORT (e.g. 127.0.0.1:9477), PORT or none');
  });
});

describe('destination families', () => {
  it('escape label values as the text format requires', async () => {
    const { fake } = scrape(true);
    const snapshot = fake.status.snapshot();
    snapshot.virtualServers[0]!.name = 'group "w\\eb"\nx';
    const text = await new StatusMetrics(() => snapshot, { destinations: true }).scrape();
    expect(text).toContain('ipvsd_real_server_up{vs="group \\"w\\\\eb\\"\\nx",rs="10.1.0.1:8080"} 1');
  });
});

/** What a StatusMetrics that has never scraped writes for the same state. */
const fresh = (fake: FakeDaemon) => new StatusMetrics(() => fake.status.snapshot(), { destinations: true }).scrape();

/** Renders in slices of `sliceMs`; counts the turns of the event loop that ran in between. */
async function sliced(metrics: StatusMetrics, sliceMs: number): Promise<{ text: string; turns: number }> {
  const chunks: Buffer[] = [];
  let turns = 0;
  let done = false;
  const turn = (): void => {
    if (done) return;
    turns++;
    setImmediate(turn);
  };
  setImmediate(turn);
  await metrics.render((c) => chunks.push(c), sliceMs);
  done = true;
  return { text: Buffer.concat(chunks).toString(), turns };
}

describe('destination series between scrapes', () => {
  it('a later scrape shows every change: checks, overrides, a new kernel read, a reload', async () => {
    const fake = fakeDaemon(webConfig(40), () => 1_700_000_100_000);
    const metrics = new StatusMetrics(() => fake.status.snapshot(), { destinations: true });
    const changes: Array<() => void> = [
      () => fake.status.checkResult('tcp 10.99.0.100:80 10.1.0.7:8080 TCP_CHECK', 'TCP_CHECK', { ok: false, reason: 'refused', durationMs: 2 }, 4),
      () => {
        fake.overrides.set('tcp 10.99.0.100:80', '10.1.0.3:8080', { kind: 'weight', weight: 9 }, 1);
        fake.overrides.set('tcp 10.99.0.100:80', '10.1.0.4:8080', { kind: 'disable' }, 1);
        fake.desired();
      },
      () => fake.overrides.set('tcp 10.99.0.100:80', '10.1.0.3:8080', { kind: 'drain' }, 2),
      () => fake.status.kernelRead(kernelOf(fake.desired()).map((e) => ({ ...e, destinations: e.destinations!.slice(5).map((d) => ({ ...d, activeConnections: 99 })) }))),
      () => fake.status.kernelRead([]),
    ];
    const seen = new Set<string>();
    for (const change of changes) {
      change();
      const text = await metrics.scrape();
      expect(text).toBe(await fresh(fake));
      seen.add(text);
    }
    expect(seen.size).toBe(changes.length);
    const reloaded = fakeDaemon(webConfig(30), () => 1_700_000_100_000);
    let snapshots = 0;
    const swapped = new StatusMetrics(() => (snapshots++ === 0 ? fake : reloaded).status.snapshot(), { destinations: true });
    await swapped.scrape();
    const text = await swapped.scrape();
    expect(text).toBe(await fresh(reloaded));
    expect(text).not.toContain('rs="10.1.0.31:8080"');
  });

  it('a large scrape yields to the event loop between slices and writes the same text', async () => {
    const fake = fakeDaemon(webConfig(1200));
    const whole = await sliced(new StatusMetrics(() => fake.status.snapshot(), { destinations: true }), Infinity);
    const inSlices = await sliced(new StatusMetrics(() => fake.status.snapshot(), { destinations: true }), 0);
    expect(whole.turns).toBe(0);
    // Every 256 rows of every family: the label sets, then each family's values and text.
    expect(inSlices.turns).toBeGreaterThan(30);
    expect(inSlices.text).toBe(whole.text);
  });

  it('scrapes run one after another: one that starts while another is written does not change it', async () => {
    const fake = fakeDaemon(webConfig(1200));
    const metrics = new StatusMetrics(() => fake.status.snapshot(), { destinations: true });
    const before = await fresh(fake);
    const chunks: Buffer[] = [];
    const first = metrics.render((c) => chunks.push(c), 0);
    await new Promise((resolve) => setImmediate(resolve));
    fake.status.kernelRead([]);
    fake.status.checkResult('tcp 10.99.0.100:80 10.1.0.7:8080 TCP_CHECK', 'TCP_CHECK', { ok: false, reason: 'refused', durationMs: 2 }, 4);
    const second = metrics.scrape();
    await first;
    expect(Buffer.concat(chunks).toString()).toBe(before);
    expect(await second).toBe(await fresh(fake));
  });
});

describe('metrics endpoint', () => {
  const get = (port: number, path: string) =>
    new Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>((resolve, reject) => {
      request({ host: '127.0.0.1', port, path }, (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      })
        .on('error', reject)
        .end();
    });

  it('streams the scrape with the Prometheus content type, and says why it cannot', async () => {
    const fake = fakeDaemon(webConfig(600));
    let source: () => StatusSnapshot = () => fake.status.snapshot();
    const server = await MetricsServer.listen('127.0.0.1', 0, new StatusMetrics(() => source(), { destinations: true }));
    try {
      const ok = await get(server.port, '/metrics');
      expect(ok.status).toBe(200);
      expect(ok.headers['content-type']).toBe(Registry.PROMETHEUS_CONTENT_TYPE);
      expect(ok.headers['transfer-encoding']).toBe('chunked');
      expect(ok.body).toBe(await fresh(fake));
      source = () => {
        throw new Error('ipvsd is starting');
      };
      expect(await get(server.port, '/metrics')).toMatchObject({ status: 500, body: 'ipvsd is starting\n' });
      expect((await get(server.port, '/')).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
