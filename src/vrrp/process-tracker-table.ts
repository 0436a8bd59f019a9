// Which running processes each vrrp_track_process counts, kept current from process events the
// way keepalived keeps it: a full read of /proc at start (and after lost events), then a fork of a
// counted process is counted too, an exec or a rename is matched again, an exit is uncounted.
// Threads are not processes: callers pass only events whose pid is the thread group id.
import { compilePattern, processMatches, type CompiledPattern, type ProcessIdentity, type ProcessPattern } from './process-tracker-match.js';
import type { CountCause } from './process-tracker-state.js';

/** Reads /proc (or a fake): the live process ids, and one process's names; undefined once it is gone or a zombie. */
export interface ProcessReader {
  pids(): number[];
  identity(pid: number, wants: { cmdline: boolean }): ProcessIdentity | undefined;
}

export class ProcessTable {
  private readonly patterns: CompiledPattern[];
  private readonly wantsCmdline: boolean;
  /** pid -> the indexes of the patterns counting it. */
  private byPid = new Map<number, Set<number>>();
  private counts: number[];

  constructor(
    patterns: readonly ProcessPattern[],
    private readonly reader: ProcessReader,
    private readonly onCount: (index: number, count: number, cause: CountCause) => void,
  ) {
    this.patterns = patterns.map(compilePattern);
    // cmdline maps the process's memory (it may be swapped out): read it only when a pattern needs it.
    this.wantsCmdline = patterns.some((p) => p.fullCommand);
    this.counts = patterns.map(() => 0);
  }

  count(index: number): number {
    return this.counts[index]!;
  }

  /** Reads every process again; reports each count that changed as a 'scan'. */
  scan(): void {
    const byPid = new Map<number, Set<number>>();
    for (const pid of this.reader.pids()) {
      const identity = this.reader.identity(pid, { cmdline: this.wantsCmdline });
      if (!identity) continue;
      const matched = this.matching(identity, () => true);
      if (matched.size > 0) byPid.set(pid, matched);
    }
    this.byPid = byPid;
    const counts = this.patterns.map(() => 0);
    for (const set of byPid.values()) for (const i of set) counts[i]!++;
    const before = this.counts;
    this.counts = counts;
    counts.forEach((c, i) => {
      if (c !== before[i]) this.onCount(i, c, 'scan');
    });
  }

  fork(parent: number, child: number): void {
    const inherited = this.byPid.get(parent);
    if (!inherited || this.byPid.has(child)) return;
    this.byPid.set(child, new Set(inherited));
    for (const i of inherited) this.bump(i, 1, 'fork');
  }

  /** A new program: every pattern is matched again against what /proc says now. */
  exec(pid: number): void {
    const identity = this.reader.identity(pid, { cmdline: this.wantsCmdline });
    // Gone already: its exit event follows.
    if (!identity) return;
    this.rematch(pid, this.matching(identity, () => true), () => true, 'exec');
  }

  /** A rename changes only what is matched by name; command lines stay as they were. */
  comm(pid: number, comm: string): void {
    const byName = (i: number) => !this.patterns[i]!.pattern.fullCommand;
    this.rematch(pid, this.matching({ comm, cmdline: undefined }, byName), byName, 'comm');
  }

  exit(pid: number): void {
    const counted = this.byPid.get(pid);
    if (!counted) return;
    this.byPid.delete(pid);
    for (const i of counted) this.bump(i, -1, 'exit');
  }

  private matching(identity: ProcessIdentity, applies: (index: number) => boolean): Set<number> {
    const out = new Set<number>();
    this.patterns.forEach((p, i) => {
      if (applies(i) && processMatches(p, identity)) out.add(i);
    });
    return out;
  }

  /** Sets the patterns `applies` selects to `matched` for pid; the others keep what they had. */
  private rematch(pid: number, matched: Set<number>, applies: (index: number) => boolean, cause: CountCause): void {
    const before = this.byPid.get(pid) ?? new Set<number>();
    const after = new Set([...before].filter((i) => !applies(i)));
    for (const i of matched) after.add(i);
    if (after.size > 0) this.byPid.set(pid, after);
    else this.byPid.delete(pid);
    for (const i of before) if (!after.has(i)) this.bump(i, -1, cause);
    for (const i of after) if (!before.has(i)) this.bump(i, 1, cause);
  }

  private bump(index: number, by: number, cause: CountCause): void {
    this.counts[index]! += by;
    this.onCount(index, this.counts[index]!, cause);
  }
}
