import { describe, expect, it } from 'vitest';
import { HealthSettingsError } from '../../src/health/errors.js';
import { RealServerState } from '../../src/health/real-server-state.js';
import { VirtualServerState, clampQuorum, type VirtualServerSettings } from '../../src/health/virtual-server-state.js';

function pool(weights: number[], options: { inhibit?: boolean; alpha?: boolean } = {}): RealServerState[] {
  return weights.map(
    (weight, i) =>
      new RealServerState({
        address: `10.99.0.${11 + i}`,
        port: 80,
        weight,
        inhibitOnFailure: options.inhibit ?? false,
        checkers: [{ id: 'tcp', up: !(options.alpha ?? false) }],
      }),
  );
}

const fail = (rs: RealServerState) => rs.applyChecker('tcp', { up: false, firstRun: false, reason: 'refused' });
const heal = (rs: RealServerState) => rs.applyChecker('tcp', { up: true, firstRun: false, reason: 'connected' });

const sorry = { address: '10.99.0.99', port: 8080, weight: 1, inhibit: false };

function vs(settings: VirtualServerSettings, members: RealServerState[]) {
  const v = new VirtualServerState(settings, members);
  return { v, start: v.start() };
}

describe('VirtualServerState: quorum', () => {
  it('W is the sum of effective weights of alive real servers', () => {
    const rs = pool([2, 3, 5]);
    const { v } = vs({ quorum: 1, hysteresis: 0 }, rs);
    expect(v.liveWeight()).toBe(10);
    fail(rs[1]!);
    expect(v.liveWeight()).toBe(7);
    rs[0]!.setWeightAdjust('tcp', -2);
    expect(v.liveWeight()).toBe(5);
  });

  it('memberChanged moves W by one member\'s share without re-reading the pool', () => {
    const rs = pool([1, 1, 1]);
    const { v } = vs({ quorum: 2, hysteresis: 0 }, rs);
    fail(rs[0]!);
    expect(v.memberChanged(1, 0)).toBeUndefined(); // W = 2
    fail(rs[1]!);
    expect(v.memberChanged(1, 0)).toEqual({ kind: 'quorum_down', weight: 1, threshold: 2, initial: false });
    heal(rs[0]!);
    expect(v.memberChanged(0, 1)).toEqual({ kind: 'quorum_up', weight: 2, threshold: 2, initial: false });
    expect(v.liveWeight()).toBe(2);
  });

  it('starts up when W >= quorum + hysteresis, else reports an initial quorum_down', () => {
    expect(vs({ quorum: 2, hysteresis: 1 }, pool([1, 1, 1])).start).toBeUndefined();
    const { v, start } = vs({ quorum: 2, hysteresis: 2 }, pool([1, 1, 1]));
    expect(start).toEqual({ kind: 'quorum_down', weight: 3, threshold: 4, initial: true });
    expect(v.quorumUp).toBe(false);
  });

  it('hysteresis: lost below quorum - h, regained at quorum + h', () => {
    const rs = pool([1, 1, 1, 1, 1]);
    const { v } = vs({ quorum: 3, hysteresis: 1 }, rs);
    fail(rs[0]!);
    fail(rs[1]!);
    fail(rs[2]!); // W = 2 = quorum - h: still up
    expect(v.update()).toBeUndefined();
    expect(v.quorumUp).toBe(true);
    fail(rs[3]!); // W = 1 < 2
    expect(v.update()).toEqual({ kind: 'quorum_down', weight: 1, threshold: 2, initial: false });
    heal(rs[0]!);
    heal(rs[1]!); // W = 3 = quorum, but < quorum + h
    expect(v.update()).toBeUndefined();
    expect(v.quorumUp).toBe(false);
    heal(rs[2]!); // W = 4
    expect(v.update()).toEqual({ kind: 'quorum_up', weight: 4, threshold: 4, initial: false });
    expect(v.update()).toBeUndefined();
  });

  it('resume (a reload) keeps the previous quorum state inside the hysteresis band', () => {
    // W = 3 with quorum 3, hysteresis 1: start() would say down (3 < 4), a resumed pool stays as it was.
    const up = new VirtualServerState({ quorum: 3, hysteresis: 1 }, pool([1, 1, 1]));
    expect(up.resume(true)).toBeUndefined();
    expect(up.quorumUp).toBe(true);
    const down = new VirtualServerState({ quorum: 3, hysteresis: 1 }, pool([1, 1, 1]));
    expect(down.resume(false)).toBeUndefined();
    expect(down.quorumUp).toBe(false);
    // Crossing a threshold on reload is a change like any other.
    const lost = new VirtualServerState({ quorum: 3, hysteresis: 0 }, pool([1, 1]));
    expect(lost.resume(true)).toEqual({ kind: 'quorum_down', weight: 2, threshold: 3, initial: false });
  });

  it('W == 0 loses quorum even when quorum - hysteresis <= 0', () => {
    const rs = pool([1, 1]);
    const { v } = vs({ quorum: 1, hysteresis: 1 }, rs);
    fail(rs[0]!);
    expect(v.update()).toBeUndefined();
    fail(rs[1]!);
    expect(v.update()).toMatchObject({ kind: 'quorum_down', weight: 0 });
  });

  it('alive servers whose dynamic weight drops to 0 lose quorum too', () => {
    const rs = pool([1]);
    const { v } = vs({ quorum: 1, hysteresis: 0 }, rs);
    rs[0]!.setWeightAdjust('tcp', -1);
    expect(v.update()).toMatchObject({ kind: 'quorum_down', weight: 0 });
    expect(v.destinations()).toEqual([{ address: '10.99.0.11', port: 80, weight: 0 }]);
  });

  it('update before start starts', () => {
    const v = new VirtualServerState({ quorum: 5, hysteresis: 0 }, pool([1]));
    expect(v.update()).toMatchObject({ kind: 'quorum_down', initial: true });
  });

  it('clampQuorum: quorum <= sum of weights, hysteresis <= quorum - 1', () => {
    expect(clampQuorum(10, 0, [1, 2])).toEqual({ quorum: 3, hysteresis: 0, corrected: true });
    expect(clampQuorum(3, 5, [5])).toEqual({ quorum: 3, hysteresis: 2, corrected: true });
    expect(clampQuorum(2, 1, [1, 1, 1])).toEqual({ quorum: 2, hysteresis: 1, corrected: false });
  });

  it('rejects negative quorum or hysteresis', () => {
    expect(() => new VirtualServerState({ quorum: -1, hysteresis: 0 }, [])).toThrow(HealthSettingsError);
    expect(() => new VirtualServerState({ quorum: 1, hysteresis: 0.5 }, [])).toThrow(/hysteresis/);
  });
});

