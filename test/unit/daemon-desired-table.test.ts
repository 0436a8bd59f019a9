// The daemon's desired table from configs and health states: alpha, inhibit, quorum, sorry server.
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import type { KeepalivedConfig } from '../../src/config/model.js';
import { planTable } from '../../src/config/plan.js';
import { desiredTable } from '../../src/daemon/desired-table.js';
import { buildPools, type Pools } from '../../src/daemon/pools.js';
import { applyCheckResult } from '../../src/health/pool-update.js';
import { formatRules } from '../../src/ipvs/ipvsadm-rules.js';

function load(text: string): KeepalivedConfig {
  const { config, diagnostics } = loadConfigText(text, 'test.conf', { configId: 'lb1' });
  expect(diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return config!;
}

const rules = (pools: Pools): string[] => formatRules([...desiredTable(pools.config, (vs) => pools.byVirtualServer.get(vs)!.state).values()]);

/** Feeds one probe result to the checker `id`, as the scheduler's onResult would. */
function check(pools: Pools, id: string, ok: boolean, at = 1000) {
  const entry = pools.checkers.get(id);
  if (!entry) throw new Error(`no checker ${id}; have ${[...pools.checkers.keys()].join(', ')}`);
  const probe = { ok, reason: ok ? 'connected' : 'connection refused', durationMs: 1 };
  const pool = entry.pool;
  return applyCheckResult(pool.servers.get(entry.realServer)!, pool.state, id, entry.state.result(at, probe), probe);
}

const rs = (address: string, extra = '') => `
    real_server ${address} 8080 {
        weight 2
        ${extra}
        TCP_CHECK {
            connect_timeout 1
        }
    }`;

const web = (body: string, options = '') => `
virtual_server 10.99.0.100 80 {
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    ${options}
    ${body}
}`;

const id = (address: string) => `tcp 10.99.0.100:80 ${address}:8080 TCP_CHECK`;

describe('desired table', () => {
  it('without alpha starts with every real server in, as --plan shows', () => {
    const config = load(web(rs('127.0.0.11') + rs('127.0.0.12')));
    const pools = buildPools(config);
    expect(rules(pools)).toEqual(formatRules(planTable(config)));
    expect(rules(pools)).toContain('-a -t 10.99.0.100:80 -r 127.0.0.11:8080 -m -w 2');
  });

  it('removes a failed real server and puts it back when it heals', () => {
    const pools = buildPools(load(web(rs('127.0.0.11') + rs('127.0.0.12'))));
    const down = check(pools, id('127.0.0.11'), false);
    expect(down.changed).toBe(true);
    expect(down.server).toMatchObject({ kind: 'down', address: '127.0.0.11' });
    expect(rules(pools)).toEqual(['-A -t 10.99.0.100:80 -s wrr', '-a -t 10.99.0.100:80 -r 127.0.0.12:8080 -m -w 2']);
    expect(check(pools, id('127.0.0.11'), true, 2000).changed).toBe(true);
    expect(rules(pools)).toHaveLength(3);
  });

  it('keeps an inhibited failed server with weight 0', () => {
    const pools = buildPools(load(web(rs('127.0.0.11', 'inhibit_on_failure') + rs('127.0.0.12'))));
    check(pools, id('127.0.0.11'), false);
    expect(rules(pools)).toContain('-a -t 10.99.0.100:80 -r 127.0.0.11:8080 -m -w 0');
  });

  it('with alpha keeps servers out until their first success (inhibited ones at weight 0)', () => {
    const pools = buildPools(load(web(rs('127.0.0.11') + rs('127.0.0.12', 'inhibit_on_failure'), 'alpha')));
    expect(rules(pools)).toEqual(['-A -t 10.99.0.100:80 -s wrr', '-a -t 10.99.0.100:80 -r 127.0.0.12:8080 -m -w 0']);
    check(pools, id('127.0.0.11'), true);
    check(pools, id('127.0.0.12'), true);
    expect(rules(pools)).toEqual([
      '-A -t 10.99.0.100:80 -s wrr',
      '-a -t 10.99.0.100:80 -r 127.0.0.11:8080 -m -w 2',
      '-a -t 10.99.0.100:80 -r 127.0.0.12:8080 -m -w 2',
    ]);
  });

  it('below quorum swaps the real servers for the sorry server, and back', () => {
    const pools = buildPools(
      load(web(rs('127.0.0.11') + rs('127.0.0.12', 'inhibit_on_failure'), 'quorum 3\n    sorry_server 127.0.0.99 8080')),
    );
    expect(rules(pools)).toHaveLength(3);
    const update = check(pools, id('127.0.0.11'), false);
    expect(update.quorum).toMatchObject({ kind: 'quorum_down', weight: 2, threshold: 3 });
    expect(rules(pools)).toEqual([
      '-A -t 10.99.0.100:80 -s wrr',
      '-a -t 10.99.0.100:80 -r 127.0.0.12:8080 -m -w 0',
      '-a -t 10.99.0.100:80 -r 127.0.0.99:8080 -m -w 1',
    ]);
    expect(check(pools, id('127.0.0.11'), true, 2000).quorum).toMatchObject({ kind: 'quorum_up' });
    expect(rules(pools)).toHaveLength(3);
    expect(rules(pools).join('\n')).not.toContain('127.0.0.99');
  });

  it('starts on the sorry server when alpha leaves quorum down, and keeps an inhibited sorry server at weight 0', () => {
    const down = buildPools(load(web(rs('127.0.0.11'), 'alpha\n    sorry_server 127.0.0.99 8080')));
    expect(down.initialQuorum.map((q) => q.event.kind)).toEqual(['quorum_down']);
    expect(rules(down)).toEqual(['-A -t 10.99.0.100:80 -s wrr', '-a -t 10.99.0.100:80 -r 127.0.0.99:8080 -m -w 1']);
    const idle = buildPools(load(web(rs('127.0.0.11'), 'sorry_server 127.0.0.99 8080\n    sorry_server_inhibit')));
    expect(rules(idle)).toContain('-a -t 10.99.0.100:80 -r 127.0.0.99:8080 -m -w 0');
  });

  it('lays out every address of a group, DR destinations taking the service port', () => {
    const config = load(`
virtual_server_group web {
    10.99.0.1-2 80
}
virtual_server group web {
    lb_algo rr
    lb_kind DR
    protocol TCP
    real_server 10.99.1.1 8080 {
        TCP_CHECK {
            connect_port 80
        }
    }
}`);
    const pools = buildPools(config);
    check(pools, 'group web tcp 10.99.1.1:8080 TCP_CHECK', false);
    expect(rules(pools)).toEqual(['-A -t 10.99.0.1:80 -s rr', '-A -t 10.99.0.2:80 -s rr']);
    check(pools, 'group web tcp 10.99.1.1:8080 TCP_CHECK', true, 2000);
    expect(rules(pools)).toEqual([
      '-A -t 10.99.0.1:80 -s rr',
      '-A -t 10.99.0.2:80 -s rr',
      '-a -t 10.99.0.1:80 -r 10.99.1.1:80 -g -w 1',
      '-a -t 10.99.0.2:80 -r 10.99.1.1:80 -g -w 1',
    ]);
  });
});

describe('buildPools on reload', () => {
  it('carries over the state of unchanged checkers only', () => {
    const before = buildPools(load(web(rs('127.0.0.11') + rs('127.0.0.12'))));
    check(before, id('127.0.0.11'), false);
    check(before, id('127.0.0.12'), false);
    // .11 unchanged, .12's check now has another port, .13 is new.
    const after = buildPools(
      load(web(rs('127.0.0.11') + rs('127.0.0.12').replace('connect_timeout 1', 'connect_timeout 1\n            connect_port 9') + rs('127.0.0.13'))),
      before,
    );
    expect(after.checkers.get(id('127.0.0.11'))!.state.up).toBe(false);
    expect(after.checkers.get(id('127.0.0.12'))!.state.hasRun).toBe(false);
    expect(rules(after)).toEqual([
      '-A -t 10.99.0.100:80 -s wrr',
      '-a -t 10.99.0.100:80 -r 127.0.0.12:8080 -m -w 2',
      '-a -t 10.99.0.100:80 -r 127.0.0.13:8080 -m -w 2',
    ]);
  });

  it('carries state over a change of timing, with the new timing', () => {
    const before = buildPools(load(web(rs('127.0.0.11'))));
    check(before, id('127.0.0.11'), false);
    const after = buildPools(load(web(rs('127.0.0.11')).replace('delay_loop 1', 'delay_loop 3')), before);
    const state = after.checkers.get(id('127.0.0.11'))!.state;
    expect(state.up).toBe(false);
    expect(state.settings.delayLoopMs).toBe(3000);
    expect(rules(after)).toEqual(['-A -t 10.99.0.100:80 -s wrr']);
  });

  it('names two checkers of one type apart, and a server without checkers is always in', () => {
    const pools = buildPools(
      load(web(`real_server 127.0.0.11 8080 {
        TCP_CHECK {
            connect_port 80
        }
        TCP_CHECK {
            connect_port 81
        }
    }
    real_server 127.0.0.12 8080 {
    }`)),
    );
    expect([...pools.checkers.keys()]).toEqual([`${id('127.0.0.11')}#1`, `${id('127.0.0.11')}#2`]);
    check(pools, `${id('127.0.0.11')}#2`, false);
    expect(rules(pools)).toEqual(['-A -t 10.99.0.100:80 -s wrr', '-a -t 10.99.0.100:80 -r 127.0.0.12:8080 -m -w 1']);
  });
});
