// Every vrrp_track_process of a configuration, running: /proc read once, then kept current from
// the kernel's process events, or, where the connector is not available, /proc read every second
// (the log says which). Each vrrp_track_process has one ProcessQuorum, whatever tracks it.
import { readdirSync, readFileSync } from 'node:fs';
import type { VrrpTrackProcess } from '../config/model.js';
import type { Clock, TimerHandle } from './clock.js';
import type { RouterLog } from './instance.js';
import { ProcConnectorEvents, type ProcessEventSource } from './process-tracker-events.js';
import { ProcessQuorum } from './process-tracker-state.js';
import { ProcessTable, type ProcessReader } from './process-tracker-table.js';
import { shape } from './reload-plan.js';

/** /proc: comm and state from /proc/PID/stat (zombies are not running), cmdline only when asked. */
const procReader: ProcessReader = {
  pids: () => readdirSync('/proc').filter((name) => /^[1-9]\d*$/.test(name)).map(Number),
  identity(pid, wants) {
    let stat: string;
    let cmdline: Buffer | undefined;
    try {
      stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (wants.cmdline) cmdline = readFileSync(`/proc/${pid}/cmdline`);
    } catch {
      return undefined;
    }
    // The name may hold spaces and parentheses: it runs to the last ')'.
    const open = stat.indexOf('(');
    const close = stat.lastIndexOf(')');
    if (open < 0 || close < open) return undefined;
    const state = stat.charAt(close + 2);
    if (state === 'Z' || state === 'X') return undefined;
    return { comm: stat.slice(open + 1, close), cmdline };
  },
};

/** What the verdict depends on: a new weight changes what it does, not the verdict. */
function counting(spec: VrrpTrackProcess): Omit<VrrpTrackProcess, 'name' | 'pos' | 'weight' | 'reverse'> {
  const { name: _name, pos: _pos, weight: _weight, reverse: _reverse, ...rest } = spec;
  return rest;
}

export type ProcessEventMode = 'proc-connector' | 'poll';

export interface ProcessWatchOptions {
  clock: Clock;
  log?: RouterLog;
  reader?: ProcessReader;
  /** Where events come from; the kernel's proc connector by default, none to poll /proc. */
  events?: ProcessEventSource | 'poll';
  pollIntervalMs?: number;
}

const POLL_INTERVAL_MS = 1000;
/** After lost events, keepalived lets things settle for a second before reading /proc again. */
const RESCAN_DELAY_MS = 1000;

export class ProcessWatch {
  private readonly quorums = new Map<string, ProcessQuorum>();
  private readonly listeners = new Map<string, Array<(up: boolean) => void>>();
  private readonly table: ProcessTable;
  private source: ProcessEventSource | undefined;
  private timer: TimerHandle | undefined;
  private stopped = false;
  mode: ProcessEventMode;

  /**
   * Reads /proc and starts following events. `previous` is the watch of the configuration being
   * replaced: a vrrp_track_process that counts the same way (its weight aside) keeps its verdict
   * and running delay.
   */
  constructor(
    readonly specs: readonly VrrpTrackProcess[],
    private readonly options: ProcessWatchOptions,
    previous?: ProcessWatch,
  ) {
    const clock = options.clock;
    const carried = new Set<string>();
    for (const spec of specs) {
      const quorum = new ProcessQuorum(spec, clock, (up) => this.changed(spec, up));
      const old = previous?.quorumFor(spec);
      if (old) {
        quorum.carryOver(old);
        carried.add(spec.name);
      }
      this.quorums.set(spec.name, quorum);
    }
    let ready = false;
    this.table = new ProcessTable(specs, options.reader ?? procReader, (index, count, cause) => {
      if (ready) this.quorums.get(specs[index]!.name)!.counted(count, cause);
    });
    // Subscribe before reading /proc, so nothing that happens in between is missed.
    this.mode = options.events === 'poll' ? 'poll' : 'proc-connector';
    if (options.events !== 'poll') this.follow(options.events ?? new ProcConnectorEvents(clock));
    this.table.scan();
    specs.forEach((spec, i) => {
      const quorum = this.quorums.get(spec.name)!;
      if (carried.has(spec.name)) quorum.counted(this.table.count(i), 'scan');
      else quorum.initialise(this.table.count(i));
    });
    ready = true;
    if (options.events === 'poll') this.poll('events were not asked for');
  }

  quorum(name: string): ProcessQuorum | undefined {
    return this.quorums.get(name);
  }

  /** Calls `listener` with each change of the named vrrp_track_process's verdict. */
  onChange(name: string, listener: (up: boolean) => void): void {
    const list = this.listeners.get(name) ?? [];
    list.push(listener);
    this.listeners.set(name, list);
  }

  stop(): void {
    this.stopped = true;
    this.source?.close();
    this.source = undefined;
    if (this.timer !== undefined) this.options.clock.clearTimer(this.timer);
    this.timer = undefined;
    for (const q of this.quorums.values()) q.stop();
  }

  private quorumFor(spec: VrrpTrackProcess): ProcessQuorum | undefined {
    const old = this.specs.find((s) => s.name === spec.name);
    return old && shape(counting(old)) === shape(counting(spec)) ? this.quorums.get(spec.name) : undefined;
  }

  private changed(spec: VrrpTrackProcess, up: boolean): void {
    const processes = this.quorums.get(spec.name)?.processes;
    this.options.log?.info(
      { event: 'vrrp-track-process', name: spec.name, up, processes },
      `tracked process ${spec.name}: quorum ${up ? 'gained' : 'lost'} (${processes} running)`,
    );
    for (const l of this.listeners.get(spec.name) ?? []) l(up);
  }

  private follow(source: ProcessEventSource): void {
    this.source = source;
    source.start({
      events: (list) => {
        for (const e of list) {
          if (e.kind === 'fork') this.table.fork(e.parentTgid, e.childTgid);
          else if (e.kind === 'exec') this.table.exec(e.pid);
          else if (e.kind === 'comm') this.table.comm(e.pid, e.comm);
          else if (e.kind === 'exit') this.table.exit(e.pid);
        }
      },
      lost: () => {
        if (this.timer !== undefined || this.stopped) return;
        this.options.log?.warn({ event: 'vrrp-track-process-events-lost' }, 'process events were lost; reading /proc again');
        this.timer = this.options.clock.setTimer(() => {
          this.timer = undefined;
          this.table.scan();
        }, RESCAN_DELAY_MS);
      },
      confirmed: () => {
        this.options.log?.info({ event: 'vrrp-track-process-events', source: 'proc-connector' }, 'tracking processes with the kernel process events connector');
      },
      failed: (reason) => {
        this.source = undefined;
        if (!this.stopped) this.poll(reason);
      },
    });
  }

  private poll(reason: string): void {
    this.mode = 'poll';
    // Polling reads /proc anyway: a rescan waiting for lost events is not needed.
    if (this.timer !== undefined) this.options.clock.clearTimer(this.timer);
    const interval = this.options.pollIntervalMs ?? POLL_INTERVAL_MS;
    this.options.log?.warn({ event: 'vrrp-track-process-events', source: 'poll', reason, intervalMs: interval }, `tracking processes by reading /proc every ${interval} ms: ${reason}`);
    const tick = () => {
      this.table.scan();
      if (!this.stopped) this.timer = this.options.clock.setTimer(tick, interval);
    };
    this.timer = this.options.clock.setTimer(tick, interval);
  }
}
