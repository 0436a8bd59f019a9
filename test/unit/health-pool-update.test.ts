import { describe, expect, it } from 'vitest';
import { CheckerState } from '../../src/health/checker-state.js';
import { applyCheckResult } from '../../src/health/pool-update.js';
import { RealServerState, miscDynamicWeightAdjust } from '../../src/health/real-server-state.js';
import { VirtualServerState } from '../../src/health/virtual-server-state.js';

const settings = { delayLoopMs: 1000, connectTimeoutMs: 1000, retry: 0, delayBeforeRetryMs: 1000, alpha: false };

function setup() {
  const checkers = [new CheckerState(settings), new CheckerState(settings)];
  const servers = checkers.map(
    (c, i) => new RealServerState({ address: `10.99.0.${11 + i}`, port: 80, weight: 2, inhibitOnFailure: false, checkers: [{ id: `c${i}`, up: c.up }] }),
  );
  const service = new VirtualServerState({ quorum: 3, hysteresis: 0, sorryServer: { address: '10.99.0.99', port: 80, weight: 1, inhibit: false } }, servers);
  service.start();
  return { checkers, servers, service };
}

describe('applyCheckResult', () => {
  it('a failure takes the server down and the service below quorum', () => {
    const { checkers, servers, service } = setup();
    const probe = { ok: false, reason: 'connection refused', durationMs: 1 };
    const update = applyCheckResult(servers[0]!, service, 'c0', checkers[0]!.result(1000, probe), probe);
    expect(update.server).toMatchObject({ kind: 'down', checker: 'c0', reason: 'connection refused' });
    expect(update.quorum).toMatchObject({ kind: 'quorum_down', weight: 2, threshold: 3 });
    expect(update.changed).toBe(true);
    expect(service.destinations()).toEqual([{ address: '10.99.0.99', port: 80, weight: 1 }]);
  });

  it('a success with a dynamic weight changes the weight and re-evaluates quorum', () => {
    const { checkers, servers, service } = setup();
    const probe = { ok: true, reason: 'exit 3', durationMs: 5, weightAdjust: miscDynamicWeightAdjust(3, 2) };
    const update = applyCheckResult(servers[1]!, service, 'c1', checkers[1]!.result(1000, probe), probe);
    expect(update.server).toBeUndefined();
    expect(update.changed).toBe(true);
    expect(servers[1]!.weight).toBe(1);
    expect(update.quorum).toBeUndefined(); // W = 3, still >= quorum
    expect(service.destinations().map((d) => d.weight)).toEqual([2, 1]);
  });

  it('a failed run does not apply its weight; nothing changed is reported as such', () => {
    const { checkers, servers, service } = setup();
    const good = { ok: true, reason: 'connected', durationMs: 1 };
    expect(applyCheckResult(servers[0]!, service, 'c0', checkers[0]!.result(1000, good), good)).toEqual({
      server: undefined,
      quorum: undefined,
      changed: false,
    });
    const failed = { ok: false, reason: 'exit 1', durationMs: 1, weightAdjust: 40 };
    applyCheckResult(servers[0]!, service, 'c0', checkers[0]!.result(2000, failed), failed);
    expect(servers[0]!.weight).toBe(2);
  });
});
