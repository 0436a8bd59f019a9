// The opt-in health keywords beyond keepalived (rise, fall, fast_fail): read in any checker,
// real_server or virtual_server block and inherited like retry, warned about as ipvsd-only,
// rejected when malformed, and mapped into CheckerSettings.
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import type { Checker } from '../../src/config/model.js';
import { checkerSettings } from '../../src/daemon/pools.js';
import { CheckerState } from '../../src/health/checker-state.js';

function load(checkerBody: string, type = 'TCP_CHECK') {
  const text = `virtual_server 10.0.0.1 80 {
    delay_loop 2
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.0.0.11 80 {
        ${type} {
            ${checkerBody}
        }
    }
}
`;
  return loadConfigText(text, 'inline.conf', { configId: 'test', env: {} });
}

function checkerOf(result: ReturnType<typeof load>): Checker {
  const c = result.config!.virtualServers[0]!.realServers[0]!.checkers[0];
  expect(c).toBeDefined();
  return c!;
}

const refused = { ok: false, reason: 'connection refused', durationMs: 1, hard: true };
const timedOut = { ok: false, reason: 'timed out', durationMs: 1000, hard: false };
const ok = { ok: true, reason: 'connected', durationMs: 1 };

describe('rise, fall and fast_fail in a checker', () => {
  it('reads them, warns that keepalived would reject the file, and maps them into the settings', () => {
    const result = load('retry 5\n rise 3\n fall 2\n fast_fail');
    expect(result.diagnostics.map((d) => `${d.pos.line}:${d.pos.column}: ${d.severity}: ${d.message}`)).toEqual([
      '9:2: warning: `rise` is an ipvsd extension: `keepalived -t` rejects it and keepalived would ignore it',
      '10:2: warning: `fall` is an ipvsd extension: `keepalived -t` rejects it and keepalived would ignore it',
      '11:2: warning: `fast_fail` is an ipvsd extension: `keepalived -t` rejects it and keepalived would ignore it',
    ]);
    const checker = checkerOf(result);
    expect(checker).toMatchObject({ rise: 3, fall: 2, fastFail: true, retry: 5 });
    const vs = result.config!.virtualServers[0]!;
    expect(checkerSettings(checker, vs)).toMatchObject({ rise: 3, fall: 2, fastFail: true, retry: 5, delayLoopMs: 2000 });
  });

  it('leaves a keepalived-only checker without them and without warnings', () => {
    const result = load('connect_timeout 1');
    expect(result.diagnostics).toEqual([]);
    const checker = checkerOf(result);
    expect(checker).not.toHaveProperty('rise');
    expect(checker).not.toHaveProperty('fall');
    expect(checker).not.toHaveProperty('fastFail');
    const settings = checkerSettings(checker, result.config!.virtualServers[0]!);
    expect(settings).toMatchObject({ rise: undefined, fall: undefined, fastFail: false });
  });

  it('accepts fast_fail off and the keywords in HTTP_GET and MISC_CHECK', () => {
    expect(checkerOf(load('fast_fail off'))).toMatchObject({ fastFail: false });
    const http = load('url {\n path /health\n }\n fall 4\n fast_fail yes', 'HTTP_GET');
    expect(http.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(checkerOf(http)).toMatchObject({ type: 'HTTP_GET', fall: 4, fastFail: true });
    const misc = load('misc_path "/bin/true"\n rise 2', 'MISC_CHECK');
    expect(checkerOf(misc)).toMatchObject({ type: 'MISC_CHECK', rise: 2 });
    expect(checkerSettings(checkerOf(misc), misc.config!.virtualServers[0]!)).toMatchObject({ rise: 2, measureFromStart: true });
  });

  it.each([
    ['rise 0', '`rise` must be between 1 and 1000, not 0'],
    ['fall x', '`fall` must be an integer, not `x`'],
    ['fast_fail maybe', '`fast_fail` takes on/off, true/false or yes/no, not `maybe`'],
  ])('rejects `%s`', (line, message) => {
    const errors = load(line).diagnostics.filter((d) => d.severity === 'error').map((d) => d.message);
    expect(errors).toEqual([message]);
  });

  it('drives the checker state: fast_fail drops on a refusal, not on a timeout; fall counts', () => {
    const vs = (r: ReturnType<typeof load>) => r.config!.virtualServers[0]!;
    const fast = load('retry 2\n fast_fail');
    const state = new CheckerState(checkerSettings(checkerOf(fast), vs(fast)));
    expect(state.result(0, ok).up).toBe(true);
    expect(state.result(10, timedOut).up).toBe(true);
    expect(state.result(20, refused).transition).toBe('down');

    const counted = load('fall 3\n rise 2');
    const s = new CheckerState(checkerSettings(checkerOf(counted), vs(counted)));
    s.result(0, ok);
    expect([s.result(1, timedOut).up, s.result(2, timedOut).up, s.result(3, timedOut).up]).toEqual([true, true, false]);
    expect([s.result(4, ok).up, s.result(5, ok).up]).toEqual([false, true]);
  });

  it('is a schedule setting: changing it on reload keeps the checker state', async () => {
    const { buildPools } = await import('../../src/daemon/pools.js');
    const before = buildPools(load('connect_timeout 1').config!);
    const entry = [...before.checkers.values()][0]!;
    entry.state.result(0, refused);
    const after = buildPools(load('connect_timeout 1\n fall 2\n fast_fail').config!, before);
    const carried = [...after.checkers.values()][0]!.state;
    expect(carried.hasRun).toBe(true);
    expect(carried.up).toBe(false);
    expect(carried.settings).toMatchObject({ fall: 2, fastFail: true });
  });
});

describe('rise, fall and fast_fail in real_server and virtual_server', () => {
  function loadScoped(vsLines: string, rsLines: string, second = 'TCP_CHECK {\n connect_timeout 1\n }') {
    const text = `virtual_server 10.0.0.1 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
${vsLines}
    real_server 10.0.0.11 80 {
${rsLines}
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server 10.0.0.12 80 {
        ${second}
    }
}
`;
    return loadConfigText(text, 'scoped.conf', { configId: 'test', env: {} });
  }
  const located = (r: ReturnType<typeof loadScoped>) => r.diagnostics.map((d) => `${d.pos.file}:${d.pos.line}:${d.pos.column}: ${d.severity}: ${d.message}`);
  const checkers = (r: ReturnType<typeof loadScoped>) => r.config!.virtualServers[0]!.realServers.map((rs) => rs.checkers[0]!);

  it('inherits them virtual server -> real server -> checker, each line warned once', () => {
    const result = loadScoped('    rise 4\n    fall 3\n    fast_fail', '        fall 2\n        fast_fail off');
    expect(located(result)).toEqual([
      'scoped.conf:5:5: warning: `rise` is an ipvsd extension: `keepalived -t` rejects it and keepalived would ignore it',
      'scoped.conf:6:5: warning: `fall` is an ipvsd extension: `keepalived -t` rejects it and keepalived would ignore it',
      'scoped.conf:7:5: warning: `fast_fail` is an ipvsd extension: `keepalived -t` rejects it and keepalived would ignore it',
      'scoped.conf:9:9: warning: `fall` is an ipvsd extension: `keepalived -t` rejects it and keepalived would ignore it',
      'scoped.conf:10:9: warning: `fast_fail` is an ipvsd extension: `keepalived -t` rejects it and keepalived would ignore it',
    ]);
    const [first, second] = checkers(result);
    expect(first).toMatchObject({ rise: 4, fall: 2, fastFail: false });
    expect(second).toMatchObject({ rise: 4, fall: 3, fastFail: true });
    const vs = result.config!.virtualServers[0]!;
    expect(checkerSettings(second!, vs)).toMatchObject({ rise: 4, fall: 3, fastFail: true });
  });

  it('lets the checker override what it inherits, and leaves unset ones absent', () => {
    const result = loadScoped('    fall 3', '', 'TCP_CHECK {\n fall 5\n rise 2\n }');
    const [first, second] = checkers(result);
    expect(first).toMatchObject({ fall: 3 });
    expect(first).not.toHaveProperty('rise');
    expect(first).not.toHaveProperty('fastFail');
    expect(second).toMatchObject({ fall: 5, rise: 2 });
  });

  it.each([
    ['    rise 0', '', 'scoped.conf:5:10: error: `rise` must be between 1 and 1000, not 0'],
    ['', '        fall many', 'scoped.conf:7:14: error: `fall` must be an integer, not `many`'],
    ['', '        fall', 'scoped.conf:7:9: error: `fall` needs 1 argument'],
    ['    fast_fail sometimes', '', 'scoped.conf:5:15: error: `fast_fail` takes on/off, true/false or yes/no, not `sometimes`'],
  ])('rejects `%s%s` with its position', (vsLines, rsLines, message) => {
    const result = loadScoped(vsLines || '', rsLines || '');
    expect(result.config).toBeUndefined();
    expect(located(result).filter((d) => d.includes('error'))).toEqual([message]);
  });
});
