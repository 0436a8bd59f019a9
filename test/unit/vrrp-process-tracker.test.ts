// vrrp_track_process without processes: the quorum verdict and its delays on a fake clock, the
// name / command-line matching, the pid table fed with fake /proc readings and events, and the
// watch that ties them to an event source (or to polling when the source fails).
import { describe, expect, it } from 'vitest';
import type { VrrpTrackProcess } from '../../src/config/model.js';
import { ProcessWatch } from '../../src/vrrp/process-tracker.js';
import type { ProcessEventHandlers, ProcessEventSource } from '../../src/vrrp/process-tracker-events.js';
import { compilePattern, processMatches, type ProcessPattern } from '../../src/vrrp/process-tracker-match.js';
import { ProcessQuorum, type CountCause } from '../../src/vrrp/process-tracker-state.js';
import { ProcessTable, type ProcessReader } from '../../src/vrrp/process-tracker-table.js';
import { FakeClock } from './vrrp-fakes.js';

type Limits = Pick<VrrpTrackProcess, 'quorum' | 'quorumMax' | 'forkDelayMs' | 'terminateDelayMs'>;

function quorum(limits: Partial<Limits> = {}, initial = 0) {
  const clock = new FakeClock();
  const changes: Array<[number, boolean]> = [];
  const q = new ProcessQuorum({ quorum: 1, quorumMax: undefined, forkDelayMs: 0, terminateDelayMs: 0, ...limits }, clock, (up) => changes.push([clock.now(), up]));
  q.initialise(initial);
  return { q, clock, changes };
}

describe('ProcessQuorum', () => {
  it('starts from the first count without reporting a change', () => {
    expect(quorum({}, 1).q.healthy).toBe(true);
    expect(quorum({}, 0).q.healthy).toBe(false);
    expect(quorum({ quorum: 2 }, 1).q.healthy).toBe(false);
    const t = quorum({}, 3);
    expect(t.changes).toEqual([]);
  });

  it('is up while quorum <= count <= quorum_max', () => {
    const { q, changes } = quorum({ quorum: 2, quorumMax: 3 });
    const steps: Array<[number, CountCause]> = [[1, 'exec'], [2, 'exec'], [3, 'exec'], [4, 'exec'], [3, 'exit'], [1, 'exit']];
    for (const [n, cause] of steps) q.counted(n, cause);
    expect(changes).toEqual([[0, true], [0, false], [0, true], [0, false]]);
    expect(q.processes).toBe(1);
  });

  it('quorum 0 / quorum_max 0: up only while nothing runs', () => {
    const { q, changes } = quorum({ quorum: 0, quorumMax: 0 });
    expect(q.healthy).toBe(true);
    q.counted(1, 'exec');
    q.counted(0, 'exit');
    expect(changes).toEqual([[0, false], [0, true]]);
  });

  it('waits terminate_delay after an exit loses the quorum', async () => {
    const { q, clock, changes } = quorum({ terminateDelayMs: 2000 }, 1);
    q.counted(0, 'exit');
    expect(q.waiting).toEqual({ kind: 'terminate', deadline: 2000 });
    await clock.advance(1999);
    expect(changes).toEqual([]);
    await clock.advance(1);
    expect(changes).toEqual([[2000, false]]);
    expect(q.waiting).toBeUndefined();
  });

  it('a restart within terminate_delay is no change at all (nginx reload)', async () => {
    const { q, clock, changes } = quorum({ terminateDelayMs: 2000, forkDelayMs: 2000 }, 1);
    q.counted(0, 'exit');
    await clock.advance(500);
    q.counted(1, 'fork');
    await clock.advance(5000);
    expect(changes).toEqual([]);
    expect(q.healthy).toBe(true);
  });

  it('waits fork_delay after a fork restores the quorum; an exit within it is no change', async () => {
    const { q, clock, changes } = quorum({ forkDelayMs: 1000 });
    q.counted(1, 'fork');
    await clock.advance(300);
    q.counted(0, 'exit');
    await clock.advance(2000);
    expect(changes).toEqual([]);
    q.counted(1, 'fork');
    await clock.advance(1000);
    expect(changes).toEqual([[3300, true]]);
  });

  it('an exec, a rename or a scan that restores the quorum acts at once; exec and rename losses too', () => {
    const { q, changes } = quorum({ forkDelayMs: 1000, terminateDelayMs: 1000 });
    q.counted(1, 'exec');
    q.counted(0, 'exec');
    q.counted(1, 'comm');
    q.counted(0, 'comm');
    q.counted(1, 'scan');
    expect(changes).toEqual([[0, true], [0, false], [0, true], [0, false], [0, true]]);
  });

  it('a scan that loses the quorum waits terminate_delay (keepalived after lost events)', async () => {
    const { q, clock, changes } = quorum({ terminateDelayMs: 1000 }, 1);
    q.counted(0, 'scan');
    await clock.advance(1000);
    expect(changes).toEqual([[1000, false]]);
  });

  it('carries its verdict, count and the rest of a running delay over to its successor', async () => {
    const { q, clock, changes } = quorum({ terminateDelayMs: 3000 }, 2);
    q.counted(0, 'exit');
    await clock.advance(1000);
    const next: boolean[] = [];
    const successor = new ProcessQuorum({ quorum: 1, quorumMax: undefined, forkDelayMs: 0, terminateDelayMs: 3000 }, clock, (up) => next.push(up));
    successor.carryOver(q);
    expect(successor.healthy).toBe(true);
    expect(successor.processes).toBe(0);
    await clock.advance(1999);
    expect(next).toEqual([]);
    await clock.advance(1);
    expect(next).toEqual([false]);
    expect(changes).toEqual([]);
  });

  it('stop cancels a running delay', async () => {
    const { q, clock, changes } = quorum({ terminateDelayMs: 1000 }, 1);
    q.counted(0, 'exit');
    q.stop();
    await clock.advance(5000);
    expect(changes).toEqual([]);
  });
});

