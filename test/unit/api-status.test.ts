// The status model: one snapshot from pools, desired table, overrides, kernel read and events.
import { describe, expect, it } from 'vitest';
import { formatDuration, formatStatus } from '../../src/api/status-table.js';
import { fakeDaemon, kernelOf, webConfig } from './api-status-source.js';

describe('status model', () => {
  it('records check results, transitions and time in state with the injected clock', () => {
    let now = 1_000_000;
    const fake = fakeDaemon(webConfig(2), () => now);
    now += 5000;
    fake.status.checkResult('tcp 10.99.0.100:80 10.1.0.1:8080 TCP_CHECK', 'TCP_CHECK', { ok: false, reason: 'connection refused', durationMs: 4 }, 2);
    fake.status.realServerChanged('tcp 10.99.0.100:80', '10.1.0.1:8080');
    now += 3000;
    const s = fake.status.snapshot();
    const [a, b] = s.virtualServers[0]!.realServers;
    expect(a!.since).toBe(1_005_000);
    expect(b!.since).toBe(1_000_000);
    expect(a!.checkers).toEqual([
      { id: 'tcp 10.99.0.100:80 10.1.0.1:8080 TCP_CHECK', type: 'TCP_CHECK', up: true, consecutiveFailures: 2, last: { ok: false, reason: 'connection refused', durationMs: 4, at: 1_005_000 } },
    ]);
    expect(s.checks.results).toEqual({ TCP_CHECK: { success: 0, failure: 1 } });
    expect(formatStatus(s)).toContain('TCP_CHECK up: connection refused (4 ms, 3s ago, 2 consecutive failure(s))');
  });

  it('keeps the last reload failure with its errors until a reload succeeds', () => {
    let now = 0;
    const fake = fakeDaemon(webConfig(1), () => now);
    now = 60_000;
    fake.status.reloaded(false, ['a.conf:1:1: error: x']);
    let s = fake.status.snapshot();
    expect(s.config).toMatchObject({ loadedAt: 0, reloads: { success: 0, failure: 1 }, lastReload: { ok: false, at: 60_000, errors: ['a.conf:1:1: error: x'] } });
    expect(formatStatus(s)).toContain('LAST RELOAD FAILED 0s ago, still running the previous configuration:\n  a.conf:1:1: error: x');
    fake.status.reloaded(true);
    s = fake.status.snapshot();
    expect(s.config).toMatchObject({ loadedAt: 60_000, reloads: { success: 1, failure: 1 }, lastReload: { ok: true } });
    expect(formatStatus(s)).not.toContain('FAILED');
  });

  it('sums the kernel counters of a group virtual server over its services', () => {
    const text = `virtual_server_group web {
    10.99.0.100 80
    10.99.0.101 80
}
virtual_server group web {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.1.0.1 8080 {
        weight 1
    }
}
`;
    const fake = fakeDaemon(text);
    fake.status.kernelRead(kernelOf(fake.desired()));
    const vs = fake.status.snapshot().virtualServers[0]!;
    expect(vs.services).toEqual(['TCP 10.99.0.100:80', 'TCP 10.99.0.101:80']);
    expect(vs.kernel!.connections).toBe(1000 + 1001);
    expect(vs.realServers[0]!.kernel).toMatchObject({ connections: 2, inBytes: 2000, weight: 1 });
  });

  it('a server missing from the kernel read has no counters, and before any read neither has the service', () => {
    const fake = fakeDaemon(webConfig(2));
    fake.status.kernelRead([]);
    const vs = fake.status.snapshot().virtualServers[0]!;
    expect(vs.kernel).toBeUndefined();
    expect(vs.realServers[0]!.kernel).toBeUndefined();
    expect(formatStatus(fake.status.snapshot())).toContain('kernel counters: the service was not in the kernel at the last read');
  });

  it('formats durations', () => {
    expect([0, 59_999, 60_000, 3_599_000, 3_600_000, 90_000_000].map(formatDuration)).toEqual(['0s', '59s', '1m0s', '59m59s', '1h0m', '1d1h']);
  });
});
