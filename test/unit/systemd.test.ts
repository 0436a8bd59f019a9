// sd_notify against a real AF_UNIX datagram socket bound in a temp dir (and in the abstract
// namespace), and the watchdog's ping-only-while-the-loop-keeps-time rule with a fake clock.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { NativeSocket, SOCK_DGRAM } from '../../src/native/index.js';
import { AF_UNIX, SystemdNotifier, SystemdNotifyError, Watchdog, sockaddrUnix, watchdogIntervalMs } from '../../src/daemon/systemd.js';
import type { Clock, TimerHandle } from '../../src/vrrp/clock.js';

/** Timers fire only when the test advances time; block() moves time on without firing, as a busy loop does. */
class FakeClock implements Clock {
  time = 0;
  #timers = new Map<number, { at: number; callback: () => void }>();
  #next = 1;
  now(): number {
    return this.time;
  }
  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const id = this.#next++;
    this.#timers.set(id, { at: this.time + delayMs, callback });
    return id as unknown as TimerHandle;
  }
  clearTimer(handle: TimerHandle): void {
    this.#timers.delete(handle as unknown as number);
  }
  get pending(): number {
    return this.#timers.size;
  }
  advance(ms: number): void {
    const end = this.time + ms;
    for (;;) {
      const due = [...this.#timers.entries()].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.#timers.delete(due[0]);
      this.time = Math.max(this.time, due[1].at);
      due[1].callback();
    }
    this.time = end;
  }
  /** The loop is stuck for ms: time passes, timers fire only afterwards, late. */
  block(ms: number): void {
    this.time += ms;
    this.advance(0);
  }
}

let dir: string;
let receiver: NativeSocket | undefined;
let notifier: SystemdNotifier | undefined;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'ipvsd-systemd-'));
});
afterEach(() => {
  notifier?.close();
  receiver?.close();
  notifier = receiver = undefined;
  rmSync(dir, { recursive: true, force: true });
});

function bindReceiver(path: string): NativeSocket {
  const socket = NativeSocket.open(AF_UNIX, SOCK_DGRAM, 0);
  socket.bind(sockaddrUnix(path));
  return socket;
}

function received(socket: NativeSocket): string[] {
  return socket.receive({ address: false }).map((d) => d.data.toString('utf8'));
}

describe('sockaddrUnix', () => {
  it('lays out a path with its NUL, and an abstract name with a leading NUL and no trailing one', () => {
    const path = sockaddrUnix('/run/systemd/notify');
    expect(path.readUInt16LE(0)).toBe(AF_UNIX);
    expect(path.subarray(2).toString('latin1')).toBe('/run/systemd/notify\0');
    const abstract = sockaddrUnix('@ipvsd/notify');
    expect(abstract.length).toBe(2 + 1 + 'ipvsd/notify'.length);
    expect(abstract[2]).toBe(0);
    expect(abstract.subarray(3).toString('latin1')).toBe('ipvsd/notify');
  });

  it('refuses relative, empty and too long names', () => {
    for (const bad of ['notify', '@', '', `/${'x'.repeat(107)}`]) {
      expect(() => sockaddrUnix(bad)).toThrow(SystemdNotifyError);
    }
    expect(sockaddrUnix(`/${'x'.repeat(106)}`).length).toBe(2 + 108);
  });
});

describe('watchdogIntervalMs', () => {
  it('reads WATCHDOG_USEC, and only for the process WATCHDOG_PID names', () => {
    expect(watchdogIntervalMs({}, 10)).toBeUndefined();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '10000000' }, 10)).toBe(10_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '10000000', WATCHDOG_PID: '10' }, 10)).toBe(10_000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '10000000', WATCHDOG_PID: '11' }, 10)).toBeUndefined();
    expect(() => watchdogIntervalMs({ WATCHDOG_USEC: '10s' }, 10)).toThrow(/WATCHDOG_USEC "10s"/);
    expect(() => watchdogIntervalMs({ WATCHDOG_USEC: '0' }, 10)).toThrow(SystemdNotifyError);
  });
});

