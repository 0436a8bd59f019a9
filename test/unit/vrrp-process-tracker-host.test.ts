// vrrp_track_process against real processes on the host: a copy of sleep (or of perl, to fork)
// under a name nothing else uses is started and killed (by its pid, or its own process group),
// through the kernel's process events connector and through /proc polling.
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { VrrpTrackProcess } from '../../src/config/model.js';
import { monotonicClock } from '../../src/vrrp/clock.js';
import { ProcessWatch, type ProcessWatchOptions } from '../../src/vrrp/process-tracker.js';

const NAME = 'ipvsd-tp-test';
let dir: string;
let program: string;
let forker: string;
/** Each started in a process group of its own, so that forks die with it. */
const children: ChildProcess[] = [];
let watch: ProcessWatch | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipvsd-tp-'));
  program = join(dir, NAME);
  copyFileSync('/bin/sleep', program);
  forker = join(dir, 'perl', NAME);
  mkdirSync(join(dir, 'perl'));
  copyFileSync('/usr/bin/perl', forker);
});

afterEach(async () => {
  watch?.stop();
  watch = undefined;
  // Waited for: a dying copy must not be counted by the next test's first read of /proc.
  await Promise.all(
    children.splice(0).map(async (c) => {
      try {
        process.kill(-c.pid!);
      } catch {
        return;
      }
      if (c.exitCode === null && c.signalCode === null) await once(c, 'exit');
    }),
  );
  rmSync(dir, { recursive: true, force: true });
});

function spec(over: Partial<VrrpTrackProcess> = {}): VrrpTrackProcess {
  return {
    name: 'tp', pos: { file: 'k.conf', line: 1, column: 1 }, process: NAME, params: [], paramMatch: 'none', fullCommand: false,
    weight: 0, reverse: false, quorum: 1, quorumMax: undefined, forkDelayMs: 0, terminateDelayMs: 0, ...over,
  };
}

async function start(...args: string[]): Promise<ChildProcess> {
  return run(program, args.length ? args : ['1000']);
}

async function run(path: string, args: string[]): Promise<ChildProcess> {
  const child = spawn(path, args, { stdio: 'ignore', detached: true });
  children.push(child);
  await new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject));
  return child;
}

/** Starts a watch whose verdicts are recorded with the time they came. */
function open(s: VrrpTrackProcess, options: Partial<ProcessWatchOptions> = {}) {
  const changes: Array<{ up: boolean; at: number }> = [];
  const logs: Array<Record<string, unknown>> = [];
  const log = { info: (f: object) => logs.push(f as Record<string, unknown>), warn: (f: object) => logs.push(f as Record<string, unknown>) };
  watch = new ProcessWatch([s], { clock: monotonicClock, log, ...options });
  watch.onChange(s.name, (up) => changes.push({ up, at: performance.now() }));
  const next = (up: boolean, withinMs: number) =>
    new Promise<number>((resolve, reject) => {
      const since = performance.now();
      const timer = setInterval(() => {
        const hit = changes.find((c) => c.up === up && c.at >= since);
        if (hit) {
          clearInterval(timer);
          resolve(hit.at - since);
        } else if (performance.now() - since > withinMs) {
          clearInterval(timer);
          reject(new Error(`no ${up ? 'up' : 'down'} within ${withinMs} ms (changes: ${JSON.stringify(changes)})`));
        }
      }, 5);
    });
  return { watch, changes, logs, next };
}

// Root in the initial PID namespace may subscribe to process events; anyone else polls.
const connectorExpected = process.getuid?.() === 0;

describe('vrrp_track_process on the host', () => {
  it('goes up when the process starts and down after terminate_delay when it is killed', async () => {
    const w = open(spec({ terminateDelayMs: 300 }));
    expect(w.watch.quorum('tp')!.healthy).toBe(false);
    const up = w.next(true, 1500);
    const child = await start();
    await up;
    expect(w.watch.quorum('tp')!.processes).toBe(1);
    const down = w.next(false, 2000);
    process.kill(child.pid!);
    const tookMs = await down;
    expect(tookMs).toBeGreaterThanOrEqual(290);
    if (w.watch.mode === 'proc-connector') expect(tookMs).toBeLessThan(800);
    await new Promise((r) => setTimeout(r, 1100));
    const source = w.logs.find((l) => l.event === 'vrrp-track-process-events');
    expect(source?.source).toBe(connectorExpected ? 'proc-connector' : 'poll');
    expect(w.watch.mode).toBe(connectorExpected ? 'proc-connector' : 'poll');
  });

  it('counts processes already running at start', async () => {
    const first = await start();
    await start();
    const w = open(spec({ quorum: 2 }));
    expect(w.watch.quorum('tp')!.processes).toBe(2);
    expect(w.watch.quorum('tp')!.healthy).toBe(true);
    const down = w.next(false, 2000);
    process.kill(first.pid!);
    await down;
  });

  it('counts the fork of a counted process (after fork_delay)', async () => {
    const w = open(spec({ quorum: 2, forkDelayMs: 200 }));
    const up = w.next(true, 2000);
    const started = performance.now();
    await run(forker, ['-e', 'fork; sleep 1000']);
    await up;
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(w.watch.quorum('tp')!.processes).toBe(2);
  });

  it('matches the full command line with its parameters', async () => {
    const w = open(spec({ process: program, params: ['1000'], paramMatch: 'exact', fullCommand: true }));
    await start('999');
    await new Promise((r) => setTimeout(r, 200));
    expect(w.watch.quorum('tp')!.healthy).toBe(false);
    const up = w.next(true, 1500);
    await start('1000');
    await up;
  });

  it('polls /proc when told to, at the interval it was given', async () => {
    const w = open(spec(), { events: 'poll', pollIntervalMs: 100 });
    expect(w.watch.mode).toBe('poll');
    expect(w.logs).toContainEqual(expect.objectContaining({ event: 'vrrp-track-process-events', source: 'poll', intervalMs: 100 }));
    const up = w.next(true, 1000);
    const child = await start();
    await up;
    const down = w.next(false, 1000);
    process.kill(child.pid!);
    expect(await down).toBeLessThan(400);
  });
});
