// notify_master / notify_backup / notify_fault / notify_stop and the generic `notify` (which gets
// `INSTANCE name STATE priority` appended), run strictly in transition order, one at a time per
// instance: keepalived forks them concurrently, so they can finish out of order (#1884).
import type { VrrpNotify } from '../config/model.js';
import { scriptSucceeded, type ScriptResult, type ScriptRunner } from './script-runner.js';

export type NotifyState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';
/** What scripts hear: the states, and DELETED for an instance a reload removed (notify_deleted instead of notify_stop). */
export type NotifyScriptState = NotifyState | 'DELETED';

/** A notify script that hangs this long is killed, so it cannot hold back the ones after it. */
const NOTIFY_TIMEOUT_MS = 30_000;

export interface NotifyOutcome {
  state: NotifyScriptState;
  argv: string[];
  result: ScriptResult;
}

export class InstanceNotifier {
  private queue: Promise<void> = Promise.resolve();
  private pending = 0;
  /** Scripts that failed, timed out or could not start; the newest last. */
  readonly failures: NotifyOutcome[] = [];
  ran = 0;

  constructor(
    private readonly instance: string,
    private readonly scripts: VrrpNotify,
    private readonly runner: ScriptRunner,
    private readonly onOutcome: (outcome: NotifyOutcome) => void = () => {},
    private readonly timeoutMs = NOTIFY_TIMEOUT_MS,
    /** 'GROUP' for a vrrp_sync_group's own scripts. */
    private readonly kind: 'INSTANCE' | 'GROUP' = 'INSTANCE',
  ) {}

  /** Queues the scripts for one transition: the state's own first, then the generic one (keepalived's order). */
  transition(state: NotifyScriptState, priority: number): void {
    const specific = { MASTER: this.scripts.master, BACKUP: this.scripts.backup, FAULT: this.scripts.fault, STOP: this.scripts.stop, DELETED: this.scripts.deleted }[state];
    if (specific) this.enqueue(state, specific.argv, () => this.runner.run(specific, [], this.timeoutMs));
    const generic = this.scripts.any;
    if (generic) {
      const args = [this.kind, this.instance, state, String(priority)];
      this.enqueue(state, [...generic.argv, ...args], () => this.runner.run(generic, args, this.timeoutMs));
    }
  }

  /** Resolves once every queued script has finished. */
  idle(): Promise<void> {
    return this.queue;
  }

  get queued(): number {
    return this.pending;
  }

  private enqueue(state: NotifyScriptState, argv: string[], run: () => Promise<ScriptResult>): void {
    this.pending++;
    this.queue = this.queue.then(async () => {
      // run() never rejects; onOutcome is the caller's and must not break the chain.
      const result = await run();
      this.pending--;
      this.ran++;
      const outcome = { state, argv, result };
      if (!scriptSucceeded(result)) {
        this.failures.push(outcome);
        if (this.failures.length > 20) this.failures.shift();
      }
      try {
        this.onOutcome(outcome);
      } catch {
        // ignored: a logging callback failing must not stop later notifications
      }
    });
  }
}
