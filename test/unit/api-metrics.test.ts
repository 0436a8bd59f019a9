// The Prometheus text built from one status snapshot: names, types, labels, values, the
// per-destination switch, and events recorded in the status model.
import { describe, expect, it } from 'vitest';
import { destinationFamilies, StatusMetrics } from '../../src/api/metrics.js';
import { parseListen } from '../../src/api/metrics-listen.js';
import { fakeDaemon, webConfig } from './api-status-source.js';

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
  it('escape label values as the text format requires', () => {
    const { fake } = scrape(true);
    const snapshot = fake.status.snapshot();
    snapshot.virtualServers[0]!.name = 'group "w\\eb"\nx';
    expect(destinationFamilies(snapshot)).toContain('ipvsd_real_server_up{vs="group \\"w\\\\eb\\"\\nx",rs="10.1.0.1:8080"} 1');
  });
});
