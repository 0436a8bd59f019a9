// Dynamic weights across a reload: the weight the last MISC_CHECK (misc_dynamic) or FILE_CHECK
// set stays after a reload that leaves the real server and its checker unchanged, and is dropped
// when what it was computed from changed.
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { applyReport, buildPools, type CheckerEntry, type Pools } from '../../src/daemon/pools.js';
import { fileCheckWeightAdjust, miscDynamicWeightAdjust } from '../../src/health/real-server-state.js';
import type { CheckReport } from '../../src/health/scheduler.js';
import type { ProbeResult } from '../../src/health/probe.js';

function conf(opts: { weight?: number; miscPath?: string; second?: boolean } = {}): string {
  return `global_defs {
    enable_script_security
    script_user root
}
track_file load {
    file /run/ipvsd-test/load
    weight 1
}
virtual_server 10.99.0.100 80 {
    delay_loop 5
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 10.99.1.1 8080 {
        weight ${opts.weight ?? 10}
        MISC_CHECK {
            misc_path "${opts.miscPath ?? '/usr/local/bin/load-of 10.99.1.1'}"
            misc_dynamic
        }
    }
    real_server 10.99.1.2 8080 {
        weight 10
        FILE_CHECK {
            track_file load
            weight 3
        }
    }${opts.second ? `
    real_server 10.99.1.3 8080 {
        weight 4
    }` : ''}
}
`;
}

function pools(text: string, previous?: Pools): Pools {
  const { config, diagnostics } = loadConfigText(text, 'test.conf', { configId: 'lb1' });
  expect(config, diagnostics.map((d) => d.message).join('\n')).toBeDefined();
  return buildPools(config!, previous);
}

function entry(p: Pools, type: string): CheckerEntry {
  return [...p.checkers.values()].find((c) => c.checker.type === type)!;
}

function report(e: CheckerEntry, probe: ProbeResult): CheckReport {
  const step = e.state.result(1000, probe);
  return { checkerId: e.id, probeKey: 'k', step, probe, latenessMs: 0, sharedBy: 1 };
}

function weights(p: Pools): Record<string, number> {
  const pool = p.pools[0]!;
  return Object.fromEntries([...pool.servers].map(([rs, s]) => [`${rs.address}:${rs.port}`, s.desired().weight]));
}

function destinationWeights(p: Pools): Record<string, number> {
  return Object.fromEntries(p.pools[0]!.state.destinations().map((d) => [`${d.address}:${d.port}`, d.weight]));
}

/** Exit 7 under misc_dynamic: weight 5; the track file holds 4, times the checker's weight 3: +12. */
function checked(p: Pools): Pools {
  const misc = entry(p, 'MISC_CHECK');
  const file = entry(p, 'FILE_CHECK');
  expect(applyReport(misc, report(misc, { ok: true, reason: 'exit 7: weight 5', durationMs: 3, weightAdjust: miscDynamicWeightAdjust(7, 10) })).changed).toBe(true);
  expect(applyReport(file, report(file, { ok: true, reason: 'value 4, weight +12', durationMs: 0, weightAdjust: fileCheckWeightAdjust(4, 3, false) })).changed).toBe(true);
  return p;
}

describe('dynamic weights across a reload', () => {
  it('keep the weight the last check set when the configuration is unchanged', () => {
    const before = checked(pools(conf()));
    expect(weights(before)).toEqual({ '10.99.1.1:8080': 5, '10.99.1.2:8080': 22 });
    const after = pools(conf(), before);
    expect(weights(after)).toEqual({ '10.99.1.1:8080': 5, '10.99.1.2:8080': 22 });
    expect(destinationWeights(after)).toEqual({ '10.99.1.1:8080': 5, '10.99.1.2:8080': 22 });
    expect(entry(after, 'MISC_CHECK').weightAdjust).toBe(-5);
    expect(entry(after, 'FILE_CHECK').weightAdjust).toBe(12);
  });

  it('survive a second reload and a reload that only adds another real server', () => {
    const first = pools(conf(), checked(pools(conf())));
    const second = pools(conf({ second: true }), first);
    expect(weights(second)).toEqual({ '10.99.1.1:8080': 5, '10.99.1.2:8080': 22, '10.99.1.3:8080': 4 });
  });

  it('a failed check after the weight was set leaves it, as before the reload', () => {
    const p = checked(pools(conf()));
    const misc = entry(p, 'MISC_CHECK');
    applyReport(misc, report(misc, { ok: false, reason: 'exit 1', durationMs: 3 }));
    const after = pools(conf(), p);
    expect(entry(after, 'MISC_CHECK').weightAdjust).toBe(-5);
    // Down now, so out of the table; the weight comes back with it.
    expect(after.pools[0]!.servers.get(after.pools[0]!.virtualServer.realServers[0]!)!.weight).toBe(5);
  });

  it('start from the configured weight when the real server weight changed (misc_dynamic is relative to it)', () => {
    const after = pools(conf({ weight: 20 }), checked(pools(conf())));
    expect(weights(after)).toEqual({ '10.99.1.1:8080': 20, '10.99.1.2:8080': 22 });
    expect(entry(after, 'MISC_CHECK').weightAdjust).toBeUndefined();
  });

  it('start from the configured weight when the checker itself changed', () => {
    const after = pools(conf({ miscPath: '/usr/local/bin/other-load 10.99.1.1' }), checked(pools(conf())));
    expect(weights(after)['10.99.1.1:8080']).toBe(10);
  });

  it('a check that reports no weight leaves none to carry', () => {
    const p = pools(conf());
    const misc = entry(p, 'MISC_CHECK');
    applyReport(misc, report(misc, { ok: true, reason: 'exit 0', durationMs: 3 }));
    expect(entry(pools(conf(), p), 'MISC_CHECK').weightAdjust).toBeUndefined();
  });
});

describe('quorum across a reload', () => {
  // Three servers of weight 1, quorum 2, hysteresis 1: up needs W >= 3 at start, stays up while W >= 1.
  const text = `virtual_server 10.99.0.100 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum 2
    hysteresis 1
${[1, 2, 3].map((n) => `    real_server 10.99.1.${n} 8080 {\n        weight 1\n        TCP_CHECK {\n        }\n    }\n`).join('')}}
`;

  it('keeps quorum up for a pool inside the hysteresis band, where a fresh start would call it down', () => {
    const before = pools(text);
    const pool = before.pools[0]!;
    expect(pool.state.quorumUp).toBe(true);
    const first = [...before.checkers.values()][0]!;
    // One server down: W = 2, inside the band [1, 3).
    applyReport(first, report(first, { ok: false, reason: 'refused', durationMs: 1 }));
    applyReport(first, report(first, { ok: false, reason: 'refused', durationMs: 1 }));
    expect(pool.servers.get(first.realServer)!.alive).toBe(false);
    expect(pool.state.quorumUp).toBe(true);
    const after = pools(text, before);
    expect(after.pools[0]!.state.quorumUp).toBe(true);
    expect(after.initialQuorum).toEqual([]);
  });
});