const pattern = (over: Partial<ProcessPattern>): ProcessPattern => ({ process: 'nginx', params: [], paramMatch: 'none', fullCommand: false, ...over });
const cmd = (...argv: string[]) => Buffer.from(argv.map((a) => `${a}\0`).join(''));
const matches = (p: ProcessPattern, comm: string, cmdline?: Buffer) => processMatches(compilePattern(p), { comm, cmdline });

describe('processMatches', () => {
  it('compares the name exactly: no pattern, no prefix', () => {
    expect(matches(pattern({}), 'nginx')).toBe(true);
    expect(matches(pattern({}), 'nginx2')).toBe(false);
    expect(matches(pattern({}), 'ngin')).toBe(false);
  });

  it('with full_command, compares argv[0] and ignores the name', () => {
    const p = pattern({ process: '/usr/sbin/nginx', fullCommand: true });
    expect(matches(p, 'whatever', cmd('/usr/sbin/nginx', '-g', 'daemon off;'))).toBe(true);
    expect(matches(p, 'nginx', cmd('nginx'))).toBe(false);
    expect(matches(p, 'nginx', undefined)).toBe(false);
    expect(matches(p, 'kthreadd', Buffer.alloc(0))).toBe(false);
  });

  it('exact parameters: the same arguments, no more, no fewer', () => {
    const p = pattern({ process: 'sleep', params: ['1000'], paramMatch: 'exact', fullCommand: true });
    expect(matches(p, 'sleep', cmd('sleep', '1000'))).toBe(true);
    expect(matches(p, 'sleep', cmd('sleep', '10000'))).toBe(false);
    expect(matches(p, 'sleep', cmd('sleep', '1000', 'x'))).toBe(false);
    expect(matches(p, 'sleep', cmd('sleep'))).toBe(false);
    const none = pattern({ process: 'sleep', paramMatch: 'exact', fullCommand: true });
    expect(matches(none, 'sleep', cmd('sleep'))).toBe(true);
    expect(matches(none, 'sleep', cmd('sleep', '1'))).toBe(false);
  });

  it('partial: the configured arguments come first, whole; initial: the last may be cut short', () => {
    const partial = pattern({ process: 'python3', params: ['app.py', '--port'], paramMatch: 'partial', fullCommand: true });
    expect(matches(partial, 'python3', cmd('python3', 'app.py', '--port', '80'))).toBe(true);
    expect(matches(partial, 'python3', cmd('python3', 'app.py', '--portal'))).toBe(false);
    expect(matches(partial, 'python3', cmd('python3', 'app.py'))).toBe(false);
    const initial = pattern({ process: 'python3', params: ['app.py', '--port'], paramMatch: 'initial', fullCommand: true });
    expect(matches(initial, 'python3', cmd('python3', 'app.py', '--portal'))).toBe(true);
    expect(matches(initial, 'python3', cmd('python3', 'app.py', '--port', '80'))).toBe(true);
    expect(matches(initial, 'python3', cmd('python3', 'app.pyc', '--port'))).toBe(false);
  });
});

