// The status model: one snapshot from pools, desired table, overrides, kernel read and events,
// and what it keeps per configuration (names, check records, times in state) across reloads.
import { describe, expect, it } from 'vitest';
import { formatDuration, formatStatus } from '../../src/api/status-table.js';
import { loadConfigText } from '../../src/config/load.js';
import { desiredTable } from '../../src/daemon/desired-table.js';
import { Overrides } from '../../src/daemon/overrides.js';
import { buildPools, type Pools } from '../../src/daemon/pools.js';
import { StatusModel } from '../../src/daemon/status.js';
import { fakeDaemon, kernelOf, webConfig } from './api-status-source.js';

/** A status model over pools that a test replaces, as a reload does. */
function reloadable(text: string, now: () => number) {
  const build = (t: string, previous?: Pools) => buildPools(loadConfigText(t, 'keepalived.conf', { configId: 'lb1' }).config!, previous);
  let pools = build(text);
  const overrides = new Overrides();
  const status = new StatusModel({ version: '0.1.0', configPath: 'keepalived.conf', now });
  status.attach({
    pools: () => pools,
    desired: () => desiredTable(pools.config, (vs) => pools.byVirtualServer.get(vs)!.state, () => undefined),
    overrides: () => overrides,
    vrrpInstances: () => [],
    vrrpSyncGroups: () => [],
    logLevel: () => 'info',
  });
  return { status, swap: (t: string) => (pools = build(t, pools)) };
}

const servers = (s: ReturnType<StatusModel['snapshot']>) =>
  Object.fromEntries(s.virtualServers[0]!.realServers.map((rs) => [rs.name, { since: rs.since, failures: rs.checkers[0]?.consecutiveFailures, last: rs.checkers[0]?.last?.reason }]));

/** One group virtual server over two services, for the group-sum tests. */
const groupWebConfig = `virtual_server_group web {
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
    const fake = fakeDaemon(groupWebConfig);
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

  it('a reload: new servers start their time in state at the reload, a checker gone and back starts afresh', () => {
    let now = 1000;
    const text = (addresses: string[]) =>
      `virtual_server 10.99.0.100 80 {\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n${addresses.map((a) => `    real_server ${a} 8080 {\n        TCP_CHECK {\n        }\n    }\n`).join('')}}\n`;
    const before = ['10.1.0.1', '10.1.0.2'];
    const after = ['10.2.0.1', '10.1.0.2', '10.1.0.3'];
    const { status, swap } = reloadable(text(before), () => now);
    now = 2000;
    status.checkResult('tcp 10.99.0.100:80 10.1.0.1:8080 TCP_CHECK', 'TCP_CHECK', { ok: false, reason: 'refused', durationMs: 1 }, 3);
    expect(servers(status.snapshot())['10.1.0.1:8080']).toEqual({ since: 1000, failures: 3, last: 'refused' });
    now = 3000;
    status.realServerChanged('tcp 10.99.0.100:80', '10.1.0.1:8080');
    expect(servers(status.snapshot())['10.1.0.1:8080']!.since).toBe(3000);

    // The daemon swaps the pools, then (after the kernel is updated) says reloaded: a snapshot can come between.
    now = 4000;
    swap(text(after));
    expect(servers(status.snapshot())).toEqual({
      '10.2.0.1:8080': { since: 1000, failures: 0, last: undefined },
      '10.1.0.2:8080': { since: 1000, failures: 0, last: undefined },
      '10.1.0.3:8080': { since: 1000, failures: 0, last: undefined },
    });
    now = 4500;
    status.realServerChanged('tcp 10.99.0.100:80', '10.2.0.1:8080');
    expect(servers(status.snapshot())['10.2.0.1:8080']!.since).toBe(4500);
    now = 5000;
    status.reloaded(true);
    expect(servers(status.snapshot())).toEqual({
      '10.2.0.1:8080': { since: 4500, failures: 0, last: undefined },
      '10.1.0.2:8080': { since: 1000, failures: 0, last: undefined },
      '10.1.0.3:8080': { since: 5000, failures: 0, last: undefined },
    });
    now = 5500;
    status.realServerChanged('tcp 10.99.0.100:80', '10.1.0.3:8080');
    expect(servers(status.snapshot())['10.1.0.3:8080']!.since).toBe(5500);

    now = 6000;
    swap(text(before));
    status.reloaded(true);
    expect(servers(status.snapshot())['10.1.0.1:8080']).toEqual({ since: 6000, failures: 0, last: undefined });
    status.checkResult('tcp 10.99.0.100:80 10.1.0.1:8080 TCP_CHECK', 'TCP_CHECK', { ok: false, reason: 'timeout', durationMs: 1 }, 1);
    expect(servers(status.snapshot())['10.1.0.1:8080']).toEqual({ since: 6000, failures: 1, last: 'timeout' });
  });

  it('snapshots share nothing a later snapshot changes: group sums are new each time', () => {
    const fake = fakeDaemon(groupWebConfig);
    fake.status.kernelRead(kernelOf(fake.desired()));
    const first = fake.status.snapshot();
    fake.status.snapshot();
    const third = fake.status.snapshot();
    for (const s of [first, third]) {
      expect(s.virtualServers[0]!.kernel).toMatchObject({ connections: 2001, rates: { connections: 2 } });
      expect(s.virtualServers[0]!.realServers[0]!.kernel).toMatchObject({ connections: 2, activeConnections: 0, rates: { inBytes: 8 } });
    }
  });

  it('formats durations', () => {
    expect([0, 59_999, 60_000, 3_599_000, 3_600_000, 90_000_000].map(formatDuration)).toEqual(['0s', '59s', '1m0s', '59m59s', '1h0m', '1d1h']);
  });
});
