import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Script, VrrpScript } from '../../src/config/model.js';
import type { ScriptResult, ScriptRunner } from '../../src/vrrp/script-runner.js';
import { readTrackFileValue, ScriptTracker, trackedPriority, type TrackerReading } from '../../src/vrrp/trackers.js';
import { FakeClock } from './vrrp-fakes.js';

const up = (name: string, ok: boolean, weight: number, reverse = false): TrackerReading => ({ kind: 'script', name, ok, weight, reverse });

describe('trackedPriority', () => {
  it('weight 0: FAULT while failed, named in the reasons', () => {
    expect(trackedPriority(100, [up('chk', true, 0)])).toEqual({ priority: 100, fault: false, faults: [] });
    expect(trackedPriority(100, [up('chk', false, 0), { kind: 'interface', name: 'eth1', ok: false, weight: 0, reverse: false }])).toEqual({
      priority: 100,
      fault: true,
      faults: ['script chk', 'interface eth1'],
    });
  });

  it('a positive weight is added while OK, a negative one while failed', () => {
    expect(trackedPriority(100, [up('a', true, 20), up('b', true, -30)]).priority).toBe(120);
    expect(trackedPriority(100, [up('a', false, 20), up('b', false, -30)]).priority).toBe(70);
  });

  it('reverse flips the sign of the adjustment, and the sense of a weight-0 tracker', () => {
    expect(trackedPriority(100, [up('a', true, 20, true)]).priority).toBe(80);
    expect(trackedPriority(100, [up('a', true, 0, true)]).fault).toBe(true);
    expect(trackedPriority(100, [up('a', false, 0, true)]).fault).toBe(false);
  });

  it('a track_file value is multiplied by its weight; weight 0 faults on any non-zero value', () => {
    const file = (value: number, weight: number, reverse = false): TrackerReading => ({ kind: 'file', name: 'f', value, weight, reverse });
    expect(trackedPriority(100, [file(5, 2)]).priority).toBe(110);
    expect(trackedPriority(100, [file(5, 2, true)]).priority).toBe(90);
    expect(trackedPriority(100, [file(3, 0)]).fault).toBe(true);
    expect(trackedPriority(100, [file(0, 0)]).fault).toBe(false);
    expect(trackedPriority(100, [file(-254, 1)]).fault).toBe(true);
  });
});

function vrrpScript(over: Partial<VrrpScript> = {}): VrrpScript {
  const script: Script = { argv: ['/bin/check'], user: '', group: '' };
  return { name: 'chk', pos: { file: 'k.conf', line: 1, column: 1 }, script, intervalMs: 1000, timeoutMs: 500, weight: 0, weightReverse: false, rise: 2, fall: 3, initFail: false, ...over };
}

/** Answers each run from a list of exit codes, taking `durationMs` of fake time. */
class ScriptedRunner implements ScriptRunner {
  calls: number[] = [];
  constructor(
    private readonly clock: FakeClock,
    private readonly codes: number[],
  ) {}
  async run(_s: Script, _a?: readonly string[], timeoutMs?: number): Promise<ScriptResult> {
    this.calls.push(this.clock.now());
    const exitCode = this.codes.shift() ?? 0;
    expect(timeoutMs).toBe(500);
    return { exitCode, signal: null, timedOut: false, durationMs: 0 };
  }
}

describe('ScriptTracker', () => {
  it('fails after `fall` consecutive failures and recovers after `rise` successes', async () => {
    const clock = new FakeClock();
    const runner = new ScriptedRunner(clock, [0, 1, 1, 0, 1, 1, 1, 0, 1, 0, 0]);
    const changes: boolean[] = [];
    const t = new ScriptTracker(vrrpScript(), runner, clock, (ok) => changes.push(ok));
    t.start();
    await clock.advance(10_500);
    expect(runner.calls).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000]);
    // 0 1 1 0 (streak broken) 1 1 1 -> failed at the 7th; 0 1 (broken) 0 0 -> ok at the 11th
    expect(changes).toEqual([false, true]);
    t.stop();
    await clock.advance(5000);
    expect(runner.calls).toHaveLength(11);
  });

  it('init_fail starts failed', () => {
    const clock = new FakeClock();
    const t = new ScriptTracker(vrrpScript({ initFail: true, rise: 1 }), new ScriptedRunner(clock, []), clock, () => {});
    expect(t.healthy).toBe(false);
    t.record(true);
    expect(t.healthy).toBe(true);
  });
});

describe('track_file values', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('reads a leading integer; a missing file or text reads 0', () => {
    dir = mkdtempSync(join(tmpdir(), 'ipvsd-track-'));
    const path = join(dir, 'v');
    expect(readTrackFileValue(path)).toBe(0);
    writeFileSync(path, ' -12\n');
    expect(readTrackFileValue(path)).toBe(-12);
    writeFileSync(path, 'abc');
    expect(readTrackFileValue(path)).toBe(0);
  });
});