/** A /proc of named processes (pid -> [comm, argv...]); undefined entries are zombies. */
class FakeProc implements ProcessReader {
  readonly procs = new Map<number, string[]>();
  cmdlineReads = 0;
  pids(): number[] {
    return [...this.procs.keys()];
  }
  identity(pid: number, wants: { cmdline: boolean }) {
    const p = this.procs.get(pid);
    if (!p) return undefined;
    if (wants.cmdline) this.cmdlineReads++;
    return { comm: p[0]!, cmdline: wants.cmdline ? cmd(...p.slice(1)) : undefined };
  }
}

function table(patterns: ProcessPattern[], proc: FakeProc) {
  const counts: string[] = [];
  const t = new ProcessTable(patterns, proc, (i, n, cause) => counts.push(`${i}=${n} ${cause}`));
  return { t, counts };
}

describe('ProcessTable', () => {
  it('counts the matching processes in a scan and reports only counts that changed', () => {
    const proc = new FakeProc();
    proc.procs.set(10, ['nginx', 'nginx: master']).set(11, ['nginx', 'nginx: worker']).set(12, ['sshd', '/usr/sbin/sshd']);
    const { t, counts } = table([pattern({}), pattern({ process: 'sshd' }), pattern({ process: 'cron' })], proc);
    t.scan();
    expect([t.count(0), t.count(1), t.count(2)]).toEqual([2, 1, 0]);
    expect(counts).toEqual(['0=2 scan', '1=1 scan']);
    t.scan();
    expect(counts).toHaveLength(2);
  });

  it('reads command lines only when some pattern needs them', () => {
    const proc = new FakeProc();
    proc.procs.set(10, ['nginx', 'nginx']);
    table([pattern({})], proc).t.scan();
    expect(proc.cmdlineReads).toBe(0);
    table([pattern({ process: 'nginx', fullCommand: true })], proc).t.scan();
    expect(proc.cmdlineReads).toBe(1);
  });

  it('counts the fork of a counted process, uncounts exits, ignores others', () => {
    const proc = new FakeProc();
    proc.procs.set(10, ['nginx', 'nginx']);
    const { t, counts } = table([pattern({})], proc);
    t.scan();
    t.fork(10, 20);
    t.fork(10, 20);
    t.fork(99, 21);
    t.exit(99);
    t.exit(10);
    t.exit(10);
    expect(counts).toEqual(['0=1 scan', '0=2 fork', '0=1 exit']);
    expect(t.count(0)).toBe(1);
  });

  it('matches an exec again: a new program counts or stops counting; a vanished one waits for its exit', () => {
    const proc = new FakeProc();
    const { t, counts } = table([pattern({})], proc);
    t.scan();
    proc.procs.set(30, ['nginx', '/usr/sbin/nginx']);
    t.exec(30);
    t.exec(30);
    proc.procs.set(30, ['sh', '/bin/sh']);
    t.exec(30);
    t.exec(31);
    expect(counts).toEqual(['0=1 exec', '0=0 exec']);
  });

  it('a rename changes only name matches; command-line matches keep their process', () => {
    const proc = new FakeProc();
    proc.procs.set(40, ['worker', '/usr/bin/app']);
    const { t, counts } = table([pattern({ process: 'worker' }), pattern({ process: '/usr/bin/app', fullCommand: true }), pattern({ process: 'Web Content' })], proc);
    t.scan();
    t.comm(40, 'Web Content');
    expect([t.count(0), t.count(1), t.count(2)]).toEqual([0, 1, 1]);
    expect(counts.slice(2)).toEqual(['0=0 comm', '2=1 comm']);
    t.exit(40);
    expect([t.count(0), t.count(1), t.count(2)]).toEqual([0, 0, 0]);
  });

  it('a scan after lost events replaces what events had built', () => {
    const proc = new FakeProc();
    proc.procs.set(10, ['nginx', 'nginx']);
    const { t, counts } = table([pattern({})], proc);
    t.scan();
    t.fork(10, 11);
    proc.procs.clear();
    proc.procs.set(12, ['nginx', 'nginx']);
    t.scan();
    expect(counts).toEqual(['0=1 scan', '0=2 fork', '0=1 scan']);
    t.exit(11);
    expect(t.count(0)).toBe(1);
  });
});