describe('SystemdNotifier over a real Unix datagram socket', () => {
  it('is absent without NOTIFY_SOCKET', () => {
    expect(SystemdNotifier.fromEnvironment({})).toBeUndefined();
  });

  it('sends READY, STATUS, RELOADING with MONOTONIC_USEC, and STOPPING to a socket file', () => {
    const path = join(dir, 'notify');
    receiver = bindReceiver(path);
    notifier = SystemdNotifier.fromEnvironment({ NOTIFY_SOCKET: path })!;
    expect(notifier.watchdogMs).toBeUndefined();
    expect(notifier.ready('3 virtual servers, VRRP VI_1 BACKUP')).toBe(true);
    expect(notifier.reloading()).toBe(true);
    expect(notifier.ready()).toBe(true);
    expect(notifier.status('reload rejected: line 3')).toBe(true);
    expect(notifier.stopping()).toBe(true);
    const lines = received(receiver);
    expect(lines[0]).toBe('READY=1\nSTATUS=3 virtual servers, VRRP VI_1 BACKUP');
    expect(lines[1]).toMatch(/^RELOADING=1\nMONOTONIC_USEC=\d+$/);
    const usec = Number(lines[1]!.split('MONOTONIC_USEC=')[1]);
    expect(Math.abs(usec / 1000 - Number(process.hrtime.bigint() / 1_000_000n))).toBeLessThan(5000);
    expect(lines.slice(2)).toEqual(['READY=1', 'STATUS=reload rejected: line 3', 'STOPPING=1']);
  });

  it('reaches an abstract-namespace socket', () => {
    const name = `@ipvsd-test-${process.pid}-${Math.random().toString(36).slice(2)}`;
    receiver = bindReceiver(name);
    notifier = SystemdNotifier.fromEnvironment({ NOTIFY_SOCKET: name })!;
    notifier.ready();
    expect(received(receiver)).toEqual(['READY=1']);
  });

  it('reports a send to a vanished socket through onError instead of throwing', () => {
    const errors: Error[] = [];
    notifier = SystemdNotifier.fromEnvironment({ NOTIFY_SOCKET: join(dir, 'nobody') }, { onError: (e) => errors.push(e) })!;
    expect(notifier.ready()).toBe(false);
    expect(errors).toHaveLength(1);
    expect((errors[0] as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('pings WATCHDOG=1 at once and every half period, and stops pinging on STOPPING', () => {
    const path = join(dir, 'notify');
    receiver = bindReceiver(path);
    notifier = SystemdNotifier.fromEnvironment({ NOTIFY_SOCKET: path, WATCHDOG_USEC: '2000000', WATCHDOG_PID: '42' }, {}, 42)!;
    expect(notifier.watchdogMs).toBe(2000);
    const clock = new FakeClock();
    const watchdog = notifier.startWatchdog({ clock })!;
    clock.advance(3000);
    expect(received(receiver)).toEqual(['WATCHDOG=1', 'WATCHDOG=1', 'WATCHDOG=1', 'WATCHDOG=1']);
    expect(watchdog.pings).toBe(4);
    notifier.stopping();
    clock.advance(5000);
    expect(received(receiver)).toEqual(['STOPPING=1']);
    expect(clock.pending).toBe(0);
  });

  it('has no watchdog when the unit asks for none', () => {
    notifier = SystemdNotifier.fromEnvironment({ NOTIFY_SOCKET: join(dir, 'notify') })!;
    expect(notifier.startWatchdog()).toBeUndefined();
  });
});

describe('Watchdog and a stuck event loop', () => {
  it('withholds the ping of a tick that fired later than the bound, and resumes once the loop keeps time', () => {
    const clock = new FakeClock();
    const sent: number[] = [];
    const lags: number[] = [];
    // WatchdogSec=10 s: ticks every 5 s, a tick more than 2.5 s late is a stuck loop.
    const watchdog = new Watchdog(10_000, () => sent.push(clock.now()), { clock, onSkip: (lag) => lags.push(lag) });
    clock.advance(10_000);
    expect(sent).toEqual([0, 5000, 10_000]);

    // Blocked for 8 s: the tick due at 15 s runs at 18 s, 3 s late, and must not tell systemd all is well.
    clock.block(8000);
    expect(sent).toEqual([0, 5000, 10_000]);
    expect(lags).toEqual([3000]);
    expect(watchdog.skipped).toBe(1);
    // The gap since the last ping (10 s) already reaches WatchdogSec before the next tick: systemd restarts.
    clock.advance(5000);
    expect(sent.at(-1)! - 10_000).toBeGreaterThanOrEqual(10_000);

    // A slow tick inside the bound (GC pause, 1 s) still pings.
    clock.block(5000 + 1000);
    expect(sent.at(-1)).toBe(29_000);
    expect(watchdog.skipped).toBe(1);
    watchdog.stop();
    clock.advance(60_000);
    expect(sent.at(-1)).toBe(29_000);
  });

  it('with the real clock: pings on time, and a 200 ms busy loop (bound 50 ms) costs one ping', async () => {
    const lags: number[] = [];
    let pings = 0;
    const watchdog = new Watchdog(200, () => pings++, { onSkip: (lag) => lags.push(lag) });
    await new Promise((r) => setTimeout(r, 250));
    expect(pings).toBeGreaterThanOrEqual(2);
    const before = pings;
    const busyUntil = performance.now() + 200;
    while (performance.now() < busyUntil);
    await new Promise((r) => setTimeout(r, 20));
    watchdog.stop();
    expect(pings).toBe(before);
    expect(lags).toHaveLength(1);
    expect(lags[0]).toBeGreaterThan(50);
  });

  it('takes its bound from maxLagMs', () => {
    const clock = new FakeClock();
    let pings = 0;
    const watchdog = new Watchdog(1000, () => pings++, { clock, maxLagMs: 50 });
    clock.block(500 + 60);
    expect(pings).toBe(1);
    clock.block(500 + 40);
    expect(pings).toBe(2);
    watchdog.stop();
  });
});
