// One vrrp_track_process's verdict from its count of matching processes, keepalived's way: up
// while quorum <= count <= quorum_max. A fork that restores the quorum waits fork_delay and an
// exit that loses it waits terminate_delay (so an nginx reload does not flap the VIP); an exec or
// a rename acts at once; a pending delay that the count undoes is cancelled, with no change.
import type { VrrpTrackProcess } from '../config/model.js';
import type { Clock, TimerHandle } from './clock.js';

/** Why the count changed: what the kernel reported, or a fresh read of /proc. */
export type CountCause = 'fork' | 'exec' | 'comm' | 'exit' | 'scan';

type Limits = Pick<VrrpTrackProcess, 'quorum' | 'quorumMax' | 'forkDelayMs' | 'terminateDelayMs'>;

interface Pending {
  handle: TimerHandle;
  kind: 'fork' | 'terminate';
  deadline: number;
}

export class ProcessQuorum {
  private count = 0;
  private up = false;
  private pending: Pending | undefined;

  constructor(
    private readonly limits: Limits,
    private readonly clock: Clock,
    private readonly onChange: (up: boolean) => void,
  ) {}

  get healthy(): boolean {
    return this.up;
  }

  get processes(): number {
    return this.count;
  }

  /** A delay running, if any: which one and when it ends. */
  get waiting(): { kind: 'fork' | 'terminate'; deadline: number } | undefined {
    return this.pending && { kind: this.pending.kind, deadline: this.pending.deadline };
  }

  /** The first read of /proc: the verdict is the count's, with no delay and no change reported. */
  initialise(count: number): void {
    this.count = count;
    this.up = this.inQuorum(count);
  }

  /** Reload: the same vrrp_track_process keeps its verdict, count and running delay. */
  carryOver(previous: ProcessQuorum): void {
    this.count = previous.count;
    this.up = previous.up;
    const p = previous.pending;
    previous.stop();
    if (p) this.arm(p.kind, Math.max(0, p.deadline - this.clock.now()));
  }

  /** The count moved to `count` for `cause`. */
  counted(count: number, cause: CountCause): void {
    const before = this.inQuorum(this.count);
    this.count = count;
    const now = this.inQuorum(count);
    if (now === before) return;
    // A delay undone before it ends: keepalived cancels it and reports nothing new.
    if (this.pending) {
      this.cancel();
      this.settle();
      return;
    }
    if (now && cause === 'fork' && this.limits.forkDelayMs > 0) this.arm('fork', this.limits.forkDelayMs);
    else if (!now && (cause === 'exit' || cause === 'scan') && this.limits.terminateDelayMs > 0) this.arm('terminate', this.limits.terminateDelayMs);
    else this.settle();
  }

  stop(): void {
    this.cancel();
  }

  private inQuorum(count: number): boolean {
    return count >= this.limits.quorum && (this.limits.quorumMax === undefined || count <= this.limits.quorumMax);
  }

  private arm(kind: Pending['kind'], delayMs: number): void {
    const handle = this.clock.setTimer(() => {
      this.pending = undefined;
      this.settle();
    }, delayMs);
    this.pending = { handle, kind, deadline: this.clock.now() + delayMs };
  }

  private cancel(): void {
    if (this.pending) this.clock.clearTimer(this.pending.handle);
    this.pending = undefined;
  }

  private settle(): void {
    const up = this.inQuorum(this.count);
    if (up === this.up) return;
    this.up = up;
    this.onChange(up);
  }
}