/** An event source that the test drives: it records how it was started and closed. */
class ScriptedSource implements ProcessEventSource {
  handlers: ProcessEventHandlers | undefined;
  closed = false;
  start(handlers: ProcessEventHandlers): void {
    this.handlers = handlers;
  }
  close(): void {
    this.closed = true;
  }
}

function watchWorld(source: ScriptedSource) {
  const clock = new FakeClock();
  const proc = new FakeProc();
  proc.procs.set(10, ['nginx', 'nginx']);
  const logs: Array<Record<string, unknown>> = [];
  const log = { info: (f: object) => logs.push(f as Record<string, unknown>), warn: (f: object) => logs.push(f as Record<string, unknown>) };
  const spec: VrrpTrackProcess = {
    name: 'p', pos: { file: 'k.conf', line: 1, column: 1 }, process: 'nginx', params: [], paramMatch: 'none', fullCommand: false,
    weight: 0, reverse: false, quorum: 1, quorumMax: undefined, forkDelayMs: 0, terminateDelayMs: 0,
  };
  const watch = new ProcessWatch([spec], { clock, log, reader: proc, events: source });
  const changes: boolean[] = [];
  watch.onChange('p', (up) => changes.push(up));
  return { clock, proc, logs, watch, changes };
}

describe('ProcessWatch', () => {
  it('reads /proc after subscribing, then follows events; logs the connector once it is acknowledged', () => {
    const source = new ScriptedSource();
    const w = watchWorld(source);
    expect(source.handlers).toBeDefined();
    expect(w.watch.quorum('p')!.healthy).toBe(true);
    source.handlers!.confirmed();
    expect(w.logs).toContainEqual(expect.objectContaining({ event: 'vrrp-track-process-events', source: 'proc-connector' }));
    source.handlers!.events([{ kind: 'exit', cpu: 0, seq: 0, pid: 10, tgid: 10, exitCode: 0, exitSignal: 17 }]);
    expect(w.changes).toEqual([false]);
    w.watch.stop();
    expect(source.closed).toBe(true);
  });

  it('reads /proc again a second after events were lost', async () => {
    const source = new ScriptedSource();
    const w = watchWorld(source);
    w.proc.procs.clear();
    source.handlers!.lost();
    source.handlers!.lost();
    await w.clock.advance(999);
    expect(w.changes).toEqual([]);
    await w.clock.advance(1);
    expect(w.changes).toEqual([false]);
    expect(w.logs.filter((l) => l.event === 'vrrp-track-process-events-lost')).toHaveLength(1);
    w.watch.stop();
  });

  it('falls back to reading /proc every second when the source fails, saying why', async () => {
    const source = new ScriptedSource();
    const w = watchWorld(source);
    source.handlers!.failed('no connector here');
    expect(w.watch.mode).toBe('poll');
    expect(w.logs).toContainEqual(expect.objectContaining({ event: 'vrrp-track-process-events', source: 'poll', reason: 'no connector here', intervalMs: 1000 }));
    w.proc.procs.clear();
    await w.clock.advance(1000);
    expect(w.changes).toEqual([false]);
    w.proc.procs.set(11, ['nginx', 'nginx']);
    await w.clock.advance(1000);
    expect(w.changes).toEqual([false, true]);
    w.watch.stop();
    await w.clock.advance(5000);
    expect(w.changes).toEqual([false, true]);
  });
});
