import { describe, expect, it } from 'vitest';
import { CheckerState } from '../../src/health/checker-state.js';
import { HealthSettingsError } from '../../src/health/errors.js';
import {
  RealServerState,
  clampWeight,
  fileCheckWeightAdjust,
  maxWeight,
  miscDynamicWeightAdjust,
} from '../../src/health/real-server-state.js';

const down = (reason: string, firstRun = false) => ({ up: false, firstRun, reason });
const up = (reason: string, firstRun = false) => ({ up: true, firstRun, reason });

function server(checkers: Array<{ id: string; up: boolean }>, extra: { inhibitOnFailure?: boolean; weight?: number } = {}) {
  return new RealServerState({
    address: '10.99.0.11',
    port: 80,
    weight: extra.weight ?? 1,
    inhibitOnFailure: extra.inhibitOnFailure ?? false,
    checkers,
  });
}

describe('RealServerState', () => {
  it('no checkers: always alive with its weight', () => {
    const rs = server([], { weight: 3 });
    expect(rs.alive).toBe(true);
    expect(rs.desired()).toEqual({ present: true, weight: 3 });
  });

  it('AND of checkers: down on the first failing checker, up when the last failed one recovers', () => {
    const rs = server([
      { id: 'http', up: true },
      { id: 'tcp', up: true },
    ]);
    expect(rs.applyChecker('http', down('HTTP status 503'))).toEqual({
      kind: 'down',
      address: '10.99.0.11',
      port: 80,
      checker: 'http',
      reason: 'HTTP status 503',
      initial: false,
    });
    expect(rs.applyChecker('tcp', down('connection refused'))).toBeUndefined();
    expect(rs.failedCheckers()).toEqual(['http', 'tcp']);
    expect(rs.applyChecker('http', up('HTTP status 200'))).toBeUndefined();
    expect(rs.alive).toBe(false);
    expect(rs.applyChecker('tcp', up('connected'))).toMatchObject({ kind: 'up', checker: 'tcp', reason: 'connected' });
    expect(rs.alive).toBe(true);
  });

  it('a repeated state is no event', () => {
    const rs = server([{ id: 'tcp', up: true }]);
    expect(rs.applyChecker('tcp', up('connected'))).toBeUndefined();
    rs.applyChecker('tcp', down('refused'));
    expect(rs.applyChecker('tcp', down('refused'))).toBeUndefined();
  });

  it('without inhibit a down server leaves the table; with inhibit it stays at weight 0', () => {
    const plain = server([{ id: 'tcp', up: true }], { weight: 5 });
    plain.applyChecker('tcp', down('refused'));
    expect(plain.desired()).toEqual({ present: false, weight: 0 });
    const inhibited = server([{ id: 'tcp', up: true }], { weight: 5, inhibitOnFailure: true });
    expect(inhibited.desired()).toEqual({ present: true, weight: 5 });
    inhibited.applyChecker('tcp', down('refused'));
    expect(inhibited.desired()).toEqual({ present: true, weight: 0 });
    inhibited.applyChecker('tcp', up('connected'));
    expect(inhibited.desired()).toEqual({ present: true, weight: 5 });
  });

  it('alpha: not in the table until the first success; weight 0 with inhibit', () => {
    const alpha = new CheckerState({ delayLoopMs: 1000, connectTimeoutMs: 1000, retry: 1, delayBeforeRetryMs: 1000, alpha: true });
    const rs = server([{ id: 'tcp', up: alpha.up }]);
    expect(rs.alive).toBe(false);
    expect(rs.desired().present).toBe(false);
    expect(server([{ id: 'tcp', up: alpha.up }], { inhibitOnFailure: true }).desired()).toEqual({ present: true, weight: 0 });
    expect(rs.applyChecker('tcp', alpha.result(1000, { ok: true, reason: 'connected', durationMs: 1 }))).toMatchObject({ kind: 'up' });
    expect(rs.desired()).toEqual({ present: true, weight: 1 });
  });

  it("alpha: a first failure is reported once as the server's initial down", () => {
    const rs = server([{ id: 'tcp', up: false }]);
    expect(rs.applyChecker('tcp', down('refused', true))).toMatchObject({ kind: 'down', initial: true });
    expect(rs.applyChecker('tcp', down('refused'))).toBeUndefined();
  });

  it('without alpha the first failure removes the server at once', () => {
    const checker = new CheckerState({ delayLoopMs: 1000, connectTimeoutMs: 1000, retry: 3, delayBeforeRetryMs: 1000, alpha: false });
    const rs = server([{ id: 'tcp', up: checker.up }]);
    expect(rs.desired().present).toBe(true); // added before any check
    const step = checker.result(1500, { ok: false, reason: 'refused', durationMs: 1 });
    expect(rs.applyChecker('tcp', step)).toMatchObject({ kind: 'down', initial: false });
    expect(rs.desired().present).toBe(false);
  });

  it('dynamic weights: configured + sum of adjustments, clamped to [0, INT32_MAX]', () => {
    const rs = server(
      [
        { id: 'misc', up: true },
        { id: 'file', up: true },
      ],
      { weight: 10 },
    );
    expect(rs.setWeightAdjust('misc', miscDynamicWeightAdjust(7, 10))).toBe(true);
    expect(rs.weight).toBe(5); // exit 7 -> weight 5
    expect(rs.setWeightAdjust('misc', miscDynamicWeightAdjust(7, 10))).toBe(false);
    rs.setWeightAdjust('file', fileCheckWeightAdjust(3, 4, false));
    expect(rs.weight).toBe(17);
    rs.setWeightAdjust('file', fileCheckWeightAdjust(3, 4, true));
    expect(rs.weight).toBe(0); // 5 - 12 clamps at 0
    rs.setWeightAdjust('file', maxWeight);
    expect(rs.weight).toBe(maxWeight);
    expect(rs.desired()).toEqual({ present: true, weight: maxWeight });
  });

  it('a dynamic weight survives a down period and applies when the server is back', () => {
    const rs = server([{ id: 'misc', up: true }], { weight: 1 });
    rs.setWeightAdjust('misc', 4);
    rs.applyChecker('misc', down('exit 1'));
    expect(rs.desired()).toEqual({ present: false, weight: 0 });
    rs.applyChecker('misc', up('exit 0'));
    expect(rs.desired()).toEqual({ present: true, weight: 5 });
  });

  it('clampWeight', () => {
    expect(clampWeight(-3)).toBe(0);
    expect(clampWeight(2 ** 40)).toBe(maxWeight);
    expect(clampWeight(42)).toBe(42);
  });

  it('rejects unknown checkers, duplicate checkers and bad weights', () => {
    const rs = server([{ id: 'tcp', up: true }]);
    expect(() => rs.applyChecker('nope', down('x'))).toThrow(HealthSettingsError);
    expect(() => rs.setWeightAdjust('nope', 1)).toThrow(HealthSettingsError);
    expect(() => rs.setWeightAdjust('tcp', Number.POSITIVE_INFINITY)).toThrow(/finite/);
    expect(() => server([{ id: 'a', up: true }, { id: 'a', up: true }])).toThrow(/twice/);
    expect(() => server([], { weight: -1 })).toThrow(/weight/);
  });
});