describe('VirtualServerState: destinations and the sorry server', () => {
  it('without a sorry server, alive servers stay whatever the quorum', () => {
    const rs = pool([1, 1, 1]);
    const { v } = vs({ quorum: 3, hysteresis: 0 }, rs);
    fail(rs[0]!);
    expect(v.update()?.kind).toBe('quorum_down');
    expect(v.sorryActive).toBe(false);
    expect(v.destinations()).toEqual([
      { address: '10.99.0.12', port: 80, weight: 1 },
      { address: '10.99.0.13', port: 80, weight: 1 },
    ]);
  });

  it('losing quorum removes every alive server and adds the sorry server; regaining reverses it', () => {
    const rs = pool([1, 1, 1]);
    const { v } = vs({ quorum: 2, hysteresis: 0, sorryServer: sorry }, rs);
    expect(v.destinations().map((d) => d.address)).toEqual(['10.99.0.11', '10.99.0.12', '10.99.0.13']);
    fail(rs[0]!);
    expect(v.update()).toBeUndefined();
    fail(rs[1]!);
    expect(v.update()?.kind).toBe('quorum_down');
    expect(v.destinations()).toEqual([{ address: '10.99.0.99', port: 8080, weight: 1 }]);
    // while the sorry server stands in, server changes are state only
    heal(rs[0]!);
    expect(v.destinations()).toEqual([{ address: '10.99.0.99', port: 8080, weight: 1 }]);
    heal(rs[1]!);
    expect(v.update()?.kind).toBe('quorum_up');
    expect(v.destinations()).toEqual([
      { address: '10.99.0.11', port: 80, weight: 1 },
      { address: '10.99.0.12', port: 80, weight: 1 },
      { address: '10.99.0.13', port: 80, weight: 1 },
    ]);
  });

  it('with inhibit_on_failure, displaced servers stay at weight 0', () => {
    const rs = pool([1, 1], { inhibit: true });
    const { v } = vs({ quorum: 2, hysteresis: 0, sorryServer: sorry }, rs);
    fail(rs[0]!);
    v.update();
    expect(v.destinations()).toEqual([
      { address: '10.99.0.11', port: 80, weight: 0 },
      { address: '10.99.0.12', port: 80, weight: 0 },
      { address: '10.99.0.99', port: 8080, weight: 1 },
    ]);
  });

  it('the sorry server is in from the start when quorum starts down (alpha)', () => {
    const rs = pool([1, 1], { alpha: true });
    const { v, start } = vs({ quorum: 1, hysteresis: 0, sorryServer: sorry }, rs);
    expect(start).toMatchObject({ kind: 'quorum_down', initial: true, weight: 0 });
    expect(v.destinations()).toEqual([{ address: '10.99.0.99', port: 8080, weight: 1 }]);
    heal(rs[0]!);
    expect(v.update()?.kind).toBe('quorum_up');
    expect(v.destinations()).toEqual([{ address: '10.99.0.11', port: 80, weight: 1 }]);
  });

  it('sorry_server_inhibit keeps it present at weight 0 while unused', () => {
    const rs = pool([1]);
    const { v } = vs({ quorum: 1, hysteresis: 0, sorryServer: { ...sorry, weight: 4, inhibit: true } }, rs);
    expect(v.destinations()).toEqual([
      { address: '10.99.0.11', port: 80, weight: 1 },
      { address: '10.99.0.99', port: 8080, weight: 0 },
    ]);
    fail(rs[0]!);
    v.update();
    expect(v.destinations()).toEqual([{ address: '10.99.0.99', port: 8080, weight: 4 }]);
  });

  it('a sorry server that is also a real server: the real entry while unused, the sorry one while active', () => {
    const rs = pool([1, 1]);
    const { v } = vs({ quorum: 2, hysteresis: 0, sorryServer: { address: '10.99.0.12', port: 80, weight: 7, inhibit: true } }, rs);
    expect(v.destinations()).toEqual([
      { address: '10.99.0.11', port: 80, weight: 1 },
      { address: '10.99.0.12', port: 80, weight: 1 },
    ]);
    fail(rs[0]!);
    v.update();
    expect(v.destinations()).toEqual([{ address: '10.99.0.12', port: 80, weight: 7 }]);
  });
});
