// Run-time overrides in the desired table: drain keeps weight 0, disable removes, a fixed weight
// applies only while healthy; health and quorum go on underneath; reloads keep what still exists.
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { desiredTable } from '../../src/daemon/desired-table.js';
import { applyOverrides, Overrides } from '../../src/daemon/overrides.js';
import { buildPools, type Pools } from '../../src/daemon/pools.js';
import { applyCheckResult } from '../../src/health/pool-update.js';
import { formatRules } from '../../src/ipvs/ipvsadm-rules.js';

const conf = (extra = '') => `virtual_server 10.99.0.100 80 {
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    ${extra}
    real_server 127.0.0.11 8080 {
        weight 2
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server 127.0.0.12 8080 {
        weight 3
        TCP_CHECK {
            connect_timeout 1
        }
    }
}`;

const vsName = 'tcp 10.99.0.100:80';

function setup(extra = '') {
  const { config } = loadConfigText(conf(extra), 'test.conf', { configId: 'lb1' });
  const pools = buildPools(config!);
  const overrides = new Overrides();
  const rules = () => formatRules([...desiredTable(pools.config, (vs) => pools.byVirtualServer.get(vs)!.state, () => overrides.of(vsName)).values()]);
  return { pools, overrides, rules };
}

function fail(pools: Pools, address: string) {
  const id = `${vsName} ${address}:8080 TCP_CHECK`;
  const entry = pools.checkers.get(id)!;
  const probe = { ok: false, reason: 'connection refused', durationMs: 1 };
  return applyCheckResult(entry.pool.servers.get(entry.realServer)!, entry.pool.state, id, entry.state.result(1000, probe), probe);
}

const rule = (n: number, w: number) => `-a -t 10.99.0.100:80 -r 127.0.0.${n}:8080 -m -w ${w}`;

describe('overrides in the desired table', () => {
  it('drain sets weight 0 and enable (clearing) restores the health-checked weight', () => {
    const { overrides, rules } = setup();
    overrides.set(vsName, '127.0.0.11:8080', { kind: 'drain' }, 1);
    expect(rules()).toContain(rule(11, 0));
    expect(rules()).toContain(rule(12, 3));
    overrides.set(vsName, '127.0.0.11:8080', undefined, 2);
    expect(rules()).toContain(rule(11, 2));
    expect(overrides.list()).toEqual([]);
  });

  it('disable takes the server out of the table', () => {
    const { overrides, rules } = setup();
    overrides.set(vsName, '127.0.0.12:8080', { kind: 'disable' }, 1);
    expect(rules().filter((r) => r.includes('127.0.0.12'))).toEqual([]);
    expect(rules()).toContain(rule(11, 2));
  });

  it('a fixed weight applies while healthy; a failed server still leaves the table', () => {
    const { pools, overrides, rules } = setup();
    overrides.set(vsName, '127.0.0.11:8080', { kind: 'weight', weight: 7 }, 1);
    expect(rules()).toContain(rule(11, 7));
    expect(fail(pools, '127.0.0.11').changed).toBe(true);
    expect(rules().filter((r) => r.includes('127.0.0.11'))).toEqual([]);
  });

  it('a drained server that fails is removed like any failed server (health goes on)', () => {
    const { pools, overrides, rules } = setup();
    overrides.set(vsName, '127.0.0.11:8080', { kind: 'drain' }, 1);
    fail(pools, '127.0.0.11');
    expect(rules().filter((r) => r.includes('127.0.0.11'))).toEqual([]);
  });

  it('does not count towards quorum: disabling every server leaves quorum up', () => {
    const { pools, overrides, rules } = setup();
    overrides.set(vsName, '127.0.0.11:8080', { kind: 'disable' }, 1);
    overrides.set(vsName, '127.0.0.12:8080', { kind: 'disable' }, 1);
    expect(rules()).toEqual(['-A -t 10.99.0.100:80 -s wrr']);
    expect(pools.pools[0]!.state.quorumUp).toBe(true);
  });

  it('leaves the sorry server alone while it stands in', () => {
    const decision = { destinations: [{ address: '127.0.0.11', port: 8080, weight: 1 }], sorryActive: true };
    const map = new Map([['127.0.0.11:8080', { virtualServer: vsName, realServer: '127.0.0.11:8080', override: { kind: 'disable' as const }, since: 0 }]]);
    expect(applyOverrides(decision, map, { address: '127.0.0.11', port: 8080 })).toEqual(decision);
    expect(applyOverrides({ ...decision, sorryActive: false }, map, { address: '127.0.0.11', port: 8080 }).destinations).toEqual([]);
  });

  it('retain keeps overrides of servers that still exist and returns the dropped ones', () => {
    const overrides = new Overrides();
    overrides.set(vsName, '127.0.0.11:8080', { kind: 'drain' }, 1);
    overrides.set(vsName, '127.0.0.13:8080', { kind: 'disable' }, 1);
    const dropped = overrides.retain((vs, rs) => vs === vsName && rs !== '127.0.0.13:8080');
    expect(dropped.map((d) => d.realServer)).toEqual(['127.0.0.13:8080']);
    expect(overrides.list().map((d) => d.realServer)).toEqual(['127.0.0.11:8080']);
  });
});
